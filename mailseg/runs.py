"""Recording job runs: started before the work, finished or failed after it, in their own commits
so a crashed run stays visible as failed-or-running rather than vanishing with its transaction."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import JobRun, utcnow


def start_run(session: Session, job: str, *, audience_id: int | None = None,
              as_of: datetime | None = None) -> JobRun:
    run = JobRun(job=job, audience_id=audience_id, as_of=as_of, status="running", started_at=utcnow(), summary={})
    session.add(run)
    session.commit()
    return run


def finish_run(session: Session, run: JobRun, summary: dict[str, Any]) -> JobRun:
    run.status, run.finished_at, run.summary = "succeeded", utcnow(), summary
    session.commit()
    return run


def fail_run(session: Session, run_id: int, error: str) -> None:
    """Mark a run failed; called after the work's transaction was rolled back."""
    session.rollback()
    run = session.get(JobRun, run_id)
    if run is not None:
        run.status, run.finished_at, run.error = "failed", utcnow(), error[:4000]
        session.commit()


@contextmanager
def recorded_run(session: Session, job: str, *, audience_id: int | None = None,
                 as_of: datetime | None = None) -> Iterator[JobRun]:
    """Start a run; on an exception mark it failed (the error text kept) and re-raise.
    The body calls finish_run with its summary."""
    run = start_run(session, job, audience_id=audience_id, as_of=as_of)
    try:
        yield run
    except BaseException as exc:
        fail_run(session, run.id, f"{type(exc).__name__}: {exc}")
        raise


def recent_runs(session: Session, *, job: str | None = None, limit: int = 20) -> list[JobRun]:
    stmt = select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)
    if job is not None:
        stmt = stmt.where(JobRun.job == job)
    return list(session.scalars(stmt))
