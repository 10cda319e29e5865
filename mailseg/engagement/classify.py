"""Classifying an audience: set-based SQL, history only on change, one transaction per run.

A run is a JobRun (job="classify"). The new classes of the subscribers whose class changes are
computed into a temporary staging table; the history rows, the current classes and the run's
"succeeded" mark are then committed together, so a crash leaves nothing half done and the run
visible as failed. Re-running with the same as_of computes the same classes.

The current classes live in the narrow subscriber_classes table (models.SubscriberClass), never in
the wide subscribers rows: the changes are applied with one DELETE (no class any more), one UPDATE
(a class changed) and one INSERT ... SELECT (a first class), each over the staged changes only. A
first classification of an audience is thus the scan plus two INSERT ... SELECTs (history, classes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from sqlalchemy import (Boolean, Column, Integer, MetaData, Select, String, Table, delete, exists, func, insert, literal,
                        select, text, update)
from sqlalchemy.orm import Session

from ..config import EngagementConfig
from ..models import Audience, ClassChange, JobRun, UTCDateTime, utcnow
from ..progress import Progress
from ..runs import finish_run, recorded_run
from ..sqlutil import drop_staging, on_citus, refresh_statistics, sort_memory, stage, upsert, written_rows
from ..subscribers.status import first_change_after, status_at_expression
from .rules import CLASSES, SUBSCRIBERS, class_at_expression, window_counts
from .window import CLASS_NAMES, window_bounds

JOB = "classify"
# Statements reported to the progress bar: stage changes, history, current classes, counts.
CLASSIFY_STEPS = 4

# The staging table of one run's changes, created by _stage_changes (sqlutil.stage): a temporary
# table by CREATE TABLE AS (PostgreSQL runs that query in parallel; INSERT ... SELECT would not), on
# Citus a distributed table filled on each shard.
STAGING = Table("classify_staging", MetaData(), Column("subscriber_id", Integer),
                Column("from_class", String(20)), Column("to_class", String(20)),
                Column("classified", Boolean))  # the subscriber has a class row (its class may be NULL)


@dataclass
class ClassifyResult:
    run_id: int
    audience_id: int
    as_of: datetime
    window_start: datetime
    counts: dict[str, int] = field(default_factory=dict)
    changes: int = 0
    # The failed run (same audience) this run completes, if the previous classification failed.
    completes_run_id: int | None = None


def classify_audience(session: Session, audience_id: int, settings: EngagementConfig, *,
                      as_of: datetime | None = None, progress: Progress | None = None,
                      summary_extra: dict | None = None,
                      counts: Callable[[datetime, datetime], Select] | None = None,
                      reconsider: Select | None = None,
                      counts_before: dict[str, int] | None = None) -> ClassifyResult:
    """Classify every subscriber of the audience as of `as_of` (default now) and record the run
    (summary_extra is added to the run's summary, e.g. the backfill a point belongs to).

    `counts(window_start, as_of)` gives the counted clicks and opens per subscriber in the window
    (default: rules.window_counts over the events); a backfill passes its pre-aggregated buckets.
    `reconsider` (subscriber ids) limits the run to the subscribers whose class can differ from the
    stored one (default: all); a backfill passes those of rules.class_clock_changes and the ones
    whose counts crossed a threshold since its previous point, and with them `counts_before`, the
    class counts its previous point left: this run's counts are those moved by its changes instead of
    a count over the whole class table."""
    window_start, as_of = window_bounds(as_of or utcnow(), settings.window_months)
    with recorded_run(session, JOB, audience_id=audience_id, as_of=as_of) as run:
        failed_before = _previous_failed_run(session, audience_id, run.id)
        result = ClassifyResult(run.id, audience_id, as_of, window_start, completes_run_id=failed_before)
        _lock_audience(session, audience_id)
        sort_memory(session)  # the window's aggregate, the joins of every subscriber
        drop_staging(session, STAGING.name)
        window = (counts(window_start, as_of) if counts is not None
                  else window_counts(audience_id, window_start, as_of, settings))
        _stage_changes(session, stage_changes_query(audience_id, window_start, as_of, settings, window,
                                                    reconsider=reconsider))
        _advance(progress)
        result.changes = _write_history(session, audience_id, as_of, run.id)
        _advance(progress)
        _apply_classes(session, audience_id, as_of)
        _advance(progress)
        result.counts = (class_counts(session, audience_id) if counts_before is None
                         else _moved_counts(session, counts_before))
        _advance(progress)
        drop_staging(session, STAGING.name)
        summary = {"counts": result.counts, "changes": result.changes,
                   "window_start": window_start.isoformat()}
        if failed_before is not None:
            summary["completes_run"] = failed_before
        summary.update(summary_extra or {})
        finish_run(session, run, summary)  # commits the work and the run's success together
    # a first classification writes everyone's class: the policies' queries after it read those tables
    refresh_statistics(session, {ClassChange.__tablename__: result.changes, CLASSES.name: result.changes})
    return result


def classify_all(session: Session, settings: EngagementConfig, *,
                 as_of: datetime | None = None) -> list[ClassifyResult]:
    """The scheduled job: classify every audience with one as_of."""
    as_of = as_of or utcnow()
    audience_ids = list(session.scalars(select(Audience.id).order_by(Audience.id)))
    return [classify_audience(session, audience_id, settings, as_of=as_of) for audience_id in audience_ids]


def class_counts(session: Session, audience_id: int) -> dict[str, int]:
    """Subscribers per class, every class name present (0 when empty); never-classified ones are left out."""
    rows = session.execute(
        select(CLASSES.c.engagement_class, func.count())
        .where(CLASSES.c.audience_id == audience_id, CLASSES.c.engagement_class.is_not(None))
        .group_by(CLASSES.c.engagement_class)).all()
    counts = dict.fromkeys(CLASS_NAMES, 0)
    counts.update(rows)
    return counts


def _moved_counts(session: Session, counts_before: dict[str, int]) -> dict[str, int]:
    """The class counts after the staged changes, from the counts before them: a backfill's point,
    whose changes all apply (nothing else classifies the audience during a backfill; its reconsidered
    subscribers rely on that too)."""
    counts = dict(counts_before)
    moves = select(STAGING.c.from_class, STAGING.c.to_class, func.count()).group_by(STAGING.c.from_class,
                                                                                    STAGING.c.to_class)
    for from_class, to_class, moved in session.execute(moves):
        if from_class is not None:
            counts[from_class] -= moved
        if to_class is not None:
            counts[to_class] += moved
    return counts


def _advance(progress: Progress | None) -> None:
    if progress is not None:
        progress.advance(1)


def _previous_failed_run(session: Session, audience_id: int, this_run: int) -> int | None:
    """The run before this one, if it failed (crashed runs were marked failed when this one started)."""
    last = session.execute(
        select(JobRun.id, JobRun.status).where(JobRun.job == JOB, JobRun.audience_id == audience_id,
                                               JobRun.id != this_run)
        .order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(1)).first()
    return last.id if last is not None and last.status == "failed" else None


def _lock_audience(session: Session, audience_id: int) -> None:
    """Serialise runs of one audience on PostgreSQL (SQLite has a single writer anyway)."""
    session.execute(select(Audience.id).where(Audience.id == audience_id).with_for_update())


def _stage_changes(session: Session, changes: Select) -> None:
    stage(session, STAGING.name, changes, key="subscriber_id")
    # Statistics for the statements that read it: without them PostgreSQL takes a new temporary table
    # for a few rows and, on a first classification, probes the class table it is filling with a
    # nested loop for every staged row (quadratic: minutes at 1,000,000 subscribers).
    session.execute(text(f"ANALYZE {STAGING.name}"))


def stage_changes_query(audience_id: int, window_start: datetime, as_of: datetime, settings: EngagementConfig,
                        window: Select, *, reconsider: Select | None = None) -> Select:
    """Named statement "stage changes", the one pass over the events: every subscriber whose class at
    as_of (NULL when not subscribed yet) differs from the stored one, with the status at as_of taken
    from the status history (the first change after as_of says what it was). Every join is on the
    subscriber key, so on Citus it runs on each shard (tests/test_citus.py reads the plan)."""
    counts = window.subquery("counts")
    status_then = first_change_after(audience_id, as_of)
    new_class = class_at_expression(counts.c.clicks, counts.c.opens, status_at_expression(status_then),
                                    window_start, as_of, settings)
    changed = (select(SUBSCRIBERS.c.id.label("subscriber_id"), CLASSES.c.engagement_class.label("from_class"),
                      new_class.label("to_class"), CLASSES.c.subscriber_id.is_not(None).label("classified"))
               .select_from(SUBSCRIBERS.outerjoin(counts, counts.c.subscriber_id == SUBSCRIBERS.c.id)
                            .outerjoin(status_then, status_then.c.subscriber_id == SUBSCRIBERS.c.id)
                            .outerjoin(CLASSES, CLASSES.c.subscriber_id == SUBSCRIBERS.c.id))
               .where(SUBSCRIBERS.c.audience_id == audience_id,
                      CLASSES.c.engagement_class.is_distinct_from(new_class)))
    if reconsider is not None:  # uncorrelated IN: Citus plans it once and sends its ids to the shards
        changed = changed.where(SUBSCRIBERS.c.id.in_(reconsider))
    return changed


def _still_current():
    """A staged change applies only if the stored class (NULL: no row) is still the one it was
    computed from: a concurrent run that committed first (possible on SQLite, which has no row
    locks) wins."""
    return CLASSES.c.engagement_class.is_not_distinct_from(STAGING.c.from_class)


def _write_history(session: Session, audience_id: int, as_of: datetime, run_id: int) -> int:
    """Named statement "history": one INSERT ... SELECT of the staged changes that still apply."""
    rows = (select(literal(audience_id), STAGING.c.subscriber_id, STAGING.c.from_class, STAGING.c.to_class,
                   literal(as_of, UTCDateTime), literal(run_id))
            .select_from(STAGING.outerjoin(CLASSES, CLASSES.c.subscriber_id == STAGING.c.subscriber_id))
            .where(_still_current(), STAGING.c.to_class.is_not(None))  # no class, no history row
            .order_by(STAGING.c.subscriber_id))  # the subscriber index filled in order
    columns = ["audience_id", "subscriber_id", "from_class", "to_class", "changed_at", "run_id"]
    return written_rows(session, insert(ClassChange.__table__).from_select(columns, rows))


def _apply_classes(session: Session, audience_id: int, as_of: datetime) -> None:
    """Named statements "current classes": the staged changes that still apply, in three set-based
    statements over the narrow table: DELETE (not subscribed yet at as_of: no class), UPDATE (a
    stored class changes), INSERT ... SELECT (a first class: every subscriber on a first run)."""
    staged = STAGING.c.subscriber_id == CLASSES.c.subscriber_id
    gone = (STAGING.c.to_class.is_(None), _still_current())
    if on_citus(session):
        # Citus joins the coordinator's staging table to the shards (DELETE ... USING) but cannot
        # correlate a subquery with it.
        session.execute(delete(CLASSES).where(staged, *gone))
    else:  # SQLite has no DELETE ... USING
        session.execute(delete(CLASSES).where(exists().where(staged, *gone)))
    session.execute(update(CLASSES).where(staged, STAGING.c.to_class.is_not(None), _still_current())
                    .values(engagement_class=STAGING.c.to_class, class_since=literal(as_of, UTCDateTime)))
    # A first class: the subscriber had no class row when staged, and none is written since on
    # PostgreSQL (the audience's lock, _lock_audience, keeps other runs out): a plain INSERT ...
    # SELECT, sorted by the key so the primary key's index is filled in order. (An anti-join against
    # the class table being filled was planned as a quadratic nested loop: 91 s for 100,000 first
    # classes; ON CONFLICT DO NOTHING's speculative insertion cost 7.4-8.1 s for 1,000,000 rows
    # against 5.8-5.9 s plain.) SQLite has no row locks: a run that committed first classes since
    # this one staged them wins there, through ON CONFLICT DO NOTHING.
    columns = ["subscriber_id", "audience_id", "engagement_class", "class_since"]
    first = (select(STAGING.c.subscriber_id, literal(audience_id), STAGING.c.to_class, literal(as_of, UTCDateTime))
             .where(STAGING.c.to_class.is_not(None), STAGING.c.classified.is_(False))
             .order_by(STAGING.c.subscriber_id))
    if session.get_bind().dialect.name == "sqlite":
        session.execute(upsert(session, CLASSES).from_select(columns, first).on_conflict_do_nothing())
    else:
        session.execute(insert(CLASSES).from_select(columns, first))
