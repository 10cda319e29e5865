"""Mailchimp Marketing API v3 through the official `mailchimp-marketing` client.

Every call goes through MailchimpPlatform._call, which retries 429, a bare 403 (what Mailchimp
answers under heavy load), 5xx and lost connections with exponential backoff and full jitter,
honouring Retry-After; stops on 401 with a clear message; and never puts the API key in a message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterator

import mailchimp_marketing
import requests
from mailchimp_marketing.api_client import ApiClientError

from ..config import MailchimpConfig
from ..timeutil import isoformat_utc, parse_datetime
from .base import (Activity, AuthenticationError, CallCounts, CampaignInfo, Member, ProviderError, StoreOrder,
                   Recipient, SegmentRef, SegmentUpdate)

log = logging.getLogger(__name__)

PAGE_SIZE = 1000  # Mailchimp's maximum `count`
MAX_BATCH = 500  # members_to_add / members_to_remove limit
# Answers on individual addresses (unknown member, invalid address): reported, never retried.
ADDRESS_ERRORS = {400, 404}


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 of the lower-cased address."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter over an exponential ceiling; never sooner than the server asked."""
        jittered = random.uniform(0, min(self.max_delay, self.base_delay * 2 ** attempt))
        return max(jittered, retry_after or 0.0)


