"""`mailseg db`: schema migrations."""

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
    rt.db.upgrade()
    click.echo(f"database at revision {rt.db.current_revision()}")


@db.command()
@pass_runtime
@fails_cleanly
def current(rt: Runtime) -> None:
    """Show the applied migration revision."""
    click.echo(rt.db.current_revision() or "empty (run: mailseg db upgrade)")
