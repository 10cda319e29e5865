"""Recording job runs: started before the work, finished or failed after it, in their own commits
so a crashed run stays visible as failed-or-running rather than vanishing with its transaction."""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import JobRun, utcnow


def this_process() -> str:
    """"host:pid": who holds a run (or the scheduler lock)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def start_run(session: Session, job: str, *, audience_id: int | None = None,
              as_of: datetime | None = None) -> JobRun:
    """Record a run as started (committed), after marking failed the runs of the same job that a
    process of this host left running when it died (killed, power cut)."""
    sweep_interrupted(session, job, audience_id)
    run = JobRun(job=job, audience_id=audience_id, as_of=as_of, status="running", started_at=utcnow(), summary={},
                 holder=this_process())
    session.add(run)
    session.commit()
    return run


def sweep_interrupted(session: Session, job: str, audience_id: int | None) -> int:
    """Mark failed the runs of this job and audience still "running" whose process (on this host) is
    gone; runs held on other hosts are left alone, as their processes cannot be checked from here."""
    host = socket.gethostname()
    stale = 0
    same_audience = JobRun.audience_id.is_(None) if audience_id is None else JobRun.audience_id == audience_id
    running = session.scalars(select(JobRun).where(JobRun.job == job, same_audience, JobRun.status == "running",
                                                   JobRun.holder.like(f"{host}:%")))
    for run in running:
        pid = int(run.holder.rsplit(":", 1)[1])
        if not _process_alive(pid):
            run.status, run.finished_at = "failed", utcnow()
            run.error = f"interrupted: the process running it (pid {pid}) stopped before it finished"
            stale += 1
    if stale:
        session.commit()
    return stale


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


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


def summary_words(job: str, summary: dict | None) -> str:
    """A run's summary as a short English sentence (`mailseg runs`), never a raw dict."""
    s = summary or {}
    if job == "classify" and "counts" in s:
        counts = ", ".join(f"{n:,} {name.replace('_', '-')}" for name, n in s["counts"].items() if n)
        return f"{s.get('changes', 0):,} class changes; now {counts or 'nobody'}"
    if job == "sync" and "tags" in s:
        moves = "; ".join(f"{tag} +{c.get('added', 0):,} -{c.get('removed', 0):,}"
                          + (f" ({c['failed']:,} refused)" if c.get("failed") else "") for tag, c in s["tags"].items())
        what = "dry run, would change" if s.get("dry_run") else "changed"
        return f"{what}: {moves}" if moves else "nothing to change"
    if job == "pull" and "members" in s:
        return (f"{s['members']:,} members read ({s.get('inserted', 0):,} new), {s.get('campaigns', 0):,} campaigns, "
                f"{s.get('events_stored', 0):,} events stored")
    if job == "policies" and "done" in s:
        return f"{len(s['done']):,} actions done ({len(s.get('recorded', [])):,} new, {len(s.get('resumed', [])):,} resumed)"
    if job == "outlook" and "actions" in s:
        return f"{len(s['actions']):,} actions planned for the next run"
    return "; ".join(f"{key.replace('_', ' ')} {value}" for key, value in s.items()
                     if isinstance(value, (int, float, str)) and not isinstance(value, bool)) or "—"