class MailchimpPlatform:
    max_batch = MAX_BATCH

    def __init__(self, settings: MailchimpConfig, *, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not settings.api_key:
            raise ProviderError("mailchimp.api_key is not set (config [mailchimp] api_key or MAILSEG_MAILCHIMP_API_KEY)")
        self.retry = retry or RetryPolicy(max_attempts=settings.max_attempts)
        self.counts = CallCounts()
        self._sleep = sleep
        self._last_response: requests.Response | None = None
        self.client = mailchimp_marketing.Client()
        config: dict[str, Any] = {"api_key": settings.api_key, "timeout": settings.timeout_seconds}
        if settings.server:
            config["server"] = settings.server
        self.client.set_config(config)
        api = self.client.api_client
        if settings.api_base_url:
            api.host = settings.api_base_url.rstrip("/")
            api.server = ""  # the client substitutes `server` in the URL only when set
        elif api.server in ("", "invalid-server"):
            raise ProviderError("mailchimp.server is not set and the API key carries no data centre (…-us21)")
        self._send = api.request
        api.request = self._request

    def __repr__(self) -> str:  # never the key
        return f"MailchimpPlatform(host={self.client.api_client.host!r})"

    # --- transport -------------------------------------------------------------------------

    def _request(self, method: str, url: str, *args, **kwargs) -> requests.Response:
        self.counts.calls += 1
        if method != "GET":
            self.counts.writes += 1
        self._last_response = None
        response = self._send(method, url, *args, **kwargs)
        self._last_response = response
        return response

    def _call(self, fn: Callable[..., Any], *args, **kwargs) -> Any:
        for attempt in range(self.retry.max_attempts):
            try:
                result = fn(*args, **kwargs)
            except ApiClientError as exc:
                status, body = exc.status_code, exc.text
            else:
                if not isinstance(result, requests.Response) or result.ok:
                    return result
                status, body = result.status_code, result.text  # an error without a body
            problem = _problem(body)
            if status == 401:
                raise AuthenticationError(
                    "Mailchimp rejected the API key (401 "
                    f"{problem.get('title') or 'Unauthorized'}): check mailchimp.api_key and mailchimp.server",
                    status)
            if not _retryable(status, problem) or attempt == self.retry.max_attempts - 1:
                raise ProviderError(_describe(status, problem, body), status)
            wait = self.retry.delay(attempt, self._retry_after())
            self.counts.retries += 1
            log.warning("Mailchimp answered %s; retrying in %.2f s (attempt %d of %d)",
                        status or "no response", wait, attempt + 2, self.retry.max_attempts)
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_after(self) -> float | None:
        response = self._last_response
        value = response.headers.get("Retry-After") if response is not None else None
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    def _paged(self, fn: Callable[..., dict], key: str, *args, **params) -> Iterator[dict]:
        offset = 0
        while True:
            page = self._call(fn, *args, count=PAGE_SIZE, offset=offset, **params)
            items = page.get(key) or []
            yield from items
            offset += len(items)
            if not items or offset >= page.get("total_items", 0):
                return

    # --- members and segments ---------------------------------------------------------------

    def list_members(self, list_id: str, *, since_last_changed: datetime | None = None) -> Iterator[Member]:
        params = {"fields": ["members.email_address", "members.status", "members.merge_fields", "members.tags",
                             "members.last_changed", "members.timestamp_opt", "members.unique_email_id", "total_items"]}
        if since_last_changed is not None:
            params["since_last_changed"] = _mailchimp_time(since_last_changed)
        for item in self._paged(self.client.lists.get_list_members_info, "members", list_id, **params):
            yield Member(
                email=item["email_address"], status=item.get("status", ""),
                merge_fields=item.get("merge_fields") or {},
                tags=[tag["name"] for tag in item.get("tags") or []],
                last_changed=_time(item.get("last_changed")), subscribed_at=_time(item.get("timestamp_opt")),
                unique_email_id=item.get("unique_email_id"))

    def ensure_static_segment(self, list_id: str, name: str) -> SegmentRef:
        for item in self._paged(self.client.lists.list_segments, "segments", list_id, type="static"):
            if item["name"] == name:
                return SegmentRef(str(item["id"]), item["name"], int(item.get("member_count") or 0))
        created = self._call(self.client.lists.create_segment, list_id, {"name": name, "static_segment": []})
        return SegmentRef(str(created["id"]), created["name"], 0)

    def segment_members(self, list_id: str, segment_id: str) -> Iterator[str]:
        for item in self._paged(self.client.lists.get_segment_members_list, "members", list_id, segment_id,
                                include_unsubscribed=True, include_cleaned=True):
            yield item["email_address"]

    def segment_exists(self, list_id: str, segment_id: str) -> bool:
        try:
            self._call(self.client.lists.get_segment, list_id, segment_id)
        except ProviderError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def update_segment(self, list_id: str, segment_id: str, *, add: list[str], remove: list[str]) -> SegmentUpdate:
        if len(add) > MAX_BATCH or len(remove) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} addresses to add and to remove per call")
        body = {"members_to_add": add, "members_to_remove": remove}
        answer = self._call(self.client.lists.batch_segment_members, body, list_id, segment_id)
        errors: dict[str, str] = {}
        for error in answer.get("errors") or []:
            for email in error.get("email_addresses") or []:
                errors[email] = error.get("error") or "refused"
        return SegmentUpdate(int(answer.get("total_added") or 0), int(answer.get("total_removed") or 0), errors)

    def update_member_status(self, list_id: str, email: str, status: str) -> str | None:
        try:
            self._call(self.client.lists.update_list_member, list_id, subscriber_hash(email), {"status": status})
        except ProviderError as exc:
            if exc.status in ADDRESS_ERRORS:
                return str(exc)
            raise
        return None

    def add_pending_member(self, list_id: str, email: str, merge_fields: dict[str, Any]) -> str | None:
        """Add-or-update (PUT) with status_if_new "pending": a new member gets Mailchimp's double opt-in
        mail; an existing member keeps its status. None when done, else the reason for this address."""
        body = {"email_address": email, "status_if_new": "pending", "merge_fields": merge_fields}
        try:
            self._call(self.client.lists.set_list_member, list_id, subscriber_hash(email), body)
        except ProviderError as exc:
            if exc.status in ADDRESS_ERRORS:
                return str(exc)
            raise
        return None

    # --- campaigns ---------------------------------------------------------------------------

    def create_campaign(self, list_id: str, segment_id: str | None, *, title: str, subject: str,
                        from_name: str, reply_to: str) -> str:
        recipients: dict[str, Any] = {"list_id": list_id}
        if segment_id is not None:
            recipients["segment_opts"] = {"saved_segment_id": int(segment_id)}
        body = {"type": "regular", "recipients": recipients,
                "settings": {"title": title, "subject_line": subject, "from_name": from_name, "reply_to": reply_to}}
        return self._call(self.client.campaigns.create, body)["id"]

    def campaign(self, campaign_id: str) -> CampaignInfo:
        return _campaign_info(self._call(self.client.campaigns.get, campaign_id))

    def find_campaign(self, list_id: str, title_prefix: str) -> CampaignInfo | None:
        # GET /campaigns has no title filter: page through the list's campaigns, newest first.
        for item in self._paged(self.client.campaigns.list, "campaigns", list_id=list_id,
                                sort_field="create_time", sort_dir="DESC"):
            if ((item.get("settings") or {}).get("title") or "").startswith(title_prefix):
                return _campaign_info(item)
        return None

    def copy_content(self, source_id: str, target_id: str) -> None:
        content = self._call(self.client.campaigns.get_content, source_id)
        self._call(self.client.campaigns.set_content, target_id, {"html": content.get("html") or ""})

    def archive_member(self, list_id: str, email: str) -> str | None:
        try:
            self._call(self.client.lists.delete_list_member, list_id, subscriber_hash(email))
        except ProviderError as exc:
            if exc.status == 404:
                return None  # archived already, or never on the list: nothing left to archive
            if exc.status in ADDRESS_ERRORS:
                return str(exc)
            raise
        return None

    def replicate_campaign(self, campaign_id: str) -> str:
        return self._call(self.client.campaigns.replicate, campaign_id)["id"]

    def update_campaign(self, campaign_id: str, *, list_id: str, segment_id: str | None, title: str,
                        subject: str) -> None:
        # PATCH /campaigns/{id} requires settings.subject_line, from_name and reply_to (and
        # recipients.list_id with recipients): the replica's own from name and reply-to are sent
        # back unchanged; settings not sent (preview text, tracking, template) keep their values.
        current = self._call(self.client.campaigns.get, campaign_id)
        settings = current.get("settings") or {}
        recipients: dict[str, Any] = {"list_id": list_id}
        if segment_id is not None:
            recipients["segment_opts"] = {"saved_segment_id": int(segment_id)}
        body = {"recipients": recipients,
                "settings": {"title": title, "subject_line": subject, "from_name": settings.get("from_name") or "",
                             "reply_to": settings.get("reply_to") or ""}}
        self._call(self.client.campaigns.update, campaign_id, body)

    def schedule_campaign(self, campaign_id: str, at: datetime) -> None:
        self._call(self.client.campaigns.schedule, campaign_id, {"schedule_time": _mailchimp_time(at)})

    def send_campaign(self, campaign_id: str) -> None:
        self._call(self.client.campaigns.send, campaign_id)

    def sent_campaigns(self, list_id: str) -> Iterator[CampaignInfo]:
        for item in self._paged(self.client.campaigns.list, "campaigns", list_id=list_id, status="sent",
                                sort_field="send_time", sort_dir="ASC"):
            yield _campaign_info(item)

    def campaign_recipients(self, campaign_id: str) -> Iterator[Recipient]:
        for item in self._paged(self.client.reports.get_campaign_recipients, "sent_to", campaign_id):
            yield Recipient(item["email_address"], item.get("status") or "sent")

    def campaign_activity(self, campaign_id: str, *, since: datetime | None = None) -> Iterator[Activity]:
        params = {"since": _mailchimp_time(since)} if since is not None else {}
        for item in self._paged(self.client.reports.get_email_activity_for_campaign, "emails", campaign_id,
                                **params):
            for entry in item.get("activity") or []:
                occurred = _time(entry.get("timestamp"))
                if occurred is None:
                    continue
                yield Activity(item["email_address"], entry.get("action", ""), occurred, entry.get("url") or None,
                               entry.get("ip") or None, entry.get("type") or None)


    # --- e-commerce --------------------------------------------------------------------------

    def store_orders(self, store_id: str) -> Iterator[StoreOrder]:
        fields = ["orders.id", "orders.customer.email_address", "orders.order_total", "orders.financial_status",
                  "orders.processed_at_foreign", "orders.updated_at_foreign", "orders.cancelled_at_foreign",
                  "total_items"]
        for item in self._paged(self.client.ecommerce.get_store_orders, "orders", store_id, fields=fields):
            customer = item.get("customer") or {}
            yield StoreOrder(str(item["id"]), customer.get("email_address") or None,
                             Decimal(str(item.get("order_total") or 0)), item.get("financial_status") or None,
                             _time(item.get("processed_at_foreign") or None), _time(item.get("updated_at_foreign") or None),
                             _time(item.get("cancelled_at_foreign") or None))


