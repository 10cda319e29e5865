"""Recording job runs: started before the work, finished or failed after it, in their own commits
so a crashed run stays visible as failed-or-running rather than vanishing with its transaction.

Liveness is a lease: a running run carries lease_until, pushed forward by a heartbeat thread of the
process doing the work every third of RUN_LEASE. A process that is killed, frozen or left a zombie
renews nothing, so once its lease has expired its run is marked failed ("interrupted") when the same
job next starts — on any host. On the same host a run whose process no longer exists at all is
marked at once (a zombie still has a pid, so it waits for its lease like a process elsewhere).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Iterator

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from .models import JobRun, utcnow

log = logging.getLogger(__name__)
# How long a run stays "alive" without a heartbeat; renewed every third of it.
RUN_LEASE = timedelta(seconds=60)


def this_process() -> str:
    """"host:pid": who holds a run (or the scheduler lock)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def start_run(session: Session, job: str, *, audience_id: int | None = None,
              as_of: datetime | None = None, lease: timedelta = RUN_LEASE) -> JobRun:
    """Record a run as started (committed) with its first lease, after marking failed the runs of
    the same job whose process died (sweep_interrupted). recorded_run keeps the lease renewed."""
    sweep_interrupted(session, job, audience_id)
    now = utcnow()
    run = JobRun(job=job, audience_id=audience_id, as_of=as_of, status="running", started_at=now, summary={},
                 holder=this_process(), lease_until=now + lease)
    session.add(run)
    session.commit()
    return run


def sweep_interrupted(session: Session, job: str, audience_id: int | None, now: datetime | None = None) -> int:
    """Mark failed the runs of this job and audience still "running" whose process is gone: their
    lease expired (any host), or their process does not exist on this host. Returns how many."""
    now = now or utcnow()
    host = socket.gethostname()
    stale = 0
    same_audience = JobRun.audience_id.is_(None) if audience_id is None else JobRun.audience_id == audience_id
    running = session.scalars(select(JobRun).where(JobRun.job == job, same_audience, JobRun.status == "running"))
    for run in running:
        holder_host, _, pid = (run.holder or "").rpartition(":")
        expired = run.lease_until is not None and run.lease_until < now
        gone = holder_host == host and pid.isdigit() and not _process_alive(int(pid))
        if expired or gone:
            run.status, run.finished_at = "failed", now
            run.error = (f"interrupted: the process running it ({run.holder}) "
                         + ("stopped renewing its lease" if expired else "no longer exists")
                         + " before the run finished")
            stale += 1
    if stale:
        session.commit()
    return stale


class Heartbeat:
    """Renews a run's lease from a daemon thread with its own connection until stopped."""

    def __init__(self, engine: Engine, run_id: int, lease: timedelta) -> None:
        self.engine, self.run_id, self.lease = engine, run_id, lease
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"run-{run_id}-heartbeat", daemon=True)

    def start(self) -> "Heartbeat":
        self.thread.start()
        return self

    def _beat(self) -> None:
        table = JobRun.__table__
        while not self.stopped.wait(self.lease.total_seconds() / 3):
            try:
                with self.engine.begin() as conn:
                    conn.execute(update(table).where(table.c.id == self.run_id, table.c.status == "running")
                                 .values(lease_until=utcnow() + self.lease))
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried; the lease has slack
                log.warning("run %s: lease not renewed (%s)", self.run_id, exc)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)


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


def finish_run(session: Session, run: JobRun, summary: dict[str, Any], *, problems: list[str] | None = None) -> JobRun:
    """Mark the run finished: "succeeded", or "partial" when some of its items failed (`problems`,
    one line each, kept as the run's error so `mailseg runs` and the panel show them)."""
    run.status, run.finished_at, run.summary = ("partial" if problems else "succeeded"), utcnow(), summary
    if problems:
        run.error = "; ".join(problems)[:4000]
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
                 as_of: datetime | None = None, lease: timedelta = RUN_LEASE) -> Iterator[JobRun]:
    """Start a run and keep its lease renewed while the body works; on an exception mark it failed
    (the error text kept) and re-raise. The body calls finish_run with its summary."""
    run = start_run(session, job, audience_id=audience_id, as_of=as_of, lease=lease)
    heartbeat = Heartbeat(session.get_bind().engine, run.id, lease).start()
    try:
        yield run
    except BaseException as exc:
        heartbeat.stop()
        fail_run(session, run.id, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        heartbeat.stop()


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
