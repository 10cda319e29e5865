"""Benchmark of `mailseg sync` against the fake Mailchimp on loopback.

    .venv/bin/python bench/sync.py [--subscribers 1000000] [--change 0.05] [--database URL]

Builds an audience of N classified subscribers (SQLite file by default) and a fake Mailchimp list
holding the same members (served by a separate process, so client and server do not share a GIL),
then measures: the initial sync, a sync with nothing changed, and a sync after a share of the
subscribers changed class. Prints API calls, write calls, wall time and calls per 1,000 changes,
against two baselines from the same run: the initial full push (what a non-incremental sync sends
every time) and one call per changed membership (what a per-member API client would make).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from sqlalchemy import bindparam, insert, select, update  # noqa: E402

from mailseg.config import Config  # noqa: E402
from mailseg.db import Database  # noqa: E402
from mailseg.models import Audience, Subscriber, SubscriberClass, utcnow  # noqa: E402
from mailseg.providers import platform_factory  # noqa: E402
from mailseg.sync import ENGAGEMENT_CLASSES, sync_engagement  # noqa: E402

LIST_ID = "benchlist"
WEIGHTS = (0.15, 0.25, 0.40, 0.20)  # active, semi_active, inactive, new


def email(i: int) -> str:
    return f"user{i:07d}@example.org"


def serve_fake(count: int, ready) -> None:
    from werkzeug.serving import make_server

    from fakes.mailchimp import FakeMailchimp
    from fakes.server import _QuietHandler

    fake = FakeMailchimp()
    fake.keep_bodies = False
    fake.add_list(LIST_ID)
    fake.add_members(LIST_ID, (email(i) for i in range(count)))
    server = make_server("127.0.0.1", 0, fake.app, threaded=True, request_handler=_QuietHandler)
    ready.put(server.server_port)
    server.serve_forever()


def build_database(url: str, count: int, rng: random.Random) -> tuple[Database, int]:
    db = Database(url)
    db.upgrade()
    with db.session() as session:
        audience = Audience(name="bench", provider="mailchimp", provider_list_id=LIST_ID)
        session.add(audience)
        session.flush()
        now = utcnow()
        classes = rng.choices(ENGAGEMENT_CLASSES, WEIGHTS, k=count)
        for start in range(0, count, 20_000):
            session.execute(insert(Subscriber), [
                {"audience_id": audience.id, "email": email(i), "status": "subscribed",
                 "merge_fields": {}, "tags": [], "subscribed_at": now, "created_at": now, "updated_at": now}
                for i in range(start, min(start + 20_000, count))])
        ids = list(session.scalars(select(Subscriber.id).where(Subscriber.audience_id == audience.id)
                                   .order_by(Subscriber.id)))
        for start in range(0, count, 20_000):
            session.execute(insert(SubscriberClass), [
                {"subscriber_id": ids[i], "audience_id": audience.id, "engagement_class": classes[i]}
                for i in range(start, min(start + 20_000, count))])
        session.commit()
        return db, audience.id


def change_classes(db: Database, count: int, share: float, rng: random.Random) -> int:
    """Move a share of the subscribers to another class (as a classification run would)."""
    changed = rng.sample(range(1, count + 1), int(count * share))
    with db.session() as session:
        current = dict(session.execute(select(SubscriberClass.subscriber_id, SubscriberClass.engagement_class)).all())
        table = SubscriberClass.__table__
        stmt = update(table).where(table.c.subscriber_id == bindparam("sid")).values(engagement_class=bindparam("cls"))
        session.connection().execute(stmt, [
            {"sid": i, "cls": rng.choice([c for c in ENGAGEMENT_CLASSES if c != current[i]])} for i in changed])
        session.commit()
    return len(changed)


def analyze(db: Database) -> None:
    """What autovacuum does after a bulk load, done now (a no-op on SQLite without sqlite_stat1)."""
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE subscribers")


def timed_sync(db: Database, audience_id: int, config: Config) -> tuple[float, object]:
    factory = platform_factory(config)
    with db.session() as session:
        audience = session.get(Audience, audience_id)
        started = time.perf_counter()
        report = sync_engagement(session, audience, config, factory)
        return time.perf_counter() - started, report


def line(label: str, seconds: float, report) -> str:
    return (f"{label:<28} {seconds:8.2f} s  {report.calls.calls:6d} calls  {report.calls.writes:6d} writes  "
            f"{report.batches:6d} batches")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--change", type=float, default=0.05)
    parser.add_argument("--database", default="sqlite:////tmp/mailseg-bench-sync.sqlite3")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    if args.database.startswith("sqlite:///"):
        Path(args.database[len("sqlite:///"):]).unlink(missing_ok=True)

    ready = multiprocessing.get_context("fork").Queue()
    server = multiprocessing.get_context("fork").Process(target=serve_fake, args=(args.subscribers, ready), daemon=True)
    server.start()
    started = time.perf_counter()
    db, audience_id = build_database(args.database, args.subscribers, rng)
    analyze(db)
    port = ready.get(timeout=600)
    print(f"setup: {args.subscribers} subscribers in {db.dialect} and in the fake, {time.perf_counter() - started:.1f} s")
    config = Config().replace(
        database={"url": args.database},
        mailchimp={"api_key": "0123456789abcdef0123456789abcdef-us21", "api_base_url": f"http://127.0.0.1:{port}/3.0",
                   "max_connections": args.connections})
    try:
        initial_s, initial = timed_sync(db, audience_id, config)
        print(line("initial sync", initial_s, initial))
        noop_s, noop = timed_sync(db, audience_id, config)
        print(line("no-change sync", noop_s, noop))
        changes = change_classes(db, args.subscribers, args.change, rng)
        analyze(db)
        changed_s, changed = timed_sync(db, audience_id, config)
        print(line(f"sync after {changes} changes", changed_s, changed))
    finally:
        server.kill()
    tags = len(ENGAGEMENT_CLASSES)
    goal = changes / 400 + tags
    print(f"calls per 1,000 changes: {1000 * changed.calls.calls / changes:.2f} "
          f"({1000 * changed.calls.writes / changes:.2f} writes)")
    print(f"goal: write calls <= changes/400 + tags = {goal:.0f}: {changed.calls.writes} "
          f"-> {'met' if changed.calls.writes <= goal else 'MISSED'}")
    print(f"goal: no-change sync under 5 s: {noop_s:.2f} s -> {'met' if noop_s < 5 and noop.calls.writes == 0 else 'MISSED'}")
    print(f"ratio vs full re-push (initial sync): {changed.calls.writes / initial.calls.writes:.3f} of the writes, "
          f"{changed_s / initial_s:.3f} of the time")
    print(f"ratio vs one call per changed membership ({2 * changes} calls): "
          f"{changed.calls.writes / (2 * changes):.4f}; batches hold up to 2 x 500 addresses, "
          f"minimum possible {math.ceil(2 * changes / 1000)} writes")


if __name__ == "__main__":
    main()
