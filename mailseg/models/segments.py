"""Rule segments: a name and a rule; their stored membership, its join/leave history and sizes;
tags of segments no longer mirrored, waiting for the next sync to take them off the platform."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, PrimaryKeyConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .audience import SUBSCRIBER_KEY
from .base import Base, JSONType, UTCDateTime, utcnow
from .events import BIG_ID


class Segment(Base):
    """A rule segment ("dynamic group"): whoever matches the rule at an evaluation is a member."""

    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("audience_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    # The rule as JSON (mailseg.segments.grammar); validated before it is saved.
    rule: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # Mirrored to the platform as a tag; `tag` None means mailseg:seg:<name>.
    sync: Mapped[bool] = mapped_column(default=False)
    tag: Mapped[str | None] = mapped_column(String(100))
    member_count: Mapped[int] = mapped_column(default=0)
    last_evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SegmentMember(Base):
    """A subscriber in the segment as of its last evaluation, and since when."""

    __tablename__ = "segment_members"
    __table_args__ = (Index("ix_segment_members_subscriber", "subscriber_id"),)

    # No foreign keys (see SegmentChange): remove_segment deletes the rows itself.
    segment_id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(SUBSCRIBER_KEY, primary_key=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SegmentChange(Base):
    """A subscriber joining (joined=True) or leaving a segment; written only when membership changes.

    This table and segment_members carry no foreign keys at all (migration 0017_surveys_b): an
    evaluation inserts up to one row per subscriber into each, and PostgreSQL checks a foreign key
    row by row (a lookup and a KEY SHARE lock that dirties the subscriber's heap page). Those checks
    were most of the first evaluation's extra cost over a re-evaluation (docs/BENCHMARKS.md, issue 14:
    4 checks x 3,935 rows = 0.36 s of 0.49 s of inserts at 100,000 subscribers). The rows are written
    only from the rule's result (subscriber ids of the audience) and deleted with their segment by
    remove_segment; subscribers are never deleted by mailseg."""

    __tablename__ = "segment_changes"
    __table_args__ = (
        # a subscriber's history in time order (0022_history_keys; SQLite: its rowid key `id`
        # and the index ix_segment_changes_subscriber, mailseg.db.DATABASE_ONLY_INDEXES)
        PrimaryKeyConstraint("subscriber_id", "changed_at", "id"),
        Index("ix_segment_changes_segment_time", "segment_id", "changed_at"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, autoincrement=True)
    audience_id: Mapped[int] = mapped_column()
    segment_id: Mapped[int] = mapped_column()
    subscriber_id: Mapped[int] = mapped_column(SUBSCRIBER_KEY)
    joined: Mapped[bool] = mapped_column()
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SegmentSize(Base):
    """One evaluation of a segment: its size then and how many joined and left (size over time)."""

    __tablename__ = "segment_sizes"
    __table_args__ = (Index("ix_segment_sizes_segment_time", "segment_id", "as_of"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    members: Mapped[int] = mapped_column()
    joined: Mapped[int] = mapped_column(default=0)
    left: Mapped[int] = mapped_column(default=0)


class RetiredTag(Base):
    """A tag mailseg mirrored and no longer wants (segment removed, unsynced or renamed): the next
    sync takes every member out of it on the platform, then forgets it."""

    __tablename__ = "retired_tags"

    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)
    retired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
