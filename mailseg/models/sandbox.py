"""The sandbox platform's own tables: a simulated email platform kept in mailseg's database (lists,
members with their hidden behaviour traits, static segments, campaigns, who received what, and the
activity the behaviour model produced). Only mailseg.sandbox reads and writes them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, UTCDateTime, utcnow
from .events import BIG_ID

SANDBOX_STATES = ("active", "semi_active", "dormant")


class SandboxList(Base):
    __tablename__ = "sandbox_lists"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The platform's clock: None follows real time; `mailseg simulate` moves it forward week by week.
    clock: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SandboxMember(Base):
    __tablename__ = "sandbox_members"
    __table_args__ = (UniqueConstraint("list_id", "email"), Index("ix_sandbox_members_list_changed", "list_id", "last_changed"))

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[str] = mapped_column(ForeignKey("sandbox_lists.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20), default="subscribed")  # subscribed, unsubscribed, cleaned, archived
    merge_fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    subscribed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_changed: Mapped[datetime] = mapped_column(UTCDateTime)
    # Hidden traits of the behaviour model (mailseg.sandbox.behaviour), never shown to mailseg.
    state: Mapped[str] = mapped_column(String(20), default="dormant")
    propensity: Mapped[float] = mapped_column(default=1.0)
    apple: Mapped[bool] = mapped_column(default=False)
    scanner: Mapped[bool] = mapped_column(default=False)


class SandboxSegment(Base):
    __tablename__ = "sandbox_segments"
    __table_args__ = (UniqueConstraint("list_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[str] = mapped_column(ForeignKey("sandbox_lists.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SandboxSegmentMember(Base):
    __tablename__ = "sandbox_segment_members"

    segment_id: Mapped[int] = mapped_column(ForeignKey("sandbox_segments.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("sandbox_members.id", ondelete="CASCADE"), primary_key=True)


class SandboxCampaign(Base):
    __tablename__ = "sandbox_campaigns"
    __table_args__ = (Index("ix_sandbox_campaigns_list_status", "list_id", "status", "send_time"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    list_id: Mapped[str] = mapped_column(ForeignKey("sandbox_lists.id", ondelete="CASCADE"))
    segment_id: Mapped[int | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="save")  # save, schedule, sent
    title: Mapped[str] = mapped_column(String(300), default="")
    subject: Mapped[str] = mapped_column(String(500), default="")
    from_name: Mapped[str] = mapped_column(String(200), default="")
    reply_to: Mapped[str] = mapped_column(String(320), default="")
    html: Mapped[str] = mapped_column(Text, default="")
    # What the mail is to its readers (regular, reengagement, offer): set on templates, copied with content.
    nature: Mapped[str] = mapped_column(String(20), default="regular")
    # Identity of the content (copied with it): a member receiving content they already got sees a resend.
    content_key: Mapped[str | None] = mapped_column(String(40))
    send_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SandboxRecipient(Base):
    __tablename__ = "sandbox_recipients"
    __table_args__ = (Index("ix_sandbox_recipients_member", "member_id", "delivered_at"),)

    campaign_id: Mapped[str] = mapped_column(ForeignKey("sandbox_campaigns.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("sandbox_members.id", ondelete="CASCADE"), primary_key=True)
    delivered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    content_key: Mapped[str | None] = mapped_column(String(40))


class SandboxActivity(Base):
    __tablename__ = "sandbox_activity"
    __table_args__ = (Index("ix_sandbox_activity_campaign_time", "campaign_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("sandbox_campaigns.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("sandbox_members.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(20))  # open, click, bounce, unsubscribe, purchase
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    url: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(45))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
