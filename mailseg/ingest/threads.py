"""The stateful flagging rules applied to a batch: the batch's opens and clicks are put together with
the stored events of the same emails (one bounded query per 900 subscribers), the rules in
flagging.thread_flags decide, and stored events a new one exposes as a machine's are updated."""

from __future__ import annotations

from collections import defaultdict
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..config import FlaggingConfig
from ..models import Campaign, Event
from ..sqlutil import in_chunks, member_of
from .flagging import Seen, Thread, context_span, thread_flags

THREAD_TYPES = ("send", "open", "click")


def apply_thread_rules(session: Session, rows: list[dict], settings: FlaggingConfig) -> dict[int, str]:
    """Flag batch rows in place; return {stored event id: reason} for stored events to flag."""
    relevant = [row for row in rows if row["type"] in ("open", "click")]
    if not relevant:
        return {}
    threads: dict[tuple, Thread] = defaultdict(Thread)
    stored_keys = _add_stored(session, relevant, threads, settings)
    for index, row in enumerate(rows):
        if row["type"] not in THREAD_TYPES or row["dedupe_key"] in stored_keys:
            continue  # a replayed event is represented by its stored copy
        thread = threads[(row["subscriber_id"], row["campaign_id"])]
        if row["type"] == "send":
            thread.sends.append(row["occurred_at"])
        else:
            thread.events.append(Seen(("new", index), row["type"], row["occurred_at"], row["url"],
                                      row["machine_reason"], row["_sent_at"]))
    _add_campaign_send_times(session, threads)
    stored: dict[int, str] = {}
    for thread in threads.values():
        for (kind, ref), reason in thread_flags(thread, settings).items():
            if kind == "new":
                rows[ref]["is_machine"], rows[ref]["machine_reason"] = True, reason
            else:
                stored[ref] = reason
    return stored


def _add_stored(session: Session, relevant: list[dict], threads: dict[tuple, Thread],
                settings: FlaggingConfig) -> set[str]:
    """Stored sends, opens and clicks of the batch's subscribers near the batch's times."""
    span = context_span(settings)
    low = min(row["occurred_at"] for row in relevant) - span
    high = max(row["occurred_at"] for row in relevant) + span
    subscriber_ids = sorted({row["subscriber_id"] for row in relevant})
    keys: set[str] = set()
    table = Event.__table__
    for matches in member_of(session, table.c.subscriber_id, subscriber_ids):
        stmt = select(table.c.id, table.c.subscriber_id, table.c.campaign_id, table.c.type, table.c.occurred_at,
                      table.c.url, table.c.machine_reason, table.c.dedupe_key).where(
            matches, table.c.type.in_(THREAD_TYPES),
            table.c.occurred_at.between(low, high))
        for event_id, subscriber_id, campaign_id, kind, at, url, reason, key in session.execute(stmt):
            keys.add(key)
            thread = threads[(subscriber_id, campaign_id)]
            if kind == "send":
                thread.sends.append(at)
            else:
                thread.events.append(Seen(("old", event_id), kind, at, url, reason))
    return keys


def _add_campaign_send_times(session: Session, threads: dict[tuple, Thread]) -> None:
    campaign_ids = sorted({campaign_id for _, campaign_id in threads if campaign_id is not None})
    sent: dict[int, object] = {}
    for chunk in in_chunks(campaign_ids):
        sent.update(session.execute(select(Campaign.id, Campaign.sent_at).where(
            Campaign.id.in_(chunk), Campaign.sent_at.is_not(None))).all())
    for (_, campaign_id), thread in threads.items():
        if campaign_id in sent:
            thread.sends.append(sent[campaign_id])


def reflag_stored(session: Session, flags: dict[int, str]) -> int:
    """UPDATE stored events that are still human to machine, one statement per reason."""
    by_reason: dict[str, list[int]] = defaultdict(list)
    for event_id, reason in flags.items():
        by_reason[reason].append(event_id)
    changed = 0
    table = Event.__table__
    for reason, ids in by_reason.items():
        for chunk in in_chunks(sorted(ids)):
            stmt = (update(table).where(table.c.id.in_(chunk), table.c.is_machine.is_(False))
                    .values(is_machine=True, machine_reason=reason))
            changed += session.execute(stmt).rowcount
    return changed
