"""Each subscriber's last human open, last human click and the later of the two (their last
activity), stored in subscriber_activity for the audience list's sort by last activity: sorting a
million subscribers by an aggregate over their events on every page view is not possible, a keyset
walk of an index over a stored value is. The row also keeps the class the classification gave (the
sort within one class walks its own index range).

Rebuilt after each classification (the scheduler's classify step, `mailseg classify`, the demo), as of
the classification's moment: an open flagged as a machine's after the fact, or events moved to
another subscriber, are reflected at the next rebuild. Only rows that change are written. The
panel's last open / last click columns read the events themselves (always current)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, and_, case, delete, exists, func, or_, select, text
from sqlalchemy.orm import Session

from ..engagement.rules import EVENTS, SUBSCRIBERS, counted_click, human
from ..models import SubscriberActivity, SubscriberClass, utcnow
from ..sqlutil import CreateTemporaryTableAs, drop_staging, on_citus, upsert

ACTIVITY = SubscriberActivity.__table__
# The class of the last classification (subscriber_classes, its one home), copied for the index that
# serves the sort by last activity within one class.
CLASSES = SubscriberClass.__table__
COLUMNS = ("subscriber_id", "audience_id", "last_human_open", "last_human_click", "last_activity_at", "engagement_class")
# The temporary table of one rebuild (CREATE TABLE AS: PostgreSQL aggregates the events in parallel).
STAGING = Table("activity_staging", MetaData(), Column("subscriber_id", BigInteger), Column("audience_id", Integer),
                Column("last_human_open", DateTime), Column("last_human_click", DateTime),
                Column("last_activity_at", DateTime), Column("engagement_class", String(20)))


def refresh_activity(session: Session, audience_id: int, *, as_of: datetime | None = None) -> int:
    """Bring the audience's rows up to the human opens and clicks until as_of (default now) and the
    current classes; returns how many subscribers have any. Not committed: the caller's transaction."""
    as_of = as_of or utcnow()
    human_open = and_(EVENTS.c.type == "open", human())
    # Statement "last activity": one grouped pass over the audience's human opens and clicks.
    last = (select(EVENTS.c.subscriber_id, SUBSCRIBERS.c.audience_id,
                   func.max(case((human_open, EVENTS.c.occurred_at))).label("last_human_open"),
                   func.max(case((counted_click(), EVENTS.c.occurred_at))).label("last_human_click"),
                   func.max(EVENTS.c.occurred_at).label("last_activity_at"), CLASSES.c.engagement_class)
            .join(SUBSCRIBERS, SUBSCRIBERS.c.id == EVENTS.c.subscriber_id)
            .outerjoin(CLASSES, CLASSES.c.subscriber_id == EVENTS.c.subscriber_id)
            .where(SUBSCRIBERS.c.audience_id == audience_id, or_(human_open, counted_click()),
                   EVENTS.c.occurred_at <= as_of)
            .group_by(EVENTS.c.subscriber_id, SUBSCRIBERS.c.audience_id, CLASSES.c.engagement_class))
    drop_staging(session, STAGING.name)
    session.execute(CreateTemporaryTableAs(STAGING.name, last))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"ANALYZE {STAGING.name}"))  # row counts for the joins below (hash joins, not probes)
    # Statement "write changes": the staged rows that are new or differ (one join, no probe per row),
    # inserted or updated; unchanged rows are not written.
    differs = or_(ACTIVITY.c.subscriber_id.is_(None),
                  *(ACTIVITY.c[c].is_distinct_from(STAGING.c[c]) for c in COLUMNS[2:]))
    changed = (select(*(STAGING.c[c] for c in COLUMNS))
               .select_from(STAGING.outerjoin(ACTIVITY, ACTIVITY.c.subscriber_id == STAGING.c.subscriber_id))
               .where(differs))
    stmt = upsert(session, ACTIVITY).from_select(COLUMNS, changed)
    session.execute(stmt.on_conflict_do_update(index_elements=["subscriber_id"],
                                               set_={c: stmt.excluded[c] for c in COLUMNS[1:]}))
    # Subscribers with no human open or click any more (their events flagged or moved since).
    # (Citus cannot correlate a subquery with the coordinator's staging table: an uncorrelated NOT IN there.)
    staged = (ACTIVITY.c.subscriber_id.not_in(select(STAGING.c.subscriber_id)) if on_citus(session) else
              ~exists(select(STAGING.c.subscriber_id).where(STAGING.c.subscriber_id == ACTIVITY.c.subscriber_id)))
    session.execute(delete(ACTIVITY).where(ACTIVITY.c.audience_id == audience_id, staged))
    count = session.scalar(select(func.count()).select_from(STAGING))
    drop_staging(session, STAGING.name)
    return count
