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
    from ..demo import classify_history, generate_demo, generate_orders

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
        settings = rt.settings(session)
        with progress("classifying and valuing the demo year", weeks // 2 + 1) as bar:
            runs = classify_history(session, summary.audience_id, settings.engagement, summary.started_at,
                                    progress=bar, value_settings=settings.value)
    ev = summary.events
    kinds = ", ".join(f"{n} {t}" for t, n in sorted(ev.by_type.items()))
    click.echo(f"demo audience {audience!r}: {summary.subscribers} subscribers, {summary.campaigns} campaigns, "
               f"{ev.inserted} events ({kinds}); {ev.machine} flagged machine/bot; {orders.inserted} orders; "
               f"classified and valued {runs} times over the period")
