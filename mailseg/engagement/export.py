"""Rows for `mailseg export classes` (one per subscriber) and `mailseg export history` (one per class
change), streamed in constant memory."""

from __future__ import annotations

from typing import Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..export import STREAM_BATCH
from ..models import ClassChange, JobRun
from ..timeutil import isoformat_utc
from .rules import CLASSES, EVENTS, SUBSCRIBERS, counted_click, counted_open

CLASS_COLUMNS = ("email", "class", "class_since", "last_human_open", "last_human_click")
HISTORY_COLUMNS = ("email", "from_class", "to_class", "changed_at")


def _last_human(event_type: str):
    """Latest human (unflagged) event of the type, any time (one index range read per subscriber)."""
    counted = counted_click() if event_type == "click" else counted_open(False)
    return (select(func.max(EVENTS.c.occurred_at))
            .where(EVENTS.c.subscriber_id == SUBSCRIBERS.c.id, counted)
            .scalar_subquery())


def classified_as_of(session: Session, audience_id: int):
    """The as_of of the audience's latest successful classification (what the stored classes are as of)."""
    return session.scalar(select(JobRun.as_of).where(JobRun.job == "classify", JobRun.audience_id == audience_id,
                                                     JobRun.status == "succeeded")
                          .order_by(JobRun.id.desc()).limit(1))


def class_rows(session: Session, audience_id: int) -> Iterator[dict]:
    """email, class (NULL before the first classification), class_since, last human open and click.
    After a classification as of T, subscribers who were not subscribed yet at T are left out."""
    stmt = (select(SUBSCRIBERS.c.email, CLASSES.c.engagement_class, CLASSES.c.class_since,
                   _last_human("open"), _last_human("click"))
            .select_from(SUBSCRIBERS.outerjoin(CLASSES, CLASSES.c.subscriber_id == SUBSCRIBERS.c.id))
            .where(SUBSCRIBERS.c.audience_id == audience_id)
            .order_by(SUBSCRIBERS.c.email)  # by address: ids are keys, not the order of creation
            .execution_options(yield_per=STREAM_BATCH))
    as_of = classified_as_of(session, audience_id)
    if as_of is not None:
        stmt = stmt.where(SUBSCRIBERS.c.subscribed_at <= as_of)
    for row in session.execute(stmt):
        yield dict(zip(CLASS_COLUMNS, row))


def history_rows(session: Session, audience_id: int) -> Iterator[dict]:
    """Every class change of the audience in time order: email, from_class (empty for a subscriber's
    first class), to_class, changed_at (ISO-8601 UTC). A range of ix_class_changes_audience_time."""
    changes = ClassChange.__table__
    stmt = (select(SUBSCRIBERS.c.email, changes.c.from_class, changes.c.to_class, changes.c.changed_at)
            .join(SUBSCRIBERS, SUBSCRIBERS.c.id == changes.c.subscriber_id)
            .where(changes.c.audience_id == audience_id)
            .order_by(changes.c.changed_at, changes.c.id)
            .execution_options(yield_per=STREAM_BATCH))
    for email, from_class, to_class, changed_at in session.execute(stmt):
        yield {"email": email, "from_class": from_class or "", "to_class": to_class,
               "changed_at": isoformat_utc(changed_at)}
