"""Counts that describe an audience at a glance (used by the overview page)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import Audience, Campaign, Event, Subscriber


@dataclass
class AudienceOverview:
    name: str
    subscribers: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    campaigns: int = 0
    events_by_type: dict[str, int] = field(default_factory=dict)
    machine_events: int = 0


def audience_overview(session: Session) -> list[AudienceOverview]:
    out = []
    for audience in session.scalars(select(Audience).order_by(Audience.name)):
        item = AudienceOverview(audience.name)
        status_counts = session.execute(
            select(Subscriber.status, func.count()).where(Subscriber.audience_id == audience.id)
            .group_by(Subscriber.status)).all()
        item.by_status = dict(status_counts)
        item.subscribers = sum(item.by_status.values())
        item.campaigns = session.scalar(select(func.count()).select_from(Campaign)
                                        .where(Campaign.audience_id == audience.id)) or 0
        event_counts = session.execute(
            select(Event.type, Event.is_machine, func.count())
            .join(Subscriber, Subscriber.id == Event.subscriber_id)
            .where(Subscriber.audience_id == audience.id)
            .group_by(Event.type, Event.is_machine)).all()
        for event_type, is_machine, count in event_counts:
            item.events_by_type[event_type] = item.events_by_type.get(event_type, 0) + count
            if is_machine:
                item.machine_events += count
        out.append(item)
    return out
