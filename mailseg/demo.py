"""A realistic demo audience: a year of weekly campaigns to a few thousand subscribers with
readers, clickers, fading readers, Apple Mail Privacy Protection machine opens, unsubscribes and bounces,
and an order history (repeat buyers, dropouts, refunds) for the value pages.

Everything goes through the same ingest functions as real data, so the demo shows flagging at work.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .audiences import ensure_audience
from .ingest.events import EventIn, StoreResult, store_events
from .ingest.importing import SubscriberRow, upsert_subscribers
from .models import Campaign, Subscriber
from .progress import Progress

FIRST_NAMES = ["Anna", "Ivan", "Olena", "Li", "Wei", "Maria", "Taras", "Sofia", "Dmytro", "Mei", "Noah", "Emma",
               "Oleh", "Iryna", "Chen", "Lucas", "Yulia", "Andriy", "Hana", "Pavlo"]
LAST_NAMES = ["Kovalenko", "Shevchenko", "Wang", "Zhang", "Petrenko", "Smith", "Bondar", "Liu", "Melnyk", "Garcia"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example", "corp.example"]
SUBJECTS = ["Weekly picks", "New arrivals", "Tips of the week", "Our story", "Members' deals", "Last chance"]
APPLE_PROXY_UA = "Mozilla/5.0"
HUMAN_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17531; Pro)",
]


@dataclass
class Persona:
    """How one subscriber reacts to mail: chances per send, and when their interest fades."""

    open_p: float
    click_p: float
    apple_mail: bool
    fades_at_week: int | None


@dataclass
class DemoSummary:
    subscribers: int
    campaigns: int
    events: StoreResult
    audience_id: int = 0
    started_at: datetime | None = None


def _persona(rng: random.Random) -> Persona:
    kind = rng.random()
    apple = rng.random() < 0.35
    if kind < 0.25:  # clickers
        return Persona(0.6, 0.25, apple, None)
    if kind < 0.50:  # readers who rarely click
        return Persona(0.45, 0.01, apple, None)
    if kind < 0.80:  # interest fades at some point in the year
        return Persona(0.4, 0.08, apple, rng.randint(4, 40))
    return Persona(0.02, 0.0, apple, 0)  # never reads


def generate_demo(session: Session, *, audience_name: str | None = None, subscribers: int = 3000,
                  weeks: int = 52, seed: int = 2026, now: datetime | None = None,
                  progress: Progress | None = None) -> DemoSummary:
    """Create the demo audience and a year of campaigns ending at `now`, in the caller's transaction."""
    rng = random.Random(seed)
    now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    start = now - timedelta(weeks=weeks)
    audience = ensure_audience(session, audience_name or "demo", provider_list_id=None)
    audience_id = audience.id

    # 70% were there before the first campaign; the rest join over the year.
    rows, personas = [], {}
    for i in range(subscribers):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}.{i}@{rng.choice(DOMAINS)}".lower()
        joined = (start - timedelta(days=rng.randint(1, 900)) if rng.random() < 0.7
                  else start + timedelta(minutes=rng.randint(0, weeks * 7 * 24 * 60)))
        rows.append(SubscriberRow(email, {"status": "subscribed", "subscribed_at": joined, "first_name": first,
                                          "last_name": last, "tags": rng.sample(["shop", "blog", "events"], k=rng.randint(0, 2)),
                                          "merge_fields": {"COUNTRY": rng.choice(["UA", "CN", "US", "DE", "PL"])}}))
        personas[email] = _persona(rng)
    for offset in range(0, len(rows), 2000):
        upsert_subscribers(session, audience_id, rows[offset:offset + 2000])

    joined_at = dict(session.execute(select(Subscriber.email, Subscriber.subscribed_at)
                                     .where(Subscriber.audience_id == audience_id)).all())
    status: dict[str, str] = {email: "subscribed" for email in joined_at}
    total = StoreResult()
    for week in range(weeks):
        sent_at = start + timedelta(weeks=week, hours=10)
        if sent_at > now:
            break
        key = f"demo-{sent_at:%Y-%m-%d}"
        campaign = _ensure_campaign(session, audience_id, key, f"{rng.choice(SUBJECTS)} #{week + 1}", sent_at)
        events = []
        for email, persona in personas.items():
            if status[email] != "subscribed" or joined_at[email] > sent_at:
                continue
            events.extend(_reactions(rng, email, persona, week, sent_at, campaign.id, status))
        total.add(store_events(session, audience_id, events))
        if progress:
            progress.advance()
    campaigns = session.scalar(select(func.count()).select_from(Campaign).where(Campaign.audience_id == audience_id))
    return DemoSummary(subscribers=len(rows), campaigns=campaigns or 0, events=total, audience_id=audience_id,
                       started_at=start)


