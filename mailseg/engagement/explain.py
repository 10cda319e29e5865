"""Why a subscriber is in their class: the evidence and the rule that decided, as plain values.

Computed for one subscriber with the same rules as the engine (rules.py), so the panel, the API
and `mailseg explain` show what a classification at the same as_of would store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from ..config import EngagementConfig
from ..models import Campaign, Subscriber, utcnow
from ..subscribers.status import status_at
from .rules import EVENTS, ENGAGEMENT_TYPES, counted_click, counted_open, in_window
from .window import window_bounds

EVIDENCE_LIMIT = 20


class SubscriberNotFound(LookupError):
    pass


@dataclass
class EvidenceEvent:
    type: str
    occurred_at: datetime
    campaign: str | None  # its subject (else its name, else its id)
    counted: bool
    flag_reason: str | None


@dataclass
class Explanation:
    email: str
    # The status at window_end (the as_of), from the status history.
    status: str
    # "" when the subscriber did not exist yet at window_end (see `exists`).
    engagement_class: str
    rule: str
    window_start: datetime
    window_end: datetime
    human_opens: int = 0
    last_human_open: datetime | None = None
    human_clicks: int = 0
    last_human_click: datetime | None = None
    machine_opens: int = 0
    machine_opens_ignored: int = 0
    bot_clicks_ignored: int = 0
    counted_opens: int = 0
    sends_in_window: int = 0
    subscribed_at: datetime | None = None
    # What the last classification stored (may differ from engagement_class if as_of differs).
    stored_class: str | None = None
    class_since: datetime | None = None
    # The events that made the rule hold (counted clicks for active, counted opens for semi_active),
    # most recent first, at most EVIDENCE_LIMIT.
    deciding_events: list[EvidenceEvent] = field(default_factory=list)
    # Flagged opens and clicks in the window that did not count, most recent first.
    ignored_events: list[EvidenceEvent] = field(default_factory=list)
    # False when subscribed_at is after the as_of: no class at that moment.
    exists: bool = True
    window_months: int = 6
    # Flagged events in the window that did not count, per flag reason (all of them, not only the listed).
    ignored_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def deciding_total(self) -> int:
        return {"active": self.human_clicks, "semi_active": self.counted_opens}.get(self.engagement_class, 0)

    @property
    def ignored_total(self) -> int:
        return sum(self.ignored_by_reason.values())


def explain_subscriber(session: Session, subscriber_id: int, settings: EngagementConfig, *,
                       as_of: datetime | None = None, limit: int = EVIDENCE_LIMIT) -> Explanation:
    sub = session.get(Subscriber, subscriber_id)
    if sub is None:
        raise SubscriberNotFound(f"no subscriber with id {subscriber_id}")
    start, end = window_bounds(as_of or utcnow(), settings.window_months)
    out = Explanation(email=sub.email, status=status_at(session, sub.id, end), engagement_class="", rule="",
                      window_start=start, window_end=end, subscribed_at=sub.subscribed_at,
                      stored_class=sub.engagement_class, class_since=sub.class_since,
                      window_months=settings.window_months)
    if sub.subscribed_at > end:
        out.exists = False
        out.rule = (f"not yet subscribed at {end:%Y-%m-%d %H:%M} UTC (subscribed at "
                    f"{sub.subscribed_at:%Y-%m-%d %H:%M} UTC): no class at that moment")
        return out
    _count_events(session, sub.id, out, settings)
    out.engagement_class, out.rule = decide(out, settings)
    deciding_type = {"active": "click", "semi_active": "open"}.get(out.engagement_class)
    if deciding_type is not None:
        condition = counted_click() if deciding_type == "click" else counted_open(settings)
        out.deciding_events = _evidence(session, sub.id, start, end, condition, counted=True, limit=limit)
    ignored = EVENTS.c.is_machine.is_(True)
    if settings.count_machine_opens:
        ignored = and_(ignored, EVENTS.c.type == "click")
    out.ignored_events = _evidence(session, sub.id, start, end, ignored, counted=False, limit=limit)
    out.ignored_by_reason = {reason or "": n for reason, n in session.execute(
        select(EVENTS.c.machine_reason, func.count())
        .where(EVENTS.c.subscriber_id == sub.id, EVENTS.c.type.in_(ENGAGEMENT_TYPES), in_window(start, end), ignored)
        .group_by(EVENTS.c.machine_reason))}
    from .plain import render, why  # the headline in English, for callers that print one line

    out.rule = render(why(out)[0])
    return out


def find_subscriber_id(session: Session, audience_id: int, email: str) -> int:
    sub_id = session.scalar(select(Subscriber.id).where(Subscriber.audience_id == audience_id,
                                                        Subscriber.email == email.strip().lower()))
    if sub_id is None:
        raise SubscriberNotFound(f"no subscriber {email!r} in this audience")
    return sub_id


def decide(e: Explanation, settings: EngagementConfig) -> tuple[str, str]:
    """The class and a sentence naming the rule, from the counts already in the explanation."""
    if e.status != "subscribed":
        return e.status, (f"status is {e.status}: only subscribed addresses are classified, "
                          "so the class is the status")
    clicks = f"{e.human_clicks} human click(s) in the window"
    opens = f"{e.counted_opens} counted open(s) in the window"
    if e.human_clicks >= settings.active_min_clicks:
        return "active", f"active: {clicks}, at least {settings.active_min_clicks} needed"
    if e.counted_opens >= settings.semi_active_min_opens:
        return "semi_active", (f"semi_active: {clicks} (fewer than {settings.active_min_clicks}) "
                               f"and {opens}, at least {settings.semi_active_min_opens} needed")
    quiet = (f"{clicks} (fewer than {settings.active_min_clicks}) and {opens} "
             f"(fewer than {settings.semi_active_min_opens})")
    since = f"subscribed at {e.subscribed_at:%Y-%m-%d %H:%M} UTC"
    start = f"the window start {e.window_start:%Y-%m-%d %H:%M} UTC"
    if e.subscribed_at > e.window_start:
        return "new", f"new: {quiet}, {since}, after {start}"
    return "inactive", f"inactive: {quiet}, {since}, not after {start}"


def _count_events(session: Session, subscriber_id: int, out: Explanation, settings: EngagementConfig) -> None:
    rows = session.execute(
        select(EVENTS.c.type, EVENTS.c.is_machine, func.count(), func.max(EVENTS.c.occurred_at))
        .where(EVENTS.c.subscriber_id == subscriber_id, EVENTS.c.type.in_((*ENGAGEMENT_TYPES, "send")),
               in_window(out.window_start, out.window_end))
        .group_by(EVENTS.c.type, EVENTS.c.is_machine)).all()
    for event_type, is_machine, count, last in rows:
        if event_type == "send":
            out.sends_in_window += count
        elif event_type == "click" and is_machine:
            out.bot_clicks_ignored += count
        elif event_type == "click":
            out.human_clicks, out.last_human_click = count, last
        elif is_machine:
            out.machine_opens = count
        else:
            out.human_opens, out.last_human_open = count, last
    out.counted_opens = out.human_opens + (out.machine_opens if settings.count_machine_opens else 0)
    out.machine_opens_ignored = 0 if settings.count_machine_opens else out.machine_opens


def _evidence(session: Session, subscriber_id: int, start: datetime, end: datetime, condition,
              *, counted: bool, limit: int) -> list[EvidenceEvent]:
    rows = session.execute(
        select(EVENTS.c.type, EVENTS.c.occurred_at, Campaign.provider_id,
               func.coalesce(Campaign.subject, Campaign.name), EVENTS.c.machine_reason)
        .outerjoin(Campaign, Campaign.id == EVENTS.c.campaign_id)
        .where(EVENTS.c.subscriber_id == subscriber_id, EVENTS.c.type.in_(ENGAGEMENT_TYPES),
               in_window(start, end), condition)
        .order_by(EVENTS.c.occurred_at.desc(), EVENTS.c.id.desc()).limit(limit)).all()
    return [EvidenceEvent(type=t, occurred_at=at, campaign=name or provider_id, counted=counted,
                          flag_reason=reason)
            for t, at, provider_id, name, reason in rows]
