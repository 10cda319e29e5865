"""The offer for warmed-up semi-active subscribers: who moved from semi_active to active (a click)
in the last days and is still active gets the offer campaign, at most once per offer.cooldown_days."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from ..config import Config
from ..models import ClassChange, PolicyAction, PolicyRecipient, Subscriber
from . import actions
from .actions import ActionSpec
from .common import day_key, in_value_segments, mailable

# Moves older than this are no longer "warm".
LOOKBACK = timedelta(days=7)


def warmed_up(audience_id: int, config: Config, as_of: datetime):
    moved = exists(select(ClassChange.id).where(
        ClassChange.subscriber_id == Subscriber.id, ClassChange.from_class == "semi_active",
        ClassChange.to_class == "active", ClassChange.changed_at > as_of - LOOKBACK, ClassChange.changed_at <= as_of))
    offered = exists(select(PolicyRecipient.subscriber_id).join(PolicyAction, PolicyAction.id == PolicyRecipient.action_id)
                     .where(PolicyRecipient.subscriber_id == Subscriber.id, PolicyAction.policy == "offer",
                            PolicyAction.as_of > as_of - timedelta(days=config.offer.cooldown_days)))
    return select(Subscriber.id).where(mailable(audience_id, config.offer), Subscriber.engagement_class == "active",
                                       moved, ~offered, ~in_value_segments(Subscriber.id, config.offer.skip_segments))


def count(session: Session, audience_id: int, config: Config, as_of: datetime) -> int:
    return session.scalar(select(func.count()).select_from(warmed_up(audience_id, config, as_of).subquery())) or 0


def record(session: Session, audience_id: int, config: Config, as_of: datetime) -> list[PolicyAction]:
    if not config.offer.campaign_id:
        return []
    spec = ActionSpec("offer", f"offer:{day_key(as_of)}", config.offer.campaign_id,
                      warmed_up(audience_id, config, as_of), kind="offer")
    action = actions.record(session, audience_id, spec, as_of, config.sync.tag_prefix)
    session.commit()
    return [action] if action is not None else []
