"""The one module of test builders (issue 11): audiences, subscribers, events, campaigns, class
history, the panel's seeded audience, the sync tests' mirrored audience, and the clock constants.
Builders write rows directly (fast, exact) unless they say they go through a domain function.
New builders go here, in the section they belong to."""

from __future__ import annotations

import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from mailseg.models import (Audience, Campaign, ClassChange, Event, JobRun, ReengagementState, Subscriber,
                            SyncMember, SyncSegment)

UTC = timezone.utc
# Moments the tests share.
T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)          # ingest, webhooks, tracking
AS_OF = datetime(2026, 8, 31, 12, 0, tzinfo=UTC)         # classification and policies
# With the default 6-month window, AS_OF's window starts here (day clamped to February's end).
WINDOW_START = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
LIST_ID = "list0001"
CLASSES = ("active", "semi_active", "inactive", "new")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def write_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text.lstrip("\n"), encoding="utf-8")
    return path


class FrozenClock:
    """What mailseg's utcnow() returns while the `frozen_clock` fixture (conftest.py) is active."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


# --- audiences and subscribers ---------------------------------------------------------------------

def make_audience(session, name: str = "main", list_id: str | None = "list1") -> Audience:
    audience = Audience(name=name, provider="mailchimp", provider_list_id=list_id)
    session.add(audience)
    session.flush()
    return audience


def audience(session, name="default", list_id=None) -> Audience:
    """The ingest tests' audience: no platform list unless given."""
    return make_audience(session, name, list_id)


def engagement_audience(session, name: str = "main") -> int:
    return make_audience(session, name, list_id=None).id


def policy_audience(session) -> int:
    return make_audience(session, "default", LIST_ID).id


def make_subscriber(session, audience: Audience, email: str, *, status: str = "subscribed",
                    subscribed_at: datetime | None = None, **extra) -> Subscriber:
    """A subscriber row as stored (no status history: the status it has is the one it was created with)."""
    sub = Subscriber(audience_id=audience.id, email=email, status=status,
                     subscribed_at=subscribed_at or utc(2025, 1, 1), **extra)
    session.add(sub)
    session.flush()
    return sub


def subscriber(session, audience_row, email, status="subscribed") -> Subscriber:
    return make_subscriber(session, audience_row, email, status=status, subscribed_at=T0)


def add_subscriber(session, audience_id: int, email: str, *, status: str = "subscribed",
                   subscribed_at: datetime = LONG_AGO) -> int:
    return make_subscriber(session, session.get(Audience, audience_id), email, status=status,
                           subscribed_at=subscribed_at).id


def classed_subscriber(session, audience_id: int, email: str, klass: str | None = "inactive", *,
                       status: str = "subscribed", subscribed_at: datetime = LONG_AGO) -> int:
    """A subscriber with a stored class, as a classification would have left it."""
    return make_subscriber(session, session.get(Audience, audience_id), email, status=status,
                           subscribed_at=subscribed_at, engagement_class=klass).id


def stored_class(session, subscriber_id: int) -> str | None:
    session.expire_all()
    return session.get(Subscriber, subscriber_id).engagement_class


# --- events, campaigns, class history --------------------------------------------------------------

def add_event(session, subscriber_id: int, type_: str, occurred_at: datetime, *,
              machine_reason: str | None = None, campaign_id: int | None = None, machine: bool = False) -> None:
    """An event row written directly (no flagging, no status change); `machine` flags it as Apple MPP."""
    if machine and machine_reason is None:
        machine_reason = "apple_mpp"
    session.add(Event(subscriber_id=subscriber_id, type=type_, occurred_at=occurred_at,
                      is_machine=machine_reason is not None, machine_reason=machine_reason,
                      campaign_id=campaign_id, source="import", dedupe_key=uuid.uuid4().hex))
    session.flush()


def sends(session, subscriber_id: int, count: int, *, last: datetime = AS_OF - timedelta(days=70)) -> None:
    """`count` sends a week apart, the last at `last`."""
    for week in range(count):
        add_event(session, subscriber_id, "send", last - timedelta(weeks=week))


