"""Each subscriber's last human open, last human click and the later of the two (their last
activity), stored in subscriber_activity for the audience list's sort by last activity: sorting a
million subscribers by an aggregate over their events on every page view is not possible, a keyset
walk of an index over a stored value is.

Rebuilt with one set-based statement after each classification (the scheduler's chain, `mailseg
classify`, the demo), as of the classification's moment: an open flagged as a machine's after the
fact, or events moved to another subscriber, are reflected at the next rebuild. The panel's last
open / last click columns read the events themselves (always current)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from ..engagement.rules import EVENTS, SUBSCRIBERS, counted_click, human
from ..models import SubscriberActivity, utcnow

ACTIVITY = SubscriberActivity.__table__


def refresh_activity(session: Session, audience_id: int, *, as_of: datetime | None = None) -> int:
    """Replace the audience's rows with the human opens and clicks up to as_of (default now);
    returns how many subscribers have any. Not committed: the caller's transaction."""
    as_of = as_of or utcnow()
    human_open = and_(EVENTS.c.type == "open", human())
    # Statement "last activity": one grouped pass over the audience's human opens and clicks
    # (ix_events_subscriber_type_time serves the per-subscriber groups).
    last = (select(EVENTS.c.subscriber_id, SUBSCRIBERS.c.audience_id,
                   func.max(case((human_open, EVENTS.c.occurred_at))),
                   func.max(case((counted_click(), EVENTS.c.occurred_at))),
                   func.max(EVENTS.c.occurred_at))
            .join(SUBSCRIBERS, SUBSCRIBERS.c.id == EVENTS.c.subscriber_id)
            .where(SUBSCRIBERS.c.audience_id == audience_id, or_(human_open, counted_click()),
                   EVENTS.c.occurred_at <= as_of)
            .group_by(EVENTS.c.subscriber_id, SUBSCRIBERS.c.audience_id))
    session.execute(delete(ACTIVITY).where(ACTIVITY.c.audience_id == audience_id))
    session.execute(insert(ACTIVITY).from_select(
        ["subscriber_id", "audience_id", "last_human_open", "last_human_click", "last_activity_at"], last))
    return session.scalar(select(func.count()).select_from(ACTIVITY).where(ACTIVITY.c.audience_id == audience_id))
