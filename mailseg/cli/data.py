"""`mailseg import` and `mailseg export`: moving subscribers and events in and out as files."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path

import click

from ..audiences import ensure_audience, find_audience
from ..engagement import CLASS_COLUMNS, HISTORY_COLUMNS, class_rows, history_rows
from ..export import EVENT_COLUMNS, FORMATS, event_rows, subscriber_columns, subscriber_rows, write_rows
from ..ingest.importing import ImportReport, import_events_file, import_subscribers_file
from ..ingest.records import count_lines
from ..progress import progress
from .runtime import Runtime, fails_cleanly, pass_runtime

audience_option = click.option("--audience", help="Audience name (default: the only one).")
MAX_ERRORS_SHOWN = 50


@click.group("import")
def import_group() -> None:
    """Load subscribers or events from files."""


def _import_options(command):
    command = click.option("--skip-bad", is_flag=True,
                           help="Store the good rows even if some are bad (exit 0 with the bad ones listed).")(command)
    command = audience_option(command)
    return click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))(command)


@import_group.command("subscribers")
@_import_options
@pass_runtime
@fails_cleanly
def import_subscribers(rt: Runtime, file: Path, audience: str | None, skip_bad: bool) -> None:
    """Upsert subscribers from a CSV FILE.

    Columns: email (required), status, status_changed_at, subscribed_at, first_name, last_name, tags (a;b);
    any other column becomes a merge field. Re-importing updates, never duplicates.
    """
    with rt.migrated_db().session() as session:
        audience_id = ensure_audience(session, audience, provider_list_id=rt.config.mailchimp.list_id).id
        session.commit()
        with progress(f"importing {file.name}", max(count_lines(file) - 1, 0), unit="rows") as bar:
            report = import_subscribers_file(session, audience_id, file, skip_bad=skip_bad,
                                             batch_size=rt.config.imports.batch_size, progress=bar)
    _print_errors(report)
    if report.stored:
        click.echo(f"{file}: {report.records} rows: {report.inserted} added, {report.updated} updated, "
                   f"{report.unchanged} unchanged, {report.error_count} bad")
    _exit_for(report, skip_bad)


@import_group.command("events")
@_import_options
@pass_runtime
@fails_cleanly
def import_events(rt: Runtime, file: Path, audience: str | None, skip_bad: bool) -> None:
    """Import events from a CSV or JSON Lines FILE (by extension: .csv, .jsonl, .ndjson).

    Fields: email, type, occurred_at (ISO-8601, naive means UTC) required; campaign, url,
    user_agent, ip, amount optional. Events of unknown emails are reported and skipped.
    """
    with rt.migrated_db().session() as session:
        audience_id = find_audience(session, audience).id
        total = count_lines(file) - (1 if file.suffix.lower() == ".csv" else 0)
        with progress(f"importing {file.name}", max(total, 0), unit="rows") as bar:
            report = import_events_file(session, audience_id, file, skip_bad=skip_bad,
                                        batch_size=rt.config.imports.batch_size, progress=bar,
                                        flagging=rt.config.flagging)
    _print_errors(report)
    ev = report.events
    if ev.unknown:
        click.echo(f"skipped {ev.unknown} event(s) of unknown email addresses, e.g. "
                   f"{', '.join(ev.unknown_samples)}", err=True)
    if report.stored:
        kinds = ", ".join(f"{n} {t}" for t, n in sorted(ev.by_type.items())) or "none"
        click.echo(f"{file}: {report.records} rows: {ev.inserted} events stored ({kinds}), "
                   f"{ev.duplicates} already present, {ev.machine} flagged machine/bot, "
                   f"{ev.unknown} unknown emails, {ev.status_changes} status changes, {report.error_count} bad")
    _exit_for(report, skip_bad)


def _print_errors(report: ImportReport) -> None:
    for error in report.errors[:MAX_ERRORS_SHOWN]:
        click.echo(f"bad row: {error}", err=True)
    if report.error_count > MAX_ERRORS_SHOWN:
        click.echo(f"... and {report.error_count - MAX_ERRORS_SHOWN} more bad rows", err=True)


def _exit_for(report: ImportReport, skip_bad: bool) -> None:
    if report.error_count and not skip_bad:
        click.echo(f"{report.file}: {report.error_count} bad row(s); nothing was stored. "
                   "Fix them, or re-run with --skip-bad to store the good rows.", err=True)
        sys.exit(1)


@click.group("export")
def export_group() -> None:
    """Write subscribers, events, engagement classes or the class history to a file or standard output."""


def output_options(command):
    """--format and --output of every export (exports, segment members, form submissions)."""
    command = click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
                           help="File to write (default: standard output).")(command)
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True,
                        help="csv (spreadsheet-safe cells), json (one array) or jsonl (one object per line).")(command)


def _export_options(command):
    return audience_option(output_options(command))


def _open_output(output: Path | None):
    return output.open("w", newline="", encoding="utf-8") if output else nullcontext(sys.stdout)


@export_group.command("subscribers")
@_export_options
@pass_runtime
@fails_cleanly
def export_subscribers(rt: Runtime, audience: str | None, fmt: str, output: Path | None) -> None:
    """Subscribers with status, dates, tags and merge fields."""
    _export(rt, audience, fmt, output, subscriber_rows, subscriber_columns, "subscribers")


@export_group.command("events")
@_export_options
@pass_runtime
@fails_cleanly
def export_events(rt: Runtime, audience: str | None, fmt: str, output: Path | None) -> None:
    """Events with their machine/bot flag and source."""
    _export(rt, audience, fmt, output, event_rows, lambda *_: EVENT_COLUMNS, "events")


@export_group.command("classes")
@_export_options
@pass_runtime
@fails_cleanly
def export_classes(rt: Runtime, audience: str | None, fmt: str, output: Path | None) -> None:
    """Engagement classes: email, class, class_since, last human open and click."""
    _export(rt, audience, fmt, output, class_rows, lambda *_: CLASS_COLUMNS, "subscribers' classes")


@export_group.command("history")
@_export_options
@pass_runtime
@fails_cleanly
def export_history(rt: Runtime, audience: str | None, fmt: str, output: Path | None) -> None:
    """Class history: one row per class change (email, from_class, to_class, changed_at)."""
    _export(rt, audience, fmt, output, history_rows, lambda *_: HISTORY_COLUMNS, "class changes")


def _export(rt: Runtime, audience: str | None, fmt: str, output: Path | None, rows_of, columns_of, noun: str) -> None:
    """Write rows_of(session, audience_id) with columns_of(session, audience_id, fmt); report the count on stderr."""
    with rt.migrated_db().session() as session, _open_output(output) as out:
        audience_id = find_audience(session, audience).id
        count = write_rows(rows_of(session, audience_id), columns_of(session, audience_id, fmt), fmt, out)
    click.echo(f"exported {count} {noun}", err=True)
