"""The command line reads well: every command and option has help text, `mailseg runs` fits 100
columns with audience names and summaries in words, `sync --dry-run` covers every tag."""

from __future__ import annotations

from datetime import timedelta

import click

from mailseg.cli import main
from mailseg.models import JobRun, utcnow

from .factories import policy_audience, classed_subscriber


def walk(command: click.Command, path: str = "mailseg"):
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from walk(sub, f"{path} {name}")


def test_every_command_and_option_has_help():
    missing = []
    for path, command in walk(main):
        if not (command.help or command.short_help):
            missing.append(path)
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden and not param.help and param.name != "help":
                missing.append(f"{path} {param.opts[0]}")
    assert missing == []


def test_runs_fit_100_columns_with_names_and_words(cli, session):
    a = policy_audience(session)
    now = utcnow()
    session.add_all([
        JobRun(job="classify", audience_id=a, status="succeeded", started_at=now - timedelta(seconds=5),
               finished_at=now, summary={"counts": {"active": 1200, "semi_active": 30, "inactive": 0}, "changes": 17}),
        JobRun(job="sync", audience_id=a, status="failed", started_at=now, finished_at=now,
               error="RuntimeError: Mailchimp is not configured: set mailchimp.api_key, server and list_id",
               summary={"tags": {}}),
    ])
    session.commit()
    out = cli("runs").output
    assert max(len(line) for line in out.splitlines()) <= 100
    assert "17 class changes; now 1,200 active, 30 semi-active" in out.replace("\n", " ").replace("│", " ") or \
        "17 class changes" in out
    assert "{" not in out and "default" in out  # the audience by name, never a dict
    assert now.strftime("%H:%M:%S") in out
    assert out.strip().splitlines()[-1] == "2 runs: 1 succeeded, 1 failed, 0 running"


def test_sync_dry_run_lists_the_policy_tags_too(cli, session):
    a = policy_audience(session)
    classed_subscriber(session, a, "x@example.org", "active")
    session.commit()
    out = cli("sync", "--dry-run").output
    assert "mailseg:eligible: would add 1" in out and "mailseg:sunset: would add 0" in out
    assert "mailseg:active: would add 1" in out
