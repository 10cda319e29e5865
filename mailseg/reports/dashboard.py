"""The dashboard's figures: class sizes now and over time, recent transitions, last runs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..models import ClassChange, JobRun, Subscriber, utcnow

# Display order of the classes; anything else (e.g. a class a later issue adds) follows.
CLASS_ORDER = ("active", "semi_active", "new", "inactive", "pending", "unsubscribed", "cleaned", "complained")
UNCLASSIFIED = "unclassified"
DASHBOARD_JOBS = ("classify", "pull", "sync", "policies")
# Longer histories are drawn in weekly steps so the chart stays readable.
MAX_DAILY_POINTS = 120


@dataclass(frozen=True)
class ClassCount:
    name: str
    count: int
    share: float


@dataclass(frozen=True)
class ClassSeries:
    labels: list[str]
    datasets: dict[str, list[int]]


def class_order(names) -> list[str]:
    known = [c for c in CLASS_ORDER if c in names]
    return known + sorted(n for n in names if n not in CLASS_ORDER)


def class_counts(session: Session, audience_id: int) -> list[ClassCount]:
    """Subscribers per current class (index-only on ix_subscribers_audience_class)."""
    rows = session.execute(select(Subscriber.engagement_class, func.count())
                           .where(Subscriber.audience_id == audience_id)
                           .group_by(Subscriber.engagement_class)).all()
    counts = {(name or UNCLASSIFIED): n for name, n in rows}
    total = sum(counts.values())
    return [ClassCount(name, counts[name], counts[name] / total if total else 0.0) for name in class_order(counts)]


def class_series(session: Session, audience_id: int) -> ClassSeries:
    """Class sizes at the end of every day that had a change: the running sum of arrivals
    (to_class) minus departures (from_class), aggregated per day in the database."""
    day = func.date(ClassChange.changed_at)
    deltas: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    arrivals = (select(day, ClassChange.to_class, func.count()).where(ClassChange.audience_id == audience_id)
                .group_by(day, ClassChange.to_class))
    departures = (select(day, ClassChange.from_class, func.count())
                  .where(ClassChange.audience_id == audience_id, ClassChange.from_class.is_not(None))
                  .group_by(day, ClassChange.from_class))
    for when, name, n in session.execute(arrivals):
        deltas[str(when)][name] += n
    for when, name, n in session.execute(departures):
        deltas[str(when)][name] -= n
    days = sorted(deltas)
    if len(days) > MAX_DAILY_POINTS:
        days = _weekly(days)
    names = class_order({name for per_day in deltas.values() for name in per_day})
    running = dict.fromkeys(names, 0)
    datasets: dict[str, list[int]] = {name: [] for name in names}
    pending = sorted(deltas)
    i = 0
    for label in days:
        while i < len(pending) and pending[i] <= label:
            for name, n in deltas[pending[i]].items():
                running[name] += n
            i += 1
        for name in names:
            datasets[name].append(running[name])
    return ClassSeries(days, datasets)


def _weekly(days: list[str]) -> list[str]:
    """The last changed day of every ISO week, plus the very last day."""
    by_week: dict[tuple[int, int], str] = {}
    for d in days:
        year, week, _ = date.fromisoformat(d).isocalendar()
        by_week[(year, week)] = d
    return sorted(by_week.values())


def transitions(session: Session, audience_id: int, *, days: int = 30,
                now: datetime | None = None) -> dict[tuple[str, str], int]:
    """(from, to) -> how many moves in the last `days` days; a first classification comes from 'unclassified'."""
    since = (now or utcnow()) - timedelta(days=days)
    rows = session.execute(select(ClassChange.from_class, ClassChange.to_class, func.count())
                           .where(ClassChange.audience_id == audience_id, ClassChange.changed_at >= since)
                           .group_by(ClassChange.from_class, ClassChange.to_class))
    return {(source or UNCLASSIFIED, target): n for source, target, n in rows}


def last_runs(session: Session, audience_id: int | None) -> dict[str, JobRun | None]:
    """The latest run of each dashboard job for the audience (or audience-less runs)."""
    out: dict[str, JobRun | None] = {}
    for job in DASHBOARD_JOBS:
        stmt = select(JobRun).where(JobRun.job == job).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(1)
        if audience_id is not None:
            stmt = stmt.where(or_(JobRun.audience_id == audience_id, JobRun.audience_id.is_(None)))
        out[job] = session.scalar(stmt)
    return out
