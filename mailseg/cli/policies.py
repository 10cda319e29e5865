"""`mailseg plan`, `mailseg run-policies`, `mailseg plans` and `mailseg resend`: the campaign policies."""

from __future__ import annotations

from datetime import datetime

import click

from ..audiences import find_audience
from ..progress import progress
from ..providers import platform_factory
from ..timeutil import isoformat_utc
from .params import DATETIME, as_of_option
from .runtime import Runtime, fails_cleanly, pass_runtime

audience_option = click.option("--audience", help="Audience name (default: the only one).")


@click.command("plan")
@audience_option
@as_of_option("Plan as of this ISO-8601 moment (a bare date is 00:00 UTC; default: now).")
@pass_runtime
@fails_cleanly
def plan(rt: Runtime, audience: str | None, as_of: datetime | None) -> None:
    """What every policy would do now: counts, segments, campaigns. Writes nothing."""
    from ..engagement.plain import render
    from ..policies import plan_policies
    from ..policies.outlook import ENABLED_BY, describe, next_actions, policies_run_at

    with rt.migrated_db().session() as session:
        target = find_audience(session, audience)
        settings = rt.settings(session)
        p = plan_policies(session, target, settings, as_of=as_of)
        actions = next_actions(session, p, settings, runs_at=policies_run_at(session))
    cap, re = p.cap, p.reengagement
    click.echo(f"as of {isoformat_utc(p.as_of)}")
    click.echo(f"frequency cap: {cap.eligible} eligible ({p.eligible_tag.name}: would add {p.eligible_tag.adds}, "
               f"remove {p.eligible_tag.removes}); {cap.held_back} of {cap.inactive} inactive held back; "
               f"{cap.mailings_per_month:g} regular mailings a month, {cap.allowed_per_month:g} for the inactive: "
               f"saves {cap.sends_saved_per_month} sends per month")
    state = "" if re.configured else " (off: set reengagement.template_campaign_id)"
    attempts = ", ".join(f"attempt {n}: {count}" for n, count in re.attempts.items())
    click.echo(f"re-engagement{state}: {re.entrants} entrants (attempt 1), {re.held_out} held out"
               f"{', ' + attempts if attempts else ''}; "
               f"{re.sunset} to sunset; {re.answered} answered since their attempt")
    if not p.resends:
        click.echo("resend: nothing due")
    for r in p.resends:
        click.echo(f"resend {r.key}: {r.recipients} non-openers of {r.original!r} ({r.held_out} held out), "
                   f"subject {r.subject!r}")
    click.echo(f"offer{'' if p.offer_configured else ' (off: set offer.campaign_id)'}: {p.offers} warmed-up subscribers")
    if p.unfinished:
        click.echo(f"unfinished actions to resume: {', '.join(p.unfinished)}")
    click.echo("next (the dashboard's list):" if actions else "next: nothing scheduled")
    for action in actions:
        when = isoformat_utc(action.at) if action.at else "next policies run"
        off = f" [off: set {ENABLED_BY[action.policy]}]" if not action.configured else ""
        click.echo(f"  {when}  {render(describe(action))}{off}")
    click.echo("plan only: nothing was written or sent")


@click.command("run-policies")
@audience_option
@click.option("--as-of", "as_of", type=DATETIME, help="Run as of this moment (ISO-8601; default now).", hidden=True)
@pass_runtime
@fails_cleanly
def run_policies(rt: Runtime, audience: str | None, as_of: datetime | None) -> None:
    """Run the policies now (what the scheduler does after each classification)."""
    from ..policies import run_policies as run

    with rt.migrated_db().session() as session:
        target = find_audience(session, audience)
        config = rt.settings(session)
        factory = platform_factory(config, target.provider)
        with progress(f"policies of {target.name}", unit="actions") as bar:
            report = run(session, target, config, factory, as_of=as_of, progress=bar)
    if report.resumed:
        click.echo(f"resumed: {', '.join(report.resumed)}")
    for key in report.done:
        click.echo(f"{key}: done, {report.recipients.get(key, 0)} recipients")
    click.echo(f"{len(report.done)} actions done ({len(report.recorded)} new)")


