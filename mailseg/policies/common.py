"""SQL pieces the policies share: who may be mailed, who engaged after a moment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, or_, select

from ..models import Event, ReengagementState, Subscriber

EVENTS = Event.__table__
STATES = ReengagementState.__table__


def human_engagement(subscriber_id, after, until: datetime, *, count_machine_opens: bool = False):
    """EXISTS a human open or click of the subscriber with after < occurred_at <= until (`after` may be a column)."""
    opened = EVENTS.c.type == "open" if count_machine_opens else and_(EVENTS.c.type == "open",
                                                                      EVENTS.c.is_machine.is_(False))
    clicked = and_(EVENTS.c.type == "click", EVENTS.c.is_machine.is_(False))
    return exists(select(EVENTS.c.id).where(EVENTS.c.subscriber_id == subscriber_id, or_(opened, clicked),
                                            EVENTS.c.occurred_at > after, EVENTS.c.occurred_at <= until))


def in_sunset(subscriber_id):
    return exists(select(STATES.c.subscriber_id).where(STATES.c.subscriber_id == subscriber_id,
                                                       STATES.c.state == "sunset"))


def mailable(audience_id: int):
    """Subscribed members of the audience that the sunset has not retired."""
    return and_(Subscriber.audience_id == audience_id, Subscriber.status == "subscribed", ~in_sunset(Subscriber.id))


def day_key(as_of: datetime) -> str:
    return as_of.date().isoformat()
