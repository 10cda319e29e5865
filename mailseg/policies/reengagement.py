"""Re-engagement, then sunset.

Entrants: subscribed, class inactive, at least reengagement.min_sends sends inside the engagement
window and no human open or click inside it, not already waiting or sunset, and not in a value
segment of sunset.protect_segments (e.g. never sunset a cant_lose_them customer). Each day's entrants
are one static segment to which the template is copied (attempt 1). After wait_days without a
human open or click since the attempt, the next attempt follows, up to reengagement.attempts; after
the last unanswered one the sunset applies (a tag, or unsubscribe / archive on the platform). A
subscriber who engages again is "answered" and leaves; the sunset tag drops at the next sync.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, insert, literal, select, update
from sqlalchemy.orm import Session

from ..config import Config
from ..engagement.rules import in_class
from ..engagement.window import window_bounds
from ..models import Event, PolicyAction, ReengagementState, Subscriber, UTCDateTime
from ..sync.engine import SegmentSpec
from ..experiments import exposures
from ..experiments.exposures import split
from . import actions
from .actions import ActionSpec
from .common import STATES, day_key, human_engagement, in_value_segments, targeted

WAITING_OR_SUNSET = ("waiting", "sunset")


@dataclass
class ReengagementPlan:
    answered: int = 0
    entrants: int = 0
    held_out: int = 0  # entrants the holdout leaves alone (recorded as the control group)
    attempts: dict[int, int] = field(default_factory=dict)  # attempt number -> subscribers due
    sunset: int = 0
    configured: bool = True


def entrants(audience_id: int, config: Config, as_of: datetime):
    start, end = window_bounds(as_of, config.engagement.window_months)
    sends = (select(Event.subscriber_id, func.count().label("sends"))
             .join(Subscriber, Subscriber.id == Event.subscriber_id)
             .where(Subscriber.audience_id == audience_id, in_class(Subscriber.id, "inactive"),
                    Event.type == "send", Event.occurred_at > start, Event.occurred_at <= end)
             .group_by(Event.subscriber_id).having(func.count() >= config.reengagement.min_sends).subquery("sends"))
    in_progress = select(STATES.c.subscriber_id).where(STATES.c.subscriber_id == Subscriber.id,
                                                       STATES.c.state.in_(WAITING_OR_SUNSET)).exists()
    # A held-out subscriber gets no state; they are not held out again until the cohort's horizon passed.
    held_recently = exposures.exposed_since("reengagement", Subscriber.id,
                                            as_of - timedelta(days=config.uplift.reengagement_horizon_days))
    return (select(Subscriber.id).join(sends, sends.c.subscriber_id == Subscriber.id)
            .where(Subscriber.audience_id == audience_id, Subscriber.status == "subscribed",
                   in_class(Subscriber.id, "inactive"), ~in_progress, ~held_recently,
                   targeted(audience_id, config.reengagement),
                   ~in_value_segments(Subscriber.id, config.sunset.protect_segments),
                   ~human_engagement(Subscriber.id, start, end,
                                     count_machine_opens=config.engagement.count_machine_opens)))


def _unanswered(audience_id: int, config: Config, as_of: datetime):
    due = as_of - timedelta(days=config.reengagement.wait_days)
    return and_(STATES.c.audience_id == audience_id, STATES.c.state == "waiting", STATES.c.last_sent_at <= due)


def next_attempt(audience_id: int, config: Config, as_of: datetime, attempt: int):
    """Waiting subscribers whose attempt `attempt - 1` went unanswered for wait_days."""
    return (select(STATES.c.subscriber_id.label("id")).join(Subscriber, Subscriber.id == STATES.c.subscriber_id)
            .where(_unanswered(audience_id, config, as_of), STATES.c.attempt == attempt - 1,
                   Subscriber.status == "subscribed"))


def sunset_due(audience_id: int, config: Config, as_of: datetime):
    return (select(STATES.c.subscriber_id.label("id"))
            .where(_unanswered(audience_id, config, as_of), STATES.c.attempt >= config.reengagement.attempts,
                   ~in_value_segments(STATES.c.subscriber_id, config.sunset.protect_segments)))


def answered(audience_id: int, config: Config, as_of: datetime):
    """Waiting or sunset subscribers with a human open or click since their last attempt."""
    return (select(STATES.c.subscriber_id.label("id"))
            .where(STATES.c.audience_id == audience_id, STATES.c.state.in_(WAITING_OR_SUNSET),
                   human_engagement(STATES.c.subscriber_id, STATES.c.last_sent_at, as_of,
                                    count_machine_opens=config.engagement.count_machine_opens)))


def sunset_spec(audience_id: int, config: Config) -> SegmentSpec:
    """The sunset tag: subscribers in the sunset who are still subscribed."""
    return SegmentSpec(config.sunset.tag, select(STATES.c.subscriber_id.label("id"))
                       .join(Subscriber, Subscriber.id == STATES.c.subscriber_id)
                       .where(STATES.c.audience_id == audience_id, STATES.c.state == "sunset",
                              Subscriber.status == "subscribed"))


def _count(session: Session, stmt) -> int:
    return session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def plan(session: Session, audience_id: int, config: Config, as_of: datetime) -> ReengagementPlan:
    out = ReengagementPlan(configured=bool(config.reengagement.template_campaign_id))
    out.answered = _count(session, answered(audience_id, config, as_of))
    treated, held = split(config, "reengagement", entrants(audience_id, config, as_of))
    out.entrants, out.held_out = _count(session, treated), _count(session, held)
    for attempt in range(2, config.reengagement.attempts + 1):
        out.attempts[attempt] = _count(session, next_attempt(audience_id, config, as_of, attempt))
    out.sunset = _count(session, sunset_due(audience_id, config, as_of))
    return out


def record(session: Session, audience_id: int, config: Config, as_of: datetime) -> list[PolicyAction]:
    """Update the states and record today's actions (committed together)."""
    if not config.reengagement.template_campaign_id:
        return []
    _mark_answered(session, audience_id, config, as_of)
    recorded = []
    for attempt in range(config.reengagement.attempts, 1, -1):
        action = _record_attempt(session, audience_id, config, as_of, attempt,
                                 next_attempt(audience_id, config, as_of, attempt))
        if action is not None:
            recorded.append(action)
            session.execute(update(ReengagementState).where(ReengagementState.subscriber_id.in_(
                actions.recipients_of(action.id))).values(attempt=attempt, last_sent_at=as_of))
    sunset = _record_sunset(session, audience_id, config, as_of)
    if sunset is not None:
        recorded.append(sunset)
    treated, held = split(config, "reengagement", entrants(audience_id, config, as_of))
    first = _record_attempt(session, audience_id, config, as_of, 1, treated)
    if first is not None:
        recorded.append(first)
        _enter(session, audience_id, first.id, as_of)
        exposures.record_action(session, audience_id, config, "reengagement", first)
    exposures.record(session, audience_id, config, "reengagement", _attempt_key(as_of, 1), held, held=True,
                     as_of=as_of)
    session.commit()
    return recorded


