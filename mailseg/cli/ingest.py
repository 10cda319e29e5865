"""`mailseg ingest-worker`: store the opens and clicks the web workers queued in Redis."""

from __future__ import annotations

import signal
import threading

import click

from .runtime import Runtime, fails_cleanly, pass_runtime


@click.command("ingest-worker")
@click.option("--once", is_flag=True, help="Store what is queued now, print the counts and exit.")
@pass_runtime
@fails_cleanly
def ingest_worker(rt: Runtime, once: bool) -> None:
    """Drain the tracking queue (tracking.queue_url) in batches until stopped.

    `mailseg scheduler` drains it too; run this when the scheduler runs elsewhere or to add a
    drainer. Any number may run: a lock in Redis lets one at a time take batches.
    """
    from ..ingest.drain import drain, run_drainer
    from ..ingest.queue import queue_from_config

    queue = queue_from_config(rt.config)
    if queue is None:
        raise click.UsageError("tracking.queue_url is not set: opens and clicks are stored directly, "
                               "there is no queue to drain")
    db = rt.migrated_db()
    if once:
        result = drain(db, queue, batch_size=rt.config.tracking.queue_batch_size, flagging=rt.config.flagging)
        if result.busy:
            click.echo("another drainer holds the lock; nothing done")
            return
        click.echo(f"stored {result.stored.inserted} events ({result.stored.duplicates} duplicates, "
                   f"{result.stored.machine} machine) in {result.batches} batches; "
                   f"{result.orphaned} of deleted subscribers, {result.undecodable} unreadable")
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    run_drainer(db, rt.config, stop=stop, queue=queue)
