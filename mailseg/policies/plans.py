"""Campaign plans: a template campaign sent to the frequency cap's eligible tag at every occurrence
of a cadence ("0 10 * * 2" in a time zone). Each occurrence is an exactly-once action."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Config, ConfigError
from ..models import Audience, CampaignPlan, PolicyAction, utcnow
from ..providers import PlatformFactory
from ..experiments import exposures
from ..schedules import make_trigger
from . import actions, frequency
from .actions import ActionSpec


def add_plan(session: Session, audience_id: int, name: str, template_campaign_id: str, cadence: str,
             timezone: str) -> CampaignPlan:
    try:
        make_trigger(cadence, timezone)
    except ValueError as exc:
        raise ConfigError(f"plan {name!r}: {exc}") from None
    if not template_campaign_id.strip():
        raise ConfigError(f"plan {name!r}: give the Mailchimp campaign to copy")
    if session.scalar(select(CampaignPlan.id).where(CampaignPlan.audience_id == audience_id, CampaignPlan.name == name)):
        raise ConfigError(f"a plan named {name!r} exists already")
    plan = CampaignPlan(audience_id=audience_id, name=name, template_campaign_id=template_campaign_id.strip(),
                        cadence=cadence.strip(), timezone=timezone)
    session.add(plan)
    session.flush()
    return plan


def list_plans(session: Session, audience_id: int | None = None) -> list[CampaignPlan]:
    stmt = select(CampaignPlan).order_by(CampaignPlan.id)
    if audience_id is not None:
        stmt = stmt.where(CampaignPlan.audience_id == audience_id)
    return list(session.scalars(stmt))


def remove_plan(session: Session, audience_id: int, name: str) -> bool:
    plan = session.scalar(select(CampaignPlan).where(CampaignPlan.audience_id == audience_id, CampaignPlan.name == name))
    if plan is None:
        return False
    session.delete(plan)
    return True


def occurrence_key(plan: CampaignPlan, now: datetime) -> str:
    local = now.astimezone(ZoneInfo(plan.timezone))
    return f"plan:{plan.id}:{local:%Y-%m-%dT%H:%M}"


def run_occurrence(session: Session, plan_id: int, config: Config, factory: PlatformFactory,
                   *, now: datetime | None = None) -> PolicyAction | None:
    """Send this occurrence of the plan to the eligible tag (synced first); None when the plan is gone."""
    from .engine import policy_platform

    now = now or utcnow()
    plan = session.get(CampaignPlan, plan_id)
    if plan is None:
        return None
    audience = session.get(Audience, plan.audience_id)
    key = occurrence_key(plan, now)
    if config.holdout.plan_share > 0:
        # a holdout: the eligible subscribers minus the held-out ones, frozen into a segment of their own
        treated, held = exposures.split(config, "plan", frequency.eligible(audience.id, config, now))
        spec = ActionSpec("plan", key, plan.template_campaign_id, treated, kind="regular")
        action = actions.record(session, audience.id, spec, now, config.sync.tag_prefix)
        if action is not None:
            exposures.record_action(session, audience.id, config, "plan", action)
        exposures.record(session, audience.id, config, "plan", key, held, held=True, as_of=now)
    else:
        spec = ActionSpec("plan", key, plan.template_campaign_id, None, kind="regular",
                          segment_name=config.frequency.eligible_tag)
        actions.record(session, audience.id, spec, now, config.sync.tag_prefix)
    session.commit()
    moment = now
    platform = policy_platform(session, audience, config, factory, now, clock=lambda: moment)
    for action in actions.unfinished(session, audience.id, now):
        actions.execute(session, action, platform)
    return session.scalar(select(PolicyAction).where(PolicyAction.audience_id == audience.id,
                                                     PolicyAction.policy == "plan", PolicyAction.key == spec.key))
