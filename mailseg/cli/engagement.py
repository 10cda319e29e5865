"""`mailseg classify` and `mailseg explain`: engagement classes and the evidence behind them."""

from __future__ import annotations

import sys
from datetime import datetime

import click
from rich.console import Console
from rich.table import Table

from ..audiences import find_audience
from ..engagement.plain import flag_reason, render, why
from ..engagement import (CLASS_NAMES, CLASSIFY_STEPS, Explanation, SubscriberNotFound, classify_audience,
                          explain_subscriber, find_subscriber_id)
from ..engagement.backfill import DEFAULT_EVERY, backfill_audience, backfill_points, parse_every
from ..models import utcnow
from ..progress import progress
from ..timeutil import isoformat_utc
from ..value.explain import explain_value
from .params import DATETIME, as_of_option
from .runtime import Runtime, fails_cleanly, pass_runtime

audience_option = click.option("--audience", help="Audience name (default: the only one).")


@click.command("classify")
@audience_option
@as_of_option("Classify as of this ISO-8601 moment (a bare date is 00:00 UTC; default: now).")
@click.option("--backfill", "backfill_from", type=DATETIME, metavar="FROM",
              help="Recompute the class history from FROM to now (replaces the history after FROM).")
@click.option("--every", default=DEFAULT_EVERY, show_default=True, metavar="STEP",
              help="With --backfill: the step between points, e.g. 14d, 1w, 1m.")
@click.option("--yes", is_flag=True, help="With --backfill: do not ask before replacing the history.")
@pass_runtime
@fails_cleanly
def classify(rt: Runtime, audience: str | None, as_of: datetime | None, backfill_from: datetime | None,
             every: str, yes: bool) -> None:
    """Compute every subscriber's engagement class and record the changes.

    With --backfill FROM, classify as of FROM, FROM+STEP, ... and now, recording the class history
    and each point's counts as if those runs had happened then. No policy runs."""
    if backfill_from is not None:
        if as_of is not None:
            raise click.UsageError("--as-of and --backfill do not go together (a backfill ends now)")
        _backfill(rt, audience, backfill_from, every, yes)
        return
    with rt.migrated_db().session() as session:
        audience_row = find_audience(session, audience)
        with progress(f"classifying {audience_row.name}", CLASSIFY_STEPS, unit="SQL steps") as bar:
            result = classify_audience(session, audience_row.id, rt.settings(session).engagement, as_of=as_of, progress=bar)
        from ..policies.outlook import store_outlook
        from ..subscribers.activity import refresh_activity

        refresh_activity(session, audience_row.id, as_of=result.as_of)  # the audience list's sort by last activity
        store_outlook(session, audience_row, rt.settings(session), as_of=result.as_of)  # the dashboard's "Next"; commits
    _print_counts(f"{audience_row.name} as of {isoformat_utc(result.as_of)} "
                  f"(window from {isoformat_utc(result.window_start)})", result.counts)
    click.echo(f"{result.changes} class change(s) recorded (run {result.run_id})")


