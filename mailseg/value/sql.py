"""The value rules as SQL: counted orders, the per-customer order totals, scores, ABC and the quadrant.

Every statement here touches every subscriber of an audience and runs in the database, the same on
SQLite and PostgreSQL (the few date functions that differ are the helpers at the top).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (BigInteger, Date, Float, Integer, Numeric, String, Table, and_, case, cast, extract, func, literal, null,
                        or_, select, text)
from sqlalchemy.orm import Session

from ..models import UNCOUNTED_ORDER_STATUSES, Event, Subscriber, SubscriberClass, UTCDateTime

EVENTS = Event.__table__
SUBSCRIBERS = Subscriber.__table__
# The one place value reads the engagement class: the current classes' narrow table (outer-joined).
CLASSES = SubscriberClass.__table__
ENGAGEMENT_CLASS = CLASSES.c.engagement_class
LOYAL_CLASSES = ("active", "semi_active")
LOYAL_MIN_ORDERS = 2


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def day_number(session: Session, moment):
    """The UTC calendar day of a stored timestamp as days since 1970-01-01 (an integer)."""
    if _sqlite(session):
        return cast(func.julianday(func.date(moment)) - 2440587.5, Integer)
    return cast(moment, Date()) - text("DATE '1970-01-01'")


def day_key(session: Session, moment):
    """A key equal for the moments of one UTC calendar day, cheaper than day_number row by row:
    SQLite the date part of the stored text, PostgreSQL the date."""
    if _sqlite(session):
        return func.substr(moment, 1, 10)
    return cast(moment, Date())


def whole_days(session: Session, later: datetime, earlier):
    """Whole days from `earlier` (a column) to the moment `later`, exact to the microsecond.

    SQLite: the difference of the calendar days, less one when `earlier`'s time of day is later than
    `later`'s (both stored as 'YYYY-MM-DD HH:MM:SS.ffffff', so the time parts compare as text).
    PostgreSQL: the interval's seconds (numeric, exact) divided by 86,400, rounded down."""
    later_value = literal(later, UTCDateTime)
    if _sqlite(session):
        days = cast(func.julianday(func.date(later_value)) - func.julianday(func.date(earlier)), Integer)
        return days - case((func.substr(earlier, 12) > func.substr(later_value, 12), 1), else_=0)
    return cast(func.floor(extract("epoch", later_value - earlier) / 86400), Integer)


def in_window(moment, window_start: datetime, as_of: datetime):
    """A moment inside a lookback window: window_start < moment <= as_of."""
    return and_(moment > literal(window_start, UTCDateTime), moment <= literal(as_of, UTCDateTime))


def whole_cents(amounts):
    """A sum of amounts in whole cents, as a BIGINT (the ties of M scores and ABC are exact in cents)."""
    return cast(func.round(amounts * 100), BigInteger)


def counted_order():
    """A purchase that counts: not cancelled, not refunded (the order's state, see models/events.py)."""
    return and_(EVENTS.c.type == "purchase",
                or_(EVENTS.c.order_status.is_(None), EVENTS.c.order_status.not_in(UNCOUNTED_ORDER_STATUSES)))


def lifetime_totals(session: Session, totals: Table, audience_id: int, margin_rate: float, *,
                    lookback_as_of: datetime | None = None):
    """Named statement "value totals" (lifetime): one row per subscriber of the audience with a counted
    order up to as_of (everyone else is a prospect without orders), read from the order totals
    (totals.py: every counted order summed, the kept table or a staging table as of a past moment), in
    the form the lifetime-value models take: the distinct purchase days, first and last day as day
    numbers, all-time amount, contribution (the margins given plus margin_rate x the amount of the
    orders without one) and the amount of the first day. With lookback_as_of (the kept order totals,
    whose lookback figures are slid to the run's window), the lookback's frequency, monetary in whole
    cents and recency_days too: the last counted order in the window is the last order there is."""
    k = totals.c
    # The rate as a NUMERIC: a float parameter made every contribution a float, whose sum depends on
    # the order the rows arrive in, and a run with no new orders then rewrote a few thousand rows
    # whose CLV moved in the last bit.
    rate = cast(literal(margin_rate, Float), Numeric())
    lookback = []
    if lookback_as_of is not None:
        lookback = [k.lookback_orders.label("frequency"), k.lookback_cents.label("monetary_cents"),
                    case((k.lookback_orders > 0, whole_days(session, lookback_as_of, k.last_order_at)))
                    .label("recency_days")]
    return (select(k.subscriber_id, k.days,
                   day_number(session, k.first_order_at).label("first_day"),
                   day_number(session, k.last_order_at).label("last_day"),
                   k.amount.label("total_amount"),
                   (k.margin + rate * k.amount_without_margin).label("total_margin"),
                   k.first_day_amount, *lookback)
            .where(k.audience_id == audience_id))


def lookback_totals(session: Session, totals: Table, audience_id: int, window_start: datetime, as_of: datetime):
    """Named statement "value totals" (lookback): per customer with a counted order in the lookback
    (window_start < occurred_at <= as_of), their number, their amounts in whole cents and the whole days
    from the last one to as_of. One hash aggregate, no sort, over the orders of the audience's customers
    (joined to the order totals, which hold exactly them); read beside lifetime_totals and matched by
    key in numpy (figures.py), which costs less than joining the two in SQL."""
    k = totals.c
    return (select(EVENTS.c.subscriber_id, func.count().label("frequency"),
                   whole_cents(func.sum(func.coalesce(EVENTS.c.amount, 0))).label("monetary_cents"),
                   whole_days(session, as_of, func.max(EVENTS.c.occurred_at)).label("recency_days"))
            .join(totals, k.subscriber_id == EVENTS.c.subscriber_id)
            .where(k.audience_id == audience_id, counted_order(), in_window(EVENTS.c.occurred_at, window_start, as_of))
            .group_by(EVENTS.c.subscriber_id))


def quadrant_case(frequency, engagement_class, clv, threshold: float | None):
    """profitable = clv >= threshold; loyal = at least 2 counted orders in the lookback and an
    engaged class (active or semi_active). NULL without a clv or a threshold."""
    if threshold is None:
        return cast(null(), String(40))
    profitable = clv >= threshold
    loyal = and_(frequency >= LOYAL_MIN_ORDERS, engagement_class.in_(LOYAL_CLASSES))
    return case((or_(clv.is_(None), frequency == 0), None),
                (and_(profitable, loyal), "profitable_loyal"),
                (profitable, "profitable_disloyal"),
                (loyal, "unprofitable_loyal"),
                else_="unprofitable_disloyal")


