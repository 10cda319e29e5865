"""Every counted order of a subscriber summed (order_totals), kept between value runs.

The lifetime-value models need all of a customer's counted orders, not only the lookback: purchase
days, first and last order, the first day's amount, amounts and contributions. Summing them every run
sorted every order of the audience by subscriber and day, 2.6 x the bare scan on its own at 1,000,000
subscribers (docs/BENCHMARKS.md, issue 13). They are kept instead:
- store_events, the one ingest function, marks the subscribers whose orders it stored or cancelled
  (ingest/events.py _mark_order_changes: a row per subscriber and call in order_changes, never
  updated, so ingest never waits on a value run that is consuming older marks);
- each value run first refreshes the marked subscribers' totals (refresh_order_totals): their rows
  summed again from their orders, then exactly the marks it read deleted; a mark written meanwhile
  stays for the next run;
- an audience whose totals were never built (audiences.order_totals_built_at NULL: a new audience, a
  database upgraded to 0023) has them built from all its orders, as does `mailseg value
  --rebuild-totals` (orders written into the database behind mailseg's back).
The totals hold every counted order up to now. A value computation as of a moment before an order
they hold (a backfill point, explain --as-of) sums the orders up to that moment instead, with the same
statement into a staging table (totals_as_of).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (Column, Integer, MetaData, String, Table, case, delete, func, insert, literal, null, select,
                        text, tuple_, update)
from sqlalchemy.orm import Session

from ..models import Audience, OrderChange, OrderTotals, UTCDateTime, utcnow
from ..models.audience import SUBSCRIBER_KEY
from ..sqlutil import analyze_staging, analyze_written, drop_staging, stage, written_rows
from .sql import EVENTS, SUBSCRIBERS, counted_order, day_key, in_window, lookback_totals, whole_cents

ORDER_TOTALS = OrderTotals.__table__
ORDER_CHANGES = OrderChange.__table__
TOTAL_COLUMNS = [column.name for column in ORDER_TOTALS.c]
_META = MetaData()
# The marks a refresh consumes, and the totals as of a past moment: staging tables (sqlutil.stage).
MARKS = "value_order_marks"
MARKED = Table(MARKS, _META, Column("subscriber_id", SUBSCRIBER_KEY), Column("mark", String(32)),
               Column("audience_id", Integer))
AS_OF = "value_order_totals"
TOTALS_AS_OF = ORDER_TOTALS.to_metadata(_META, name=AS_OF)


@dataclass
class TotalsRefresh:
    rebuilt: bool
    # subscribers whose totals were summed again (all the audience's customers on a rebuild)
    subscribers: int
    # how the lookback figures came to the run's window: "built", "kept", "slid" or "summed"
    lookback: str = "built"
    # whether the kept totals hold no order after the run's as_of (they are then its totals)
    covers: bool = True

    @property
    def summed_again(self) -> Table | None:
        """The only subscribers who can have left the kept totals since the last run (their orders all
        cancelled): the marks this refresh consumed (staged; dropped with the run's other staging
        tables). None when everyone may have: the totals were rebuilt, or they are not the run's (an
        order after as_of)."""
        return MARKED if self.covers and not self.rebuilt else None


def order_totals_select(session: Session, audience_id: int, *, as_of: datetime | None = None,
                        only_marked: bool = False, window: tuple[datetime, datetime] | None = None):
    """Named statement "order totals": one row per subscriber of the audience with a counted order
    (up to as_of when given), in the columns of order_totals; with only_marked, only the subscribers
    of the marks staged by refresh_order_totals; with a window (from, to], its lookback figures
    (else NULL).

    Inner query: the counted orders with the DENSE_RANK of their UTC day among the subscriber's
    purchase days (one window, one sort by subscriber and day). Outer query, per subscriber: the
    distinct purchase days (the highest rank), the first and last order, the amount of the first day
    (rank 1; the Gamma-Gamma spend is the mean of the days after it), the amounts, the margins given
    and the amount of the orders without one. Earlier forms (count(DISTINCT day) beside first_value();
    per subscriber and day, then per subscriber) took 1.5 x this one (docs/BENCHMARKS.md, issue 13)."""
    amount = func.coalesce(EVENTS.c.amount, 0)
    conditions = [counted_order()]
    if as_of is not None:
        conditions.append(EVENTS.c.occurred_at <= literal(as_of, UTCDateTime))
    if only_marked:
        conditions.append(EVENTS.c.subscriber_id.in_(select(MARKED.c.subscriber_id)))
        scope = EVENTS
    else:
        scope = EVENTS.join(SUBSCRIBERS, SUBSCRIBERS.c.id == EVENTS.c.subscriber_id)
        conditions.append(SUBSCRIBERS.c.audience_id == audience_id)
    orders = (
        select(EVENTS.c.subscriber_id, EVENTS.c.occurred_at, amount.label("amount"), EVENTS.c.margin,
               func.dense_rank().over(partition_by=EVENTS.c.subscriber_id,
                                      order_by=day_key(session, EVENTS.c.occurred_at)).label("day_rank"))
        .select_from(scope).where(*conditions)
    ).subquery("orders")
    o = orders.c
    lookback: list = [null().label("lookback_orders"), null().label("lookback_cents")]
    if window is not None:
        inside = in_window(o.occurred_at, *window)
        lookback = [func.sum(case((inside, 1), else_=0)).label("lookback_orders"),
                    whole_cents(func.sum(case((inside, o.amount), else_=0))).label("lookback_cents")]
    return (
        select(o.subscriber_id, literal(audience_id).label("audience_id"), func.count().label("orders"),
               func.max(o.day_rank).label("days"),
               func.min(o.occurred_at).label("first_order_at"), func.max(o.occurred_at).label("last_order_at"),
               func.sum(case((o.day_rank == 1, o.amount), else_=0)).label("first_day_amount"),
               func.sum(o.amount).label("amount"),
               func.sum(func.coalesce(o.margin, 0)).label("margin"),
               func.sum(case((o.margin.is_(None), o.amount), else_=0)).label("amount_without_margin"),
               *lookback)
        .group_by(o.subscriber_id)
    )


def refresh_order_totals(session: Session, audience_id: int, window_start: datetime, as_of: datetime, *,
                         rebuild: bool = False) -> TotalsRefresh:
    """Bring the audience's order totals up to date for a computation with the lookback window
    (window_start, as_of] (in the caller's transaction; the value run holds the audience's lock): the
    lookback figures slid to the window (or summed afresh), then the marked subscribers summed again,
    or everyone on a first build. `covers` says whether the kept totals hold no order after as_of:
    only then are they the totals as of as_of, and only then may the next run slide from this window."""
    window = (window_start, as_of)
    audience = session.execute(select(Audience.order_totals_built_at, Audience.lookback_from, Audience.lookback_to)
                               .where(Audience.id == audience_id)).one()
    if rebuild or audience.order_totals_built_at is None:
        refresh = TotalsRefresh(True, _build(session, audience_id, window))
    else:
        lookback = _slide_lookback(session, audience_id, window, audience.lookback_from, audience.lookback_to)
        refresh = TotalsRefresh(False, _sum_marked(session, audience_id, window), lookback)
    last = session.scalar(select(func.max(ORDER_TOTALS.c.last_order_at)).where(ORDER_TOTALS.c.audience_id == audience_id))
    refresh.covers = last is None or last <= as_of
    bounds = window if refresh.covers else (None, None)
    session.execute(update(Audience).where(Audience.id == audience_id)
                    .values(lookback_from=bounds[0], lookback_to=bounds[1]))
    return refresh


def _sum_marked(session: Session, audience_id: int, window: tuple[datetime, datetime]) -> int:
    """The marked subscribers' rows summed again (lookback figures for `window` included), then
    exactly the marks read deleted; returns how many subscribers. The marks stay staged for the
    caller (TotalsRefresh.summed_again)."""
    drop_staging(session, MARKS)
    stage(session, MARKS, select(ORDER_CHANGES).where(ORDER_CHANGES.c.audience_id == audience_id),
          key="subscriber_id")
    marked = select(MARKED.c.subscriber_id)
    subscribers = session.scalar(select(func.count(func.distinct(MARKED.c.subscriber_id))))
    if subscribers:
        session.execute(delete(ORDER_TOTALS).where(ORDER_TOTALS.c.subscriber_id.in_(marked)))
        session.execute(insert(ORDER_TOTALS).from_select(
            TOTAL_COLUMNS, order_totals_select(session, audience_id, only_marked=True, window=window)))
        key = tuple_(ORDER_CHANGES.c.subscriber_id, ORDER_CHANGES.c.mark)
        session.execute(delete(ORDER_CHANGES).where(key.in_(select(MARKED.c.subscriber_id, MARKED.c.mark))))
    return subscribers or 0


def _slide_lookback(session: Session, audience_id: int, window: tuple[datetime, datetime],
                    kept_from: datetime | None, kept_to: datetime | None) -> str:
    """Named statements "slide lookback": the kept lookback figures, last brought to (kept_from,
    kept_to], brought to `window`. When the window only moved forward, the counted orders in
    (kept_from, window_start] left it (subtracted: one day's orders for a daily run, through the
    partial index on purchases by time) and none can have entered it unmarked: an order after kept_to
    that existed then made that run clear the bounds, and one stored since carries a mark (its
    subscriber is summed again after this). Otherwise (no bounds, or a window that moved back or grew)
    the window is summed afresh. Returns "kept", "slid" or "summed"."""
    window_start, as_of = window
    t = ORDER_TOTALS.c
    if kept_from is not None and kept_from <= window_start and kept_to <= as_of:
        if kept_from == window_start:
            return "kept"
        leaving = lookback_totals(session, ORDER_TOTALS, audience_id, kept_from, window_start).subquery("leaving")
        session.execute(update(ORDER_TOTALS).where(t.subscriber_id == leaving.c.subscriber_id)
                        .values(lookback_orders=t.lookback_orders - leaving.c.frequency,
                                lookback_cents=t.lookback_cents - leaving.c.monetary_cents))
        return "slid"
    fresh = lookback_totals(session, ORDER_TOTALS, audience_id, window_start, as_of).subquery("fresh")
    session.execute(update(ORDER_TOTALS).where(t.audience_id == audience_id).values(lookback_orders=0, lookback_cents=0))
    session.execute(update(ORDER_TOTALS).where(t.subscriber_id == fresh.c.subscriber_id)
                    .values(lookback_orders=fresh.c.frequency, lookback_cents=fresh.c.monetary_cents))
    return "summed"


def _build(session: Session, audience_id: int, window: tuple[datetime, datetime]) -> int:
    """Every customer's totals, lookback figures for `window` included, from all the audience's
    orders. The marks go first: every order stored before they are deleted is in the sums; a mark
    written after survives for the next run."""
    session.execute(delete(ORDER_CHANGES).where(ORDER_CHANGES.c.audience_id == audience_id))
    session.execute(delete(ORDER_TOTALS).where(ORDER_TOTALS.c.audience_id == audience_id))
    written = written_rows(session, insert(ORDER_TOTALS).from_select(
        TOTAL_COLUMNS, order_totals_select(session, audience_id, window=window)))
    analyze_written(session, {ORDER_TOTALS.name: written})  # the rest of the run joins it
    session.execute(update(Audience).where(Audience.id == audience_id).values(order_totals_built_at=utcnow()))
    return written


def totals_as_of(session: Session, audience_id: int, as_of: datetime, *, kept: bool) -> Table:
    """The order totals of a computation as of `as_of`: the kept table when `kept` (the caller
    refreshed it and it holds no order after as_of: TotalsRefresh.covers), else the orders up to
    as_of summed into a staging table."""
    if kept:
        return ORDER_TOTALS
    stage(session, AS_OF, order_totals_select(session, audience_id, as_of=as_of), key="subscriber_id")
    # keyed and counted like the kept table: the run's NOT EXISTS over it must not become a nested
    # loop over a table the planner takes for empty
    session.execute(text(f"CREATE UNIQUE INDEX ix_{AS_OF}_key ON {AS_OF} (subscriber_id)"))
    analyze_staging(session, AS_OF)
    return TOTALS_AS_OF
