"""The offer for warmed-up semi-active subscribers: who moved from semi_active to active (a click)
in the last days and is still active gets the offer campaign, at most once per offer.cooldown_days."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from ..config import Config
from ..engagement.rules import in_class
from ..experiments import exposures
from ..experiments.exposures import split
from ..models import ClassChange, JobRun, PolicyAction, PolicyRecipient, Subscriber
from . import actions
from .actions import ActionSpec
from .common import day_key, in_value_segments, mailable

# Moves older than this are no longer "warm".
LOOKBACK = timedelta(days=7)


def backfill_runs(audience_id: int):
    """Classification runs made by a backfill: their moves are history, not news."""
    return select(JobRun.id).where(JobRun.job == "classify", JobRun.audience_id == audience_id,
                                   JobRun.summary["backfill"].as_string().is_not(None))


def warmed_up(audience_id: int, config: Config, as_of: datetime):
    moved = exists(select(ClassChange.id).where(
        ClassChange.subscriber_id == Subscriber.id, ClassChange.from_class == "semi_active",
        ClassChange.to_class == "active", ClassChange.changed_at > as_of - LOOKBACK, ClassChange.changed_at <= as_of,
        or_(ClassChange.run_id.is_(None), ClassChange.run_id.not_in(backfill_runs(audience_id)))))
    offered = exists(select(PolicyRecipient.subscriber_id).join(PolicyAction, PolicyAction.id == PolicyRecipient.action_id)
                     .where(PolicyRecipient.subscriber_id == Subscriber.id, PolicyAction.policy == "offer",
                            PolicyAction.as_of > as_of - timedelta(days=config.offer.cooldown_days)))
    # held out of an offer in the cooldown: not again (they are the control group of that day's offer)
    held = exposures.exposed_since("offer", Subscriber.id, as_of - timedelta(days=config.offer.cooldown_days))
    return select(Subscriber.id).where(mailable(audience_id, config.offer), in_class(Subscriber.id, "active"),
                                       moved, ~offered, ~held, ~in_value_segments(Subscriber.id, config.offer.skip_segments))


def count(session: Session, audience_id: int, config: Config, as_of: datetime) -> int:
    """Warmed-up subscribers the offer would go to now (the held-out ones left out)."""
    treated, _ = split(config, "offer", warmed_up(audience_id, config, as_of))
    return session.scalar(select(func.count()).select_from(treated.subquery())) or 0


def record(session: Session, audience_id: int, config: Config, as_of: datetime) -> list[PolicyAction]:
    if not config.offer.campaign_id:
        return []
    key = f"offer:{day_key(as_of)}"
    treated, held = split(config, "offer", warmed_up(audience_id, config, as_of))
    spec = ActionSpec("offer", key, config.offer.campaign_id, treated, kind="offer")
    action = actions.record(session, audience_id, spec, as_of, config.sync.tag_prefix)
    if action is not None:
        exposures.record_action(session, audience_id, config, "offer", action)
    exposures.record(session, audience_id, config, "offer", key, held, held=True, as_of=as_of)
    session.commit()
    return [action] if action is not None else []
