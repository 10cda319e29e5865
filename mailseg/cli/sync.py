"""`mailseg sync` and `mailseg pull`: mirror segments onto the email platform, import from it."""

from __future__ import annotations

import click

from ..audiences import find_audience
from ..progress import progress
from ..providers import platform_factory
from .runtime import Runtime, fails_cleanly, pass_runtime

audience_option = click.option("--audience", help="Audience name (default: the only one).")


@click.command()
@audience_option
@click.option("--dry-run", is_flag=True, help="Print what would be added and removed in every tag mailseg keeps "
              "(class tags, the eligible tag, the sunset tag); change nothing.")
@pass_runtime
@fails_cleanly
def sync(rt: Runtime, audience: str | None, dry_run: bool) -> None:
    """Mirror the engagement classes onto Mailchimp as tags (incremental, batched, resumable)."""
    from ..policies.engine import plan_every_tag
    from ..sync import sync_engagement

    with rt.migrated_db().session() as session:
        target = find_audience(session, audience)
        if dry_run:
            for plan in plan_every_tag(session, target, rt.settings(session)):
                click.echo(f"{plan.name}: would add {plan.adds}, remove {plan.removes}"
                           + _samples("add", plan.sample_adds) + _samples("remove", plan.sample_removes))
            click.echo("dry run: nothing was sent to Mailchimp")
            return
        factory = platform_factory(rt.config, target.provider)
        with progress(f"syncing tags of {target.name}", unit="members") as bar:
            report = sync_engagement(session, target, rt.config, factory, progress=bar)
    for name, tag in report.tags.items():
        click.echo(f"{name}: +{tag.added} -{tag.removed}, {tag.failed} refused, {tag.skipped} skipped")
        for email, error in tag.failures[:5]:
            click.echo(f"  refused {email}: {error}", err=True)
    click.echo(f"{report.batches} batches, {report.calls.calls} API calls ({report.calls.writes} writes, "
               f"{report.calls.retries} retried)")


def _samples(verb: str, emails: list[str]) -> str:
    return f"\n  e.g. {verb} {', '.join(emails)}" if emails else ""


@click.command()
@audience_option
@pass_runtime
@fails_cleanly
def pull(rt: Runtime, audience: str | None) -> None:
    """Import members, sends and email activity from Mailchimp since the last pull."""
    from ..sync.pull import pull_audience

    with rt.migrated_db().session() as session:
        target = find_audience(session, audience)
        platform = platform_factory(rt.config, target.provider)()
        with progress(f"pulling {target.name} from Mailchimp", unit="records") as bar:
            report = pull_audience(session, target, rt.config, platform, progress=bar)
    ev = report.events
    kinds = ", ".join(f"{n} {t}" for t, n in sorted(ev.by_type.items())) or "none"
    click.echo(f"members: {report.members} read, {report.inserted} new, {report.updated} updated; "
               f"campaigns: {report.campaigns}; events: {ev.inserted} stored ({kinds}), "
               f"{ev.duplicates} already present, {ev.unknown} unknown")
