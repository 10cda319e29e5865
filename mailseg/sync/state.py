"""Recorded sync state and the set-based SQL that diffs it against what a segment should hold.

sync_members is what the platform holds, as confirmed by completed batches; a segment's desired
membership is any SELECT of subscriber ids (column `id`). Adds are desired ids not recorded (less
addresses refused too often); removes are recorded ids no longer desired. Both are read in keyset
pages ordered by subscriber id, so a large diff never sits in memory whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

from sqlalchemy import Select, and_, delete, func, select, text
from sqlalchemy.orm import Session

from ..models import Subscriber, SyncFailure, SyncMember, SyncSegment, normalise_email, utcnow
from ..sqlutil import in_chunks, set_local, upsert

PAGE_ROWS = 25_000
MEMBERS = SyncMember.__table__
FAILURES = SyncFailure.__table__
SUBSCRIBERS = Subscriber.__table__


@dataclass(frozen=True)
class RecordedSegment:
    id: int | None  # None: not created yet (dry run)
    name: str
    provider_segment_id: str | None


def recorded_segment(session: Session, audience_id: int, name: str) -> RecordedSegment | None:
    row = session.execute(select(SyncSegment.id, SyncSegment.provider_segment_id).where(
        SyncSegment.audience_id == audience_id, SyncSegment.name == name)).first()
    return RecordedSegment(row.id, name, row.provider_segment_id) if row else None


def forget_segment(session: Session, segment_id: int) -> None:
    """Drop what we recorded of a segment the platform no longer has, so it is made again and refilled."""
    session.execute(MEMBERS.delete().where(MEMBERS.c.segment_id == segment_id))
    session.execute(SyncSegment.__table__.delete().where(SyncSegment.__table__.c.id == segment_id))
    session.commit()


def record_segment(session: Session, audience_id: int, name: str, provider_segment_id: str,
                   held_emails: Sequence[str] = ()) -> RecordedSegment:
    """Record a segment found or created on the platform, with the members it already holds."""
    segment = SyncSegment(audience_id=audience_id, name=name, provider_segment_id=provider_segment_id)
    session.add(segment)
    session.flush()
    emails = sorted({normalise_email(e) for e in held_emails})
    for chunk in in_chunks(emails):
        ids = session.scalars(select(Subscriber.id).where(
            Subscriber.audience_id == audience_id, Subscriber.email.in_(chunk))).all()
        if ids:
            session.execute(MEMBERS.insert(), [{"segment_id": segment.id, "subscriber_id": i} for i in ids])
    session.commit()
    return RecordedSegment(segment.id, name, provider_segment_id)


def _adds(segment_id: int | None, desired: Select, address_attempts: int):
    d = desired.subquery("desired")
    refused = and_(FAILURES.c.segment_id == segment_id, FAILURES.c.subscriber_id == d.c.id,
                   FAILURES.c.action == "add", FAILURES.c.attempts >= address_attempts)
    source = (d.outerjoin(MEMBERS, and_(MEMBERS.c.segment_id == segment_id, MEMBERS.c.subscriber_id == d.c.id))
              .outerjoin(FAILURES, refused))
    return d, source, [MEMBERS.c.subscriber_id.is_(None), FAILURES.c.subscriber_id.is_(None)]


def _removes(segment_id: int | None, desired: Select):
    d = desired.subquery("desired")
    source = MEMBERS.outerjoin(d, d.c.id == MEMBERS.c.subscriber_id)
    return MEMBERS.c.subscriber_id, source, [MEMBERS.c.segment_id == segment_id, d.c.id.is_(None)]


def pending_adds(session: Session, segment_id: int | None, desired: Select,
                 address_attempts: int) -> Iterator[tuple[int, str]]:
    """(subscriber id, email) the segment should gain, by increasing id."""
    d, source, conditions = _adds(segment_id, desired, address_attempts)
    yield from _keyset(session, d.c.id, source, conditions)


def pending_removes(session: Session, segment_id: int | None, desired: Select) -> Iterator[tuple[int, str]]:
    """(subscriber id, email) the segment should lose, by increasing id."""
    if segment_id is None:
        return
    key, source, conditions = _removes(segment_id, desired)
    yield from _keyset(session, key, source, conditions)


def _custom_plans(session: Session) -> None:
    """Plan each diff query for its own values on PostgreSQL. psycopg prepares a statement after five
    runs, and PostgreSQL may then reuse a generic plan that ignores which class and segment are asked
    for: a plan that took minutes instead of a second at a million subscribers."""
    set_local(session, "plan_cache_mode", "force_custom_plan")


def _keyset(session: Session, key, source, conditions) -> Iterator[tuple[int, str]]:
    after = 0
    while True:
        _custom_plans(session)
        stmt = (select(key, SUBSCRIBERS.c.email).select_from(source.join(SUBSCRIBERS, SUBSCRIBERS.c.id == key))
                .where(key > after, *conditions).order_by(key).limit(PAGE_ROWS))
        rows = [tuple(row) for row in session.execute(stmt)]
        yield from rows
        if len(rows) < PAGE_ROWS:
            return
        after = rows[-1][0]


def count_diff(session: Session, segment_id: int | None, desired: Select,
               address_attempts: int) -> tuple[int, int]:
    """(adds, removes) pending for the segment, counted in the database."""
    d, source, conditions = _adds(segment_id, desired, address_attempts)
    _custom_plans(session)
    adds = session.scalar(select(func.count()).select_from(source).where(*conditions))
    removes = 0
    if segment_id is not None:
        _, source, conditions = _removes(segment_id, desired)
        removes = session.scalar(select(func.count()).select_from(source).where(*conditions))
    return adds or 0, removes or 0


def refused_count(session: Session, segment_id: int | None, address_attempts: int) -> int:
    """Addresses skipped because the platform refused them address_attempts times."""
    if segment_id is None:
        return 0
    return session.scalar(select(func.count()).select_from(FAILURES).where(
        FAILURES.c.segment_id == segment_id, FAILURES.c.action == "add",
        FAILURES.c.attempts >= address_attempts)) or 0


def has_failures(session: Session, segment_id: int) -> bool:
    return session.scalar(select(FAILURES.c.segment_id).where(FAILURES.c.segment_id == segment_id).limit(1)) is not None


def confirm_batch(session: Session, segment_id: int, *, added: list[int], removed: list[int],
                  refused: dict[str, list[tuple[int, str]]], clear_failures: bool) -> None:
    """Record one completed batch in its own commit: the recorded state then matches the platform."""
    if added:
        session.execute(upsert(session, MEMBERS).on_conflict_do_nothing(),
                        [{"segment_id": segment_id, "subscriber_id": i} for i in added])
    for chunk in in_chunks(removed):
        session.execute(delete(MEMBERS).where(MEMBERS.c.segment_id == segment_id,
                                              MEMBERS.c.subscriber_id.in_(chunk)))
    if clear_failures:
        for chunk in in_chunks(added + removed):
            session.execute(delete(FAILURES).where(FAILURES.c.segment_id == segment_id,
                                                   FAILURES.c.subscriber_id.in_(chunk)))
    for action, rows in refused.items():
        if rows:
            _record_failures(session, segment_id, action, rows)
    session.commit()


def _record_failures(session: Session, segment_id: int, action: str, rows: list[tuple[int, str]]) -> None:
    stmt = upsert(session, FAILURES)
    stmt = stmt.on_conflict_do_update(
        index_elements=["segment_id", "subscriber_id", "action"],
        set_={"attempts": FAILURES.c.attempts + 1, "error": stmt.excluded.error,
              "last_failed_at": stmt.excluded.last_failed_at})
    now = utcnow()
    session.execute(stmt, [{"segment_id": segment_id, "subscriber_id": subscriber_id, "action": action,
                            "error": error[:1000], "attempts": 1, "last_failed_at": now}
                           for subscriber_id, error in rows])


def mark_synced(session: Session, segment_id: int) -> None:
    session.execute(SyncSegment.__table__.update().where(SyncSegment.__table__.c.id == segment_id)
                    .values(last_synced_at=utcnow()))
    session.commit()


def refresh_statistics(session: Session) -> None:
    """After a large sync, let PostgreSQL's planner see the new size of sync_members at once rather than
    at the next autovacuum: with stale counts it picks nested loops that take minutes at a million rows."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE sync_members"))
        session.commit()


def clear_failures_for(session: Session, subscriber_ids: Sequence[int]) -> None:
    """Forget refusals of these subscribers (the platform has them now): the next sync retries them."""
    for chunk in in_chunks(list(subscriber_ids)):
        session.execute(delete(FAILURES).where(FAILURES.c.subscriber_id.in_(chunk)))
