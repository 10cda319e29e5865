"""A small, known audience for the panel tests: subscribers in every class with their class
history (standing in for the classification engine), campaigns with a resend version, events
through the real ingest function, and a sync run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy.orm import Session

from mailseg.accounts import create_user
from mailseg.ingest.events import EventIn, store_events
from mailseg.models import Audience, Campaign, ClassChange, JobRun, Subscriber

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
PASSWORD = "correct horse battery"
ADMIN, VIEWER = "admin@panel.example", "viewer@panel.example"
APPLE_UA = "Mozilla/5.0"
HUMAN_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
# email -> (class, status)
PEOPLE = {
    "anna.kovalenko@example.com": ("active", "subscribed"),
    "anna.smith@example.org": ("semi_active", "subscribed"),
    "ivan.petrenko@example.com": ("inactive", "subscribed"),
    "li.wang@example.net": ("new", "subscribed"),
    "mei.zhang@example.com": ("unsubscribed", "unsubscribed"),
    "olena.bondar@example.com": ("active", "subscribed"),
}


@dataclass
class Seeded:
    audience_id: int
    ids: dict[str, int]
    original_id: int
    resend_id: int


def login(client, email: str, password: str = PASSWORD):
    return client.post("/login", data={"email": email, "password": password})


def seed_users(session: Session) -> None:
    create_user(session, ADMIN, PASSWORD, "admin")
    create_user(session, VIEWER, PASSWORD, "viewer")
    session.commit()


def seed_audience(session: Session, now: datetime | None = None) -> Seeded:
    now = now or datetime.now(timezone.utc)
    audience = Audience(name="panel", provider="mailchimp")
    session.add(audience)
    session.flush()
    ids = {}
    for i, (email, (klass, status)) in enumerate(sorted(PEOPLE.items())):
        sub = Subscriber(audience_id=audience.id, email=email, status=status, first_name=email.split(".")[0].title(),
                         subscribed_at=now - timedelta(days=400 - i), merge_fields={"COUNTRY": "UA"}, tags=["shop"],
                         engagement_class=klass, class_since=now - timedelta(days=10))
        session.add(sub)
        session.flush()
        ids[email] = sub.id
        # First classification 60 days ago as 'new', then the move to today's class 10 days ago.
        session.add(ClassChange(audience_id=audience.id, subscriber_id=sub.id, from_class=None, to_class="new",
                                changed_at=now - timedelta(days=60)))
        if klass != "new":
            session.add(ClassChange(audience_id=audience.id, subscriber_id=sub.id, from_class="new", to_class=klass,
                                    changed_at=now - timedelta(days=10)))
    original = Campaign(audience_id=audience.id, provider_id="c1", name="Spring sale", subject="Spring sale",
                        sent_at=now - timedelta(days=20), status="sent")
    session.add(original)
    session.flush()
    resend = Campaign(audience_id=audience.id, provider_id="c1-v2", name="Spring sale v2", subject="Last days",
                      sent_at=now - timedelta(days=13), status="sent", kind="resend", parent_id=original.id, variant=2)
    session.add_all([resend, Campaign(audience_id=audience.id, provider_id="c2", name="Summer preview",
                                      status="scheduled", sent_at=now + timedelta(days=3))])
    session.flush()
    sent = original.sent_at
    events = [EventIn("send", sent, "demo", email=e, campaign_id=original.id) for e in PEOPLE]
    events += [
        EventIn("open", sent + timedelta(hours=2), "demo", email="anna.kovalenko@example.com", campaign_id=original.id, user_agent=HUMAN_UA),
        EventIn("click", sent + timedelta(hours=2, minutes=1), "demo", email="anna.kovalenko@example.com",
                campaign_id=original.id, url="https://shop.example.com/sale", user_agent=HUMAN_UA),
        EventIn("open", sent + timedelta(seconds=5), "demo", email="ivan.petrenko@example.com", campaign_id=original.id,
                user_agent=APPLE_UA, ip="17.58.1.2"),
    ]
    non_openers = [e for e in PEOPLE if e not in ("anna.kovalenko@example.com",)]
    events += [EventIn("send", resend.sent_at, "demo", email=e, campaign_id=resend.id) for e in non_openers]
    events += [EventIn("open", resend.sent_at + timedelta(hours=1), "demo", email=e, campaign_id=resend.id, user_agent=HUMAN_UA)
               for e in ("anna.smith@example.org", "olena.bondar@example.com")]
    store_events(session, audience.id, events)
    session.add(JobRun(job="sync", audience_id=audience.id, status="succeeded", started_at=now - timedelta(hours=1),
                       finished_at=now - timedelta(minutes=59),
                       summary={"tags": {"ms-active": {"added": 2, "removed": 1, "failed": 0},
                                         "ms-inactive": {"added": 1, "removed": 0, "failed": 1}}}))
    for days_ago, counts in ((60, {"new": len(PEOPLE)}), (10, dict(Counter(k for k, _ in PEOPLE.values())))):
        session.add(JobRun(job="classify", audience_id=audience.id, status="succeeded", as_of=now - timedelta(days=days_ago),
                           started_at=now - timedelta(days=days_ago), finished_at=now - timedelta(days=days_ago),
                           summary={"counts": counts, "changes": len(PEOPLE)}))
    session.add(JobRun(job="classify", audience_id=audience.id, status="failed", started_at=now - timedelta(hours=2),
                       finished_at=now - timedelta(hours=2), error="RuntimeError: the window is broken"))
    session.commit()
    return Seeded(audience.id, ids, original.id, resend.id)
