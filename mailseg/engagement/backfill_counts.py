"""The counts a backfill's points classify from, and the subscribers each point must look at again.

One pass over the events counts, per subscriber and interval between two consecutive boundaries
(every point and every window start), the counted clicks and opens: the "bucket counts" table. A
point's window (start, as_of] is a run of whole intervals.

Points are incremental. The first point sums its window's buckets for every subscriber into a
running table of window counts and classifies everyone. Each later point only moves that table: it
adds the buckets entering the window and subtracts the ones leaving it (the "window delta", a few
buckets instead of the whole window), and classifies again only the subscribers whose class can differ
from the one the previous point gave them: those whose counts crossed a threshold
(rules.engagement_level) and those of rules.class_clock_changes (joined, changed status, no longer
new). Everyone else keeps the class of the previous point, which is what classifying them would give.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (Boolean, Column, Integer, MetaData, Select, Table, and_, case, func, insert, literal, or_, select,
                        text, update)
from sqlalchemy.orm import Session

from ..config import EngagementConfig
from ..models import UTCDateTime
from ..models.audience import SUBSCRIBER_KEY
from ..sqlutil import CreateTemporaryTableAs, drop_staging, sort_memory
from .rules import ENGAGEMENT_TYPES, EVENTS, SUBSCRIBERS, class_clock_changes, counted_click, counted_engagement, \
    counted_open, engagement_level, in_window
from .window import window_bounds

_META = MetaData()


def _counts_table(name: str, *extra: Column) -> Table:
    return Table(name, _META, Column("subscriber_id", SUBSCRIBER_KEY), Column("clicks", Integer),
                 Column("opens", Integer), *extra)


# The counted clicks and opens per subscriber and interval (bounds[bucket - 1], bounds[bucket]].
BUCKETS = Table("backfill_buckets", _META, Column("subscriber_id", SUBSCRIBER_KEY), Column("bucket", Integer),
                Column("clicks", Integer), Column("opens", Integer))
# Per subscriber with any bucket: the counts in the current point's window (0 when none).
WINDOW = _counts_table("backfill_window")
# Per subscriber whose window counts change: by how much, and whether that moves its engagement level.
DELTA = _counts_table("backfill_delta", Column("crossed", Boolean))
# The subscribers the current point classifies again (ids may repeat).
RECONSIDER = Table("backfill_reconsider", _META, Column("subscriber_id", SUBSCRIBER_KEY))
TABLES = (RECONSIDER, DELTA, WINDOW, BUCKETS)


class RunningWindow:
    """The window counts of a backfill's points, moved from one point to the next (caller commits)."""

    def __init__(self, session: Session, audience_id: int, points: list[datetime],
                 settings: EngagementConfig) -> None:
        self.session, self.audience_id, self.settings = session, audience_id, settings
        self.current: tuple[datetime, datetime] | None = None  # (window start, as_of) of the table
        drop_tables(session)
        sort_memory(session)
        self.bounds = _bucket_counts(session, audience_id, points, settings)

    def move_to(self, as_of: datetime) -> Select | None:
        """Bring the window counts to the window of as_of; returns the subscribers whose class can
        differ from their class at the previous point (None at the first point: every subscriber)."""
        window = window_bounds(as_of, self.settings.window_months)
        first, last = (self.bounds.index(moment) for moment in window)
        sort_memory(self.session)
        if self.current is None:
            self._create(first, last)
            self.current = window
            return None
        before_first, before_last = (self.bounds.index(moment) for moment in self.current)
        self._delta(entering=(before_last, last), leaving=(before_first, first))
        self._reconsider(self.current, window)
        self._apply_delta()
        self.current = window
        return select(RECONSIDER.c.subscriber_id)

    def counts(self, window_start: datetime, as_of: datetime) -> Select:
        """The counted clicks and opens per subscriber in (window_start, as_of]: the window table,
        which move_to(as_of) brought there."""
        if self.current != (window_start, as_of):
            raise ValueError(f"the backfill's window counts are for {self.current}, not {(window_start, as_of)}")
        return select(WINDOW.c.subscriber_id, WINDOW.c.clicks, WINDOW.c.opens)

    def _create(self, first: int, last: int) -> None:
        """Named statement "first window": every subscriber with a bucket, its counts in the buckets
        first+1 .. last (the whole bucket table, so later points only ever update rows)."""
        inside = and_(BUCKETS.c.bucket > first, BUCKETS.c.bucket <= last)
        rows = (select(BUCKETS.c.subscriber_id, func.sum(case((inside, BUCKETS.c.clicks), else_=0)).label("clicks"),
                       func.sum(case((inside, BUCKETS.c.opens), else_=0)).label("opens"))
                .group_by(BUCKETS.c.subscriber_id))
        # Every later point updates a quarter of its rows: with room in the pages the updates are HOT.
        self.session.execute(CreateTemporaryTableAs(WINDOW.name, rows, fillfactor=50))
        self.session.execute(text(f"CREATE UNIQUE INDEX ix_{WINDOW.name}_subscriber ON {WINDOW.name} (subscriber_id)"))
        self.session.execute(text(f"ANALYZE {WINDOW.name}"))

    def _delta(self, entering: tuple[int, int], leaving: tuple[int, int]) -> None:
        """Named statement "window delta": per subscriber whose counts change, the sum of its entering
        buckets less the sum of its leaving ones (a bucket can be both when the step is longer than the
        window), and whether that moves its engagement level (rules.engagement_level): "crossed"."""
        enters = and_(BUCKETS.c.bucket > entering[0], BUCKETS.c.bucket <= entering[1])
        leaves = and_(BUCKETS.c.bucket > leaving[0], BUCKETS.c.bucket <= leaving[1])

        def change(column):
            return (func.sum(case((enters, column), else_=0)) - func.sum(case((leaves, column), else_=0)))

        moved = (select(BUCKETS.c.subscriber_id, change(BUCKETS.c.clicks).label("clicks"),
                        change(BUCKETS.c.opens).label("opens"))
                 .where(enters | leaves).group_by(BUCKETS.c.subscriber_id).subquery("moved"))
        level_before = engagement_level(WINDOW.c.clicks, WINDOW.c.opens, self.settings)
        level_after = engagement_level(WINDOW.c.clicks + moved.c.clicks, WINDOW.c.opens + moved.c.opens,
                                       self.settings)
        rows = (select(moved.c.subscriber_id, moved.c.clicks, moved.c.opens,
                       (level_before != level_after).label("crossed"))
                .join(WINDOW, WINDOW.c.subscriber_id == moved.c.subscriber_id)
                .where(or_(moved.c.clicks != 0, moved.c.opens != 0)))
        drop_staging(self.session, DELTA.name)
        self.session.execute(CreateTemporaryTableAs(DELTA.name, rows))

    def _reconsider(self, before: tuple[datetime, datetime], after: tuple[datetime, datetime]) -> None:
        """The subscribers the next point classifies again: those whose delta crossed a threshold,
        then the clock changes of rules.py."""
        crossed = select(DELTA.c.subscriber_id).where(DELTA.c.crossed.is_(True))
        drop_staging(self.session, RECONSIDER.name)
        self.session.execute(CreateTemporaryTableAs(RECONSIDER.name, crossed))
        # A separate INSERT ... SELECT: the clock changes read the distributed tables on Citus.
        self.session.execute(insert(RECONSIDER).from_select(
            ["subscriber_id"], class_clock_changes(self.audience_id, before, after)))
        self.session.execute(text(f"ANALYZE {RECONSIDER.name}"))

    def _apply_delta(self) -> None:
        self.session.execute(update(WINDOW).where(WINDOW.c.subscriber_id == DELTA.c.subscriber_id)
                             .values(clicks=WINDOW.c.clicks + DELTA.c.clicks, opens=WINDOW.c.opens + DELTA.c.opens))


