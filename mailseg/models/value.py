"""Value segmentation: each subscriber's current value (RFM, ABC, lifetime value, quadrant), the
history of its segment changes, and the purchase models fitted per audience."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Numeric, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from .audience import SUBSCRIBER_KEY
from .base import Base, UTCDateTime, utcnow
from .events import BIG_ID

VALUE_FAMILIES = ("rfm", "abc", "quadrant")
QUADRANTS = ("profitable_loyal", "profitable_disloyal", "unprofitable_loyal", "unprofitable_disloyal")
PROSPECT = "prospect"


class SubscriberValue(Base):
    """One row per subscriber: what the last value run found as of its moment (see mailseg/value/)."""

    __tablename__ = "subscriber_values"
    __table_args__ = (
        Index("ix_subscriber_values_audience_segment", "audience_id", "rfm_segment"),
        # No index on the predictions, and on PostgreSQL pages half filled (fillfactor 50, set by
        # migration 0024, the only way the schema is made): a value run rewrites every customer's row
        # (recency, T and the predictions move with as_of and each refit), and PostgreSQL then updates
        # them in place without index entries (HOT), 6 x faster (docs/BENCHMARKS.md, issue 13).
    )

    # No foreign key on subscriber_id (migration 0020), for the same reason as ValueChange.
    subscriber_id: Mapped[int] = mapped_column(SUBSCRIBER_KEY, primary_key=True)
    audience_id: Mapped[int] = mapped_column()
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    # Counted orders in the lookback (window_start < occurred_at <= as_of), their amounts, and the whole
    # days from the last one to as_of (NULL for prospects).
    frequency: Mapped[int] = mapped_column(default=0)
    monetary: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    recency_days: Mapped[int | None] = mapped_column()
    # Scores 1-5 and the segment (or 'prospect'), the ABC class; NULL for prospects.
    r_score: Mapped[int | None] = mapped_column()
    f_score: Mapped[int | None] = mapped_column()
    m_score: Mapped[int | None] = mapped_column()
    rfm_segment: Mapped[str] = mapped_column(String(40), default=PROSPECT)
    abc_class: Mapped[str | None] = mapped_column(String(1))
    # Share of the audience's revenue made by the customers ranked before this one (the ABC position).
    abc_share_before: Mapped[float | None] = mapped_column(Float)
    # Inputs of the lifetime value: repeat purchase days x, t_x and T in weeks, contribution per amount.
    repeat_days: Mapped[int | None] = mapped_column()
    t_x_weeks: Mapped[float | None] = mapped_column(Float)
    t_weeks: Mapped[float | None] = mapped_column(Float)
    margin_rate: Mapped[float | None] = mapped_column(Float)
    # Predictions of the last good model (NULL without orders or before the first good fit).
    p_alive: Mapped[float | None] = mapped_column(Float)
    expected_orders: Mapped[float | None] = mapped_column(Float)
    expected_order_value: Mapped[float | None] = mapped_column(Float)
    clv: Mapped[float | None] = mapped_column(Float)
    quadrant: Mapped[str | None] = mapped_column(String(40))
    run_id: Mapped[int | None] = mapped_column()


class ValueChange(Base):
    """A subscriber's move between value segments of one family (rfm, abc, quadrant); only on change."""

    __tablename__ = "value_changes"
    __table_args__ = (
        # a subscriber's history in time order (0022_history_keys; SQLite: its rowid key `id`
        # and the index ix_value_changes_subscriber, mailseg.db.DATABASE_ONLY_INDEXES)
        PrimaryKeyConstraint("subscriber_id", "changed_at", "id"),
        Index("ix_value_changes_audience_family_time", "audience_id", "family", "changed_at"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, autoincrement=True)
    # No foreign keys on audience_id, run_id and (since migration 0020) subscriber_id, for the same
    # reason as ClassChange: a first value run writes a value row per subscriber and up to three
    # history rows per customer, and the per-row key checks were a large part of that run (issue 13
    # benchmark). The rows are only written from a SELECT over the subscribers, which mailseg never
    # deletes (a manual DELETE of subscribers must delete their value rows too).
    audience_id: Mapped[int] = mapped_column()
    subscriber_id: Mapped[int] = mapped_column(SUBSCRIBER_KEY)
    family: Mapped[str] = mapped_column(String(10))
    # None for the first value of the family (or for none: an ABC class lost by a lapsed customer).
    from_value: Mapped[str | None] = mapped_column(String(40))
    to_value: Mapped[str | None] = mapped_column(String(40))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    run_id: Mapped[int | None] = mapped_column()


class OrderTotals(Base):
    """Every counted order of a subscriber up to now, summed: what the lifetime-value models need
    beyond the lookback. Kept between value runs from the orders ingest marks (OrderChange); see
    mailseg/value/totals.py. No row: no counted order."""

    __tablename__ = "order_totals"

    # No foreign key, as for SubscriberValue: written only by INSERT ... SELECT over the orders.
    subscriber_id: Mapped[int] = mapped_column(SUBSCRIBER_KEY, primary_key=True)
    audience_id: Mapped[int] = mapped_column()
    orders: Mapped[int] = mapped_column()
    # Distinct UTC calendar days with an order, the first and last order, the amount of the first day.
    days: Mapped[int] = mapped_column()
    first_order_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_order_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_day_amount: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    # The margins given with orders, and the amount of the orders without one (their contribution is
    # value.margin_rate x amount, applied by the run: the rate is configuration, not data).
    margin: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    amount_without_margin: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    # The counted orders in the audience's lookback window (audiences.lookback_from, lookback_to] and
    # their amounts in whole cents, slid from run to run.
    lookback_orders: Mapped[int | None] = mapped_column()
    lookback_cents: Mapped[int | None] = mapped_column(BigInteger)


class OrderChange(Base):
    """A mark left by ingest: the subscriber's orders changed (a new order, a cancellation) since their
    order totals were summed. One row per subscriber and ingest call, never updated, so ingest never
    waits for a value run consuming older marks."""

    __tablename__ = "order_changes"
    __table_args__ = (PrimaryKeyConstraint("subscriber_id", "mark"),)

    subscriber_id: Mapped[int] = mapped_column(SUBSCRIBER_KEY)
    mark: Mapped[str] = mapped_column(String(32))
    audience_id: Mapped[int] = mapped_column()


class ValueModel(Base):
    """A good fit of the BG/NBD and Gamma-Gamma models for an audience; the latest one is used."""

    __tablename__ = "value_models"
    __table_args__ = (Index("ix_value_models_audience_as_of", "audience_id", "as_of"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column()
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    fitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    customers: Mapped[int] = mapped_column()
    repeat_customers: Mapped[int] = mapped_column()
    bgnbd_r: Mapped[float] = mapped_column(Float)
    bgnbd_alpha: Mapped[float] = mapped_column(Float)
    bgnbd_a: Mapped[float] = mapped_column(Float)
    bgnbd_b: Mapped[float] = mapped_column(Float)
    bgnbd_log_likelihood: Mapped[float] = mapped_column(Float)
    gg_p: Mapped[float] = mapped_column(Float)
    gg_q: Mapped[float] = mapped_column(Float)
    gg_gamma: Mapped[float] = mapped_column(Float)
    gg_log_likelihood: Mapped[float] = mapped_column(Float)