def events(session, **where) -> list[Event]:
    """The stored events matching column=value filters, in time order."""
    session.expire_all()
    stmt = select(Event).order_by(Event.occurred_at, Event.id)
    for name, value in where.items():
        stmt = stmt.where(getattr(Event, name) == value)
    return list(session.scalars(stmt))


def campaign(session, audience_row, provider_id="c1", sent_at=None) -> Campaign:
    row = Campaign(audience_id=audience_row.id, provider_id=provider_id, name=provider_id, sent_at=sent_at)
    session.add(row)
    session.flush()
    return row


def sent_campaign(session, audience_id: int, provider_id: str, sent_at: datetime, *, subject: str = "Autumn sale",
                  kind: str = "regular", parent_id: int | None = None, variant: int = 1,
                  on_platform: bool = True) -> int:
    """A sent campaign; on_platform=False for one known only from an imported history file."""
    row = Campaign(audience_id=audience_id, provider_id=provider_id, name=subject, subject=subject, kind=kind,
                   status="sent", sent_at=sent_at, parent_id=parent_id, variant=variant, on_platform=on_platform)
    session.add(row)
    session.flush()
    return row.id


def moved(session, audience_id: int, subscriber_id: int, at: datetime, from_class="semi_active", to_class="active"):
    """A class change as a classification run would record it."""
    session.add(ClassChange(audience_id=audience_id, subscriber_id=subscriber_id, from_class=from_class,
                            to_class=to_class, changed_at=at))
    session.flush()


def state(session, subscriber_id: int) -> ReengagementState | None:
    session.expire_all()
    return session.get(ReengagementState, subscriber_id)


def ids(session, stmt) -> set[int]:
    """The `id` column of a select, as a set."""
    return set(session.scalars(select(stmt.subquery().c.id)))


# --- web clients and tracking ----------------------------------------------------------------------

def client_for(config, database, **sections):
    from mailseg.app import create_app

    app = create_app(config.replace(**sections), database=database)
    app.config["TESTING"] = True
    return app.test_client()


def tracked_recipient(session):
    """An audience, a subscriber and a campaign, committed: the recipient a tracking token names."""
    from mailseg.tracking import OpenToken

    aud = audience(session)
    sub = subscriber(session, aud, "reader@example.com")
    camp = campaign(session, aud)
    session.commit()
    return OpenToken(aud.id, sub.id, camp.id)


# --- sync: an audience mirrored by a list in the fake Mailchimp --------------------------------------

def email(i: int) -> str:
    return f"s{i:05d}@example.org"


def mirrored_audience(session, fake, count: int, *, on_platform: bool = True) -> int:
    """`count` subscribers, class i % 4 (set with an UPDATE, as the classification engine would)."""
    row = Audience(name="default", provider="mailchimp", provider_list_id=LIST_ID)
    session.add(row)
    session.flush()
    session.execute(insert(Subscriber), [
        {"audience_id": row.id, "email": email(i), "status": "subscribed", "merge_fields": {}, "tags": []}
        for i in range(count)])
    for i, name in enumerate(CLASSES):
        set_class(session, [e for n in range(count) if n % 4 == i for e in [email(n)]], name)
    session.commit()
    if on_platform:
        fake.add_members(LIST_ID, [email(i) for i in range(count)])
    return row.id


def set_class(session, emails: list[str], name: str) -> None:
    for sub in session.scalars(select(Subscriber).where(Subscriber.email.in_(emails))):
        sub.engagement_class = name
    session.commit()


def desired(session, name: str) -> set[str]:
    return set(session.scalars(select(Subscriber.email).where(Subscriber.engagement_class == name)))


def recorded(session, tag: str) -> set[str]:
    return set(session.scalars(
        select(Subscriber.email).join(SyncMember, SyncMember.subscriber_id == Subscriber.id)
        .join(SyncSegment, SyncSegment.id == SyncMember.segment_id).where(SyncSegment.name == tag)))


