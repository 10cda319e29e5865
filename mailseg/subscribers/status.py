"""The one function through which every subscriber status change goes, and the status at a moment.

change_statuses writes the status history (status_changes) and the subscriber's current status in
the caller's transaction, so the two never disagree. A change older than the latest one already
recorded for the subscriber is not applied (webhooks retried for 75 minutes arrive late): the
history stays a time-ordered chain in which every change's from_status is the previous to_status.
That chain is what lets the status at any moment T be read without replaying it (status_at_expression).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from ..models import SUBSCRIBER_STATUSES, Subscriber, SubscriberStatusChange, utcnow
from ..sqlutil import member_of, on_citus

SUBSCRIBERS = Subscriber.__table__
STATUS_CHANGES = SubscriberStatusChange.__table__
# A subscriber is created subscribed, or pending when they still have to confirm (double opt-in).
CREATION_STATUSES = ("subscribed", "pending")


@dataclass(frozen=True)
class StatusChange:
    """A status a subscriber takes at a moment, where that moment comes from, and whether it is known."""

    subscriber_id: int
    to_status: str
    at: datetime
    source: str
    time_known: bool = True


def creation_status(status: str | None) -> str:
    """The status a subscriber is created with on the way to `status`."""
    return "pending" if status == "pending" else "subscribed"


def change_statuses(session: Session, changes: Iterable[StatusChange]) -> int:
    """Apply status changes (in time order) and record each in the status history; returns how many applied.

    A change is skipped when the subscriber already has that status or a later change is recorded."""
    ordered = sorted(changes, key=lambda c: (c.at, c.subscriber_id))
    for change in ordered:
        if change.to_status not in SUBSCRIBER_STATUSES:
            raise ValueError(f"unknown status {change.to_status!r} (expected one of {', '.join(SUBSCRIBER_STATUSES)})")
    if not ordered:
        return 0
    current = _current_statuses(session, sorted({c.subscriber_id for c in ordered}))
    history: list[dict] = []
    for change in ordered:
        state = current.get(change.subscriber_id)
        if state is None:
            continue
        audience_id, status, changed_at = state
        if status == change.to_status or (changed_at is not None and changed_at > change.at):
            continue
        history.append({"audience_id": audience_id, "subscriber_id": change.subscriber_id, "from_status": status,
                        "to_status": change.to_status, "changed_at": change.at, "source": change.source[:40],
                        "time_known": change.time_known})
        current[change.subscriber_id] = (audience_id, change.to_status, change.at)
    if not history:
        return 0
    session.execute(insert(STATUS_CHANGES), history)
    latest = {row["subscriber_id"]: row for row in history}
    now = utcnow()
    session.execute(update(SUBSCRIBERS).where(SUBSCRIBERS.c.id == bindparam("sid"))
                    .values(status=bindparam("new_status"), status_changed_at=bindparam("at"), updated_at=now)
                    .execution_options(synchronize_session=False),
                    [{"sid": sid, "new_status": row["to_status"], "at": row["changed_at"]} for sid, row in latest.items()])
    return len(history)


def _current_statuses(session: Session, ids: list[int]) -> dict[int, tuple[int, str, datetime | None]]:
    """id -> (audience, status, time of its latest change), rows locked on PostgreSQL until commit."""
    found: dict[int, tuple[int, str, datetime | None]] = {}
    citus = on_citus(session)
    for matches in member_of(session, SUBSCRIBERS.c.id, ids):
        rows = session.execute(_locking_read(matches, citus)).all()
        found.update((row.id, (row.audience_id, row.status, row.status_changed_at)) for row in rows)
    return found


def _locking_read(matches, citus: bool):
    """Named statement "lock the subscribers": their current status, the rows locked until commit.
    Citus runs SELECT ... FOR UPDATE only when every row is on one shard, which a batch of
    subscribers never is; a no-op UPDATE ... RETURNING takes the same row locks on every shard."""
    columns = (SUBSCRIBERS.c.id, SUBSCRIBERS.c.audience_id, SUBSCRIBERS.c.status, SUBSCRIBERS.c.status_changed_at)
    if citus:
        return update(SUBSCRIBERS).where(matches).values(status=SUBSCRIBERS.c.status).returning(*columns)
    return select(*columns).where(matches).with_for_update()


# --- the status at a moment ----------------------------------------------------------------------

def first_change_after(audience_id: int, as_of: datetime):
    """Named statement "first change after T": per subscriber of the audience, the from_status of its
    earliest status change after as_of, i.e. its status at as_of (a range of ix_status_changes_audience_time;
    empty when as_of is now, so a routine classification pays nothing for it)."""
    ranked = (select(STATUS_CHANGES.c.subscriber_id, STATUS_CHANGES.c.from_status,
                     func.row_number().over(partition_by=STATUS_CHANGES.c.subscriber_id,
                                            order_by=(STATUS_CHANGES.c.changed_at, STATUS_CHANGES.c.id)).label("n"))
              .where(STATUS_CHANGES.c.audience_id == audience_id, STATUS_CHANGES.c.changed_at > as_of)
              .subquery("ranked"))
    return (select(ranked.c.subscriber_id, ranked.c.from_status.label("status"))
            .where(ranked.c.n == 1).subquery("status_then"))


def status_at_expression(status_then):
    """The subscriber's status at as_of: the from_status of its first change after as_of, else its status now."""
    return func.coalesce(status_then.c.status, SUBSCRIBERS.c.status)


def status_at(session: Session, subscriber_id: int, as_of: datetime) -> str:
    """One subscriber's status at a moment (the same rule as status_at_expression)."""
    then = session.scalar(select(STATUS_CHANGES.c.from_status)
                          .where(STATUS_CHANGES.c.subscriber_id == subscriber_id, STATUS_CHANGES.c.changed_at > as_of)
                          .order_by(STATUS_CHANGES.c.changed_at, STATUS_CHANGES.c.id).limit(1))
    if then is not None:
        return then
    return session.scalar(select(SUBSCRIBERS.c.status).where(SUBSCRIBERS.c.id == subscriber_id))
