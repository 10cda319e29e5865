"""`mailseg classify` and `mailseg explain`: engagement classes and the evidence behind them."""

from __future__ import annotations

import sys
from datetime import datetime

import click
from rich.console import Console
from rich.table import Table

from ..audiences import find_audience
from ..engagement import (CLASS_NAMES, CLASSIFY_STEPS, Explanation, SubscriberNotFound, classify_audience,
                          explain_subscriber, find_subscriber_id)
from ..progress import progress
from ..timeutil import isoformat_utc, parse_datetime
from ..value.explain import explain_value
from .runtime import Runtime, fails_cleanly, pass_runtime

audience_option = click.option("--audience", help="Audience name (default: the only one).")


class DateTimeParam(click.ParamType):
    name = "datetime"

    def convert(self, value, param, ctx) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_datetime(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


as_of_option = click.option("--as-of", "as_of", type=DateTimeParam(),
                            help="Classify as of this ISO-8601 moment (a bare date is 00:00 UTC; default: now).")


@click.command("classify")
@audience_option
@as_of_option
@pass_runtime
@fails_cleanly
def classify(rt: Runtime, audience: str | None, as_of: datetime | None) -> None:
    """Compute every subscriber's engagement class and record the changes."""
    with rt.migrated_db().session() as session:
        audience_row = find_audience(session, audience)
        with progress(f"classifying {audience_row.name}", CLASSIFY_STEPS) as bar:
            result = classify_audience(session, audience_row.id, rt.settings(session).engagement, as_of=as_of, progress=bar)
    table = Table(title=f"{audience_row.name} as of {isoformat_utc(result.as_of)} "
                        f"(window from {isoformat_utc(result.window_start)})")
    table.add_column("class")
    table.add_column("subscribers", justify="right")
    for name in CLASS_NAMES:
        table.add_row(name, str(result.counts.get(name, 0)))
    table.add_row("total", str(sum(result.counts.values())), end_section=True)
    _console().print(table)
    click.echo(f"{result.changes} class change(s) recorded (run {result.run_id})")


@click.command("explain")
@click.argument("email")
@audience_option
@as_of_option
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
        value_ex = explain_value(session, subscriber_id, settings.value)
    from .value import value_explanation_lines  # cli/value.py imports this module's options

    for line in explanation_lines(ex) + value_explanation_lines(value_ex):
        click.echo(line)


def explanation_lines(ex: Explanation) -> list[str]:
    stored = (f"{ex.stored_class} since {isoformat_utc(ex.class_since)}" if ex.stored_class
              else "not classified yet")
    lines = [
        f"{ex.email}: {ex.engagement_class}",
        f"  rule: {ex.rule}",
        f"  status: {ex.status}, subscribed at {isoformat_utc(ex.subscribed_at)}",
        f"  window: {isoformat_utc(ex.window_start)} (excluded) to {isoformat_utc(ex.window_end)} (included)",
        f"  human clicks: {ex.human_clicks}, last {isoformat_utc(ex.last_human_click) or '-'}",
        f"  human opens: {ex.human_opens}, last {isoformat_utc(ex.last_human_open) or '-'}",
        f"  machine opens ignored: {ex.machine_opens_ignored}, bot clicks ignored: {ex.bot_clicks_ignored}",
        f"  sends received in the window: {ex.sends_in_window}",
        f"  stored class: {stored}",
    ]
    for title, events in (("deciding events", ex.deciding_events), ("ignored events", ex.ignored_events)):
        if events:
            lines.append(f"  {title}:")
            lines.extend(f"    {isoformat_utc(e.occurred_at)} {e.type}"
                         f"{' in ' + e.campaign if e.campaign else ''}"
                         f"{' (flagged: ' + e.flag_reason + ')' if e.flag_reason else ''}" for e in events)
    return lines


def _console() -> Console:
    # sys.stdout looked up per call: the CLI runner swaps it in tests.
    return Console(file=sys.stdout, width=100)