def fast_factory(config, max_attempts: int = 8):
    """Platform clients with millisecond backoff, so retry tests stay fast."""
    from mailseg.providers.mailchimp import MailchimpPlatform, RetryPolicy

    policy = RetryPolicy(max_attempts=max_attempts, base_delay=0.005, max_delay=0.02)
    return lambda: MailchimpPlatform(config.mailchimp, retry=policy)


def batch_bodies(fake, since: int = 0) -> list[dict]:
    return [c.body for c in fake.calls[since:]
            if c.method == "POST" and "/segments/" in c.path and 200 <= c.status < 300]


# --- the panel's seeded audience: subscribers in every class with their class history (standing in
# for the classification engine), campaigns with a resend version, events through the real ingest
# function, and a sync run ----------------------------------------------------------------------------

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
    from mailseg.accounts import create_user

    create_user(session, ADMIN, PASSWORD, "admin")
    create_user(session, VIEWER, PASSWORD, "viewer")
    session.commit()


def seed_audience(session: Session, now: datetime | None = None) -> Seeded:
    from mailseg.ingest.events import EventIn, store_events

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
def fresh_cli(tmp_path: Path, sqlite_template: Path, config):
    """An empty, migrated SQLite database and a `mailseg ...` invoker against it (for round trips:
    export from the test database, import here). Returns (invoke, database); dispose the database."""
    import shutil

    from click.testing import CliRunner

    from mailseg.cli import main
    from mailseg.cli.runtime import Runtime
    from mailseg.db import Database

    path = tmp_path / "fresh.sqlite3"
    shutil.copy(sqlite_template, path)
    fresh = Database(f"sqlite:///{path}")
    fresh_config = config.replace(database={"url": fresh.url})

    def invoke(*args):
        return CliRunner().invoke(main, [str(a) for a in args], obj=Runtime(_config=fresh_config, _database=fresh))

    return invoke, fresh


@contextmanager
def gunicorn_serving(tmp_path: Path, sqlite_template: Path, env: dict[str, str], *, workers: int = 1, seed=None):
    """gunicorn with mailseg's shipped configuration (README's production command) on a free port,
    against a migrated SQLite copy (seed(session) fills it first); yields (base URL, log path, master)."""
    import os
    import shutil
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    db = tmp_path / "gunicorn.sqlite3"
    shutil.copy(sqlite_template, db)
    if seed is not None:
        from mailseg.db import Database

        database = Database(f"sqlite:///{db}")
        with database.session() as session:
            seed(session)
            session.commit()
        database.dispose()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    full_env = {**os.environ, "MAILSEG_DATABASE_URL": f"sqlite:///{db}", "MAILSEG_WEB_SECRET_KEY": "k" * 32, **env}
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")), "-c", "python:mailseg.gunicorn_conf",
                                 "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "mailseg.app:create_app()"],
                                env=full_env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/healthz", timeout=5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(log.read_text()) from None
                time.sleep(0.2)
        yield url, log, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def make_order(session, audience: Audience, email: str, at: datetime, amount, *, order_id: str | None = None,
               status: str | None = None, margin=None) -> None:
    """A purchase stored through the one ingest function (order_id defaults to a unique one)."""
    from decimal import Decimal
    from uuid import uuid4

    from mailseg.ingest.events import EventIn, store_events

    order = EventIn(type="purchase", occurred_at=at, source="import", email=email, amount=Decimal(str(amount)),
                    order_id=order_id or uuid4().hex, order_status=status,
                    margin=None if margin is None else Decimal(str(margin)))
    assert store_events(session, audience.id, [order]).received == 1


def simulated_buyers(session, audience: Audience, count: int, *, end: datetime, seed: int = 1,
                     prefix: str = "buyer") -> list[str]:
    """count customers whose purchases follow the BG/NBD story (Gamma purchase rates, a Beta dropout
    chance after each purchase) over the year before `end`, and spend the Gamma-Gamma story (amounts
    Gamma(p = 4, nu), nu ~ Gamma(q = 4, gamma = 60)): data both fits converge on."""
    import numpy as np

    rng = np.random.default_rng(seed)
    emails = []
    for n in range(count):
        email = f"{prefix}{n}@example.com"
        emails.append(email)
        make_subscriber(session, audience, email)
        rate, dropout, nu = rng.gamma(0.5, 1 / 20), rng.beta(1.0, 3.0), rng.gamma(4, 1 / 60)
        day = float(rng.integers(0, 180))
        while day < 365:
            at = end - timedelta(days=365) + timedelta(days=day, hours=int(rng.integers(0, 12)))
            make_order(session, audience, email, at, round(float(rng.gamma(4, 1 / nu)), 2))
            if rng.random() < dropout:
                break
            day += float(rng.exponential(1 / rate))
    session.commit()
    return emails


