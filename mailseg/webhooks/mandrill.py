"""Mandrill (Mailchimp Transactional) webhooks: signature, parsing of mandrill_events, storing.

Signature (https://mailchimp.com/developer/transactional/guides/track-respond-activity-webhooks/,
"Authenticating webhook requests"): base64(HMAC-SHA1(webhook key, URL + key1 + value1 + ...)) with
the POST fields sorted by key, where URL is the webhook URL exactly as configured in Mandrill — taken
from mandrill.webhook_url, never from the request (a proxy or a trailing slash would change it).
When a webhook is added Mandrill sends HEAD, then a POST with an empty event list signed with the key
"test-webhook"; that key is accepted for an empty list only, so it cannot be used to forge events.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Iterable

from sqlalchemy.orm import Session

from ..config import FlaggingConfig
from ..ingest.events import UNKNOWN_SAMPLE_SIZE, EventIn, StoreResult, store_events
from . import WebhookError, clean_text
from .routing import route_by_email

SIGNATURE_HEADER = "X-Mandrill-Signature"
TEST_KEY = "test-webhook"
# Mandrill event -> (mailseg event type, status the subscriber takes).
EVENT_MAP = {
    "send": ("send", None), "open": ("open", None), "click": ("click", None),
    "hard_bounce": ("bounce", "cleaned"), "soft_bounce": ("bounce", None),
    "spam": ("complaint", "complained"), "unsub": ("unsubscribe", "unsubscribed"), "reject": ("reject", None),
}
MAX_INVALID_KEPT = 20


def signature(key: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    signed = url + "".join(name + value for name, value in sorted(params, key=lambda item: item[0]))
    digest = hmac.new(key.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signed_with(key: str, url: str, params: list[tuple[str, str]], given: str | None) -> bool:
    if not key or not url or not given:
        return False
    return hmac.compare_digest(signature(key, url, params).encode(), given.encode("utf-8", "replace"))


@dataclass
class MandrillBatch:
    events: list[EventIn] = field(default_factory=list)
    total: int = 0
    ignored: Counter = field(default_factory=Counter)  # event types mailseg does not store
    invalid: list[str] = field(default_factory=list)
    invalid_count: int = 0


def parse_events(raw: str | None) -> MandrillBatch:
    """The mandrill_events field to EventIns; raises WebhookError when the field as a whole is unusable.

    Unknown event types are counted, malformed single events are counted and named, neither is fatal.
    """
    if raw is None:
        raise WebhookError("missing form field 'mandrill_events'")
    try:
        items = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise WebhookError(f"'mandrill_events' is not valid JSON: {exc}") from None
    if not isinstance(items, list):
        raise WebhookError(f"'mandrill_events' must be a JSON array of events, not {type(items).__name__}")
    batch = MandrillBatch(total=len(items))
    for index, item in enumerate(items):
        try:
            event = _event(item)
        except _Invalid as exc:
            batch.invalid_count += 1
            if len(batch.invalid) < MAX_INVALID_KEPT:
                batch.invalid.append(f"event {index}: {exc}")
            continue
        if isinstance(event, str):
            batch.ignored[event] += 1
        else:
            batch.events.append(event)
    return batch


class _Invalid(ValueError):
    pass


def _event(item: object) -> EventIn | str:
    if not isinstance(item, dict):
        raise _Invalid("not a JSON object")
    kind = item.get("event", item.get("type"))  # sync events carry "type" instead of "event"
    if not isinstance(kind, str):
        raise _Invalid("no 'event' name")
    if kind not in EVENT_MAP:
        return kind[:40]
    msg = item.get("msg")
    if not isinstance(msg, dict):
        raise _Invalid("no 'msg' object")
    email = clean_text(msg.get("email"), 320)
    if email is None or "@" not in email:
        raise _Invalid("no recipient address in msg.email")
    occurred_at = _timestamp(item.get("ts"))
    if occurred_at is None:
        raise _Invalid("'ts' is not a Unix timestamp")
    event_type, new_status = EVENT_MAP[kind]
    metadata = msg.get("metadata") if isinstance(msg.get("metadata"), dict) else {}
    return EventIn(
        type=event_type, occurred_at=occurred_at, source="mandrill", email=email,
        campaign=clean_text(metadata.get("campaign"), 100),
        url=clean_text(item.get("url")) if event_type == "click" else None,
        user_agent=clean_text(item.get("user_agent")), ip=_ip(item.get("ip")),
        external_id=clean_text(item.get("_id"), 200), new_status=new_status,
        sent_at=_timestamp(msg.get("ts")),
    )


def _timestamp(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    try:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _ip(value: object) -> str | None:
    text = clean_text(value, 45)
    return _normal_ip(text) if text else None


@lru_cache(maxsize=65536)
def _normal_ip(text: str) -> str | None:
    """The address in its normal form; cached because a burst repeats few addresses (proxies, gateways)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def store_batch(session: Session, batch: MandrillBatch, *, flagging: FlaggingConfig | None = None) -> StoreResult:
    """Every event of one POST, in the caller's single transaction, each in its subscriber's audience."""
    total = StoreResult()
    routed, unrouted = route_by_email(session, batch.events)
    for audience_id, events in sorted(routed.items()):
        total.add(store_events(session, audience_id, events, flagging=flagging))
    total.received = len(batch.events)
    total.unknown += len(unrouted)
    for event in unrouted:
        if len(total.unknown_samples) < UNKNOWN_SAMPLE_SIZE and event.email not in total.unknown_samples:
            total.unknown_samples.append(event.email)
    return total
