"""What happened to each exposed subscriber within the horizon after their exposure: the outcome
metrics of the uplift report, computed in SQL per group (held out or not) as n, sum and sum of
squares, the sufficient statistics of every comparison.

Windows are (exposed_at, exposed_at + horizon]. A cohort's exposures share a handful of moments (one
per policy run), so the bounds are computed in Python per moment and passed as parameters: the SQL
stays free of date arithmetic, which SQLite and PostgreSQL spell differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from ..config import EngagementConfig
from ..engagement.rules import counted_click, counted_open
from ..models import Campaign, ClassChange, Event, Exposure

EVENTS = Event.__table__
EXPOSURES = Exposure.__table__
CAMPAIGNS = Campaign.__table__
PROPORTIONS = ("open", "click", "purchase", "unsubscribe", "reactivation")
REVENUE = "revenue"
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
            "unsubscribe": EVENTS.c.type.in_(("unsubscribe", "complaint"))}[metric]


def _family(original_id):
    """Ids of a campaign and its resend versions."""
    return select(CAMPAIGNS.c.id).where(or_(CAMPAIGNS.c.id == original_id, CAMPAIGNS.c.parent_id == original_id))


def _happened(metric: str, settings: EngagementConfig, start: datetime, end: datetime, *, family: bool):
    """SQL: the exposed subscriber had the outcome in (start, end]."""
    if metric == "reactivation":
        return exists(select(ClassChange.id).where(
            ClassChange.subscriber_id == EXPOSURES.c.subscriber_id, ClassChange.to_class.in_(REACTIVATED_TO),
            ClassChange.changed_at > start, ClassChange.changed_at <= end))
    stmt = select(EVENTS.c.id).where(EVENTS.c.subscriber_id == EXPOSURES.c.subscriber_id,
                                     _event_condition(metric, settings),
                                     EVENTS.c.occurred_at > start, EVENTS.c.occurred_at <= end)
    if family:  # a resend's opens and clicks count on the campaign and its versions only
        stmt = stmt.where(EVENTS.c.campaign_id.in_(_family(EXPOSURES.c.campaign_id)))
    return exists(stmt)


def _revenue(start: datetime, end: datetime):
    return (select(func.coalesce(func.sum(EVENTS.c.amount), 0))
            .where(EVENTS.c.subscriber_id == EXPOSURES.c.subscriber_id, purchase_condition(),
                   EVENTS.c.occurred_at > start, EVENTS.c.occurred_at <= end).scalar_subquery())


@dataclass(frozen=True)
class CohortKey:
    audience_id: int
    policy: str
    cohort: date
    variant: int
    salt: str


def measure(session: Session, key: CohortKey, metric: str, horizon: timedelta, settings: EngagementConfig,
            *, family: bool = False) -> dict[bool, GroupSums]:
    """Per group (True: held out): n, sum and sum of squares of the metric over the cohort."""
    groups = {True: GroupSums(), False: GroupSums()}
    cohort = and_(EXPOSURES.c.audience_id == key.audience_id, EXPOSURES.c.policy == key.policy,
                  EXPOSURES.c.cohort == key.cohort, EXPOSURES.c.variant == key.variant, EXPOSURES.c.salt == key.salt)
    moments = session.scalars(select(EXPOSURES.c.exposed_at).where(cohort).distinct()).all()
    for moment in moments:
        start, end = moment, moment + horizon
        if metric == REVENUE:
            value = _revenue(start, end)
        else:
            value = case((_happened(metric, settings, start, end, family=family), literal(1)), else_=literal(0))
        per_subscriber = (select(EXPOSURES.c.held_out.label("held_out"), value.label("value"))
                          .where(cohort, EXPOSURES.c.exposed_at == moment).subquery("outcomes"))
        # Uplift outcome per group: count, sum and sum of squares of the per-subscriber values.
        rows = session.execute(select(per_subscriber.c.held_out, func.count(), func.sum(per_subscriber.c.value),
                                      func.sum(per_subscriber.c.value * per_subscriber.c.value))
                               .group_by(per_subscriber.c.held_out)).all()
        for held, n, total, total_sq in rows:
            groups[bool(held)].add(n, total, total_sq)
    return groups
