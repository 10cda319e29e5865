"""Class and status history and job runs: what changed, when, and which run (or source) did it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, PrimaryKeyConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .audience import SUBSCRIBER_KEY
from .base import Base, JSONType, UTCDateTime, utcnow
from .events import BIG_ID

# "partial": the run finished, but some of its items failed (each recorded with its reason).
# "replaced": a classification whose history a backfill recomputed (mailseg.engagement.backfill).
RUN_STATUSES = ("running", "succeeded", "partial", "failed", "replaced")


class JobRun(Base):
    """One run of a job (classify, pull, sync, policies, ...): the record the panel and `mailseg runs` show."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_started", "job", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    audience_id: Mapped[int | None] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The moment the run computed for (classification's as_of); None for jobs without one.
    as_of: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Counts and details: per-class counts, changes, per-tag added/removed/failed...
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    # "host:pid" of the process running it, so a run left "running" by a dead process is recognised.
    holder: Mapped[str | None] = mapped_column(String(200))
    # The holder's lease: renewed by a heartbeat while the run is alive; a "running" run whose lease
    # has expired was left by a process that died (mailseg.runs), on any host.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ClassChange(Base):
    """A subscriber's move from one engagement class to another; written only when the class changes."""

    __tablename__ = "class_changes"
    __table_args__ = (
        # a subscriber's history in time order (0022_history_keys; SQLite: its rowid key `id`
        # and the index ix_class_changes_subscriber, mailseg.db.DATABASE_ONLY_INDEXES)
        PrimaryKeyConstraint("subscriber_id", "changed_at", "id"),
        Index("ix_class_changes_audience_time", "audience_id", "changed_at"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, autoincrement=True)
    # audience_id (the subscriber's, copied for the per-audience indexes) and run_id carry no foreign
    # key on purpose: a classification writes up to one row per subscriber, and checking each row
    # against the same audience and run rows (a key-share lock on one hot row per insert) cost more
    # than the insert itself (bench: 3.1 s -> 1.6 s for 200,000 rows on PostgreSQL). Since migration
    # 0015 subscriber_id has no foreign key either, for the same reason: its per-row check was half of
    # a first classification's history insert (1.75 of 3.4 s for 100,000 rows). The rows are only
    # written by INSERT ... SELECT over the subscribers; audiences, runs and subscribers are never
    # deleted by mailseg (a manual DELETE of subscribers must delete their class rows too).
    audience_id: Mapped[int] = mapped_column()
    subscriber_id: Mapped[int] = mapped_column(SUBSCRIBER_KEY)
    # None for a subscriber's first classification.
    from_class: Mapped[str | None] = mapped_column(String(20))
    to_class: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    run_id: Mapped[int | None] = mapped_column()


class SubscriberStatusChange(Base):
    """A subscriber's status change (subscribed -> unsubscribed, ...) at the moment it happened.

    The status at a moment T is the to_status of the latest change at or before T; before the first
    change it is that change's from_status (the status the subscriber was created with). Written only
    by mailseg.subscribers.status.change_statuses, in the same transaction as the change itself.
    """

    __tablename__ = "status_changes"
    __table_args__ = (
        PrimaryKeyConstraint("subscriber_id", "id"),
        Index("ix_status_changes_subscriber", "subscriber_id", "changed_at"),
        Index("ix_status_changes_audience_time", "audience_id", "changed_at"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, autoincrement=True)
    # The subscriber's audience, copied for the per-audience index (no key, as in class_changes).
    audience_id: Mapped[int] = mapped_column()
    subscriber_id: Mapped[int] = mapped_column(SUBSCRIBER_KEY, ForeignKey("subscribers.id", ondelete="CASCADE"))
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Where the change came from: an event source (mailchimp, mandrill, import, pull, ...), "import",
    # "pull", "policy:sunset", "panel", "migration".
    source: Mapped[str] = mapped_column(String(40))
    # False when changed_at is an estimate (a status imported without its time, rows seeded by migration).
    time_known: Mapped[bool] = mapped_column(Boolean, default=True)
