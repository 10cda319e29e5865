"""The frequency cap: the eligible tag holds everyone who may receive the next regular mailing.
Active, semi-active, new (and not yet classified) subscribers always; inactive ones only when their
last send is at least frequency.inactive_every_days old, or when they are in a value segment of
frequency.prefer_segments (a valuable customer is not held back). Sunset subscribers never."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from ..config import Config
from ..engagement.rules import in_class
from ..models import Campaign, CampaignPlan, Event, Subscriber, SubscriberClass
from ..schedules import make_trigger
from ..sync.engine import SegmentSpec
from ..experiments import exposures
from ..experiments.assignment import held_out
from .common import in_value_segments, mailable

ALWAYS_ELIGIBLE = ("active", "semi_active", "new")
MONTH_DAYS = 30


def eligible(audience_id: int, config: Config, as_of: datetime):
    """SELECT of the subscriber ids the eligible tag should hold at as_of."""
    recent = as_of - timedelta(days=config.frequency.inactive_every_days)
    sent_recently = exists(select(Event.id).where(Event.subscriber_id == Subscriber.id, Event.type == "send",
                                                  Event.occurred_at > recent, Event.occurred_at <= as_of))
    klass = SubscriberClass.engagement_class  # NULL: not classified yet (no row)
    return (select(Subscriber.id).outerjoin(SubscriberClass, SubscriberClass.subscriber_id == Subscriber.id)
            .where(mailable(audience_id, config.frequency), or_(
                klass.in_(ALWAYS_ELIGIBLE), klass.is_(None),
                and_(klass == "inactive",
                     or_(~sent_recently, held_out(config, "cap", Subscriber.id))),  # the held out keep the cadence
                in_value_segments(Subscriber.id, config.frequency.prefer_segments))))


def capped(audience_id: int, config: Config, as_of: datetime):
    """SELECT of the subscribers the cap acts on: the inactive ones it may keep out of mailings,
    not exposed to the cap within its horizon (each enters a cohort once per horizon)."""
    since = as_of - timedelta(days=config.uplift.cap_horizon_days)
    return select(Subscriber.id).where(mailable(audience_id), in_class(Subscriber.id, "inactive"),
                                       ~exposures.exposed_since("cap", Subscriber.id, since))


def record_exposures(session: Session, audience_id: int, config: Config, as_of: datetime) -> int:
    """Record today's new cap exposures, treated and held out (committed by the caller)."""
    treated, held = exposures.split(config, "cap", capped(audience_id, config, as_of))
    key = f"cap:{as_of.date().isoformat()}"
    return sum(exposures.record(session, audience_id, config, "cap", key, group, held=is_held, as_of=as_of)
               for group, is_held in ((treated, False), (held, True)))


def eligible_spec(audience_id: int, config: Config, as_of: datetime) -> SegmentSpec:
    return SegmentSpec(config.frequency.eligible_tag, eligible(audience_id, config, as_of))


@dataclass(frozen=True)
class CapFigures:
    eligible: int
    held_back: int  # inactive subscribers the cap keeps out of the next mailing
    inactive: int
    mailings_per_month: float
    allowed_per_month: float
    sends_saved_per_month: int


def cap_figures(session: Session, audience_id: int, config: Config, as_of: datetime) -> CapFigures:
    """What the cap does: who is eligible now, and the sends it saves in a month at the current
    cadence (regular mailings of the last 30 days, or of the campaign plans if more)."""
    eligible_ids = eligible(audience_id, config, as_of).subquery()
    eligible_count = session.scalar(select(func.count()).select_from(eligible_ids)) or 0
    inactive = session.scalar(select(func.count()).select_from(Subscriber).where(
        mailable(audience_id), in_class(Subscriber.id, "inactive"))) or 0
    held_back = inactive - (session.scalar(select(func.count()).select_from(eligible_ids).where(
        in_class(eligible_ids.c.id, "inactive"))) or 0)
    per_month = max(float(_regular_last_month(session, audience_id, as_of)), planned_per_month(session, audience_id, as_of))
    allowed = MONTH_DAYS / config.frequency.inactive_every_days
    saved = round(inactive * max(0.0, per_month - allowed))
    return CapFigures(eligible_count, held_back, inactive, per_month, round(allowed, 2), saved)


def _regular_last_month(session: Session, audience_id: int, as_of: datetime) -> int:
    return session.scalar(select(func.count()).select_from(Campaign).where(
        Campaign.audience_id == audience_id, Campaign.kind == "regular", Campaign.parent_id.is_(None),
        Campaign.sent_at > as_of - timedelta(days=MONTH_DAYS), Campaign.sent_at <= as_of)) or 0


def planned_per_month(session: Session, audience_id: int, as_of: datetime) -> float:
    total = 0
    end = as_of + timedelta(days=MONTH_DAYS)
    for plan in session.scalars(select(CampaignPlan).where(CampaignPlan.audience_id == audience_id)):
        trigger = make_trigger(plan.cadence, plan.timezone)
        fire, previous = trigger.get_next_fire_time(None, as_of), None
        while fire is not None and fire <= end and total < 10_000:
            total += 1
            previous = fire
            fire = trigger.get_next_fire_time(previous, previous + timedelta(seconds=1))
    return float(total)
