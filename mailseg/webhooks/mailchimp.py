"""Mailchimp audience webhooks: form posts of `type`, `fired_at` and `data[...]` fields
(https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/).

Mailchimp does not sign these posts: the secret path segment of the URL is the protection, so it is
compared in constant time, and while it is rotated the previous secret is accepted until
mailchimp.previous_webhook_secret_until. Mailchimp retries for 75 minutes, so every type is
idempotent: events go through store_events (deduplicated), profile changes are plain overwrites.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import FlaggingConfig, MailchimpConfig
from ..ingest.events import EventIn, StoreResult, store_events
from ..ingest.importing import EMAIL_PATTERN
from ..subscribers.upsert import SubscriberRow, upsert_subscribers
from ..models import Campaign, Subscriber, normalise_email, utcnow
from ..timeutil import parse_datetime
from ..values import text_problem
from . import WebhookError, clean_text
from .emails import change_email
from .routing import audience_for_list

TYPES = ("subscribe", "unsubscribe", "profile", "upemail", "cleaned", "campaign")
FIELD = re.compile(r"^data((?:\[[^\[\]]*\])+)$")
NAME_MERGES = {"FNAME": "first_name", "LNAME": "last_name"}
# Mailchimp merge tags are at most 10 characters; 100 leaves room without storing garbage keys.
MAX_MERGE_TAG = 100


def secret_accepted(given: str, settings: MailchimpConfig, now: datetime) -> bool:
    """The current secret, or the previous one until its overlap ends; never when none is configured."""
    current = _same(given, settings.webhook_secret)
    previous = False
    if settings.previous_webhook_secret and settings.previous_webhook_secret_until:
        try:
            until = parse_datetime(settings.previous_webhook_secret_until)
        except ValueError:
            until = None
        previous = _same(given, settings.previous_webhook_secret) and until is not None and now <= until
    return current or previous


def _same(given: str, secret: str) -> bool:
    return bool(secret) and hmac.compare_digest(given.encode("utf-8", "replace"), secret.encode())


@dataclass
class Hook:
    type: str
    fired_at: datetime
    data: dict[str, Any] = field(default_factory=dict)

    def text(self, *path: str, max_length: int | None = 500) -> str | None:
        value: Any = self.data
        for name in path:
            value = value.get(name) if isinstance(value, dict) else None
        return clean_text(value, max_length)

    def email(self, *path: str) -> str:
        value = self.text(*path, max_length=320)
        email = normalise_email(value or "")
        if not EMAIL_PATTERN.match(email):
            raise WebhookError(f"field data[{']['.join(path)}] is missing or not an email address")
        return email


def parse_hook(fields: Iterable[tuple[str, str]]) -> Hook:
    """The form fields to a Hook; raises WebhookError naming the field that is wrong."""
    flat: dict[str, str] = {}
    data: dict[str, Any] = {}
    for name, value in fields:
        match = FIELD.match(name)
        if match is None:
            flat.setdefault(name, value)
            continue
        _put(data, re.findall(r"\[([^\[\]]*)\]", match.group(1)), value, name)
    kind = flat.get("type")
    if not kind:
        raise WebhookError("missing form field 'type'")
    fired = (flat.get("fired_at") or "").strip()
    try:
        fired_at = parse_datetime(fired) if fired else utcnow()
    except ValueError as exc:
        raise WebhookError(f"field 'fired_at': {exc}") from None
    return Hook(kind.strip(), fired_at, data)


def _put(data: dict[str, Any], path: list[str], value: str, name: str) -> None:
    node = data
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise WebhookError(f"form field {name!r} conflicts with another field")
        node = child
    if isinstance(node.get(path[-1]), dict):
        raise WebhookError(f"form field {name!r} conflicts with another field")
    node.setdefault(path[-1], value)


@dataclass
class HookResult:
    type: str
    outcome: str
    events: StoreResult | None = None


def handle_hook(session: Session, hook: Hook, *, flagging: FlaggingConfig | None = None) -> HookResult:
    """Apply one audience webhook in the caller's transaction."""
    if hook.type not in TYPES:
        return HookResult(hook.type[:40], "ignored: unknown type")
    audience_id = audience_for_list(session, hook.text("list_id", max_length=100))
    if audience_id is None:
        return HookResult(hook.type, "ignored: no audience for this list")
    if hook.type == "campaign":
        return HookResult(hook.type, _campaign(session, audience_id, hook))
    if hook.type == "upemail":
        old, new = hook.email("old_email"), hook.email("new_email")
        return HookResult(hook.type, change_email(session, audience_id, old, new))
    email = hook.email("email")
    if hook.type in ("subscribe", "profile"):
        return HookResult(hook.type, _profile(session, audience_id, email, hook, subscribe=hook.type == "subscribe"))
    event = _status_event(hook, email)
    stored = store_events(session, audience_id, [event], flagging=flagging)
    return HookResult(hook.type, "stored" if stored.inserted else ("unknown subscriber" if stored.unknown else "duplicate"),
                      stored)


