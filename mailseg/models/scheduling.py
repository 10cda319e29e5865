"""Scheduler state: APScheduler's job store table and the lease that elects the one active scheduler."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Float, LargeBinary, String, Table, Unicode
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime

# The table APScheduler's SQLAlchemyJobStore uses, declared here so the migration creates it and
# the models/migrations comparison covers it; the job store finds it and does not create its own.
apscheduler_jobs = Table(
    "apscheduler_jobs",
    Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)


class SchedulerLease(Base):
    """On SQLite (no advisory locks) the active scheduler holds this row and renews it; a standby
    takes it over once it has expired."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