def _backfill(rt: Runtime, audience: str | None, start: datetime, every_text: str, yes: bool) -> None:
    try:
        every = parse_every(every_text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--every") from None
    points = backfill_points(start, every, utcnow())
    if not points:
        raise click.BadParameter(f"{isoformat_utc(start)} is in the future", param_hint="--backfill")
    with rt.migrated_db().session() as session:
        audience_row = find_audience(session, audience)
        click.echo(f"This replaces the class history of audience {audience_row.name!r} from "
                   f"{isoformat_utc(points[0])} on with {len(points)} classifications "
                   f"(every {every}, then now). No policy runs.", err=True)
        if not yes and sys.stdin.isatty() and not click.confirm("Continue?", err=True):
            raise click.Abort()
        with progress(f"backfilling {audience_row.name}", len(points)) as bar:
            result = backfill_audience(session, audience_row.id, rt.settings(session).engagement, start, every,
                                       now=points[-1], progress=bar)
        from ..subscribers.activity import refresh_activity

        refresh_activity(session, audience_row.id, as_of=points[-1])  # the audience list's sort by last activity
        session.commit()
    last = result.points[-1]
    _print_counts(f"{audience_row.name}: {len(result.points)} points from {isoformat_utc(result.start)} "
                  f"to {isoformat_utc(last.as_of)} (now)", last.counts)
    click.echo(f"{sum(p.changes for p in result.points)} class change(s) recorded; "
               f"{result.removed_changes} earlier change(s) after FROM removed, "
               f"{result.replaced_runs} earlier run(s) marked replaced")


def _print_counts(title: str, counts: dict[str, int]) -> None:
    table = Table(title=title)
    table.add_column("class")
    table.add_column("subscribers", justify="right")
    for name in CLASS_NAMES:
        table.add_row(name, str(counts.get(name, 0)))
    table.add_row("total", str(sum(counts.values())), end_section=True)
    _console().print(table)


@click.command("explain")
@click.argument("email")
@audience_option
@as_of_option("Explain the class as of this ISO-8601 moment (default: now).")
@pass_runtime
@fails_cleanly
def explain(rt: Runtime, email: str, audience: str | None, as_of: datetime | None) -> None:
    """Show EMAIL's class and the evidence: window, opens, clicks, ignored machine events, rule."""
    with rt.migrated_db().session() as session:
        audience_id = find_audience(session, audience).id
        try:
            subscriber_id = find_subscriber_id(session, audience_id, email)
        except SubscriberNotFound as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        settings = rt.settings(session)
        ex = explain_subscriber(session, subscriber_id, settings.engagement, as_of=as_of)
        value_ex = explain_value(session, subscriber_id, settings.value, as_of=as_of)
    from .value import value_explanation_lines  # cli/value.py imports this module's options

    for line in explanation_lines(ex) + value_explanation_lines(value_ex):
        click.echo(line)


def explanation_lines(ex: Explanation) -> list[str]:
    """The same sentences as the panel (mailseg.engagement.plain.why), then the evidence in detail."""
    stored = (f"{ex.stored_class} since {isoformat_utc(ex.class_since)}" if ex.stored_class
              else "not classified yet")
    if not ex.exists:
        return [f"{ex.email}: {ex.rule}"]
    lines = [f"{ex.email}: {ex.engagement_class}", *(f"  {render(p)}" for p in why(ex)), "", "  evidence:",
             f"    status: {ex.status}, subscribed at {isoformat_utc(ex.subscribed_at)}",
             f"    window: {isoformat_utc(ex.window_start)} (excluded) to {isoformat_utc(ex.window_end)} (included)",
             f"    human clicks: {ex.human_clicks}, last {isoformat_utc(ex.last_human_click) or '-'}",
             f"    human opens: {ex.human_opens}, last {isoformat_utc(ex.last_human_open) or '-'}",
             f"    machine opens ignored: {ex.machine_opens_ignored}, bot clicks ignored: {ex.bot_clicks_ignored}",
             f"    sends received in the window: {ex.sends_in_window}",
             f"    stored class: {stored}"]
    for title, events, total in (("events that decided", ex.deciding_events, ex.deciding_total),
                                 ("flagged events that did not count", ex.ignored_events, ex.ignored_total)):
        if events:
            shown = f" ({len(events)} of {total} shown)" if total > len(events) else ""
            lines.append(f"  {title}{shown}:")
            lines.extend(f"    {isoformat_utc(e.occurred_at)} {e.type}"
                         f"{' in ' + repr(e.campaign) if e.campaign else ''}"
                         f"{' — ' + render(flag_reason(e.flag_reason)) if e.flag_reason else ''}" for e in events)
    return lines


def _console() -> Console:
    # sys.stdout looked up per call: the CLI runner swaps it in tests.
    return Console(file=sys.stdout, width=100)