def check_openapi(response, path: str, method: str) -> None:
    """Validate a JSON API response against the operation's schema in the served OpenAPI document
    (JSON Schema 2020-12, as OpenAPI 3.1 uses): status code documented, body valid."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    from mailseg.api.openapi import document

    spec = document()
    operation = spec["paths"][path][method.lower()]
    assert str(response.status_code) in operation["responses"], \
        f"{method} {path}: status {response.status_code} is not documented"
    content = operation["responses"][str(response.status_code)]["content"]["application/json"]
    assert response.mimetype == "application/json"
    registry = Registry().with_resource("urn:mailseg-api", Resource.from_contents(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", **spec}))
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "urn:mailseg-api#response",
              **content["schema"]}
    schema = {"$ref": "urn:mailseg-api#" + content["schema"]["$ref"][1:]} if "$ref" in content["schema"] else schema
    Draft202012Validator(schema, registry=registry).validate(response.get_json())


def make_exposures(session, audience_id: int, policy: str, key: str, at: datetime, subscriber_ids, *, held: bool,
                   variant: int = 0, campaign_id: int | None = None, share: float = 0.5, salt: str = "") -> None:
    """Exposures of one group of an experiment, as the policies record them."""
    from mailseg.experiments.exposures import cohort_of, note_cohort
    from mailseg.models import Exposure

    for sid in subscriber_ids:
        session.add(Exposure(audience_id=audience_id, policy=policy, key=key, subscriber_id=sid, held_out=held,
                             exposed_at=at, cohort=cohort_of(at), salt=salt, share=share, variant=variant,
                             campaign_id=campaign_id))
    session.flush()
    if subscriber_ids:
        note_cohort(session, audience_id, policy, cohort_of(at), variant, salt, share)


def make_event(session, subscriber_id: int, type_: str, at: datetime, *, machine: bool = False,
               amount: float | None = None, campaign_id: int | None = None, url: str | None = None,
               order_status: str | None = None) -> None:
    import uuid

    from mailseg.models import Event

    session.add(Event(subscriber_id=subscriber_id, type=type_, occurred_at=at, is_machine=machine, amount=amount,
                      campaign_id=campaign_id, source="import", dedupe_key=uuid.uuid4().hex, url=url,
                      order_status=order_status))
    session.flush()


def analyze(database) -> None:
    """PostgreSQL: refresh the planner's statistics, as autovacuum would between a large load and the
    queries after it (a test is shorter than autovacuum's naptime, and the test server may run
    without it: a never-analyzed table is planned as a tiny one, e.g. a sequential scan comparing
    each of thousands of rows with a 1,000-address array per lookup). No-op on SQLite."""
    if database.dialect == "postgresql":
        with database.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()


def due_for_reengagement(session, app, config, audience_id: int, email: str):
    """Six mailings in the window with no open: the subscriber is due for re-engagement at the next
    run. The app gets a re-engagement template and the outlook ("Next") is stored; returns the config."""
    from mailseg.ingest.events import EventIn, store_events
    from mailseg.models import Audience, utcnow
    from mailseg.policies.outlook import store_outlook

    now = utcnow()
    store_events(session, audience_id, [EventIn("send", now - timedelta(days=30 + 7 * week), "demo", email=email)
                                        for week in range(6)])
    session.commit()
    settings = config.replace(reengagement={"template_campaign_id": "c-reengage"})
    app.extensions["mailseg.config"] = settings
    store_outlook(session, session.get(Audience, audience_id), settings)
    return settings
