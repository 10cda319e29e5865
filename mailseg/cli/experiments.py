"""`mailseg uplift` and `mailseg simulate`: what the policies' holdout experiments measured, and the
scheduled chain run over simulated weeks against the sandbox."""

from __future__ import annotations

import json

import click

from ..audiences import find_audience
from ..progress import progress
from .runtime import Runtime, fails_cleanly, pass_runtime

POLICY_CHOICE = click.Choice(["cap", "reengagement", "resend", "offer", "plan"])


@click.command("uplift")
@click.option("--audience", help="Audience name (default: the only one).")
@click.option("--policy", type=POLICY_CHOICE, help="One policy only.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="A table for people, or JSON for programs.")
@pass_runtime
@fails_cleanly
def uplift(rt: Runtime, audience: str | None, policy: str | None, fmt: str) -> None:
    """Each policy's measured effect: treated against held out, with 95% intervals, per cohort and pooled."""
    from ..experiments.uplift import freeze_due, uplift_report
    from ..experiments.words import METRIC_NAMES, POLICY_NAMES, figures, headline

    with rt.migrated_db().session() as session:
        target = find_audience(session, audience)
        config = rt.settings(session)
        freeze_due(session, target.id, config)
        reports = uplift_report(session, target.id, config, policy=policy)
    if fmt == "json":
        click.echo(json.dumps([_as_json(r) for r in reports], indent=2, default=str))
        return
    for r in reports:
        click.echo(f"== {POLICY_NAMES[r.policy]} (holdout {r.share:.0%}, salt {r.salt!r})")
        benefit, harm = headline(r)
        if benefit is None and not r.open:
            click.echo("  no exposures yet")
            continue
        for fig in (benefit, harm):
            if fig is not None:
                click.echo(f"  {fig.sentence(r.policy)}")
        if benefit is None:
            click.echo("  not enough data yet: no cohort has reached its horizon")
        for pooled in r.pooled:
            if pooled.salt != r.salt or pooled.metric in (r.benefit, "unsubscribe") and pooled.variant in (0, 2):
                continue
            label = f"version {pooled.variant}: " if pooled.variant else ""
            fig = figures(pooled.metric, pooled.comparison)
            click.echo(f"  {label}{fig.sentence(r.policy).split(': ', 1)[1]}")
        for cohort in r.open:
            label = f" version {cohort.variant}" if cohort.variant else ""
            mde = f", detectable now {cohort.mde * 100:.1f} points" if cohort.mde is not None else ""
            click.echo(f"  running: week of {cohort.cohort}{label}: {cohort.treated:,} treated vs {cohort.held_out:,} "
                       f"held out, verdict on {cohort.closes_at:%Y-%m-%d}{mde} ({METRIC_NAMES[r.benefit]})")


def _as_json(r) -> dict:
    from dataclasses import asdict

    return {"policy": r.policy, "holdout_share": r.share, "salt": r.salt, "benefit_metric": r.benefit,
            "pooled": [asdict(p) for p in r.pooled], "cohorts": [asdict(c) for c in r.cohorts],
            "running": [asdict(o) for o in r.open]}


@click.command("simulate")
@click.option("--audience", help="Audience name (default: the only one).")
@click.option("--weeks", type=click.IntRange(1, 260), required=True, help="Simulated weeks to run.")
@click.option("--step-days", type=click.IntRange(1, 7), default=1, show_default=True,
              help="Run the chain every N simulated days.")
@pass_runtime
@fails_cleanly
def simulate(rt: Runtime, audience: str | None, weeks: int, step_days: int) -> None:
    """Run the scheduled chain (delivery, pull, classify, value, segments, policies, sync, uplift,
    outlook) day by day over simulated weeks against the sandbox platform ([platform] kind = "sandbox")."""
    from ..simulation import simulate as run

    db = rt.migrated_db()
    with db.session() as session:
        target = find_audience(session, audience)
    config = rt.config
    with progress(f"simulating {weeks} weeks of {target.name}", weeks * 7) as bar:
        report = run(db, config, target.id, weeks=weeks, step_days=step_days, progress=bar)
    shares = ", ".join(f"{name} {share:.0%}" for name, share in report.shares().items())
    click.echo(f"simulated {report.days} days from {report.start:%Y-%m-%d} to {report.end:%Y-%m-%d} in "
               f"{report.total_seconds:.1f} s ({report.total_seconds / max(1, weeks):.1f} s per week; {shares})")
