"""A faithful, in-memory fake of the Mailchimp Marketing API v3, for tests and benchmarks.

Flask app under /3.0 with Mailchimp's shapes: lists and members (subscriber_hash = MD5 of the
lower-cased address), static segments (tags) with the 500-per-list batch endpoint, campaigns
(create, replicate, schedule, send) and reports (sent-to, email-activity), count/offset paging,
basic-auth API key check and application/problem+json errors. Switches inject 429 (Retry-After),
bare 403, 5xx and slow answers; every call is logged so tests can count them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from flask import Flask, Response, g, jsonify, request

MAX_BATCH = 500
MAX_COUNT = 1000


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


def now_text() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": "https://mailchimp.com/developer/marketing/docs/errors/", "title": title,
            "status": status, "detail": detail, "instance": str(uuid.uuid4()), **extra}
    return Response(json.dumps(body), status, content_type="application/problem+json; charset=utf-8")


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.response = problem(status, title, detail)


@dataclass
class Fault:
    status: int
    times: int
    retry_after: str | None = None
    bare: bool = False  # no body at all, as Mailchimp's overload 403
    method: str | None = None
    path_contains: str | None = None
    after: int = 0  # let this many matching calls through first

    def matches(self, method: str, path: str) -> bool:
        return (self.times > 0 and (self.method is None or self.method == method)
                and (self.path_contains is None or self.path_contains in path))

    def fires(self) -> bool:
        """Called for a matching call: True when this call gets the fault."""
        if self.after > 0:
            self.after -= 1
            return False
        self.times -= 1
        return True


@dataclass
class Kill:
    """SIGKILL a process when it makes a matching call: before the call takes effect, or after it
    took effect but before the answer leaves (the caller never learns that it succeeded)."""

    pid: int
    method: str
    path_pattern: str  # a regular expression searched in the path
    when: str = "after"  # before | after
    fired: bool = False

    def matches(self, method: str, path: str, when: str) -> bool:
        return (not self.fired and self.when == when and self.method == method
                and re.search(self.path_pattern, path) is not None)


@dataclass
class Call:
    method: str
    path: str
    query: dict
    body: Any
    status: int = 0

    @property
    def is_write(self) -> bool:
        return self.method != "GET"


@dataclass
class FakeList:
    id: str
    name: str
    members: dict[str, dict] = field(default_factory=dict)  # subscriber_hash -> member
    segments: dict[int, dict] = field(default_factory=dict)
    segment_members: dict[int, set[str]] = field(default_factory=dict)


class FakeMailchimp:
    def __init__(self, api_key: str = "0123456789abcdef0123456789abcdef-us21") -> None:
        self.api_key = api_key
        self.lock = threading.RLock()
        self.lists: dict[str, FakeList] = {}
        self.campaigns: dict[str, dict] = {}
        self.sent_to: dict[str, list[str]] = {}  # campaign id -> member hashes
        self.activity: dict[str, dict[str, list[dict]]] = {}  # campaign id -> hash -> activity
        self.calls: list[Call] = []
        self.keep_bodies = True
        self.faults: list[Fault] = []
        self.kills: list[Kill] = []
        self.contents: dict[str, dict] = {}  # campaign id -> content
        self.delay = 0.0  # seconds before answering any call
        self.write_delay = 0.0  # extra seconds before answering a write
        self._ids = itertools.count(1)
        self.stores: dict[str, dict] = {}  # store id -> {"id", "list_id", "orders": {order id -> order}}
        self.app = self._make_app()

    # --- seeding and inspection (what a test does on "Mailchimp's side") ----------------------

    def add_list(self, list_id: str = "list0001", name: str = "Audience") -> FakeList:
        with self.lock:
            return self.lists.setdefault(list_id, FakeList(list_id, name))

    def add_members(self, list_id: str, emails, *, status: str = "subscribed",
                    last_changed: str | None = None) -> None:
        stamp = last_changed or now_text()
        with self.lock:
            members = self.add_list(list_id).members
            for email in emails:
                members[subscriber_hash(email)] = self._member(list_id, email, status, {}, stamp)

    def add_store(self, store_id: str, list_id: str = "list0001", currency_code: str = "USD") -> dict:
        with self.lock:
            return self.stores.setdefault(store_id, {"id": store_id, "list_id": list_id,
                                                     "currency_code": currency_code, "orders": {}})

    def add_order(self, store_id: str, order_id: str, email: str, order_total: float, processed_at: str, *,
                  financial_status: str = "paid", customer_id: str | None = None) -> dict:
        """An e-commerce order in the documented shape (GET /ecommerce/stores/{store_id}/orders/{order_id})."""
        with self.lock:
            store = self.stores[store_id]
            order = {
                "id": order_id, "store_id": store_id, "campaign_id": "", "landing_site": "",
                "customer": {"id": customer_id or f"cust-{subscriber_hash(email)[:8]}", "email_address": email,
                             "opt_in_status": True, "company": "", "first_name": "", "last_name": "",
                             "orders_count": 0, "total_spent": 0},
                "financial_status": financial_status, "fulfillment_status": "", "currency_code": store["currency_code"],
                "order_total": order_total, "order_url": "", "discount_total": 0, "tax_total": 0,
                "shipping_total": 0, "tracking_code": "", "processed_at_foreign": processed_at,
                "cancelled_at_foreign": "", "updated_at_foreign": processed_at,
                "shipping_address": {}, "billing_address": {}, "promos": [], "lines": [], "outreach": {},
                "tracking_number": "", "tracking_carrier": "", "tracking_url": "", "_links": [],
            }
            store["orders"][order_id] = order
            return order

    def update_order(self, store_id: str, order_id: str, updated_at: str, **changes) -> None:
        """A change on the shop's side (refund, cancellation): the order's updated_at_foreign moves."""
        with self.lock:
            self.stores[store_id]["orders"][order_id].update(changes, updated_at_foreign=updated_at)

    def segment_emails(self, list_id: str, name: str) -> set[str]:
        with self.lock:
            fake_list = self.lists[list_id]
            for seg_id, segment in fake_list.segments.items():
                if segment["name"] == name:
                    return {fake_list.members[h]["email_address"] for h in fake_list.segment_members[seg_id]}
        return set()

    def add_sent_campaign(self, list_id: str, *, subject: str, send_time: str, recipients: list[str],
                          activity: dict[str, list[dict]] | None = None) -> str:
        with self.lock:
            campaign = self._campaign({"recipients": {"list_id": list_id},
                                       "settings": {"subject_line": subject, "title": subject}})
            campaign.update(status="sent", send_time=send_time)
            self.sent_to[campaign["id"]] = [subscriber_hash(e) for e in recipients]
            self.activity[campaign["id"]] = {subscriber_hash(e): list(a) for e, a in (activity or {}).items()}
            return campaign["id"]

    def add_draft_campaign(self, list_id: str, *, title: str, subject: str, html: str = "<p>Hello</p>",
                           from_name: str = "Shop", reply_to: str = "shop@example.com") -> str:
        """A campaign the marketer prepared in Mailchimp (a template mailseg copies)."""
        with self.lock:
            campaign = self._campaign({"recipients": {"list_id": list_id},
                                       "settings": {"subject_line": subject, "title": title, "from_name": from_name,
                                                    "reply_to": reply_to}})
            self.contents[campaign["id"]]["html"] = html
            return campaign["id"]

    def deliver_scheduled(self) -> list[str]:
        """Send every scheduled campaign now (what Mailchimp does at the scheduled time)."""
        with self.lock:
            due = [cid for cid, c in self.campaigns.items() if c["status"] == "schedule"]
            for campaign_id in due:
                self._deliver(self.campaigns[campaign_id], self.campaigns[campaign_id]["send_time"])
            return due

    def _deliver(self, campaign: dict, send_time: str) -> None:
        fake_list = self.lists[campaign["recipients"]["list_id"]]
        seg_id = (campaign["recipients"].get("segment_opts") or {}).get("saved_segment_id")
        pool = fake_list.segment_members.get(seg_id, set()) if seg_id else fake_list.members.keys()
        self.sent_to[campaign["id"]] = sorted(h for h in pool if fake_list.members[h]["status"] == "subscribed")
        self.activity[campaign["id"]] = {}
        campaign.update(status="sent", send_time=send_time)

    def received(self, campaign_titles_containing: str = "") -> dict[str, int]:
        """Address -> how many sent campaigns (whose title contains the text) it received."""
        counts: dict[str, int] = {}
        with self.lock:
            for campaign_id, hashes in self.sent_to.items():
                campaign = self.campaigns[campaign_id]
                if campaign_titles_containing not in (campaign["settings"].get("title") or ""):
                    continue
                members = self.lists[campaign["recipients"]["list_id"]].members
                for h in hashes:
                    email = members[h]["email_address"]
                    counts[email] = counts.get(email, 0) + 1
        return counts

    def kill_on(self, pid: int, method: str, path_pattern: str, *, when: str = "after") -> None:
        with self.lock:
            self.kills.append(Kill(pid, method, path_pattern, when))

    def _kill(self, when: str) -> None:
        with self.lock:
            kill = next((k for k in self.kills if k.matches(request.method, request.path, when)), None)
            if kill is not None:
                kill.fired = True
        if kill is not None:
            os.kill(kill.pid, signal.SIGKILL)
            time.sleep(0.2)  # let it die before anything is answered

    def inject(self, status: int, *, times: int = 1, retry_after: str | None = None, bare: bool = False,
               method: str | None = None, path_contains: str | None = None, after: int = 0) -> None:
        """Answer the next `times` matching calls (after letting `after` through) with `status`."""
        with self.lock:
            self.faults.append(Fault(status, times, retry_after, bare, method, path_contains, after))

    def writes(self, path_contains: str = "") -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.is_write and path_contains in c.path and 200 <= c.status < 300]

    # --- shapes -------------------------------------------------------------------------------

    def _member(self, list_id: str, email: str, status: str, merge_fields: dict, stamp: str) -> dict:
        return {"id": subscriber_hash(email), "email_address": email, "unique_email_id": uuid.uuid4().hex[:10],
                "email_type": "html", "status": status, "merge_fields": merge_fields, "list_id": list_id,
                "timestamp_opt": stamp, "last_changed": stamp}

    def _member_out(self, fake_list: FakeList, member: dict) -> dict:
        tags = [{"id": seg_id, "name": seg["name"]} for seg_id, seg in fake_list.segments.items()
                if seg["type"] == "static" and member["id"] in fake_list.segment_members[seg_id]]
        return {**member, "tags": tags, "tags_count": len(tags)}

    def _segment_out(self, fake_list: FakeList, seg_id: int) -> dict:
        return {**fake_list.segments[seg_id], "member_count": len(fake_list.segment_members[seg_id]),
                "list_id": fake_list.id}

    def _campaign(self, body: dict) -> dict:
        campaign_id = f"c{next(self._ids):09x}"
        campaign = {"id": campaign_id, "web_id": next(self._ids), "type": body.get("type", "regular"),
                    "create_time": now_text(), "status": "save", "send_time": "",
                    "recipients": dict(body.get("recipients") or {}), "settings": dict(body.get("settings") or {})}
        self.campaigns[campaign_id] = campaign
        self.contents[campaign_id] = {"html": "", "plain_text": ""}
        return campaign

    # --- the app ------------------------------------------------------------------------------

    def _list(self, list_id: str) -> FakeList:
        if list_id not in self.lists:
            raise Problem(404, "Resource Not Found", "The requested resource could not be found.")
        return self.lists[list_id]

    def _segment(self, fake_list: FakeList, segment_id: str) -> int:
        if not segment_id.isdigit() or int(segment_id) not in fake_list.segments:
            raise Problem(404, "Resource Not Found", "The requested resource could not be found.")
        return int(segment_id)

    def _campaign_by_id(self, campaign_id: str) -> dict:
        if campaign_id not in self.campaigns:
            raise Problem(404, "Resource Not Found", "The requested resource could not be found.")
        return self.campaigns[campaign_id]

    def _make_app(self) -> Flask:
        from .mailchimp_routes import register

        app = Flask("fake_mailchimp")
        app.before_request(self._before)
        app.after_request(self._after)
        app.register_error_handler(Problem, lambda exc: exc.response)
        register(app, self)
        return app

    def _before(self):
        body = request.get_json(silent=True) if request.data else None
        call = Call(request.method, request.path, request.args.to_dict(), body if self.keep_bodies else None)
        g.call = call
        with self.lock:
            self.calls.append(call)
        delay = self.delay + (self.write_delay if call.is_write else 0.0)
        if delay:
            time.sleep(delay)
        auth = request.authorization
        if auth is None or auth.password != self.api_key:
            return problem(401, "API Key Invalid",
                           "Your API key may be invalid, or you've attempted to access the wrong datacenter.")
        with self.lock:
            fault = next((f for f in self.faults if f.matches(request.method, request.path)), None)
            if fault is not None and not fault.fires():
                fault = None
        if fault is not None:
            return self._fault_response(fault)
        self._kill("before")
        return None

    def _fault_response(self, fault: Fault) -> Response:
        if fault.bare:
            response = Response("", fault.status, content_type="text/html")
        elif fault.status == 429:
            response = problem(429, "Too Many Requests", "You have exceeded the limit of 10 simultaneous connections.")
        else:
            response = problem(fault.status, "Internal Server Error", "An unexpected internal error has occurred.")
        if fault.retry_after is not None:
            response.headers["Retry-After"] = fault.retry_after
        return response

    def _after(self, response: Response) -> Response:
        call = g.get("call")
        if call is not None:
            call.status = response.status_code
            if response.status_code < 300:
                self._kill("after")
        return response


def page(items: list, key: str, **extra: Any):
    """Mailchimp's count/offset paging of a collection: count defaults to 10, at most 1000."""
    try:
        count = int(request.args.get("count", 10))
        offset = int(request.args.get("offset", 0))
    except ValueError:
        raise Problem(400, "Invalid Resource", "count and offset must be integers") from None
    if count > MAX_COUNT or count < 0 or offset < 0:
        raise Problem(400, "Invalid Resource", f"count must be between 0 and {MAX_COUNT}")
    return jsonify({key: items[offset:offset + count], **extra, "total_items": len(items), "_links": []})
