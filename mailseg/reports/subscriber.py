"""One subscriber's page: profile, event timeline with machine/bot flags, class history and the
campaigns they received with what they did with each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from ..models import Campaign, ClassChange, Event, Subscriber

TIMELINE_LIMIT = 1000  # "show all" still stops here; the page says how many there are
FOLDED_EVENTS = 20
FOLDED_CAMPAIGNS = 10


@dataclass(frozen=True)
class TimelineEvent:
    type: str
    occurred_at: datetime
    campaign: str | None
    url: str | None
    user_agent: str | None
    is_machine: bool
    machine_reason: str | None
    source: str


@dataclass(frozen=True)
class ReceivedCampaign:
    campaign_id: int
    name: str
    variant: int
    sent_at: datetime | None
    human_opened: bool
    machine_opened: bool
    human_clicked: bool


def find_subscriber(session: Session, subscriber_id: int) -> Subscriber | None:
    return session.get(Subscriber, subscriber_id)


def timeline(session: Session, subscriber_id: int, limit: int = TIMELINE_LIMIT) -> list[TimelineEvent]:
    """The latest events first (ix_events_subscriber_type_time)."""
    rows = session.execute(
        select(Event.type, Event.occurred_at, func.coalesce(Campaign.subject, Campaign.name, Campaign.provider_id), Event.url,
               Event.user_agent, Event.is_machine, Event.machine_reason, Event.source)
        .outerjoin(Campaign, Campaign.id == Event.campaign_id)
        .where(Event.subscriber_id == subscriber_id)
        .order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit))
    return [TimelineEvent(*row) for row in rows]


def event_count(session: Session, subscriber_id: int) -> int:
    """All the subscriber's events (an index range on ix_events_subscriber_type_time)."""
    return session.scalar(select(func.count()).select_from(Event).where(Event.subscriber_id == subscriber_id)) or 0


def class_history(session: Session, subscriber_id: int) -> list[ClassChange]:
    return list(session.scalars(select(ClassChange).where(ClassChange.subscriber_id == subscriber_id)
                                .order_by(ClassChange.changed_at.desc(), ClassChange.id.desc())))


def campaigns_received(session: Session, subscriber_id: int) -> list[ReceivedCampaign]:
    """Campaigns with a send event to the subscriber, newest first, with human/machine opens and clicks."""
    def has(kind: str, machine: bool):
        return func.max(case((and_(Event.type == kind, Event.is_machine.is_(machine)), 1), else_=0))

    received = (select(Event.campaign_id, has("open", False).label("human_open"), has("open", True).label("machine_open"),
                       has("click", False).label("human_click"),
                       func.max(case((Event.type == "send", 1), else_=0)).label("sent"))
                .where(Event.subscriber_id == subscriber_id, Event.campaign_id.is_not(None))
                .group_by(Event.campaign_id).subquery())
    rows = session.execute(
        select(Campaign.id, func.coalesce(Campaign.subject, Campaign.name, Campaign.provider_id, ""), Campaign.variant,
               Campaign.sent_at,
               received.c.human_open, received.c.machine_open, received.c.human_click)
        .join(received, received.c.campaign_id == Campaign.id)
        .where(received.c.sent == 1)
        .order_by(Campaign.sent_at.desc(), Campaign.id.desc()))
    return [ReceivedCampaign(cid, name, variant, sent_at, bool(ho), bool(mo), bool(hc))
            for cid, name, variant, sent_at, ho, mo, hc in rows]
