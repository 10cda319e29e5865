"""`mailseg db`: schema migrations, and spreading the database over Citus workers."""

from __future__ import annotations

import click

from .runtime import Runtime, fails_cleanly, pass_runtime


@click.group()
def db() -> None:
    """Database schema."""


@db.command()
@pass_runtime
@fails_cleanly
def upgrade(rt: Runtime) -> None:
    """Apply all migrations (creates the database on first run)."""
    from ..distribute import distribute, is_distributed

    rt.db.upgrade()
    click.echo(f"database at revision {rt.db.current_revision()}")
    if is_distributed(rt.db):  # tables a migration added join the distributed database
        result = distribute(rt.db)
        if result.distributed or result.reference:
            click.echo(f"distributed {len(result.distributed)} and replicated {len(result.reference)} new tables")


@db.command()
@pass_runtime
@fails_cleanly
def current(rt: Runtime) -> None:
    """Show the applied migration revision."""
    click.echo(rt.db.current_revision() or "empty (run: mailseg db upgrade)")


@db.command(name="distribute")
@click.option("--shard-count", type=click.IntRange(1, 10_000), default=None,
              help="Shards per distributed table (default: Citus's citus.shard_count, 32).")
@pass_runtime
@fails_cleanly
def distribute_command(rt: Runtime, shard_count: int | None) -> None:
    """Spread the database over its Citus workers: per-subscriber tables sharded by the subscriber key
    and co-located, the others replicated to every node. Moves existing rows; safe to run again."""
    from ..distribute import DistributeError, distribute

    try:
        result = distribute(rt.db, shard_count=shard_count, progress=lambda line: click.echo(f"  {line}"))
    except DistributeError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(f"{result.workers} workers, {result.shard_count} shards per distributed table: "
               f"{len(result.distributed)} tables distributed, {len(result.reference)} reference tables, "
               f"{len(result.already)} already done"
               + (f"; {len(result.dropped_keys)} foreign keys to reference tables dropped" if result.dropped_keys else ""))
