"""What mailseg last confirmed on the email platform: mirrored segments (tags) and their members,
addresses the platform refused, and the watermarks of incremental pulls."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .audience import SUBSCRIBER_KEY
from .base import Base, UTCDateTime, utcnow


class SyncSegment(Base):
    """A segment mirrored onto the platform as a static segment (a Mailchimp tag)."""

    __tablename__ = "sync_segments"
    __table_args__ = (UniqueConstraint("audience_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    provider_segment_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SyncMember(Base):
    """A subscriber the platform holds in the segment, as last confirmed by a completed batch."""

    __tablename__ = "sync_members"
    __table_args__ = (Index("ix_sync_members_subscriber", "subscriber_id"),)

    segment_id: Mapped[int] = mapped_column(ForeignKey("sync_segments.id", ondelete="CASCADE"), primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(SUBSCRIBER_KEY, ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True)


class SyncFailure(Base):
    """An address the platform refused to add to (or remove from) a segment; retried a few runs, then skipped."""

    __tablename__ = "sync_failures"

    segment_id: Mapped[int] = mapped_column(ForeignKey("sync_segments.id", ondelete="CASCADE"), primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(SUBSCRIBER_KEY, ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True)
    action: Mapped[str] = mapped_column(String(10), primary_key=True)  # add | remove
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=1)
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PullCursor(Base):
    """Watermark of an incremental pull: members changed since, a campaign's activity since, sends pulled."""

    __tablename__ = "pull_cursors"

    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[datetime] = mapped_column(UTCDateTime)