def _campaign_info(item: dict) -> CampaignInfo:
    settings = item.get("settings") or {}
    return CampaignInfo(item["id"], item.get("status", ""), _time(item.get("send_time") or None),
                        settings.get("title"), settings.get("subject_line"), settings.get("from_name"),
                        settings.get("reply_to"), settings.get("preview_text"),
                        _time(item.get("create_time") or None))


def _problem(body: Any) -> dict:
    """The problem+json document of an error answer, or {} for a bare one. The client hands
    application/problem+json bodies over as text, since it only decodes application/json."""
    if isinstance(body, dict):
        return body
    if isinstance(body, str) and body.strip().startswith("{"):
        try:
            parsed = json.loads(body)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _retryable(status: int | None, problem: dict) -> bool:
    if status is None or status == 429 or status >= 500:
        return True
    return status == 403 and not problem  # overload answers 403 without a problem document


def _describe(status: int | None, problem: dict, body: Any) -> str:
    if problem:
        detail = problem.get("detail") or ""
        return f"Mailchimp {status} {problem.get('title') or ''}: {detail}".strip().rstrip(":")
    if status is None:
        return f"Mailchimp could not be reached: {body}"
    return f"Mailchimp answered {status} without details"


def _time(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


def _mailchimp_time(value: datetime) -> str:
    return isoformat_utc(value).replace("Z", "+00:00")
