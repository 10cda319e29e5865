"""The dashboard's figures: class sizes now and over time, recent transitions, last runs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..models import ClassChange, JobRun, Subscriber, utcnow
from .cache import FiguresCache

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


@dataclass(frozen=True)
class ClassFigures:
    """What the dashboard draws from the class data: computed together, cached together."""

    counts: list[ClassCount]
    series: ClassSeries
    moves: dict[tuple[str, str], int]


_cache = FiguresCache()


def class_figures(session: Session, audience_id: int, *, days: int = 30, now: datetime | None = None) -> ClassFigures:
    """Counts, series and recent transitions, recomputed only when a class changed: every change of
    engagement_class writes a class_changes row, so the newest row's id is the cache key."""
    now = now or utcnow()
    latest = session.scalar(select(func.max(ClassChange.id)).where(ClassChange.audience_id == audience_id))
    key = (str(session.get_bind().url), audience_id, latest, days, now.date())
    return _cache.get(key, lambda: _compute_figures(session, audience_id, days, now))


def _compute_figures(session: Session, audience_id: int, days: int, now: datetime) -> ClassFigures:
    per_day = class_change_days(session, audience_id)
    since = (now - timedelta(days=days)).date().isoformat()
    moves: dict[tuple[str, str], int] = defaultdict(int)
    for day, source, target, n in per_day:
        if day >= since:
            moves[(source or UNCLASSIFIED, target)] += n
    return ClassFigures(class_counts(session, audience_id), class_series(per_day), dict(moves))


def class_change_days(session: Session, audience_id: int) -> list[tuple[str, str | None, str, int]]:
    """(day, from, to, changes) for the audience's whole class history, in one scan of class_changes."""
    day = func.date(ClassChange.changed_at)
    rows = session.execute(select(day, ClassChange.from_class, ClassChange.to_class, func.count())
                           .where(ClassChange.audience_id == audience_id)
                           .group_by(day, ClassChange.from_class, ClassChange.to_class))
    return [(str(d), source, target, n) for d, source, target, n in rows]


def class_series(per_day: list[tuple[str, str | None, str, int]]) -> ClassSeries:
    """Class sizes at the end of every day that had a change: the running sum of arrivals (to)
    minus departures (from)."""
    deltas: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for day, source, target, n in per_day:
        deltas[day][target] += n
        if source is not None:
            deltas[day][source] -= n
    changed_days = sorted(deltas)
    days = _weekly(changed_days) if len(changed_days) > MAX_DAILY_POINTS else changed_days
    names = class_order({name for per_name in deltas.values() for name in per_name})
    running = dict.fromkeys(names, 0)
    datasets: dict[str, list[int]] = {name: [] for name in names}
    i = 0
    for label in days:
        while i < len(changed_days) and changed_days[i] <= label:
            for name, n in deltas[changed_days[i]].items():
                running[name] += n
            i += 1
        for name in names:
            datasets[name].append(running[name])
    return ClassSeries(days, datasets)


def _weekly(days: list[str]) -> list[str]:
    """The last changed day of every ISO week."""
    by_week: dict[tuple[int, int], str] = {}
    for d in days:
        year, week, _ = date.fromisoformat(d).isocalendar()
        by_week[(year, week)] = d
    return sorted(by_week.values())


def last_runs(session: Session, audience_id: int | None) -> dict[str, JobRun | None]:
    """The latest run of each dashboard job for the audience (or audience-less runs)."""
    out: dict[str, JobRun | None] = {}
    for job in DASHBOARD_JOBS:
        stmt = select(JobRun).where(JobRun.job == job).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(1)
        if audience_id is not None:
            stmt = stmt.where(or_(JobRun.audience_id == audience_id, JobRun.audience_id.is_(None)))
        out[job] = session.scalar(stmt)
    return out