def classify_history(session: Session, audience_id: int, settings, start: datetime, *, every_weeks: int = 2,
                     now: datetime | None = None, progress: Progress | None = None, value_settings=None) -> int:
    """Classify the demo audience as the scheduler would have over the demo year (every few weeks,
    then now), so the dashboard has class sizes over time and a class history; with value_settings,
    each classification is followed by a value run with the same as_of (as in the scheduled chain).
    Returns the runs made."""
    from .engagement import classify_audience
    from .value import value_audience

    now = now or datetime.now(timezone.utc)
    moments = [start + timedelta(weeks=w) for w in range(every_weeks, 1000, every_weeks)]
    moments = [m for m in moments if m < now] + [now]
    for as_of in moments:
        classify_audience(session, audience_id, settings, as_of=as_of)
        if value_settings is not None:
            value_audience(session, audience_id, value_settings, as_of=as_of)
        if progress:
            progress.advance()
    return len(moments)


def generate_orders(session: Session, audience_id: int, start: datetime, now: datetime, *, seed: int = 2026,
                    share: float = 0.4) -> StoreResult:
    """A realistic order history over the demo period, through the one ingest function: a share of
    the subscribers buy, at their own rate, with their own basket size, and stop buying at some point
    (BG/NBD's story: after each order a chance to drop out); one order in 20 is refunded or
    cancelled, some orders carry their margin. Clickers buy more often than readers."""
    rng = random.Random(seed + 1)
    rows = session.execute(select(Subscriber.email, Subscriber.subscribed_at)
                           .where(Subscriber.audience_id == audience_id).order_by(Subscriber.id)).all()
    days = max((now - start).days, 1)
    events, number = [], 0
    for email, joined in rows:
        if rng.random() >= share:
            continue
        weekly = rng.gammavariate(0.8, 0.12)  # orders a week while active
        dropout = rng.betavariate(1.2, 4.0)  # chance to stop after each order
        basket = rng.gammavariate(3.0, 18.0)  # typical order value
        first = max(start, joined) + timedelta(days=rng.uniform(0, days * 0.6))
        at = first
        while at <= now:
            number += 1
            amount = round(max(1.0, rng.gammavariate(4.0, basket / 4.0)), 2)
            state = rng.choices(["paid", "refunded", "cancelled"], weights=[95, 3, 2])[0]
            margin = round(amount * rng.uniform(0.25, 0.6), 2) if rng.random() < 0.5 else None
            events.append(EventIn("purchase", at.replace(microsecond=0), "demo", email=email,
                                  amount=Decimal(str(amount)), order_id=f"demo-{number:07d}", order_status=state,
                                  margin=None if margin is None else Decimal(str(margin))))
            if rng.random() < dropout:
                break
            at += timedelta(days=rng.expovariate(weekly / 7) if weekly > 0 else days + 1)
    total = StoreResult()
    for offset in range(0, len(events), 5000):
        total.add(store_events(session, audience_id, events[offset:offset + 5000]))
    return total


def _ensure_campaign(session: Session, audience_id: int, key: str, subject: str, sent_at: datetime) -> Campaign:
    campaign = session.scalar(select(Campaign).where(Campaign.audience_id == audience_id, Campaign.provider_id == key))
    if campaign is None:
        campaign = Campaign(audience_id=audience_id, provider_id=key, name=key, subject=subject,
                            kind="regular", status="sent", sent_at=sent_at)
        session.add(campaign)
        session.flush()
    return campaign


def _reactions(rng: random.Random, email: str, p: Persona, week: int, sent_at: datetime,
               campaign_id: int, status: dict[str, str]) -> list[EventIn]:
    def event(kind: str, at: datetime, **extra) -> EventIn:
        return EventIn(type=kind, occurred_at=at, source="demo", email=email, campaign_id=campaign_id, **extra)

    delivered = sent_at + timedelta(seconds=rng.randint(0, 600))
    out = [event("send", delivered)]
    if rng.random() < 0.002:
        status[email] = "cleaned"
        out.append(event("bounce", delivered, new_status="cleaned"))
        return out
    if p.apple_mail:  # MPP prefetch: every image fetched by Apple's proxy within seconds of delivery
        out.append(event("open", delivered + timedelta(seconds=rng.randint(1, 30)), user_agent=APPLE_PROXY_UA,
                         ip=f"17.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"))
    faded = p.fades_at_week is not None and week >= p.fades_at_week
    open_p = p.open_p * (0.05 if faded else 1.0)
    if rng.random() < open_p:
        opened = delivered + timedelta(minutes=rng.randint(5, 3 * 24 * 60))
        out.append(event("open", opened, user_agent=rng.choice(HUMAN_UAS),
                         ip=f"198.51.100.{rng.randint(1, 254)}"))
        if rng.random() < (0.0 if faded else p.click_p):
            out.append(event("click", opened + timedelta(seconds=rng.randint(20, 600)),
                             url=f"https://shop.example.com/w{week + 1}", user_agent=rng.choice(HUMAN_UAS),
                             ip=f"198.51.100.{rng.randint(1, 254)}"))
    if rng.random() < (0.004 if faded else 0.001):
        status[email] = "unsubscribed"
        out.append(event("unsubscribe", delivered + timedelta(days=1)))
    return out
