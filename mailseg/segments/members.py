"""Reading a segment's stored membership: keyset pages (panel, API), export rows, size over time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..export import STREAM_BATCH
from ..models import SegmentMember, SegmentSize, Subscriber, SubscriberClass

MEMBER_COLUMNS = ("email", "joined_at")


@dataclass(frozen=True)
class MemberRow:
    subscriber_id: int
    email: str
    status: str
    engagement_class: str | None
    joined_at: datetime


def member_page(session: Session, segment_id: int, *, after: int | None = None, limit: int = 100) -> list[MemberRow]:
    """Members by increasing subscriber id, starting after `after` (keyset: each page is one index range)."""
    stmt = (select(Subscriber.id, Subscriber.email, Subscriber.status, SubscriberClass.engagement_class,
                   SegmentMember.joined_at)
            .join(Subscriber, Subscriber.id == SegmentMember.subscriber_id)
            .outerjoin(SubscriberClass, SubscriberClass.subscriber_id == Subscriber.id)
            .where(SegmentMember.segment_id == segment_id)
            .order_by(SegmentMember.subscriber_id).limit(limit))
    if after is not None:
        stmt = stmt.where(SegmentMember.subscriber_id > after)
    return [MemberRow(*row) for row in session.execute(stmt)]


def member_rows(session: Session, segment_id: int) -> Iterator[dict]:
    """email, joined_at of every member, streamed (exports)."""
    stmt = (select(Subscriber.email, SegmentMember.joined_at)
            .join(Subscriber, Subscriber.id == SegmentMember.subscriber_id)
            .where(SegmentMember.segment_id == segment_id)
            .order_by(SegmentMember.subscriber_id).execution_options(yield_per=STREAM_BATCH))
    for row in session.execute(stmt):
        yield dict(zip(MEMBER_COLUMNS, row))


def size_history(session: Session, segment_id: int, *, limit: int = 500) -> list[tuple[datetime, int]]:
    """(as_of, members) of the evaluations that changed the segment, oldest first (a step chart)."""
    rows = session.execute(select(SegmentSize.as_of, SegmentSize.members).where(SegmentSize.segment_id == segment_id)
                           .order_by(SegmentSize.as_of.desc(), SegmentSize.id.desc()).limit(limit)).all()
    return [(row.as_of, row.members) for row in reversed(rows)]
