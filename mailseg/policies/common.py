"""SQL pieces the policies share: who may be mailed, who engaged after a moment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, false, or_, select

from ..engagement.rules import engaged_between
from ..models import ReengagementState, Subscriber, SubscriberValue

STATES = ReengagementState.__table__


def human_engagement(subscriber_id, after, until: datetime, *, count_machine_opens: bool = False):
    """EXISTS a counted open or click (engagement/rules.py) with after < occurred_at <= until."""
    return engaged_between(subscriber_id, after, until, count_machine_opens)


def in_sunset(subscriber_id):
    return exists(select(STATES.c.subscriber_id).where(STATES.c.subscriber_id == subscriber_id,
                                                       STATES.c.state == "sunset"))


def mailable(audience_id: int):
    """Subscribed members of the audience that the sunset has not retired."""
    return and_(Subscriber.audience_id == audience_id, Subscriber.status == "subscribed", ~in_sunset(Subscriber.id))


def in_value_segments(subscriber_id, names: list[str]):
    """EXISTS: the subscriber's stored value puts them in one of the named value segments (an RFM
    segment, an ABC class or a quadrant). False for an empty list (no SQL then)."""
    if not names:
        return false()
    values = SubscriberValue.__table__
    return exists(select(values.c.subscriber_id).where(
        values.c.subscriber_id == subscriber_id,
        or_(values.c.rfm_segment.in_(names), values.c.abc_class.in_(names), values.c.quadrant.in_(names))))


def day_key(as_of: datetime) -> str:
    return as_of.date().isoformat()
