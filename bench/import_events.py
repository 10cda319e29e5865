"""Benchmark: import of a 1,000,000-row events CSV through `mailseg import events` on SQLite.

Baseline in the same run: the same rows inserted straight into the events table with a plain
executemany INSERT (no parsing, matching, flagging or dedupe), so the ratio shows what the
import's validation and deduplication cost on top of the database's own insert speed.

    .venv/bin/python bench/import_events.py [--events 1000000] [--subscribers 20000] [--url sqlite:///...]
"""

from __future__ import annotations

import argparse
import os
import csv
import random
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select, text

from mailseg.cli import main
from mailseg.cli.runtime import Runtime
from mailseg.config import Config
from mailseg.db import Database
from mailseg.ingest.events import dedupe_key, EventIn
from mailseg.models import Event, Subscriber

TYPES = ["send"] * 5 + ["open"] * 3 + ["click"]


def write_files(workdir: Path, n_subscribers: int, n_events: int) -> tuple[Path, Path]:
    rng = random.Random(7)
    subs = workdir / "subscribers.csv"
    with subs.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "status", "subscribed_at"])
        for i in range(n_subscribers):
            w.writerow([f"user{i}@example.com", "subscribed", "2025-01-01"])
    events = workdir / "events.csv"
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with events.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "type", "occurred_at", "campaign", "url", "user_agent", "ip"])
        for i in range(n_events):
            kind = rng.choice(TYPES)
            at = start + timedelta(seconds=i * 17 + rng.randint(0, 16))
            w.writerow([f"user{rng.randrange(n_subscribers)}@example.com", kind, at.isoformat(),
                        f"c{i // 20000}", "https://shop.example.com/x" if kind == "click" else "",
                        "Mozilla/5.0 (Windows NT 10.0) Chrome/126" if kind != "send" else "",
                        f"198.51.100.{rng.randint(1, 254)}" if kind != "send" else ""])
    return subs, events


def run_cli(db: Database, *args: str) -> tuple[float, float]:
    """Run a mailseg command in-process; returns (wall seconds, CPU seconds of this process)."""
    config = Config().replace(database={"url": db.url})
    started, cpu = time.perf_counter(), time.process_time()
    result = CliRunner().invoke(main, list(args), obj=Runtime(_config=config, _database=db), catch_exceptions=False)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if result.exit_code != 0:
        sys.exit(f"import failed: {result.output}")
    print("   ", result.output.strip().splitlines()[-1])
    return elapsed, cpu


def baseline_insert(db: Database, events_csv: Path) -> float:
    """Plain executemany INSERT of the same rows (subscriber ids resolved beforehand, untimed)."""
    with db.session() as session:
        ids = dict(session.execute(select(Subscriber.email, Subscriber.id)).all())
        session.execute(text("DELETE FROM events"))
        session.commit()
    rows = []
    with events_csv.open(newline="") as fh:
        for i, r in enumerate(csv.DictReader(fh)):
            at = datetime.fromisoformat(r["occurred_at"])
            rows.append({"subscriber_id": ids[r["email"]], "campaign_id": None, "type": r["type"], "occurred_at": at,
                         "url": r["url"] or None, "user_agent": r["user_agent"] or None, "ip": r["ip"] or None,
                         "amount": None, "is_machine": False, "machine_reason": None, "source": "import",
                         "dedupe_key": f"{i:040d}", "created_at": at})
    started, cpu = time.perf_counter(), time.process_time()
    with db.session() as session:
        for offset in range(0, len(rows), 5000):
            session.execute(Event.__table__.insert(), rows[offset:offset + 5000])
        session.commit()
    return time.perf_counter() - started, time.process_time() - cpu


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = args.url or f"sqlite:///{workdir / 'bench.sqlite3'}"
        db = Database(url)
        db.upgrade()
        print(f"database: {db.dialect}; generating {args.events:,} events for {args.subscribers:,} subscribers")
        subs, events = write_files(workdir, args.subscribers, args.events)
        run_cli(db, "import", "subscribers", str(subs))
        (first, first_cpu) = run_cli(db, "import", "events", str(events))
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        (again, again_cpu) = run_cli(db, "import", "events", str(events))
        with db.session() as session:
            stored = session.scalar(select(func.count()).select_from(Event))
        base, base_cpu = baseline_insert(db, events)
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
              "(SQLite runs in-process: CPU seconds = wall seconds on an idle machine)")
        print(f"import of {args.events:,} events: {first:.1f} s wall, {first_cpu:.1f} s CPU "
              f"({args.events / first_cpu:,.0f} events per CPU second), {stored:,} stored")
        print(f"re-import of the same file (all duplicates): {again:.1f} s wall, {again_cpu:.1f} s CPU")
        print(f"baseline plain INSERT of the same rows: {base:.1f} s wall, {base_cpu:.1f} s CPU")
        print(f"ratio import / baseline (CPU): {first_cpu / base_cpu:.2f}")
        print(f"peak memory after the import: {peak_mb:.0f} MB")
        db.dispose()


if __name__ == "__main__":
    main_()
