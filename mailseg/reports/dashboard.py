"""The dashboard's figures: class sizes now and over time, recent transitions, last runs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..models import ClassChange, JobRun, Subscriber, SubscriberClass, apscheduler_jobs

# Display order of the classes; anything else (e.g. a class a later issue adds) follows.
CLASS_ORDER = ("active", "semi_active", "new", "inactive", "pending", "unsubscribed", "cleaned", "complained")
UNCLASSIFIED = "unclassified"
# The source of a subscriber's first class in a period: they appeared (subscribed) in it.
JOINED = "joined"
# Flows into these are churn (seed 003: "отток").
CHURN = ("unsubscribed", "cleaned", "complained")
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
    """Subscribers per current class without reading the audience: the counts the last successful
    classification stored, moved by the class changes recorded after it (a range of
    ix_class_changes_audience_time), and the subscribers not classified yet (the rest of the
    audience). A class only changes in a classification, which records each
    change, so this is the live figure. Before the first classification: a grouped count."""
    run = session.execute(select(JobRun.finished_at, JobRun.summary).where(
        JobRun.audience_id == audience_id, JobRun.job == "classify", JobRun.status == "succeeded",
        JobRun.finished_at.is_not(None)).order_by(JobRun.finished_at.desc(), JobRun.id.desc()).limit(1)).first()
    stored = (run.summary or {}).get("counts") if run is not None else None
    if stored is None:
        rows = session.execute(select(SubscriberClass.engagement_class, func.count()).select_from(Subscriber)
                               .outerjoin(SubscriberClass, SubscriberClass.subscriber_id == Subscriber.id)
                               .where(Subscriber.audience_id == audience_id)
                               .group_by(SubscriberClass.engagement_class)).all()
        return _shares({(name or UNCLASSIFIED): n for name, n in rows})
    counts = Counter({name: n for name, n in stored.items() if name != UNCLASSIFIED})
    for (source, target), n in transitions(session, audience_id, run.finished_at, after=True).counts.items():
        if source not in (UNCLASSIFIED, JOINED):  # a first class comes from the unclassified
            counts[source] -= n
        counts[target] += n
    # The never classified: the audience less the classified counted above (one index-only count; an
    # anti-join of the subscribers with the class table would read and hash both whole).
    everyone = session.scalar(select(func.count()).select_from(Subscriber).where(Subscriber.audience_id == audience_id))
    counts[UNCLASSIFIED] = max(0, (everyone or 0) - sum(counts.values()))
    return _shares({name: n for name, n in counts.items() if n > 0})


def _shares(counts: dict[str, int]) -> list[ClassCount]:
    total = sum(counts.values())
    return [ClassCount(name, counts[name], counts[name] / total if total else 0.0) for name in class_order(counts)]


def class_series(session: Session, audience_id: int) -> ClassSeries:
    """Class sizes over time: the counts every successful classification stored in its run summary
    (one point per run; weekly points when there are many), so the chart never scans the history."""
    runs = session.execute(select(JobRun.as_of, JobRun.summary)
                           .where(JobRun.audience_id == audience_id, JobRun.job == "classify",
                                  JobRun.status == "succeeded", JobRun.as_of.is_not(None))
                           .order_by(JobRun.as_of)).all()
    by_day: dict[str, dict[str, int]] = {}
    for as_of, summary in runs:
        by_day[as_of.date().isoformat()] = (summary or {}).get("counts", {})  # the day's last run wins
    days = sorted(by_day)
    if len(days) > MAX_DAILY_POINTS:
        days = _weekly(days)
    names = class_order({name for day in days for name, n in by_day[day].items() if n})
    return ClassSeries(days, {name: [by_day[day].get(name, 0) for day in days] for name in names})


@dataclass(frozen=True)
class Transitions:
    """From → to counts of class changes in a period: "joined" for subscribers' first class (they
    appeared in the period), churn for moves into unsubscribed, cleaned or complained."""

    counts: dict[tuple[str, str], int]

    @property
    def sources(self) -> list[str]:
        names = {source for source, _ in self.counts}
        return ([JOINED] if JOINED in names else []) + class_order(names - {JOINED})

    @property
    def targets(self) -> list[str]:
        return class_order({target for _, target in self.counts})

    @property
    def joined(self) -> int:
        return sum(n for (source, _), n in self.counts.items() if source == JOINED)

    @property
    def churned(self) -> int:
        return sum(n for (source, target), n in self.counts.items() if target in CHURN and source not in CHURN)

    def __bool__(self) -> bool:
        return bool(self.counts)


def transitions(session: Session, audience_id: int, since: datetime, *, after: bool = False) -> Transitions:
    """Class changes since a moment (strictly after it with `after`) by from → to, a range of
    ix_class_changes_audience_time."""
    start = ClassChange.changed_at > since if after else ClassChange.changed_at >= since
    rows = session.execute(select(ClassChange.from_class, ClassChange.to_class, func.count())
                           .where(ClassChange.audience_id == audience_id, start)
                           .group_by(ClassChange.from_class, ClassChange.to_class)).all()
    return Transitions({(source or JOINED, target): n for source, target, n in rows})


def _weekly(days: list[str]) -> list[str]:
    """The last day of every ISO week that has one."""
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


@dataclass(frozen=True)
class ScheduledRun:
    job: str
    at: datetime


def next_runs(session: Session) -> list[ScheduledRun]:
    """The scheduler's jobs by their next run (APScheduler keeps next_run_time as a UTC epoch)."""
    rows = session.execute(select(apscheduler_jobs.c.id, apscheduler_jobs.c.next_run_time)
                           .where(apscheduler_jobs.c.next_run_time.is_not(None))
                           .order_by(apscheduler_jobs.c.next_run_time)).all()
    return [ScheduledRun(job, datetime.fromtimestamp(at, timezone.utc)) for job, at in rows]
