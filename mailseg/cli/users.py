"""`mailseg users`: panel accounts."""

from __future__ import annotations

import os
import sys

import click

from ..accounts import DEMO_ADMIN_EMAIL, AccountError, create_user, ensure_demo_admin, set_password, set_role
from ..models import USER_ROLES
from .runtime import Runtime, fails_cleanly, pass_runtime


@click.group("users")
def users_group() -> None:
    """Manage the accounts that log in to the web panel."""


password_stdin_option = click.option("--password-stdin", is_flag=True,
                                     help="Read the password from the first line of standard input (scripts).")


def _read_password(from_stdin: bool, prompt: str) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True)


def _change_account(rt: Runtime, change, *args):
    """Run an accounts function in a committed session; its AccountError becomes the CLI's error."""
    with rt.migrated_db().session() as session:
        try:
            result = change(session, *args)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
        return result


@users_group.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(USER_ROLES), default="viewer", show_default=True,
              help="admin changes settings and queues jobs; viewer only looks.")
@password_stdin_option
@pass_runtime
@fails_cleanly
def add_user(rt: Runtime, email: str, role: str, password_stdin: bool) -> None:
    """Create a panel account for EMAIL; prompts for the password twice."""
    user = _change_account(rt, create_user, email, _read_password(password_stdin, "Password"), role)
    click.echo(f"created {user.role} {user.email}")


@users_group.command("password")
@click.argument("email")
@password_stdin_option
@pass_runtime
@fails_cleanly
def change_password(rt: Runtime, email: str, password_stdin: bool) -> None:
    """Set a new password for EMAIL; every open panel session of that user ends."""
    user = _change_account(rt, set_password, email, _read_password(password_stdin, "New password"))
    click.echo(f"password changed for {user.email}; their sessions have ended")


@users_group.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice(USER_ROLES))
@pass_runtime
@fails_cleanly
def change_role(rt: Runtime, email: str, role: str) -> None:
    """Make EMAIL an admin or a viewer; every open panel session of that user ends."""
    user = _change_account(rt, set_role, email, role)
    click.echo(f"{user.email} is now {user.role}; their sessions have ended")


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
    user, password = _change_account(rt, ensure_demo_admin, email, wanted)
    if password is None:
        click.echo(f"demo admin {user.email} already exists (password set when it was created; "
                   f"add another with `mailseg users add EMAIL --role admin`)")
    else:
        click.echo(f"log in as {user.email} with password {password}")
