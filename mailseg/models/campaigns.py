"""Campaigns: mailings sent (or to be sent) to an audience, with resend versions linked to their original."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, UTCDateTime, utcnow

CAMPAIGN_KINDS = ("regular", "resend", "reengagement", "offer", "transactional")


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        UniqueConstraint("audience_id", "provider_id"),
        CheckConstraint(
            "kind IN ('regular', 'resend', 'reengagement', 'offer', 'transactional')", name="kind"
        ),
        CheckConstraint("variant >= 1", name="variant_positive"),
        Index("ix_campaigns_audience_sent_at", "audience_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"))
    # The platform's id (Mailchimp campaign id), or the key used in imported files.
    provider_id: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(300))
    subject: Mapped[str | None] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(20), default="regular")
    status: Mapped[str] = mapped_column(String(20), default="sent")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"), index=True)
    # 1 for the original; 2, 3, 4 for resend versions.
    variant: Mapped[int] = mapped_column(default=1)
    # Resend to non-openers for this campaign: True/False, or None to follow resend.all_regular.
    resend_enabled: Mapped[bool | None] = mapped_column()
    # Subjects of versions 2, 3, ... ({subject} is the original's); None uses resend.subjects.
    resend_subjects: Mapped[list[str] | None] = mapped_column(JSONType)
    # The platform is known to have it: mailseg made it, `mailseg pull` or a Mailchimp webhook saw it.
    # Campaigns known only from imported history files are not: no policy copies or resends them.
    on_platform: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
