"""Campaign policies: every action on the platform (a segment plus a campaign, or a batch of member
status changes) recorded before any call, its platform ids as they are created; who each action
targets; where each subscriber stands in re-engagement; and the campaign plans of the frequency cap."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .audience import SUBSCRIBER_KEY
from .base import Base, JSONType, UTCDateTime, utcnow

POLICIES = ("plan", "reengagement", "sunset", "resend", "offer")
# The steps of an action, in order; a re-run resumes after the last one recorded.
ACTION_STEPS = ("planned", "segment", "members", "campaign", "content", "done")
REENGAGEMENT_STATES = ("waiting", "answered", "sunset")


class PolicyAction(Base):
    __tablename__ = "policy_actions"
    __table_args__ = (
        UniqueConstraint("audience_id", "policy", "key"),
        CheckConstraint("policy IN ('plan', 'reengagement', 'sunset', 'resend', 'offer')", name="policy"),
        CheckConstraint("step IN ('planned', 'segment', 'members', 'campaign', 'content', 'done')",
                        name="step"),
        Index("ix_policy_actions_unfinished", "audience_id", "finished_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"))
    policy: Mapped[str] = mapped_column(String(20))
    # What makes the action unique inside its policy: the day and attempt, the campaign and version,
    # the plan and occurrence. It also names the segment and the campaign title on the platform, so a
    # crash between a create call and its recording is healed by finding the object again.
    key: Mapped[str] = mapped_column(String(120))
    step: Mapped[str] = mapped_column(String(20), default="planned")
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    # The platform campaign copied (template, original, offer), its subject for the copy, the
    # segment to send to (a static segment named after the key, or a mirrored tag for plans).
    source_campaign: Mapped[str | None] = mapped_column(String(100))
    subject: Mapped[str | None] = mapped_column(String(500))
    segment_name: Mapped[str | None] = mapped_column(String(100))
    campaign_kind: Mapped[str | None] = mapped_column(String(20))
    parent_campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    variant: Mapped[int] = mapped_column(default=1)
    attempt: Mapped[int] = mapped_column(default=1)
    recipients: Mapped[int] = mapped_column(default=0)
    provider_segment_id: Mapped[str | None] = mapped_column(String(100))
    provider_campaign_id: Mapped[str | None] = mapped_column(String(100))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    # Failed tries of the current step: the next one waits until next_attempt_at (backoff); after
    # actions.max_attempts the action is given up (failed_at) and the error stays for the marketer.
    failures: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PolicyRecipient(Base):
    """Who an action targets, frozen when it is planned: a resumed action sends to exactly them."""

    __tablename__ = "policy_recipients"
    __table_args__ = (Index("ix_policy_recipients_subscriber", "subscriber_id", "action_id"),)

    action_id: Mapped[int] = mapped_column(ForeignKey("policy_actions.id", ondelete="CASCADE"), primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(SUBSCRIBER_KEY, ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True)


class ReengagementState(Base):
    """A subscriber's place in re-engagement: waiting after attempt N, answered (engaged again), or sunset."""

    __tablename__ = "reengagement_states"
    __table_args__ = (
        CheckConstraint("state IN ('waiting', 'answered', 'sunset')", name="state"),
        Index("ix_reengagement_states_audience_state", "audience_id", "state", "last_sent_at"),
    )

    subscriber_id: Mapped[int] = mapped_column(SUBSCRIBER_KEY, ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True)
    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20), default="waiting")
    attempt: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sunset_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CampaignPlan(Base):
    """A regular mailing mailseg sends itself: the template copied at every occurrence of the cadence
    and sent to the frequency cap's eligible tag."""

    __tablename__ = "campaign_plans"
    __table_args__ = (UniqueConstraint("audience_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    template_campaign_id: Mapped[str] = mapped_column(String(100))
    cadence: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(60), default="UTC")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
