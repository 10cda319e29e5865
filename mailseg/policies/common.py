"""SQL pieces the policies share: who may be mailed, who engaged after a moment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, false, or_, select, true

from ..engagement.rules import engaged_between
from ..models import ReengagementState, Segment, SegmentMember, Subscriber, SubscriberValue

STATES = ReengagementState.__table__


def human_engagement(subscriber_id, after, until: datetime, *, count_machine_opens: bool = False):
    """EXISTS a counted open or click (engagement/rules.py) with after < occurred_at <= until."""
    return engaged_between(subscriber_id, after, until, count_machine_opens)


def in_sunset(subscriber_id):
    return exists(select(STATES.c.subscriber_id).where(STATES.c.subscriber_id == subscriber_id,
                                                       STATES.c.state == "sunset"))


def mailable(audience_id: int, targeting=None):
    """Subscribed members of the audience that the sunset has not retired; with `targeting` (a policy's
    config section), only members of its `segment` and none of its `exclude_segment`."""
    return and_(Subscriber.audience_id == audience_id, Subscriber.status == "subscribed", ~in_sunset(Subscriber.id),
                targeted(audience_id, targeting))


def targeted(audience_id: int, targeting=None):
    """The policy's segment targeting: its stored members by segment name (a name no segment has
    targets no one and excludes no one)."""
    conditions = []
    if targeting is not None and targeting.segment:
        conditions.append(_in_segment(audience_id, targeting.segment))
    if targeting is not None and targeting.exclude_segment:
        conditions.append(~_in_segment(audience_id, targeting.exclude_segment))
    return and_(true(), *conditions)


def _in_segment(audience_id: int, name: str):
    return exists(select(SegmentMember.subscriber_id).join(Segment, Segment.id == SegmentMember.segment_id)
                  .where(Segment.audience_id == audience_id, Segment.name == name,
                         SegmentMember.subscriber_id == Subscriber.id))


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
