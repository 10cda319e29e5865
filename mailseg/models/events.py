"""Engagement events: every send, open, click, bounce... stored once, with a machine/bot flag."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (BigInteger, CheckConstraint, ForeignKey, Index, Integer, Numeric, PrimaryKeyConstraint, String, Text,
                        UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column

from .audience import SUBSCRIBER_KEY
from .base import Base, UTCDateTime, utcnow

EVENT_TYPES = ("send", "open", "click", "bounce", "unsubscribe", "complaint", "purchase", "reject")
# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")

EVENT_SOURCES = ("import", "pixel", "click", "mandrill", "mailchimp", "pull", "demo", "api")
# Order states that do not count as a purchase (stored, shown, but never in value).
UNCOUNTED_ORDER_STATUSES = ("cancelled", "refunded")
ORDER_STATUS_MAX = 20
_ORDER_STATUS_SPELLINGS = {"canceled": "cancelled", "voided": "cancelled", "void": "cancelled"}


def normalise_order_status(raw: str | None) -> str | None:
    """An order state as stored: lower case, words joined by '_', US/UK spellings of cancelled unified
    ("Canceled", "partially refunded" -> "cancelled", "partially_refunded"); None when blank."""
    text = "_".join((raw or "").strip().lower().replace("-", " ").split())
    return _ORDER_STATUS_SPELLINGS.get(text, text) or None


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        PrimaryKeyConstraint("subscriber_id", "id"),
        CheckConstraint(
            "type IN ('send', 'open', 'click', 'bounce', 'unsubscribe', 'complaint', 'purchase', 'reject')",
            name="type",
        ),
        # Per-subscriber latest event of each type (explain, timelines, classification).
        Index("ix_events_subscriber_type_time", "subscriber_id", "type", "occurred_at"),
        # Per-campaign reports and resend-to-non-openers.
        Index("ix_events_campaign_type", "campaign_id", "type", "subscriber_id"),
        # The event's identity is unique per subscriber (a unique constraint of a sharded table holds
        # its distribution column); an order's key names no subscriber, so ingest checks an order id
        # against the whole audience through ix_events_dedupe_key (mailseg/ingest/events.py).
        UniqueConstraint("subscriber_id", "dedupe_key"),
        Index("ix_events_dedupe_key", "dedupe_key"),
        # The orders by time (purchases only, so other events pay nothing for it): those leaving a value
        # run's lookback since the previous run (mailseg/value/totals.py, migration 0025).
        Index("ix_events_purchase_time", "occurred_at", postgresql_where=text("type = 'purchase'"),
              sqlite_where=text("type = 'purchase'")),
    )

    id: Mapped[int] = mapped_column(BIG_ID, autoincrement=True)
    subscriber_id: Mapped[int] = mapped_column(SUBSCRIBER_KEY, ForeignKey("subscribers.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    type: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    url: Mapped[str | None] = mapped_column(Text)
    user_agent: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(45))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    # Purchases: the shop's order id (the same order from any source is stored once per audience: it
    # makes the dedupe key), the contribution when known (else value.margin_rate x amount), and the
    # order's state (cancelled and refunded orders are stored but never counted).
    order_id: Mapped[str | None] = mapped_column(String(100))
    margin: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    order_status: Mapped[str | None] = mapped_column(String(20))
    # Set at ingest when a machine (Apple MPP proxy, link scanner) rather than a person made the event.
    is_machine: Mapped[bool] = mapped_column(default=False)
    machine_reason: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(20))
    # Hash of the event's identity: the same event arriving twice is stored once.
    dedupe_key: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SubscriberActivity(Base):
    """One row per subscriber with a human open or click: the last of each and the later of the two
    (the audience list's sort by last activity, on ix_subscriber_activity_audience_last), and the
    class the classification gave them (the same sort within one class: the class decides where the
    last activity lies, so a walk of the first index would pass every other class first). Rebuilt by
    mailseg.subscribers.activity.refresh_activity after each classification; subscribers with no human
    open or click have no row."""

    __tablename__ = "subscriber_activity"
    __table_args__ = (
        Index("ix_subscriber_activity_audience_last", "audience_id", "last_activity_at", "subscriber_id"),
        Index("ix_subscriber_activity_audience_class_last", "audience_id", "engagement_class", "last_activity_at",
              "subscriber_id"),
    )

    subscriber_id: Mapped[int] = mapped_column(SUBSCRIBER_KEY, ForeignKey("subscribers.id", ondelete="CASCADE"),
                                               primary_key=True)
    audience_id: Mapped[int] = mapped_column()
    last_human_open: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_human_click: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime)
    engagement_class: Mapped[str | None] = mapped_column(String(20))  # a copy of subscriber_classes' (index only)
