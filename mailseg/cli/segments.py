"""`mailseg segments add|update|list|show|preview|refresh|remove` and `mailseg export segment`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
from rich.table import Table

from ..audiences import find_audience
from ..engagement.window import as_utc
from ..export import write_rows
from ..models import utcnow
from ..progress import progress
from ..segments import RuleError, add_segment, get_segment, list_segments, preview, refresh_all
from ..segments import remove_segment, update_segment
from ..segments.members import MEMBER_COLUMNS, member_rows
from ..segments.presets import PRESETS, install_order, preset_segments
from ..segments.store import AudienceResolver, mirrored_tag
from ..timeutil import isoformat_utc
from .data import _open_output, output_options
from .engagement import _console, audience_option
from .params import as_of_option
from .runtime import Runtime, fails_cleanly, pass_runtime


def _rule_file(path: Path | None) -> dict | None:
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise click.UsageError(f"{path}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


rule_file_option = click.option("--rule-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                                help="The rule as a JSON file (see README: Rule segments).")


@click.group("segments")
def segments_group() -> None:
    """Rule segments ("dynamic groups"): whoever matches the rule is a member."""


@segments_group.command("add")
@click.argument("name", required=False)
@rule_file_option
@click.option("--preset", type=click.Choice(sorted(PRESETS)), help="Install a preset (NAME not needed).")
@click.option("--nps-survey", help="loyalty-ladder preset: the 0-10 survey that makes supporters advocates.")
@click.option("--url-contains", help="unreliable preset: the product link to look for (default /product).")
@click.option("--sync/--no-sync", default=False, help="Mirror the segment as a tag on the platform.")
@click.option("--tag", help="The platform tag (default mailseg:seg:NAME).")
@click.option("--description", help="A note shown beside the segment in the panel and in `segments list`.")
@audience_option
@pass_runtime
@fails_cleanly
def add(rt: Runtime, name: str | None, rule_file: Path | None, preset: str | None, nps_survey: str | None,
        url_contains: str | None, sync: bool, tag: str | None, description: str | None, audience: str | None) -> None:
    """Save segment NAME with the rule of --rule-file, or install --preset NAME's segments."""
    with rt.migrated_db().session() as session:
        audience_id = find_audience(session, audience).id
        prefix = rt.settings(session).sync.tag_prefix
        if preset:
            options = {"url_contains": url_contains} if preset == "unreliable" else {}
            if preset == "loyalty-ladder" and nps_survey:
                found = AudienceResolver(session, audience_id).survey(nps_survey)
                if found is None:
                    raise RuleError([f"--nps-survey: there is no survey named {nps_survey!r}"])
                options = {"nps_survey": nps_survey, "nps_kind": found[1]}
            made = [add_segment(session, audience_id, p.name, p.rule, sync=sync, description=p.description,
                                tag_prefix=prefix) for p in install_order(preset_segments(preset, **options))]
            session.commit()
            click.echo(f"preset {preset}: added {', '.join(s.name for s in made)} (run `mailseg segments refresh`)")
            return
        rule = _rule_file(rule_file)
        if name is None or rule is None:
            raise click.UsageError("give NAME and --rule-file, or --preset")
        add_segment(session, audience_id, name, rule, sync=sync, tag=tag, description=description, tag_prefix=prefix)
        session.commit()
    click.echo(f"segment {name} added (run `mailseg segments refresh {name}` to evaluate it now)")


@segments_group.command("update")
@click.argument("name")
@rule_file_option
@click.option("--sync/--no-sync", default=None, help="Mirror (or stop mirroring) the segment as a tag.")
@click.option("--tag", help="The platform tag ('' for the default mailseg:seg:NAME).")
@click.option("--description", help="A new note shown beside the segment.")
@audience_option
@pass_runtime
@fails_cleanly
def update(rt: Runtime, name: str, rule_file: Path | None, sync: bool | None, tag: str | None,
           description: str | None, audience: str | None) -> None:
    """Change segment NAME's rule, sync flag, tag or description."""
    with rt.migrated_db().session() as session:
        audience_id = find_audience(session, audience).id
        update_segment(session, audience_id, name, rule=_rule_file(rule_file), sync=sync, tag=tag,
                       description=description, tag_prefix=rt.settings(session).sync.tag_prefix)
        session.commit()
    click.echo(f"segment {name} updated")


