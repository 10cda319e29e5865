"""Audiences (a provider's list) and their subscribers."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, select
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, JSONType, UTCDateTime, utcnow

SUBSCRIBER_STATUSES = ("subscribed", "unsubscribed", "cleaned", "complained", "pending")
# Statuses that are never mailed again (PRODUCT.md: outside the classes).
SUPPRESSED_STATUSES = ("unsubscribed", "cleaned", "complained")


# A subscriber key: 64-bit on PostgreSQL; SQLite's INTEGER is 64-bit already.
SUBSCRIBER_KEY = BigInteger().with_variant(Integer(), "sqlite")
_KEY_MASK = (1 << 63) - 1


def normalise_email(raw: str) -> str:
    return raw.strip().lower()


def subscriber_key(audience_id: int, email: str) -> int:
    """A subscriber's id: the first 8 bytes of SHA-256("<audience_id>:<normalised email>") as a positive
    63-bit integer. The same address in the same audience has the same id on every database and node,
    so the id is the distribution key of a sharded database (docs/SCALING.md): every row about a
    subscriber lives on the shard its id hashes to, and e-mail uniqueness per audience is a property
    of the primary key. Two addresses sharing a key (2^-63 per pair: a 1 in 2,000 chance somewhere in
    an audience of 10^8) are refused by upsert_subscribers, never merged."""
    digest = hashlib.sha256(f"{audience_id}:{normalise_email(email)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & _KEY_MASK or 1


def _subscriber_key_default(context) -> int:
    """The id of a subscriber inserted without one (ORM objects, test builders)."""
    params = context.get_current_parameters()
    return subscriber_key(params["audience_id"], params["email"])


class Audience(Base):
    __tablename__ = "audiences"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    provider: Mapped[str] = mapped_column(String(40), default="mailchimp")
    provider_list_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the value run last built the audience's order totals from all its orders (NULL: never, so
    # the next value run builds them; mailseg/value/totals.py).
    order_totals_built_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The lookback window (from, to] the order totals' lookback figures were last brought to (NULL:
    # not kept, the next value run sums them; mailseg/value/totals.py).
    lookback_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lookback_to: Mapped[datetime | None] = mapped_column(UTCDateTime)

    subscribers: Mapped[list["Subscriber"]] = relationship(back_populates="audience", lazy="raise")


class Subscriber(Base):
    __tablename__ = "subscribers"
    __table_args__ = (
        # Implied by the primary key (the id is derived from both); kept on one database as the
        # collision check. `mailseg db distribute` drops it: Citus cannot hold a unique constraint
        # without the distribution column, and upsert_subscribers checks collisions itself.
        UniqueConstraint("audience_id", "email"),
        CheckConstraint(
            "status IN ('subscribed', 'unsubscribed', 'cleaned', 'complained', 'pending')",
            name="status",
        ),
        Index("ix_subscribers_audience_status", "audience_id", "status"),
        # The panel's email prefix search (LIKE 'abc%') on any PostgreSQL collation, and its sort by sign-up date.
        Index("ix_subscribers_audience_email_prefix", "audience_id", "email",
              postgresql_ops={"email": "text_pattern_ops"}),
        Index("ix_subscribers_audience_subscribed", "audience_id", "subscribed_at", "id"),
        # PostgreSQL also has ix_subscribers_search, a GIN trigram index on the folded email and name
        # (an expression index: migration 0014b_audience_search, mailseg/search.py).
    )

    # subscriber_key(audience_id, email), never a sequence (see subscriber_key).
    id: Mapped[int] = mapped_column(SUBSCRIBER_KEY, primary_key=True, autoincrement=False,
                                    default=_subscriber_key_default)
    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20), default="subscribed")
    subscribed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    merge_fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Mailchimp's unique_email_id (the *|UNIQID|* merge tag), stored by `mailseg pull`: survey links in
    # Mailchimp campaigns identify the subscriber by it.
    unique_email_id: Mapped[str | None] = mapped_column(String(50), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    audience: Mapped[Audience] = relationship(back_populates="subscribers", lazy="raise")
    # The current class lives in the narrow subscriber_classes table (SubscriberClass); no row until
    # the first classification. Loaded on access: lists join SubscriberClass (contains_eager).
    current_class: Mapped[SubscriberClass | None] = relationship(
        primaryjoin="SubscriberClass.subscriber_id == Subscriber.id", foreign_keys="SubscriberClass.subscriber_id",
        cascade="all, delete-orphan", uselist=False, lazy="select")

    # engagement_class and class_since read (and, for builders and tests, write) the current class.
    # In SQL they are a correlated subquery: statements over many subscribers join SubscriberClass.
    @hybrid_property
    def engagement_class(self) -> str | None:
        return self.current_class.engagement_class if self.current_class is not None else None

    @engagement_class.inplace.setter
    def _engagement_class_setter(self, value: str | None) -> None:
        self._class_row().engagement_class = value

    @engagement_class.inplace.expression
    @classmethod
    def _engagement_class_expression(cls):
        return _current(SubscriberClass.engagement_class)

    @hybrid_property
    def class_since(self) -> datetime | None:
        return self.current_class.class_since if self.current_class is not None else None

    @class_since.inplace.setter
    def _class_since_setter(self, value: datetime | None) -> None:
        self._class_row().class_since = value

    @class_since.inplace.expression
    @classmethod
    def _class_since_expression(cls):
        return _current(SubscriberClass.class_since)

    def _class_row(self) -> SubscriberClass:
        if self.current_class is None:
            self.current_class = SubscriberClass(audience_id=self.audience_id)
        return self.current_class


class SubscriberClass(Base):
    """A subscriber's current engagement class (active, semi_active, inactive, new, or the status for
    the non-subscribed) and since when, as the last classification left it. Narrow and apart from the
    wide subscribers rows, so a classification writes it with set-based INSERT / UPDATE / DELETE of
    the changed subscribers only (mailseg/engagement/classify.py). No row: never classified (or not
    subscribed yet at the last classification's moment)."""

    __tablename__ = "subscriber_classes"
    __table_args__ = (
        # The panel's filter and sort by class, the policies' and sync's selections of one class.
        Index("ix_subscriber_classes_audience_class", "audience_id", "engagement_class", "subscriber_id"),
        # The panel's sort by class since, and the backfill's reset of the classes set from its start on.
        Index("ix_subscriber_classes_audience_since", "audience_id", "class_since", "subscriber_id"),
    )

    # No foreign keys (as in ClassChange): a first classification inserts a row per subscriber, and
    # the per-row key check cost more than the insert (2.2 of 3.3 s for 100,000 rows on PostgreSQL).
    # Rows are only written by INSERT ... SELECT over the subscribers, which mailseg never deletes.
    subscriber_id: Mapped[int] = mapped_column(SUBSCRIBER_KEY, primary_key=True, autoincrement=False)
    audience_id: Mapped[int] = mapped_column()
    engagement_class: Mapped[str | None] = mapped_column(String(20))
    class_since: Mapped[datetime | None] = mapped_column(UTCDateTime)


def _current(column):
    """The subscriber's current class column as a correlated scalar subquery (one primary-key probe)."""
    return (select(column).where(SubscriberClass.subscriber_id == Subscriber.id)
            .correlate_except(SubscriberClass).scalar_subquery())
