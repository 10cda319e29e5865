"""`mailseg demo`: load a realistic demo audience."""

from __future__ import annotations

import click
from sqlalchemy import select

from ..models import Audience, utcnow
from ..progress import progress
from .runtime import Runtime, fails_cleanly, pass_runtime


@click.command()
@click.option("--audience", default="demo", show_default=True, help="Name of the demo audience.")
@click.option("--subscribers", default=3000, show_default=True, type=click.IntRange(10, 1_000_000),
              help="Subscribers to create.")
@click.option("--weeks", default=52, show_default=True, type=click.IntRange(1, 260), help="Weekly campaigns to generate.")
@click.option("--seed", default=2026, show_default=True, type=int, help="Random seed (same seed, same data).")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already holds an audience.")
@click.option("--simulate-weeks", default=16, show_default=True, type=click.IntRange(0, 104),
              help="Weeks run on the sandbox platform after the history (policies, resends, experiments); "
                   "0: history only.")
@pass_runtime
@fails_cleanly
def demo(rt: Runtime, audience: str, subscribers: int, weeks: int, seed: int, if_empty: bool,
         simulate_weeks: int) -> None:
    """Create a demo audience: a year of weekly campaigns with sends, human and Apple-proxy opens,
    clicks, unsubscribes and bounces, and orders (repeat buyers, dropouts, refunds); then simulated
    weeks on the sandbox platform, where the policies act (with their holdouts) and the simulated
    subscribers react."""
    from datetime import timedelta

    from ..demo import generate_demo, generate_orders
    from ..engagement.backfill import backfill_audience, backfill_points, parse_every
    from ..value import value_audience

    history_end = utcnow() - timedelta(weeks=simulate_weeks)
    with rt.migrated_db().session() as session:
        if if_empty and session.scalar(select(Audience.id).limit(1)) is not None:
            click.echo("database already has data; demo not loaded")
            return
        if session.scalar(select(Audience.id).where(Audience.name == audience)) is not None:
            raise click.ClickException(f"audience {audience!r} already exists; choose another --audience")
        with progress("generating demo campaigns", weeks, unit="weeks") as bar:
            summary = generate_demo(session, audience_name=audience, subscribers=subscribers, weeks=weeks,
                                    seed=seed, now=history_end, progress=bar)
            orders = generate_orders(session, summary.audience_id, summary.started_at, history_end, seed=seed)
            session.commit()
        # The class and value history the scheduler would have written: a backfill from the first campaign,
        # each point valued with the same as_of (as in the scheduled chain).
        settings = rt.settings(session)
        every, now = parse_every("14d"), history_end
        with progress("classifying the demo period", len(backfill_points(summary.started_at, every, now))) as bar:
            result = backfill_audience(session, summary.audience_id, settings.engagement,
                                       summary.started_at, every, now=now, progress=bar)
        with progress("valuing the demo period", len(result.points)) as bar:
            for point in result.points:
                value_audience(session, summary.audience_id, settings.value, as_of=point.as_of)
                bar.advance()
        session.commit()
        runs = len(result.points)
        from ..policies.outlook import store_outlook
        from ..subscribers.activity import refresh_activity

        refresh_activity(session, summary.audience_id, as_of=now)  # the audience list's sort by last activity
        store_outlook(session, session.get(Audience, summary.audience_id), settings, as_of=now)  # the dashboard's "Next"
    ev = summary.events
    kinds = ", ".join(f"{n} {t}" for t, n in sorted(ev.by_type.items()))
    click.echo(f"demo audience {audience!r}: {summary.subscribers} subscribers, {summary.campaigns} campaigns, "
               f"{ev.inserted} events ({kinds}); {ev.machine} flagged machine/bot; {orders.inserted} orders; "
               f"class history backfilled and valued at {runs} points (every 14 days, then the end of the history)")
    if simulate_weeks:
        _simulate(rt, summary.audience_id, history_end, simulate_weeks)


def _simulate(rt: Runtime, audience_id: int, history_end, weeks: int) -> None:
    from ..demo_sandbox import setup_demo_sandbox
    from ..simulation import simulate

    config = rt.config.replace(platform={"kind": "sandbox"})
    db = rt.migrated_db()
    with db.session() as session:
        setup = setup_demo_sandbox(session, audience_id, rt.settings(session), history_end)
        session.commit()
    with progress(f"simulating {weeks} weeks on the sandbox platform", weeks * 7) as bar:
        report = simulate(db, config, audience_id, weeks=weeks, progress=bar)
    from ..sandbox.world import follow_real_time

    with db.transaction() as session:
        follow_real_time(session, setup.list_id)  # the scheduler carries on in real time
    click.echo(f"sandbox platform: {setup.members} simulated subscribers; {report.days} days simulated up to "
               f"{report.end:%Y-%m-%d} in {report.total_seconds:.0f} s (the audience is simulated: run the app and "
               f"the scheduler with MAILSEG_PLATFORM_KIND=sandbox, as scripts/demo does)")
