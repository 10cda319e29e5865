"""`mailseg scheduler` (the job runner process) and `mailseg runs` (what ran, and how it went)."""

from __future__ import annotations

import signal
import threading

import click

from ..runs import recent_runs
from ..timeutil import isoformat_utc
from .runtime import Runtime, fails_cleanly, pass_runtime


@click.command()
@pass_runtime
@fails_cleanly
def scheduler(rt: Runtime) -> None:
    """Run scheduled jobs (pull, classify → policies → sync, sync, panel requests) until stopped.

    Start one per machine you like: the processes elect one active scheduler through a database
    lock; the others wait as hot standbys and take over when it stops. With tracking.queue_url set,
    each also drains the tracking queue (as `mailseg ingest-worker` does).
    """
    from ..ingest.drain import start_drainer_thread
    from ..scheduler.service import run_scheduler

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    db = rt.migrated_db()
    drainer = start_drainer_thread(db, rt.config, stop) if rt.config.tracking.queue_url else None
    run_scheduler(db, rt.config, stop=stop)
    if drainer is not None:
        drainer.join(timeout=30)


@click.command()
@click.option("--job", help="Only runs of this job (classify, pull, sync, policies, ...).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@pass_runtime
@fails_cleanly
def runs(rt: Runtime, job: str | None, limit: int) -> None:
    """Recent job runs with their status, counts and errors."""
    from rich.console import Console
    from rich.table import Table

    with rt.migrated_db().session() as session:
        rows = recent_runs(session, job=job, limit=limit)
    table = Table("id", "job", "audience", "status", "started", "finished", "summary / error")
    for run in rows:
        detail = run.error or ", ".join(f"{k}={v}" for k, v in (run.summary or {}).items())
        table.add_row(str(run.id), run.job, str(run.audience_id or ""), run.status, isoformat_utc(run.started_at),
                      isoformat_utc(run.finished_at), detail[:200])
    if not rows:
        click.echo("no runs yet")
        return
    Console(width=160).print(table)
