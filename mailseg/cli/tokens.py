"""`mailseg tokens`: bearer tokens of the JSON API (/api/v1)."""

from __future__ import annotations

import click

from ..models import API_SCOPES
from ..timeutil import isoformat_utc
from ..tokens import TokenError, create_token, list_tokens, revoke_token
from .runtime import Runtime, fails_cleanly, pass_runtime


@click.group("tokens")
def tokens_group() -> None:
    """Create, list and revoke the bearer tokens of the JSON API."""


@tokens_group.command("add")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(API_SCOPES),
              help="What the token may do (repeat; default: every scope).")
@pass_runtime
@fails_cleanly
def add_token(rt: Runtime, name: str, scopes: tuple[str, ...]) -> None:
    """Create a token called NAME and print it once (it is stored only as a hash)."""
    with rt.migrated_db().session() as session:
        try:
            new = create_token(session, name, scopes or None)
        except TokenError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    click.echo(f"created token {new.name!r} with scope(s) {', '.join(new.scopes)}; copy it now, it is not shown again:",
               err=True)
    click.echo(new.token)


@tokens_group.command("list")
@pass_runtime
@fails_cleanly
def show_tokens(rt: Runtime) -> None:
    """Tokens with their scopes, creation, last use and revocation (never the token itself)."""
    with rt.migrated_db().session() as session:
        rows = list_tokens(session)
        for row in rows:
            state = f"revoked {isoformat_utc(row.revoked_at)}" if row.revoked_at else "active"
            click.echo(f"{row.name}\t{row.prefix}…\t{','.join(row.scopes)}\tcreated {isoformat_utc(row.created_at)}\t"
                       f"last used {isoformat_utc(row.last_used_at) or 'never'}\t{state}")
    if not rows:
        click.echo("no tokens yet: mailseg tokens add NAME", err=True)


@tokens_group.command("revoke")
@click.argument("name")
@pass_runtime
@fails_cleanly
def revoke(rt: Runtime, name: str) -> None:
    """Revoke the token called NAME: requests with it are refused from now on."""
    with rt.migrated_db().session() as session:
        try:
            row = revoke_token(session, name)
        except TokenError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    click.echo(f"revoked token {row.name!r}")
