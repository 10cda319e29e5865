"""`mailseg surveys add|list|links|report`: one-click surveys and their NPS / CSI."""

from __future__ import annotations

import dataclasses
import json

import click
from rich.table import Table

from ..tracking.rewrite import public_base_url
from ..audiences import find_audience
from ..engagement import find_subscriber_id
from ..surveys import (add_survey, get_survey, list_surveys, mailchimp_links, subscriber_links,
                       survey_report)
from .engagement import _console, audience_option
from .runtime import Runtime, fails_cleanly, pass_runtime


@click.group("surveys")
def surveys_group() -> None:
    """One-click surveys: a question, its answers (or the 0-10 scale), a link per answer."""


@surveys_group.command("add")
@click.argument("name")
@click.option("--question", required=True, help="The question, as the reader sees it on the answer page.")
@click.option("--answer", "answers", multiple=True, help="An answer (repeat); without, the 0-10 scale.")
@click.option("--sync/--no-sync", default=False, help="Mirror the answers as tags survey:NAME:ANSWER.")
@audience_option
@pass_runtime
@fails_cleanly
def add(rt: Runtime, name: str, question: str, answers: tuple[str, ...], sync: bool, audience: str | None) -> None:
    """Create survey NAME."""
    with rt.migrated_db().session() as session:
        survey = add_survey(session, find_audience(session, audience).id, name, question, list(answers) or None,
                            sync=sync)
        session.commit()
        click.echo(f"survey {name} added: {', '.join(survey.answers)} (links: mailseg surveys links {name})")


@surveys_group.command("list")
@audience_option
@pass_runtime
@fails_cleanly
def list_command(rt: Runtime, audience: str | None) -> None:
    """Surveys with their question and answers."""
    table = Table()
    for column in ("survey", "question", "answers", "synced"):
        table.add_column(column)
    with rt.migrated_db().session() as session:
        for s in list_surveys(session, find_audience(session, audience).id):
            table.add_row(s.name, s.question, "0-10" if s.kind == "scale" else ", ".join(s.answers),
                          "yes" if s.sync else "no")
    _console().print(table)


@surveys_group.command("links")
@click.argument("name")
@click.option("--email", help="Print this subscriber's signed links (for mail mailseg renders).")
@audience_option
@pass_runtime
@fails_cleanly
def links(rt: Runtime, name: str, email: str | None, audience: str | None) -> None:
    """Answer links of survey NAME: with *|UNIQID|* for Mailchimp campaigns, or one subscriber's signed links."""
    config = rt.config
    with rt.migrated_db().session() as session:
        audience_id = find_audience(session, audience).id
        survey = get_survey(session, audience_id, name)
        if email:
            subscriber_id = find_subscriber_id(session, audience_id, email)
            found = subscriber_links(public_base_url(config), config.tracking.secret, survey, subscriber_id)
            click.echo(f"{survey.question} — signed links for {email}:")
        else:
            found = mailchimp_links(public_base_url(config), survey)
            click.echo(f"{survey.question} — paste into the Mailchimp campaign (Mailchimp fills in *|UNIQID|*):")
    for answer, url in found.items():
        click.echo(f"  {answer}: {url}")


@surveys_group.command("report")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON (every quarter).")
@click.option("--quarters", "last", type=click.IntRange(min=1), metavar="N",
              help="Show only the latest N quarters (default: every quarter with an answer).")
@audience_option
@pass_runtime
@fails_cleanly
def report(rt: Runtime, name: str, as_json: bool, last: int | None, audience: str | None) -> None:
    """Answers per quarter; for 0-10 surveys NPS and CSI per quarter, overall and by the engagement class
    and RFM segment each subscriber had when answering (from the class and value history)."""
    with rt.migrated_db().session() as session:
        result = survey_report(session, get_survey(session, find_audience(session, audience).id, name))
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(result), indent=2))
        return
    click.echo(f"survey {result.survey} ({'0-10 scale' if result.kind == 'scale' else 'choice'})")
    quarters = list(result.quarters)[-last:] if last else list(result.quarters)
    table = Table(title="answers per quarter (latest answer of each subscriber in the quarter)")
    table.add_column("quarter")
    for answer in result.answers:
        table.add_column(answer, justify="right")
    if result.kind == "scale":
        for column in ("answers", "NPS", "CSI"):
            table.add_column(column, justify="right")
    for quarter in quarters:
        counts = result.quarters[quarter]
        row = [quarter, *(str(counts.get(a, 0)) for a in result.answers)]
        if result.kind == "scale":
            s = result.quarter_scores[quarter]
            row += [str(s.answers), _shown(s.nps), _shown(s.csi, "no 1-3 answer")]
        table.add_row(*row)
    _console().print(table)
    for title, split in (("engagement class", "by_class"), ("RFM segment", "by_rfm_segment")):
        _console().print(_split_table(result, quarters, title, split))
    click.echo("none: not classified (or not valued) yet when answering; prospect: valued, no counted order yet")


def _split_table(result, quarters: list[str], title: str, split: str) -> Table:
    """One row per group, one column per quarter: NPS / CSI (answers), or the answer counts."""
    per_quarter = getattr(result, split)
    what = "NPS / CSI (answers)" if result.kind == "scale" else "answers"
    table = Table(title=f"{what} per quarter by {title} (the subscriber's {title} when answering)")
    table.add_column(title)
    for quarter in quarters:
        table.add_column(quarter, justify="right")
    for group in result.split_groups(split, quarters):
        row = [group]
        for quarter in quarters:
            cell = per_quarter.get(quarter, {}).get(group)
            if cell is None:
                row.append("")
            elif result.kind == "scale":
                row.append(f"{_shown(cell.nps)} / {_shown(cell.csi)} ({cell.answers})")
            else:
                row.append(", ".join(f"{a}: {n}" for a, n in cell.items()))
        table.add_row(*row)
    return table


def _shown(value: float | None, missing: str = "-") -> str:
    return missing if value is None else f"{value:g}"
