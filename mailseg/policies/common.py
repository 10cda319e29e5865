"""SQL pieces the policies share: who may be mailed, who engaged after a moment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, select

from ..engagement.rules import engaged_between
from ..models import ReengagementState, Subscriber

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


def day_key(as_of: datetime) -> str:
    return as_of.date().isoformat()