def _status_event(hook: Hook, email: str) -> EventIn:
    campaign = hook.text("campaign_id", max_length=100)
    if hook.type == "unsubscribe":  # action "unsub" or "delete": either way, never mailed again
        return EventIn(type="unsubscribe", occurred_at=hook.fired_at, source="mailchimp", email=email,
                       campaign=campaign, new_status="unsubscribed")
    if (hook.text("reason") or "").lower() == "abuse":  # cleaned after a spam complaint
        return EventIn(type="complaint", occurred_at=hook.fired_at, source="mailchimp", email=email,
                       campaign=campaign, new_status="complained")
    return EventIn(type="bounce", occurred_at=hook.fired_at, source="mailchimp", email=email,
                   campaign=campaign, new_status="cleaned")


def _profile(session: Session, audience_id: int, email: str, hook: Hook, *, subscribe: bool) -> str:
    """A subscribe or profile update, through the one subscriber upsert: names and merge fields are
    overwritten, a subscribe (re)subscribes at fired_at unless a later status change is recorded."""
    merges = hook.data.get("merges") if isinstance(hook.data.get("merges"), dict) else {}
    values: dict[str, Any] = {column: clean_text(merges.get(tag), 200) for tag, column in NAME_MERGES.items()
                              if tag in merges}
    extra = {tag: clean_text(value, 2000) or "" for tag, value in merges.items()
             if isinstance(value, str) and tag not in NAME_MERGES and tag != "EMAIL"}
    for tag in extra:
        if (problem := text_problem(tag)) is not None or len(tag) > MAX_MERGE_TAG:
            raise WebhookError(f"field data[merges][{tag!r}]: the merge field name "
                               f"{problem or f'is longer than {MAX_MERGE_TAG} characters'}")
    stored = session.scalar(select(Subscriber.merge_fields).where(Subscriber.audience_id == audience_id,
                                                                  Subscriber.email == email))
    if extra:
        values["merge_fields"] = {**(stored or {}), **extra}
    if subscribe:
        values["status"] = "subscribed"
    row = SubscriberRow(email, values, on_insert={"subscribed_at": hook.fired_at}, status_at=hook.fired_at)
    inserted, _ = upsert_subscribers(session, audience_id, [row], source="mailchimp")
    return "created" if inserted else "updated"


def _campaign(session: Session, audience_id: int, hook: Hook) -> str:
    provider_id = hook.text("id", max_length=100)
    if provider_id is None:
        raise WebhookError("field data[id] (the campaign id) is missing")
    status = (hook.text("status", max_length=20) or "sent").lower()
    campaign = session.scalar(select(Campaign).where(Campaign.audience_id == audience_id,
                                                     Campaign.provider_id == provider_id))
    outcome = "updated"
    if campaign is None:
        campaign = Campaign(audience_id=audience_id, provider_id=provider_id, name=provider_id, kind="regular",
                            variant=1, created_at=utcnow())
        session.add(campaign)
        outcome = "created"
    campaign.subject = hook.text("subject", max_length=500) or campaign.subject
    campaign.status = status
    campaign.on_platform = True  # Mailchimp itself said so
    if status == "sent" and campaign.sent_at is None:
        campaign.sent_at = hook.fired_at
    session.flush()
    return outcome
