"""`mailseg scheduler` (the job runner process) and `mailseg runs` (what ran, and how it went)."""

from __future__ import annotations

import signal
import threading

import click

from ..runs import recent_runs
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
@click.option("--job", help="Only runs of this job (classify, pull, sync, policies, outlook, plan, ...).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="How many of the most recent runs to show.")
@pass_runtime
@fails_cleanly
def runs(rt: Runtime, job: str | None, limit: int) -> None:
    """Recent job runs: job, audience, status, start (UTC, to the second), duration and what the
    run did in words; a failed run's error in full below the table. Fits 100 columns."""
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy import select

    from ..models import Audience
    from ..runs import summary_words

    with rt.migrated_db().session() as session:
        rows = recent_runs(session, job=job, limit=limit)
        names = dict(session.execute(select(Audience.id, Audience.name)).all())
    if not rows:
        click.echo("no runs yet")
        return
    table = Table(expand=False, pad_edge=False)
    for column, options in (("id", {"justify": "right"}), ("job", {}), ("audience", {"max_width": 12}),
                            ("status", {}), ("started (UTC)", {"no_wrap": True}), ("took", {"justify": "right"}),
                            ("what it did", {"ratio": 1})):
        table.add_column(column, overflow="fold", **options)
    for run in rows:
        took = f"{(run.finished_at - run.started_at).total_seconds():.1f} s" if run.finished_at else "…"
        did = f"error: {run.error.splitlines()[0][:120]}" if run.error else summary_words(run.job, run.summary)
        table.add_row(str(run.id), run.job, names.get(run.audience_id, "all"), run.status,
                      run.started_at.strftime("%Y-%m-%d %H:%M:%S"), took, did)
    Console(width=100).print(table)
    failed = [r for r in rows if r.status == "failed"]
    ok = sum(r.status == "succeeded" for r in rows)
    click.echo(f"{len(rows)} runs: {ok} succeeded, {len(failed)} failed, {len(rows) - ok - len(failed)} running")
