"""The Value page's queries: all over the stored subscriber_values of one audience (set-based, indexed
by audience), none over the orders themselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Float, Integer, case, cast, func, select
from sqlalchemy.orm import Session

from ..models import PROSPECT, QUADRANTS, JobRun, Subscriber, SubscriberValue, ValueChange
from ..value.model import latest_model, model_parameters
from ..value.run import JOB
from ..value.segments import QUADRANT_ACTIONS, SEGMENT_ACTIONS

V = SubscriberValue
PARETO_POINTS = 50
CLV_BINS = 20
TOP_CUSTOMERS = 20


@dataclass
class SegmentRow:
    name: str
    customers: int
    revenue: float
    revenue_share: float
    action: str


@dataclass
class HeatCell:
    count: int
    mean_monetary: float
    level: int  # 0-5, the heatmap's shade


def has_values(session: Session, audience_id: int) -> bool:
    return session.scalar(select(V.subscriber_id).where(V.audience_id == audience_id, V.frequency > 0).limit(1)) is not None


def rf_grid(session: Session, audience_id: int) -> dict[tuple[int, int], HeatCell]:
    """Named query "R x F grid": customers and mean monetary per (R, F) cell."""
    rows = session.execute(select(V.r_score, V.f_score, func.count(), func.avg(cast(V.monetary, Float)))
                           .where(V.audience_id == audience_id, V.r_score.is_not(None))
                           .group_by(V.r_score, V.f_score)).all()
    top = max((count for _, _, count, _ in rows), default=0)
    return {(r, f): HeatCell(count, float(mean or 0), 0 if not top else min(5, 1 + (5 * count - 1) // top))
            for r, f, count, mean in rows}


def segment_table(session: Session, audience_id: int) -> tuple[list[SegmentRow], int]:
    """Customers and revenue per RFM segment (largest revenue first), and the number of prospects."""
    rows = session.execute(select(V.rfm_segment, func.count(), func.coalesce(func.sum(V.monetary), 0))
                           .where(V.audience_id == audience_id).group_by(V.rfm_segment)).all()
    prospects = sum(count for name, count, _ in rows if name == PROSPECT)
    total = float(sum(revenue for name, _, revenue in rows if name != PROSPECT)) or 1.0
    table = [SegmentRow(name, count, float(revenue), float(revenue) / total, SEGMENT_ACTIONS.get(name, ""))
             for name, count, revenue in rows if name != PROSPECT]
    return sorted(table, key=lambda row: (-row.revenue, row.name)), prospects


def abc_summary(session: Session, audience_id: int) -> list[dict]:
    rows = dict((name, (count, float(revenue))) for name, count, revenue in session.execute(
        select(V.abc_class, func.count(), func.coalesce(func.sum(V.monetary), 0))
        .where(V.audience_id == audience_id, V.abc_class.is_not(None)).group_by(V.abc_class)).all())
    total = sum(revenue for _, revenue in rows.values()) or 1.0
    customers = sum(count for count, _ in rows.values()) or 1
    return [{"name": name, "customers": rows.get(name, (0, 0))[0], "customer_share": rows.get(name, (0, 0))[0] / customers,
             "revenue_share": rows.get(name, (0, 0.0))[1] / total} for name in ("A", "B", "C")]


def pareto(session: Session, audience_id: int) -> dict[str, list[float]]:
    """Named query "Pareto": customers in descending monetary order cut into PARETO_POINTS tiles
    (NTILE), the cumulative share of revenue at the end of each tile."""
    tiled = (select(V.monetary.label("monetary"),
                    func.ntile(PARETO_POINTS).over(order_by=(V.monetary.desc(), V.subscriber_id)).label("tile"))
             .where(V.audience_id == audience_id, V.frequency > 0)).subquery()
    rows = session.execute(select(tiled.c.tile, func.count(), func.sum(tiled.c.monetary))
                           .group_by(tiled.c.tile).order_by(tiled.c.tile)).all()
    customers = sum(count for _, count, _ in rows) or 1
    total = float(sum(revenue for _, _, revenue in rows)) or 1.0
    shares, cumulative_customers, cumulative_revenue = [], [], 0.0
    seen = 0
    for _, count, revenue in rows:
        seen += count
        cumulative_revenue += float(revenue)
        cumulative_customers.append(round(seen / customers, 4))
        shares.append(round(cumulative_revenue / total, 4))
    return {"customers": [0.0] + cumulative_customers, "revenue": [0.0] + shares}


def clv_histogram(session: Session, audience_id: int) -> dict | None:
    """Named query "CLV distribution": customers per CLV bin of equal width from 0 to the largest CLV."""
    high = session.scalar(select(func.max(V.clv)).where(V.audience_id == audience_id))
    if high is None:
        return None
    width = max(float(high), 1e-9) / CLV_BINS
    bin_of = case((cast(V.clv / width, Integer) >= CLV_BINS, CLV_BINS - 1), else_=cast(V.clv / width, Integer))
    counts = dict(session.execute(select(bin_of, func.count()).where(V.audience_id == audience_id, V.clv.is_not(None),
                                                                     V.clv >= 0).group_by(bin_of)).all())
    return {"labels": [f"{i * width:,.0f}–{(i + 1) * width:,.0f}" for i in range(CLV_BINS)],
            "counts": [counts.get(i, 0) for i in range(CLV_BINS)]}


def top_customers(session: Session, audience_id: int) -> list:
    """The TOP_CUSTOMERS highest CLVs, ties by email. There is no index on clv (value rows are updated
    in place, migration 0024): the TOP_CUSTOMERS-th highest CLV is found first in one pass over the
    value rows, so that only the rows at or above it are joined to their subscribers and sorted."""
    cutoff = (select(V.clv).where(V.audience_id == audience_id, V.clv.is_not(None))
              .order_by(V.clv.desc()).offset(TOP_CUSTOMERS - 1).limit(1).scalar_subquery())
    floor = func.coalesce(cutoff, select(func.min(V.clv)).where(V.audience_id == audience_id).scalar_subquery())
    return session.execute(
        select(Subscriber.id, Subscriber.email, V.clv, V.p_alive, V.expected_orders, V.rfm_segment, V.abc_class,
               V.quadrant, V.monetary)
        .join(V, V.subscriber_id == Subscriber.id)
        .where(V.audience_id == audience_id, V.clv.is_not(None), V.clv >= floor)
        .order_by(V.clv.desc(), Subscriber.email).limit(TOP_CUSTOMERS)).all()


def quadrants(session: Session, audience_id: int) -> dict[str, dict]:
    counts = dict(session.execute(select(V.quadrant, func.count()).where(V.audience_id == audience_id,
                                                                         V.quadrant.is_not(None))
                                  .group_by(V.quadrant)).all())
    return {name: {"count": counts.get(name, 0), "action": QUADRANT_ACTIONS[name]} for name in QUADRANTS}


def segment_transitions(session: Session, audience_id: int, since: datetime) -> dict[tuple[str, str], int]:
    """RFM segment moves since `since` (from the value history), a first segment counted from 'prospect'."""
    rows = session.execute(select(ValueChange.from_value, ValueChange.to_value, func.count())
                           .where(ValueChange.audience_id == audience_id, ValueChange.family == "rfm",
                                  ValueChange.changed_at > since)
                           .group_by(ValueChange.from_value, ValueChange.to_value)).all()
    moves: dict[tuple[str, str], int] = {}
    for source, target, count in rows:
        key = (source or PROSPECT, target or PROSPECT)
        moves[key] = moves.get(key, 0) + count
    return moves


def model_status(session: Session, audience_id: int) -> dict:
    """The model behind the CLVs and what the last value run said (why no new model, when it ran)."""
    model = latest_model(session, audience_id)
    run = session.scalars(select(JobRun).where(JobRun.job == JOB, JobRun.audience_id == audience_id)
                          .order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(1)).first()
    return {"model": model_parameters(model) if model else None, "run": run,
            "reason": (run.summary or {}).get("model_reason") if run else None}
