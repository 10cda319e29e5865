"""The one ingest function: every event (file import, webhook, pixel, click, Mailchimp pull) is
stored through store_events, so deduplication, flagging and status changes are one piece of code."""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Sequence

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from ..config import FlaggingConfig
from ..models import (UNCOUNTED_ORDER_STATUSES, Campaign, Event, OrderChange, normalise_email,
                      normalise_order_status, utcnow)
from ..sqlutil import in_chunks, upsert
from ..subscribers.lookup import subscriber_ids_by_email
from ..subscribers.status import StatusChange, change_statuses
from ..timeutil import isoformat_utc
from .bulk import MIN_COPY_ROWS, copy_insert_events, insert_events_sqlite
from .flagging import DEFAULT_SETTINGS, flag_event
from .threads import apply_thread_rules, reflag_stored

# Event types that change the subscriber's status when first stored.
STATUS_BY_EVENT = {"unsubscribe": "unsubscribed", "complaint": "complained"}
UNKNOWN_SAMPLE_SIZE = 5


@dataclass
class EventIn:
    """An event as it arrives, before it is matched to a subscriber and flagged."""

    type: str
    occurred_at: datetime
    source: str
    email: str | None = None
    subscriber_id: int | None = None
    campaign: str | None = None  # the campaign's provider id / import key
    campaign_id: int | None = None
    url: str | None = None
    user_agent: str | None = None
    ip: str | None = None
    amount: Decimal | None = None
    # A provider's own id for the event (Mandrill _id); part of the dedupe key when present.
    external_id: str | None = None
    # Status the subscriber takes when this event is first stored (defaults from STATUS_BY_EVENT).
    new_status: str | None = None
    # A flag decided upstream (e.g. a honeypot click) wins over the stateless rules.
    machine_reason: str | None = None
    # When the message this event is about was sent, if the event says (Mandrill's msg.ts).
    sent_at: datetime | None = None
    # Purchases: the shop's order id (identifies the order across sources), contribution, state.
    order_id: str | None = None
    margin: Decimal | None = None
    order_status: str | None = None


