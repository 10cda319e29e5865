"""What happened to each exposed subscriber within the horizon after their exposure: the outcome
metrics of the uplift report, computed in SQL per group (held out or not) as n, sum and sum of
squares, the sufficient statistics of every comparison.

Windows are (exposed_at, exposed_at + horizon]. A cohort's exposures share a handful of moments (one
per policy run), so each moment's end bounds are computed in Python and passed as parameters (a CASE
on exposed_at): the SQL stays free of date arithmetic, which SQLite and PostgreSQL spell differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from ..config import EngagementConfig
from ..engagement.rules import counted_click, counted_open
from ..models import Campaign, ClassChange, Event, Exposure
from ..models.base import UTCDateTime

EVENTS = Event.__table__
EXPOSURES = Exposure.__table__
CAMPAIGNS = Campaign.__table__
CLASS_CHANGES = ClassChange.__table__
PROPORTIONS = ("open", "click", "purchase", "unsubscribe", "reactivation")
REVENUE = "revenue"
REACTIVATION = "reactivation"
REACTIVATED_TO = ("active", "semi_active")


@dataclass
class GroupSums:
    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    def add(self, n: int, total: float, total_sq: float) -> None:
        self.n += int(n or 0)
        self.total += float(total or 0)
        self.total_sq += float(total_sq or 0)

    def as_dict(self) -> dict:
        return {"n": self.n, "sum": self.total, "sum_sq": self.total_sq}

    @classmethod
    def from_dict(cls, data: dict) -> "GroupSums":
        return cls(int(data["n"]), float(data["sum"]), float(data["sum_sq"]))


@dataclass(frozen=True)
class MetricSpec:
    metric: str  # the verdict's name: open, ..., or open_cumulative (resend versions 2..n)
    horizon: timedelta
    family: bool  # measured on the resend's campaign and versions only

    @property
    def base(self) -> str:
        return self.metric.removesuffix("_cumulative")


@dataclass(frozen=True)
class CohortKey:
    audience_id: int
    policy: str
    cohort: date
    variant: int
    salt: str


def purchase_condition():
    """The purchase outcome, in ONE place: purchase events (with their amount). When orders carry a
    status (issue 13's order_status), cancelled and refunded orders are excluded here."""
    condition = EVENTS.c.type == "purchase"
    if "order_status" in EVENTS.c:
        condition = and_(condition, or_(EVENTS.c.order_status.is_(None),
                                        EVENTS.c.order_status.not_in(("cancelled", "refunded"))))
    return condition


def _event_condition(metric: str, settings: EngagementConfig):
    # counted-event rule: human opens and clicks as the classification counts them (engagement/rules.py)
    return {"open": counted_open(settings), "click": counted_click(), "purchase": purchase_condition(),
            REVENUE: purchase_condition(), "unsubscribe": EVENTS.c.type.in_(("unsubscribe", "complaint"))}[metric]


def _window_end(moments: list[datetime], horizon: timedelta):
    """SQL: exposed_at + horizon, as a CASE over the cohort's moments (bounds computed in Python)."""
    return case(*((EXPOSURES.c.exposed_at == literal(m, UTCDateTime()), literal(m + horizon, UTCDateTime()))
                  for m in moments))


def _in_family():
    """The event is on the exposure's campaign or one of its resend versions (campaigns joined)."""
    return or_(EVENTS.c.campaign_id == EXPOSURES.c.campaign_id, CAMPAIGNS.c.parent_id == EXPOSURES.c.campaign_id)


def _cohort(key: CohortKey):
    return and_(EXPOSURES.c.audience_id == key.audience_id, EXPOSURES.c.policy == key.policy,
                EXPOSURES.c.cohort == key.cohort, EXPOSURES.c.variant == key.variant, EXPOSURES.c.salt == key.salt)


def _event_outcomes(key: CohortKey, specs: list[MetricSpec], moments: list[datetime], settings: EngagementConfig):
    """Uplift event outcomes per exposure: ONE pass over the events of the cohort's subscribers in their
    windows, every event metric a conditional aggregate. The exposures are the left side of the join
    and the rows are aggregated straight from it (never an aggregate joined back: PostgreSQL, taking a
    cohort never analyzed for one row, re-ran such an aggregate per exposure). Joined on subscriber_id
    (Citus: co-located); campaigns, a reference table, only when a metric is per family."""
    columns = []
    for spec in specs:
        within = EVENTS.c.occurred_at <= _window_end(moments, spec.horizon)
        condition = and_(_event_condition(spec.base, settings), within)
        if spec.family:
            condition = and_(condition, _in_family())
        if spec.base == REVENUE:
            columns.append(func.sum(case((condition, EVENTS.c.amount), else_=literal(0))).label(spec.metric))
        else:
            columns.append(func.max(case((condition, literal(1)), else_=literal(0))).label(spec.metric))
    longest = max(spec.horizon for spec in specs)
    source = EXPOSURES.outerjoin(EVENTS, and_(EVENTS.c.subscriber_id == EXPOSURES.c.subscriber_id,
                                              EVENTS.c.occurred_at > EXPOSURES.c.exposed_at,
                                              EVENTS.c.occurred_at <= _window_end(moments, longest)))
    if any(spec.family for spec in specs):
        source = source.outerjoin(CAMPAIGNS, CAMPAIGNS.c.id == EVENTS.c.campaign_id)
    return (select(EXPOSURES.c.held_out, *columns).select_from(source).where(_cohort(key))
            .group_by(EXPOSURES.c.subscriber_id, EXPOSURES.c.id, EXPOSURES.c.held_out))


def _reactivations(key: CohortKey, spec: MetricSpec, moments: list[datetime]):
    """Uplift reactivation per exposure: moved to active or semi_active in the window (class history)."""
    moved = and_(CLASS_CHANGES.c.subscriber_id == EXPOSURES.c.subscriber_id,
                 CLASS_CHANGES.c.to_class.in_(REACTIVATED_TO), CLASS_CHANGES.c.changed_at > EXPOSURES.c.exposed_at,
                 CLASS_CHANGES.c.changed_at <= _window_end(moments, spec.horizon))
    value = func.max(case((CLASS_CHANGES.c.subscriber_id.is_not(None), literal(1)), else_=literal(0)))
    return (select(EXPOSURES.c.held_out, value.label(spec.metric))
            .select_from(EXPOSURES.outerjoin(CLASS_CHANGES, moved)).where(_cohort(key))
            .group_by(EXPOSURES.c.subscriber_id, EXPOSURES.c.id, EXPOSURES.c.held_out))


def _add_group_sums(session: Session, per_exposure, specs: list[MetricSpec], out: dict) -> None:
    """Uplift outcome per group: count, and per metric the sum and sum of squares of the per-exposure values."""
    rows = per_exposure.subquery("per_exposure")
    aggregates = [func.count()]
    for spec in specs:
        value = func.coalesce(rows.c[spec.metric], literal(0))
        aggregates += [func.sum(value), func.sum(value * value)]
    for held, n, *sums in session.execute(select(rows.c.held_out, *aggregates).group_by(rows.c.held_out)):
        for index, spec in enumerate(specs):
            out[spec.metric][bool(held)].add(n, sums[2 * index], sums[2 * index + 1])


def measure(session: Session, key: CohortKey, specs: list[MetricSpec],
            settings: EngagementConfig) -> dict[str, dict[bool, GroupSums]]:
    """Per metric and group (True: held out): n, sum and sum of squares of the metric over the cohort:
    the event metrics in one statement, the reactivation (class history) in another."""
    out = {spec.metric: {True: GroupSums(), False: GroupSums()} for spec in specs}
    moments = sorted(session.scalars(select(EXPOSURES.c.exposed_at).where(_cohort(key)).distinct()))
    if not moments:
        return out
    event_specs = [spec for spec in specs if spec.base != REACTIVATION]
    if event_specs:
        _add_group_sums(session, _event_outcomes(key, event_specs, moments, settings), event_specs, out)
    for spec in specs:
        if spec.base == REACTIVATION:
            _add_group_sums(session, _reactivations(key, spec, moments), [spec], out)
    return out