@click.group("plans")
def plans_group() -> None:
    """Campaign plans: a Mailchimp campaign copied and sent to the eligible tag on a cadence."""


@plans_group.command("add")
@click.argument("name")
@click.option("--template", "template", required=True, help="The Mailchimp campaign id to copy each time.")
@click.option("--cadence", required=True, help='Crontab, e.g. "0 10 * * 2" (Tuesdays 10:00).')
@click.option("--timezone", default=None, help="IANA time zone (default: scheduler.timezone).")
@audience_option
@pass_runtime
@fails_cleanly
def plans_add(rt: Runtime, name: str, template: str, cadence: str, timezone: str | None, audience: str | None) -> None:
    """Add campaign plan NAME: the --template campaign copied and sent to the eligible tag on --cadence."""
    from ..policies.plans import add_plan

    with rt.migrated_db().session() as session:
        target = find_audience(session, audience)
        plan = add_plan(session, target.id, name, template, cadence, timezone or rt.config.scheduler.timezone)
        session.commit()
        click.echo(f"plan {plan.name!r} added: {plan.template_campaign_id} on {plan.cadence!r} ({plan.timezone}), "
                   f"sent to {rt.config.frequency.eligible_tag}; the scheduler picks it up")


@plans_group.command("list")
@audience_option
@pass_runtime
@fails_cleanly
def plans_list(rt: Runtime, audience: str | None) -> None:
    """List the audience's campaign plans with their template and cadence."""
    from ..policies.plans import list_plans

    with rt.migrated_db().session() as session:
        target = find_audience(session, audience)
        plans = list_plans(session, target.id)
    if not plans:
        click.echo("no campaign plans")
    for p in plans:
        click.echo(f"{p.name}: {p.template_campaign_id} on {p.cadence!r} ({p.timezone})")


@plans_group.command("remove")
@click.argument("name")
@audience_option
@pass_runtime
@fails_cleanly
def plans_remove(rt: Runtime, name: str, audience: str | None) -> None:
    """Remove campaign plan NAME (the scheduler drops its job; sent campaigns stay)."""
    from ..policies.plans import remove_plan

    with rt.migrated_db().session() as session:
        target = find_audience(session, audience)
        if not remove_plan(session, target.id, name):
            click.echo(f"error: no plan named {name!r}", err=True)
            raise SystemExit(1)
        session.commit()
    click.echo(f"plan {name!r} removed")


@click.command("resend")
@click.argument("campaign")
@audience_option
@click.option("--on", "mode", flag_value="on", help="Resend this campaign to its non-openers.")
@click.option("--off", "mode", flag_value="off", help="Never resend this campaign.")
@click.option("--follow-rule", "mode", flag_value="rule", help="Follow resend.all_regular (the default).")
@click.option("--subject", "subjects", multiple=True,
              help="Subject of the next version ({subject} is the original's); repeat for versions 2, 3, ...")
@click.option("--default-subjects", is_flag=True, help="Use resend.subjects again for this campaign.")
@pass_runtime
@fails_cleanly
def resend_campaign(rt: Runtime, campaign: str, audience: str | None, mode: str | None, subjects: tuple[str, ...],
                    default_subjects: bool) -> None:
    """Switch resend to non-openers on or off for one CAMPAIGN (its Mailchimp id) and set its subjects."""
    from ..config import ConfigError
    from ..policies.resend import KEEP, CampaignNotFound, configure_resend

    enabled = {"on": True, "off": False, "rule": None}[mode] if mode else KEEP
    wanted = None if default_subjects else (list(subjects) if subjects else KEEP)
    with rt.migrated_db().session() as session:
        target = find_audience(session, audience)
        try:
            row = configure_resend(session, target.id, campaign, enabled=enabled, subjects=wanted)
        except CampaignNotFound as exc:
            raise click.ClickException(str(exc)) from None
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--subject") from None
        session.commit()
        state = {True: "on", False: "off", None: "following resend.all_regular"}[row.resend_enabled]
        click.echo(f"resend for {campaign}: {state}; subjects: "
                   f"{' | '.join(row.resend_subjects) if row.resend_subjects else 'resend.subjects'}")