@dataclass
class StoreResult:
    received: int = 0
    inserted: int = 0
    duplicates: int = 0
    unknown: int = 0
    unknown_samples: list[str] = field(default_factory=list)
    machine: int = 0
    status_changes: int = 0
    # Events stored earlier that a later event showed to be a machine's (same-second links, honeypot).
    reflagged: int = 0
    # Orders stored earlier that a later arrival of the same order_id cancelled or refunded.
    orders_cancelled: int = 0
    by_type: Counter = field(default_factory=Counter)
    # Dedupe keys of the events this call stored (not merged by add(): per call only).
    inserted_keys: set[str] = field(default_factory=set)
    # Per event of the call, in order: its dedupe key (None for an unknown subscriber); per call only.
    event_keys: list[str | None] = field(default_factory=list)

    def add(self, other: "StoreResult") -> None:
        for name in ("received", "inserted", "duplicates", "unknown", "machine", "status_changes", "reflagged",
                     "orders_cancelled"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        room = UNKNOWN_SAMPLE_SIZE - len(self.unknown_samples)
        self.unknown_samples.extend(other.unknown_samples[:max(room, 0)])
        self.by_type.update(other.by_type)


ORDER_KEY_PREFIX = "order-"


def dedupe_key(audience_id: int, subscriber_id: int, event: EventIn, campaign_id: int | None) -> str:
    """The event's identity: its UTC day (YYYYMMDD) then a 128-bit hash of what identifies it.

    The day is part of the identity anyway (occurred_at is hashed); leading with it keeps each day's
    keys together in the unique index, so storing time-ordered events writes to a few index pages
    instead of random ones (storing a time-ordered 1M-event import on SQLite: 21 s -> 15 s).

    A purchase with an order_id is that order, whenever and wherever it arrives from (an import says
    10:00, Mailchimp says 10:02): its key is "order-" then a hash of the audience and the order id, so
    the unique index stores each order once per audience."""
    if event.type == "purchase" and event.order_id:
        identity = f"{audience_id}|order|{event.order_id}"
        return ORDER_KEY_PREFIX + hashlib.blake2b(identity.encode(), digest_size=17).hexdigest()
    at = isoformat_utc(event.occurred_at)
    if event.external_id:
        identity = f"{audience_id}|x|{event.external_id}|{event.type}|{at}"
    else:
        identity = "|".join((str(audience_id), str(subscriber_id), event.type, at, str(campaign_id or ""), event.url or ""))
    return at[0:4] + at[5:7] + at[8:10] + hashlib.blake2b(identity.encode(), digest_size=16).hexdigest()


def store_events(session: Session, audience_id: int, events: Sequence[EventIn], *,
                 flagging: FlaggingConfig | None = None) -> StoreResult:
    """Store a batch of events in the caller's transaction: match subscribers, resolve campaigns,
    flag machines, insert with ON CONFLICT DO NOTHING and apply status changes of new events."""
    flagging = flagging or DEFAULT_SETTINGS
    result = StoreResult(received=len(events))
    subscriber_ids = _subscriber_ids(session, audience_id, events)
    campaign_ids = _campaign_ids(session, audience_id, events)
    rows, seen, now = [], {}, utcnow()
    for event in events:
        subscriber_id = event.subscriber_id or subscriber_ids.get(normalise_email(event.email or ""))
        if subscriber_id is None:
            result.event_keys.append(None)
            result.unknown += 1
            if len(result.unknown_samples) < UNKNOWN_SAMPLE_SIZE and event.email not in result.unknown_samples:
                result.unknown_samples.append(event.email or "(no email)")
            continue
        campaign_id = event.campaign_id or campaign_ids.get(event.campaign or "")
        key = dedupe_key(audience_id, subscriber_id, event, campaign_id)
        result.event_keys.append(key)
        if key in seen:
            _merge_repeated_order(seen[key], event)
            continue
        flag = flag_event(event.type, event.user_agent, event.ip, flagging)
        reason = event.machine_reason or flag.reason
        seen[key] = row = {
            "subscriber_id": subscriber_id, "campaign_id": campaign_id, "type": event.type,
            "occurred_at": event.occurred_at, "url": event.url, "user_agent": event.user_agent,
            "ip": event.ip, "amount": event.amount, "is_machine": reason is not None,
            "machine_reason": reason, "source": event.source, "dedupe_key": key,
            "order_id": event.order_id, "margin": event.margin,
            "order_status": normalise_order_status(event.order_status), "created_at": now,
            "_new_status": event.new_status or STATUS_BY_EVENT.get(event.type),
            "_sent_at": event.sent_at,
        }
        rows.append(row)
    if not rows:
        result.duplicates = result.received - result.unknown
        return result
    stored_flags = apply_thread_rules(session, rows, flagging)
    inserted_keys = _insert_new(session, rows)
    result.reflagged = reflag_stored(session, stored_flags)
    result.inserted = len(inserted_keys)
    result.inserted_keys = inserted_keys
    result.duplicates = result.received - result.unknown - result.inserted
    new_rows = [row for row in rows if row["dedupe_key"] in inserted_keys]
    result.machine = sum(1 for row in new_rows if row["is_machine"])
    result.by_type.update(row["type"] for row in new_rows)
    result.status_changes = _apply_status_changes(session, new_rows)
    cancelled = _apply_order_cancellations(session, [row for row in rows if row["dedupe_key"] not in inserted_keys])
    result.orders_cancelled = len(cancelled)
    # the value run's kept order totals of these subscribers are to be summed again (value/totals.py)
    _mark_order_changes(session, audience_id, [row["subscriber_id"] for row in new_rows if row["type"] == "purchase"]
                       + cancelled)
    return result


def _subscriber_ids(session: Session, audience_id: int, events: Sequence[EventIn]) -> dict[str, int]:
    return subscriber_ids_by_email(session, audience_id, (e.email for e in events if e.subscriber_id is None))


def _campaign_ids(session: Session, audience_id: int, events: Sequence[EventIn]) -> dict[str, int]:
    """Campaign keys to ids, creating campaigns first seen in imported history."""
    keys = sorted({e.campaign for e in events if e.campaign and e.campaign_id is None})
    if not keys:
        return {}
    found = _existing_campaigns(session, audience_id, keys)
    missing = [key for key in keys if key not in found]
    if missing:
        first_seen: dict[str, datetime] = {}
        for e in events:
            if e.campaign in missing and e.type == "send":
                first_seen[e.campaign] = min(first_seen.get(e.campaign, e.occurred_at), e.occurred_at)
        stmt = upsert(session, Campaign.__table__).on_conflict_do_nothing(
            index_elements=["audience_id", "provider_id"])
        session.execute(stmt, [
            {"audience_id": audience_id, "provider_id": key, "name": key, "kind": "regular",
             "status": "sent", "sent_at": first_seen.get(key), "variant": 1, "created_at": utcnow()}
            for key in missing
        ])
        found.update(_existing_campaigns(session, audience_id, missing))
    return found


def _existing_campaigns(session: Session, audience_id: int, keys: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in in_chunks(keys):
        stmt = select(Campaign.provider_id, Campaign.id).where(
            Campaign.audience_id == audience_id, Campaign.provider_id.in_(chunk))
        found.update(session.execute(stmt).all())
    return found


def _insert_new(session: Session, rows: list[dict]) -> set[str]:
    """Insert the rows whose dedupe key is not stored yet; returns the keys actually stored."""
    stored_orders = _stored_order_keys(session, [row["dedupe_key"] for row in rows
                                                 if row["dedupe_key"].startswith(ORDER_KEY_PREFIX)])
    rows = [row for row in rows if row["dedupe_key"] not in stored_orders]
    if not rows:
        return set()
    if session.get_bind().dialect.name == "sqlite":
        return insert_events_sqlite(session, rows)
    columns = [name for name in rows[0] if not name.startswith("_")]
    if len(rows) >= MIN_COPY_ROWS:
        return copy_insert_events(session, rows, columns)
    params = [{name: row[name] for name in columns} for row in rows]
    table = Event.__table__
    stmt = (upsert(session, table)
            .on_conflict_do_nothing(index_elements=["subscriber_id", "dedupe_key"])
            .returning(table.c.dedupe_key))
    return set(session.execute(stmt, params).scalars())


def _stored_order_keys(session: Session, keys: list[str]) -> set[str]:
    """The orders already stored, for any subscriber of the audience (the key hashes the audience and
    the order id). The unique key is per subscriber (sharding: docs/SCALING.md), so the same order
    arriving under another address is caught here, through ix_events_dedupe_key."""
    found: set[str] = set()
    for chunk in in_chunks(keys):
        found.update(session.scalars(select(Event.dedupe_key).where(Event.dedupe_key.in_(chunk))))
    return found


def _merge_repeated_order(row: dict, event: EventIn) -> None:
    """The same order twice in one batch: a cancellation in either copy wins (as across batches)."""
    status = normalise_order_status(event.order_status)
    if row["type"] == "purchase" and status in UNCOUNTED_ORDER_STATUSES:
        row["order_status"] = status


def _apply_order_cancellations(session: Session, repeated_rows: list[dict]) -> list[int]:
    """An order arriving again cancelled or refunded (a Mailchimp pull after the refund, an API retry
    with the new state) stops counting. A cancellation is final: an older "paid" copy arriving later
    never makes a refunded order count again. Returns the subscribers of the orders it cancelled (an
    order is stored under the subscriber it first came with, maybe not this copy's)."""
    table = Event.__table__
    changed: list[int] = []
    for row in repeated_rows:
        if row["type"] != "purchase" or row["order_status"] not in UNCOUNTED_ORDER_STATUSES:
            continue
        stmt = (update(table)
                .where(table.c.dedupe_key == row["dedupe_key"],
                       or_(table.c.order_status.is_(None), table.c.order_status.not_in(UNCOUNTED_ORDER_STATUSES)))
                .values(order_status=row["order_status"])
                .returning(table.c.subscriber_id))
        changed.extend(session.execute(stmt).scalars())
    return changed


def _mark_order_changes(session: Session, audience_id: int, subscriber_ids: list[int]) -> None:
    """Mark the subscribers whose orders changed, for the value run's kept order totals
    (mailseg/value/totals.py): a row per subscriber and call, never updated, so a batch never waits
    on a value run consuming older marks."""
    mark = uuid.uuid4().hex
    rows = [{"subscriber_id": subscriber_id, "mark": mark, "audience_id": audience_id}
            for subscriber_id in sorted(set(subscriber_ids))]
    if rows:
        session.execute(insert(OrderChange.__table__), rows)


def _apply_status_changes(session: Session, new_rows: list[dict]) -> int:
    """Unsubscribe/complaint/hard bounce move the subscriber's status at the event's time, unless a
    later change is already recorded (change_statuses decides and records)."""
    return change_statuses(session, [
        StatusChange(row["subscriber_id"], row["_new_status"], row["occurred_at"], row["source"])
        for row in new_rows if row["_new_status"]])