def drop_tables(session: Session) -> None:
    for table in TABLES:
        drop_staging(session, table.name)


def _bucket_counts(session: Session, audience_id: int, points: list[datetime],
                   settings: EngagementConfig) -> list[datetime]:
    """Named statement "bucket counts": the one pass over the audience's counted opens and clicks
    (rules.py) from the first window's start to the last point, per subscriber and interval between
    consecutive boundaries. Events counted by neither rule never move a window's counts: they are left
    out, and so are the subscribers who have no other (their counts are 0 at every point, as a missing
    row's are). Returns the sorted boundaries."""
    bounds = sorted({window_bounds(p, settings.window_months)[0] for p in points} | set(points))
    bucket = _bucket_of(EVENTS.c.occurred_at, bounds, 1, len(bounds) - 1)
    rows = (select(EVENTS.c.subscriber_id, bucket.label("bucket"),
                   func.sum(case((counted_click(), 1), else_=0)).label("clicks"),
                   func.sum(case((counted_open(settings), 1), else_=0)).label("opens"))
            .join(SUBSCRIBERS, SUBSCRIBERS.c.id == EVENTS.c.subscriber_id)
            .where(SUBSCRIBERS.c.audience_id == audience_id, EVENTS.c.type.in_(ENGAGEMENT_TYPES),
                   counted_engagement(settings), in_window(bounds[0], bounds[-1]))
            .group_by(EVENTS.c.subscriber_id, bucket)
            .order_by(bucket))
    # Stored in bucket order with an index on the bucket, so a point's delta reads the rows of its
    # entering and leaving buckets only.
    session.execute(CreateTemporaryTableAs(BUCKETS.name, rows))
    session.execute(text(f"CREATE INDEX ix_{BUCKETS.name}_bucket ON {BUCKETS.name} (bucket)"))
    # Autovacuum never analyzes temporary tables: without statistics the planner guesses the size of
    # every aggregate over this table.
    session.execute(text(f"ANALYZE {BUCKETS.name}"))
    return bounds


def _bucket_of(moment, bounds: list[datetime], low: int, high: int):
    """The bucket i in low..high with bounds[i - 1] < moment <= bounds[i], for a moment inside
    (bounds[low - 1], bounds[high]]: a CASE nested as a binary search, a handful of comparisons per
    event instead of one per boundary."""
    if low == high:
        return literal(low)
    middle = (low + high) // 2
    return case((moment <= literal(bounds[middle], UTCDateTime), _bucket_of(moment, bounds, low, middle)),
                else_=_bucket_of(moment, bounds, middle + 1, high))
