"""Experiments: who each policy treated and who it held out (exposures), and the verdicts frozen
when a cohort's horizon closed."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, PrimaryKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .audience import SUBSCRIBER_KEY
from .base import Base, JSONType, UTCDateTime, utcnow
from .events import BIG_ID

EXPERIMENT_POLICIES = ("cap", "reengagement", "resend", "offer", "plan")


class Exposure(Base):
    """A subscriber a policy acted on (treatment) or held out (control), with the moment: exposures of
    both groups are recorded alike, so the groups compare."""

    __tablename__ = "experiment_exposures"
    __table_args__ = (
        PrimaryKeyConstraint("subscriber_id", "id"),
        UniqueConstraint("audience_id", "policy", "key", "subscriber_id"),
        CheckConstraint("policy IN ('cap', 'reengagement', 'resend', 'offer', 'plan')", name="policy"),
        Index("ix_experiment_exposures_cohort", "audience_id", "policy", "cohort", "variant"),
        Index("ix_experiment_exposures_subscriber", "subscriber_id", "policy", "exposed_at"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, autoincrement=True)
    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"))
    policy: Mapped[str] = mapped_column(String(20))
    # The action's key (the same for both groups), e.g. reengage:2026-08-31:a1 or resend:c123:v2.
    key: Mapped[str] = mapped_column(String(120))
    subscriber_id: Mapped[int] = mapped_column(SUBSCRIBER_KEY, ForeignKey("subscribers.id", ondelete="CASCADE"))
    held_out: Mapped[bool] = mapped_column()
    exposed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Monday of the exposure's week (UTC): the cohort.
    cohort: Mapped[date] = mapped_column(Date)
    # The experiment's settings: a verdict pools only cohorts with the same ones.
    salt: Mapped[str] = mapped_column(String(100), default="")
    share: Mapped[float] = mapped_column()
    # Resend version (2, 3, ...); 0 for the other policies.
    variant: Mapped[int] = mapped_column(default=0)
    # The campaign family a resend outcome is measured on (the original campaign).
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))


class ExperimentCohort(Base):
    """An experiment's cohort (policy, week of exposure, resend version, salt), written when its first
    exposures are recorded: the verdicts' list of cohorts, so finding the cohorts to judge never reads
    the exposures of all history. share: the largest share any of its exposures was recorded with."""

    __tablename__ = "experiment_cohorts"
    __table_args__ = (PrimaryKeyConstraint("audience_id", "policy", "cohort", "variant", "salt"),)

    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"))
    policy: Mapped[str] = mapped_column(String(20))
    cohort: Mapped[date] = mapped_column(Date)
    variant: Mapped[int] = mapped_column()
    salt: Mapped[str] = mapped_column(String(100))
    share: Mapped[float] = mapped_column()


class Verdict(Base):
    """One metric of one cohort, computed once when the cohort's horizon closed and never again."""

    __tablename__ = "experiment_verdicts"
    __table_args__ = (UniqueConstraint("audience_id", "policy", "cohort", "variant", "salt", "metric"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"))
    policy: Mapped[str] = mapped_column(String(20))
    cohort: Mapped[date] = mapped_column(Date)
    variant: Mapped[int] = mapped_column(default=0)
    salt: Mapped[str] = mapped_column(String(100), default="")
    share: Mapped[float] = mapped_column()
    horizon_days: Mapped[int] = mapped_column()
    metric: Mapped[str] = mapped_column(String(40))
    # Per group: n, the sum of the outcome and the sum of its squares (proportions: sum = successes);
    # enough to pool cohorts and to recompute any interval.
    groups: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # The cohort's own result: diff, ci_low, ci_high, relative lift, p_value (None: too little data).
    result: Mapped[dict[str, Any]] = mapped_column(JSONType)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