def _attempt_key(as_of: datetime, attempt: int) -> str:
    return f"reengage:{day_key(as_of)}:a{attempt}"


def _mark_answered(session: Session, audience_id: int, config: Config, as_of: datetime) -> None:
    session.execute(update(ReengagementState).where(
        ReengagementState.subscriber_id.in_(answered(audience_id, config, as_of)))
        .values(state="answered", answered_at=as_of))


def _record_attempt(session: Session, audience_id: int, config: Config, as_of: datetime, attempt: int,
                    recipients) -> PolicyAction | None:
    spec = ActionSpec("reengagement", _attempt_key(as_of, attempt), config.reengagement.template_campaign_id,
                      recipients, kind="reengagement", attempt=attempt)
    return actions.record(session, audience_id, spec, as_of, config.sync.tag_prefix)


def _record_sunset(session: Session, audience_id: int, config: Config, as_of: datetime) -> PolicyAction | None:
    """Retire the due subscribers; "tag" needs no platform call of its own (the sync mirrors the
    sunset tag), unsubscribe and archive are one recorded action per day."""
    key = f"sunset:{day_key(as_of)}"
    if actions.exists(session, audience_id, "sunset", key):
        return None  # today's sunset is recorded; later entries wait for tomorrow's batch
    due = sunset_due(audience_id, config, as_of)
    action = None
    if config.sunset.action != "tag":
        spec = ActionSpec("sunset", key, "", due, kind="reengagement")
        action = actions.record(session, audience_id, spec, as_of, config.sync.tag_prefix)
        if action is not None:
            action.details = {"how": config.sunset.action}
    session.execute(update(ReengagementState).where(ReengagementState.subscriber_id.in_(due))
                    .values(state="sunset", sunset_at=as_of))
    return action


def _enter(session: Session, audience_id: int, action_id: int, as_of: datetime) -> None:
    """Attempt 1 was recorded for these subscribers: a fresh waiting state (answered ones start over)."""
    recipients = actions.recipients_of(action_id)
    session.execute(update(ReengagementState).where(ReengagementState.subscriber_id.in_(recipients))
                    .values(state="waiting", attempt=1, started_at=as_of, last_sent_at=as_of,
                            sunset_at=None, answered_at=None))
    new = recipients.where(~select(STATES.c.subscriber_id).where(
        STATES.c.subscriber_id == actions.PolicyRecipient.subscriber_id).exists())
    session.execute(insert(ReengagementState).from_select(
        ["subscriber_id", "audience_id", "state", "attempt", "started_at", "last_sent_at"],
        select(new.subquery().c.id, literal(audience_id), literal("waiting"), literal(1),
               literal(as_of, UTCDateTime), literal(as_of, UTCDateTime))))
