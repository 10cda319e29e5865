"""The classification rules as SQL expressions: the one place the engine's rules are written down.

Counted events: opens and clicks with window_start < occurred_at <= as_of. Clicks count only when
not flagged machine/bot; opens count when not flagged, or always with count_machine_opens.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, and_, case, func, select

from ..config import EngagementConfig
from ..models import Event, Subscriber

EVENTS = Event.__table__
SUBSCRIBERS = Subscriber.__table__
ENGAGEMENT_TYPES = ("open", "click")


def counted_click():
    return and_(EVENTS.c.type == "click", EVENTS.c.is_machine.is_(False))


def counted_open(settings: EngagementConfig):
    if settings.count_machine_opens:
        return EVENTS.c.type == "open"
    return and_(EVENTS.c.type == "open", EVENTS.c.is_machine.is_(False))


def in_window(window_start: datetime, window_end: datetime):
    return and_(EVENTS.c.occurred_at > window_start, EVENTS.c.occurred_at <= window_end)


def window_counts(audience_id: int, window_start: datetime, window_end: datetime,
                  settings: EngagementConfig) -> Select:
    """Per subscribed subscriber with any open or click in the window: counted clicks and opens.
    Only the window's opens and clicks are aggregated (see docs/BENCHMARKS.md for the cost)."""
    clicks = func.sum(case((counted_click(), 1), else_=0)).label("clicks")
    opens = func.sum(case((counted_open(settings), 1), else_=0)).label("opens")
    return (select(EVENTS.c.subscriber_id, clicks, opens)
            .join(SUBSCRIBERS, SUBSCRIBERS.c.id == EVENTS.c.subscriber_id)
            .where(SUBSCRIBERS.c.audience_id == audience_id, SUBSCRIBERS.c.status == "subscribed",
                   EVENTS.c.type.in_(ENGAGEMENT_TYPES), in_window(window_start, window_end))
            .group_by(EVENTS.c.subscriber_id))


def class_expression(clicks, opens, window_start: datetime, settings: EngagementConfig):
    """CASE giving the class from the subscriber's status, counted clicks and opens (NULL = none)."""
    return case(
        (SUBSCRIBERS.c.status != "subscribed", SUBSCRIBERS.c.status),
        (func.coalesce(clicks, 0) >= settings.active_min_clicks, "active"),
        (func.coalesce(opens, 0) >= settings.semi_active_min_opens, "semi_active"),
        (SUBSCRIBERS.c.subscribed_at > window_start, "new"),
        else_="inactive",
    )
