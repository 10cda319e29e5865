"""`mailseg demo`: load a realistic demo audience."""

from __future__ import annotations

import click
from sqlalchemy import select

from ..models import Audience, utcnow
from ..progress import progress
from .runtime import Runtime, fails_cleanly, pass_runtime


@click.command()
@click.option("--audience", default="demo", show_default=True, help="Name of the demo audience.")
@click.option("--subscribers", default=3000, show_default=True, type=click.IntRange(10, 1_000_000))
@click.option("--weeks", default=52, show_default=True, type=click.IntRange(1, 260), help="Weekly campaigns to generate.")
@click.option("--seed", default=2026, show_default=True, type=int, help="Random seed (same seed, same data).")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already holds an audience.")
@pass_runtime
@fails_cleanly
def demo(rt: Runtime, audience: str, subscribers: int, weeks: int, seed: int, if_empty: bool) -> None:
    """Create a demo audience: a year of weekly campaigns with sends, human and Apple-proxy opens,
    clicks, unsubscribes and bounces, and orders (repeat buyers, dropouts, refunds)."""
    from ..demo import generate_demo, generate_orders
    from ..engagement.backfill import backfill_audience, backfill_points, parse_every
    from ..value import value_audience

    with rt.migrated_db().session() as session:
        if if_empty and session.scalar(select(Audience.id).limit(1)) is not None:
            click.echo("database already has data; demo not loaded")
            return
        if session.scalar(select(Audience.id).where(Audience.name == audience)) is not None:
            raise click.ClickException(f"audience {audience!r} already exists; choose another --audience")
        with progress("generating demo campaigns", weeks) as bar:
            summary = generate_demo(session, audience_name=audience, subscribers=subscribers, weeks=weeks,
                                    seed=seed, progress=bar)
            orders = generate_orders(session, summary.audience_id, summary.started_at, utcnow(), seed=seed)
            session.commit()
        # The class and value history the scheduler would have written: a backfill from the first campaign,
        # each point valued with the same as_of (as in the scheduled chain).
        settings = rt.settings(session)
        every, now = parse_every("14d"), utcnow()
        with progress("classifying the demo period", len(backfill_points(summary.started_at, every, now))) as bar:
            result = backfill_audience(session, summary.audience_id, settings.engagement,
                                       summary.started_at, every, now=now, progress=bar)
        with progress("valuing the demo period", len(result.points)) as bar:
            for point in result.points:
                value_audience(session, summary.audience_id, settings.value, as_of=point.as_of)
                bar.advance()
        session.commit()
        runs = len(result.points)
    ev = summary.events
    kinds = ", ".join(f"{n} {t}" for t, n in sorted(ev.by_type.items()))
    click.echo(f"demo audience {audience!r}: {summary.subscribers} subscribers, {summary.campaigns} campaigns, "
               f"{ev.inserted} events ({kinds}); {ev.machine} flagged machine/bot; {orders.inserted} orders; "
               f"class history backfilled and valued at {runs} points (every 14 days, then now)")
