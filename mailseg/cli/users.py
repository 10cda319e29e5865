"""`mailseg users`: panel accounts."""

from __future__ import annotations

import os
import sys

import click

from ..accounts import DEMO_ADMIN_EMAIL, AccountError, create_user, ensure_demo_admin
from ..models import USER_ROLES
from .runtime import Runtime, fails_cleanly, pass_runtime


@click.group("users")
def users_group() -> None:
    """Manage the accounts that log in to the web panel."""


@users_group.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(USER_ROLES), default="viewer", show_default=True,
              help="admin changes settings and queues jobs; viewer only looks.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input (scripts).")
@pass_runtime
@fails_cleanly
def add_user(rt: Runtime, email: str, role: str, password_stdin: bool) -> None:
    """Create a panel account for EMAIL; prompts for the password twice."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with rt.migrated_db().session() as session:
        try:
            user = create_user(session, email, password, role)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
        click.echo(f"created {user.role} {user.email}")


@users_group.command("ensure-demo")
@click.option("--email", default=DEMO_ADMIN_EMAIL, show_default=True, help="The demo admin's login email.")
@click.option("--password-env", metavar="VAR",
              help="Give the demo admin the password held in this environment variable (created or reset).")
@pass_runtime
@fails_cleanly
def ensure_demo(rt: Runtime, email: str, password_env: str | None) -> None:
    """Create the demo admin if missing and print its credentials.

    Without --password-env the password is random and printed only when the account is created
    (it is not stored in clear)."""
    wanted = None
    if password_env:
        wanted = os.environ.get(password_env)
        if not wanted:
            raise click.ClickException(f"environment variable {password_env} is empty or not set")
    with rt.migrated_db().session() as session:
        try:
            user, password = ensure_demo_admin(session, email, wanted)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    if password is None:
        click.echo(f"demo admin {user.email} already exists (password set when it was created; "
                   f"add another with `mailseg users add EMAIL --role admin`)")
    else:
        click.echo(f"log in as {user.email} with password {password}")