@segments_group.command("list")
@audience_option
@pass_runtime
@fails_cleanly
def list_command(rt: Runtime, audience: str | None) -> None:
    """Segments with their members and when they were last evaluated."""
    with rt.migrated_db().session() as session:
        audience_id = find_audience(session, audience).id
        prefix = rt.settings(session).sync.tag_prefix
        table = Table()
        for column in ("segment", "members", "last evaluated", "as of", "tag"):
            table.add_column(column, justify="right" if column == "members" else "left")
        for s in list_segments(session, audience_id):
            table.add_row(s.name, str(s.member_count) if s.last_evaluated_at else "-",
                          isoformat_utc(s.last_evaluated_at) or "never", isoformat_utc(s.last_as_of),
                          mirrored_tag(s, prefix) if s.sync else "")
    _console().print(table)


@segments_group.command("show")
@click.argument("name")
@audience_option
@pass_runtime
@fails_cleanly
def show(rt: Runtime, name: str, audience: str | None) -> None:
    """Segment NAME: its rule, members, tag and evaluation."""
    with rt.migrated_db().session() as session:
        audience_id = find_audience(session, audience).id
        s = get_segment(session, audience_id, name)
        prefix = rt.settings(session).sync.tag_prefix
        click.echo(f"segment: {s.name}")
        if s.description:
            click.echo(f"description: {s.description}")
        click.echo(f"members: {s.member_count if s.last_evaluated_at else 'not evaluated yet'}")
        click.echo(f"last evaluated: {isoformat_utc(s.last_evaluated_at) or 'never'} (as of {isoformat_utc(s.last_as_of) or '-'})")
        click.echo(f"mirrored as tag: {mirrored_tag(s, prefix) if s.sync else 'no'}")
        click.echo("rule:")
        click.echo(json.dumps(s.rule, indent=2, ensure_ascii=False))


@segments_group.command("preview")
@rule_file_option
@as_of_option("Preview as of this ISO-8601 moment (a bare date is 00:00 UTC; default: now).")
@audience_option
@pass_runtime
@fails_cleanly
def preview_command(rt: Runtime, rule_file: Path | None, as_of: datetime | None, audience: str | None) -> None:
    """How many subscribers match the rule and the first 10; writes nothing."""
    rule = _rule_file(rule_file)
    if rule is None:
        raise click.UsageError("--rule-file is required")
    with rt.migrated_db().session() as session:
        audience_id = find_audience(session, audience).id
        result = preview(session, audience_id, rule, rt.settings(session).engagement, as_of=as_of)
    click.echo(f"{result.count} subscriber(s) match as of {isoformat_utc(result.as_of)}")
    for email in result.sample:
        click.echo(f"  {email}")


@segments_group.command("refresh")
@click.argument("names", nargs=-1)
@as_of_option("Evaluate as of this ISO-8601 moment (a bare date is 00:00 UTC; default: now).")
@audience_option
@pass_runtime
@fails_cleanly
def refresh(rt: Runtime, names: tuple[str, ...], as_of: datetime | None, audience: str | None) -> None:
    """Evaluate every segment (or the NAMES) now and store the membership; joins and leaves go to the history."""
    with rt.migrated_db().session() as session:
        audience_id = find_audience(session, audience).id
        total = len(names) or len(list_segments(session, audience_id))
        moment = as_utc(as_of or utcnow())
        with progress("evaluating segments", total) as bar:
            results = refresh_all(session, audience_id, rt.settings(session).engagement, as_of=moment,
                                  names=list(names) or None, progress=bar)
    for r in results:
        click.echo(f"{r.name}: {r.members} member(s), {r.joined} joined, {r.left} left")
    click.echo(f"{len(results)} segment(s) evaluated as of {isoformat_utc(moment)}")


@segments_group.command("remove")
@click.argument("name")
@audience_option
@pass_runtime
@fails_cleanly
def remove(rt: Runtime, name: str, audience: str | None) -> None:
    """Delete segment NAME; its tag is emptied on the platform by the next sync."""
    with rt.migrated_db().session() as session:
        audience_id = find_audience(session, audience).id
        remove_segment(session, audience_id, name, tag_prefix=rt.settings(session).sync.tag_prefix)
        session.commit()
    click.echo(f"segment {name} removed")


@click.command("segment")
@click.argument("name")
@output_options
@audience_option
@pass_runtime
@fails_cleanly
def export_segment(rt: Runtime, name: str, fmt: str, output: Path | None, audience: str | None) -> None:
    """Members of segment NAME: email, joined_at (as of its last evaluation)."""
    with rt.migrated_db().session() as session:
        segment = get_segment(session, find_audience(session, audience).id, name)
        with _open_output(output) as out:
            count = write_rows(member_rows(session, segment.id), MEMBER_COLUMNS, fmt, out)
    click.echo(f"exported {count} member(s) of {name}", err=True)
