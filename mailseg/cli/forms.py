"""`mailseg forms add|update|list|show|snippet|submissions|remove`: sign-up forms from the command line
(the panel's Surveys page builds the same forms)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ..audiences import find_audience
from ..export import write_rows
from ..forms import (SUBMISSION_COLUMNS, add_form, definition_of, form_snippet, form_url, get_form, list_forms,
                     parse_choices, remove_form, submission_counts, submission_rows, update_form)
from ..timeutil import isoformat_utc
from ..tracking.rewrite import public_base_url
from .data import _open_output, output_options
from .engagement import _console, audience_option
from .runtime import Runtime, fails_cleanly, pass_runtime


def _definition_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise click.UsageError(f"{path}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict):
        raise click.UsageError(f"{path}: must be a JSON object with the form's fields")
    return data


def _changes(title, consent, ask_name, interests, no_interests, question, answers, no_question) -> dict[str, Any]:
    """The fields given on the command line (an option not given changes nothing)."""
    changes: dict[str, Any] = {}
    if title is not None:
        changes["title"] = title
    if consent is not None:
        changes["consent_text"] = consent
    if ask_name is not None:
        changes["ask_name"] = ask_name
    if interests:
        changes["interests"] = [c for line in interests for c in parse_choices(line)]
    elif no_interests:
        changes["interests"] = []
    if no_question:
        if question or answers:
            raise click.UsageError("--no-question cannot be combined with --question or --answer")
        changes["question"] = None
    elif question is not None or answers:
        if question is None or not answers:
            raise click.UsageError("a question needs --question TEXT and its --answer choices (both)")
        changes["question"] = {"text": question, "answers": [c for line in answers for c in parse_choices(line)]}
    return changes


def form_options(adding: bool):
    """The form's fields as options (add: defaults; update: only what is given changes)."""
    options = [
        click.option("--file", "definition_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="The form as a JSON object (title, consent_text, ask_name, interests, question); "
                          "options given beside it win."),
        click.option("--title", help="The heading of the form, as visitors see it."),
        click.option("--consent", help="The consent text shown beside the checkbox; kept with every submission "
                                       "as evidence."),
        click.option("--ask-name/--no-ask-name", default=None,
                     help="Show the first-name field" + (" (default: shown)." if adding else ".")),
        click.option("--interest", "interests", multiple=True, metavar="'LABEL = TAG'",
                     help="An interest checkbox and the tag it sets (repeat; without '= TAG' the label is the tag)"
                          + ("." if adding else "; replaces the form's interests.")),
        click.option("--question", help="The one question (needs --answer choices)."),
        click.option("--answer", "answers", multiple=True, metavar="'LABEL = TAG'",
                     help="An answer to --question and the tag it sets (repeat, at least two)."),
    ]
    if not adding:
        options += [click.option("--no-interests", is_flag=True, help="Remove every interest checkbox."),
                    click.option("--no-question", is_flag=True, help="Remove the question.")]

    def decorate(function):
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


@click.group("forms")
def forms_group() -> None:
    """Sign-up forms: a hosted page /f/NAME and an embeddable snippet that set tags at sign-up."""


@forms_group.command("add")
@click.argument("name")
@form_options(adding=True)
@audience_option
@pass_runtime
@fails_cleanly
def add(rt: Runtime, name: str, definition_file: Path | None, audience: str | None, **fields: Any) -> None:
    """Create sign-up form NAME.

    NAME is lower-case letters, digits, '-' and '_': it is part of the page's address /f/NAME."""
    definition = {"ask_name": True, **_definition_file(definition_file), **_changes(no_interests=False,
                                                                                     no_question=False, **fields)}
    with rt.migrated_db().session() as session:
        form = add_form(session, find_audience(session, audience).id, {**definition, "name": name})
        session.commit()
        url = form_url(public_base_url(rt.config), form)
    click.echo(f"form {name} added: {url} (embed it: mailseg forms snippet {name})")


@forms_group.command("update")
@click.argument("name")
@form_options(adding=False)
@pass_runtime
@fails_cleanly
def update(rt: Runtime, name: str, definition_file: Path | None, **fields: Any) -> None:
    """Change some fields of form NAME.

    The fields not given stay as they are; the whole form is checked again."""
    changes = {**_definition_file(definition_file), **_changes(**fields)}
    changes.pop("name", None)
    if not changes:
        raise click.UsageError("nothing to change: give --title, --consent, --interest, --question ... or --file")
    with rt.migrated_db().session() as session:
        update_form(session, name, changes)
        session.commit()
    click.echo(f"form {name} updated ({', '.join(sorted(changes))})")


