"""Backfilling the class history: the classes as of FROM, FROM+every, ... and now, recorded as if
those classifications had run then (`mailseg classify --backfill`, and `mailseg demo`).

The class history is derived data: a backfill first removes the audience's history from FROM on and
puts every subscriber back in the class it had just before FROM (the latest remaining history row),
then classifies each point in time order with the ordinary engine (classify_audience), so each point's
rows and counts are exactly what a run as of that moment computes.

Speed: the events are read once, not once per point, and a point after the first classifies
again only the subscribers whose class can have changed since the previous point (backfill_counts.py).
Each point is a run of its own (summary "backfill": FROM); the classification
runs it replaces are kept, marked "replaced", so the chart shows one series. A backfill never runs policies, and the offer policy ignores moves a backfill
recorded (a historic transition is no reason to send an offer today).
A backfill that stops half way leaves the points it finished; running it again redoes them all.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterator

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.orm import Session

from ..config import EngagementConfig
from ..models import ClassChange, JobRun, utcnow
from ..progress import Progress
from .classify import JOB, ClassifyResult, classify_audience
from .backfill_counts import RunningWindow, drop_tables
from .rules import CLASSES
from .window import as_utc, months_before

EVERY = re.compile(r"^\s*(\d+)\s*([dwm])\s*$")
DEFAULT_EVERY = "14d"
REPLACED = "replaced"


@dataclass(frozen=True)
class Every:
    """A step between points: days, weeks or calendar months (text "14d", "1w", "1m")."""

    amount: int
    unit: str  # "d", "w" or "m"

    def point(self, start: datetime, n: int) -> datetime:
        """The n-th point after start (months counted from start, so 31 Jan + 1m is 28/29 Feb, + 2m 31 Mar)."""
        if self.unit == "m":
            return months_before(start, -n * self.amount)
        return start + n * timedelta(days=self.amount * (7 if self.unit == "w" else 1))

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


def parse_every(text: str) -> Every:
    match = EVERY.match(text or "")
    if match is None or int(match.group(1)) < 1:
        raise ValueError(f"expected a step like 14d, 2w or 1m (days, weeks, months), got {text!r}")
    return Every(int(match.group(1)), match.group(2))


def backfill_points(start: datetime, every: Every, now: datetime) -> list[datetime]:
    """start, start+every, ... (each <= now), then now; empty when start is after now."""
    start, now = as_utc(start), as_utc(now)
    points, n = [], 0
    while (point := every.point(start, n)) <= now:
        points.append(point)
        n += 1
    if points and points[-1] != now:
        points.append(now)
    return points


@dataclass
class BackfillResult:
    audience_id: int
    start: datetime
    points: list[ClassifyResult] = field(default_factory=list)
    removed_changes: int = 0
    replaced_runs: int = 0


def backfill_audience(session: Session, audience_id: int, settings: EngagementConfig, start: datetime,
                      every: Every, *, now: datetime | None = None,
                      progress: Progress | None = None) -> BackfillResult:
    """Replace the audience's class history from `start` on with classifications at every point."""
    points = backfill_points(start, every, now or utcnow())
    if not points:
        raise ValueError(f"the backfill start {start.isoformat()} is in the future")
    start = points[0]
    result = BackfillResult(audience_id, start)
    with _one_connection(session) as session:
        result.removed_changes, result.replaced_runs = reset_history(session, audience_id, start)
        session.commit()
        window = RunningWindow(session, audience_id, points, settings)
        session.commit()
        try:
            for as_of in points:
                reconsider = window.move_to(as_of)
                session.commit()
                before = result.points[-1].counts if result.points else None
                result.points.append(classify_audience(session, audience_id, settings, as_of=as_of,
                                                       counts=window.counts, reconsider=reconsider,
                                                       counts_before=before,
                                                       summary_extra={"backfill": start.isoformat()}))
                if progress is not None:
                    progress.advance(1)
        finally:
            drop_tables(session)
            session.commit()
    return result


@contextmanager
def _one_connection(session: Session) -> Iterator[Session]:
    """A session on one database connection for the whole backfill: its temporary tables live across
    the points' commits, and a pooled session may get another connection after a commit (the runs'
    heartbeat threads take connections from the same pool). The caller's session is committed first."""
    bind = session.get_bind()
    if isinstance(bind, Connection):  # already pinned
        yield session
        return
    session.commit()
    with bind.connect() as connection, Session(bind=connection, expire_on_commit=False) as pinned:
        yield pinned


def reset_history(session: Session, audience_id: int, start: datetime) -> tuple[int, int]:
    """Remove the class history at and after start, put every subscriber back in its class just
    before start (no class when it has no change before start), and mark the classification runs as
    of start or later replaced (caller commits)."""
    removed = session.execute(delete(ClassChange).where(ClassChange.audience_id == audience_id,
                                                        ClassChange.changed_at >= start)
                              .execution_options(synchronize_session=False)).rowcount
    # The classes set at or after start are recomputed by the points: every one of them goes. Then
    # named statement "class before start": each unclassified subscriber's latest remaining change
    # (the key (subscriber_id, changed_at, id) on PostgreSQL) is put back — the ones whose class was removed above, and
    # the ones a classification as of a moment before their subscription left without one.
    session.execute(delete(CLASSES).where(CLASSES.c.audience_id == audience_id, CLASSES.c.class_since >= start)
                    .execution_options(synchronize_session=False))
    newest_first = func.row_number().over(partition_by=ClassChange.subscriber_id,
                                          order_by=(ClassChange.changed_at.desc(), ClassChange.id.desc()))
    remaining = (select(ClassChange.subscriber_id, ClassChange.audience_id, ClassChange.to_class,
                        ClassChange.changed_at, newest_first.label("n"))
                 .where(ClassChange.audience_id == audience_id, ClassChange.changed_at < start,
                        ~select(CLASSES.c.subscriber_id).where(CLASSES.c.subscriber_id == ClassChange.subscriber_id)
                        .exists())
                 .subquery("remaining"))
    restored = (select(remaining.c.subscriber_id, remaining.c.audience_id, remaining.c.to_class,
                       remaining.c.changed_at).where(remaining.c.n == 1))
    session.execute(insert(CLASSES).from_select(["subscriber_id", "audience_id", "engagement_class", "class_since"],
                                                restored))
    replaced = session.execute(update(JobRun).where(JobRun.job == JOB, JobRun.audience_id == audience_id,
                                                    JobRun.status == "succeeded", JobRun.as_of >= start)
                               .values(status=REPLACED).execution_options(synchronize_session=False)).rowcount
    return removed, replaced