@forms_group.command("list")
@audience_option
@pass_runtime
@fails_cleanly
def list_command(rt: Runtime, audience: str | None) -> None:
    """Forms with their page and submissions.

    Also how many interests, whether there is a question, and the submissions accepted, confirmed and latest."""
    base = public_base_url(rt.config)
    table = Table()
    for column in ("form", "title", "page", "interests", "question", "submissions", "confirmed", "latest"):
        table.add_column(column, justify="right" if column in ("interests", "submissions", "confirmed") else "left")
    with rt.migrated_db().session() as session:
        audience_id = find_audience(session, audience).id
        counts = submission_counts(session, audience_id)
        for f in list_forms(session, audience_id):
            c = counts.get(f.id)
            table.add_row(f.name, f.title, form_url(base, f), str(len(f.interests or [])),
                          "yes" if f.question else "no", str(c.submissions if c else 0), str(c.confirmed if c else 0),
                          isoformat_utc(c.last_at) if c else "never")
    _console().print(table)


@forms_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the definition as JSON (a --file for add/update).")
@pass_runtime
@fails_cleanly
def show(rt: Runtime, name: str, as_json: bool) -> None:
    """Form NAME: its fields, page, snippet and submissions."""
    base = public_base_url(rt.config)
    with rt.migrated_db().session() as session:
        form = get_form(session, name)
        definition = definition_of(form)
        c = submission_counts(session, form.audience_id).get(form.id)
        if as_json:
            click.echo(json.dumps(definition, indent=2, ensure_ascii=False))
            return
        click.echo(f"form: {form.name}\ntitle: {form.title}\npage: {form_url(base, form)}")
        click.echo(f"asks the name: {'yes' if form.ask_name else 'no'}\nconsent text: {form.consent_text}")
        click.echo("interests:" + ("" if form.interests else " none"))
        for choice in form.interests or []:
            click.echo(f"  {choice['label']} -> tag {choice['tag']}")
        if form.question:
            click.echo(f"question: {form.question['text']}")
            for choice in form.question["answers"]:
                click.echo(f"  {choice['label']} -> tag {choice['tag']}")
        else:
            click.echo("question: none")
        click.echo(f"submissions: {c.submissions if c else 0} ({c.confirmed if c else 0} confirmed; latest "
                   f"{isoformat_utc(c.last_at) if c else 'never'})")
        click.echo(f"snippet: {form_snippet(base, form)}")


@forms_group.command("snippet")
@click.argument("name")
@pass_runtime
@fails_cleanly
def snippet(rt: Runtime, name: str) -> None:
    """The HTML that embeds form NAME in a web page.

    An iframe of the form's embeddable page, to paste into the site's HTML."""
    with rt.migrated_db().session() as session:
        click.echo(form_snippet(public_base_url(rt.config), get_form(session, name)))


@forms_group.command("submissions")
@click.argument("name")
@output_options
@pass_runtime
@fails_cleanly
def submissions(rt: Runtime, name: str, fmt: str, output: Path | None) -> None:
    """Export form NAME's submissions (consent evidence).

    Email, submitted_at, confirmed_at, IP address, browser, the tags set and the consent text agreed to."""
    with rt.migrated_db().session() as session:
        form = get_form(session, name)
        with _open_output(output) as out:
            count = write_rows(submission_rows(session, form.id), SUBMISSION_COLUMNS, fmt, out)
    click.echo(f"exported {count} submission(s) of {name}", err=True)


@forms_group.command("remove")
@click.argument("name")
@click.option("--delete-evidence", is_flag=True,
              help="Also delete the form's submissions (the consent evidence); refused without it when there are any.")
@pass_runtime
@fails_cleanly
def remove(rt: Runtime, name: str, delete_evidence: bool) -> None:
    """Delete form NAME; its page stops answering (404)."""
    with rt.migrated_db().session() as session:
        deleted = remove_form(session, name, delete_evidence=delete_evidence)
        session.commit()
    click.echo(f"form {name} removed" + (f" with {deleted} submission(s)" if deleted else ""))
