"""Benchmark of `mailseg classify` against the bare scan any classifier must at least do.

    .venv/bin/python bench/classify.py --db postgresql            # 1,000,000 subscribers, 30,000,000 events
    .venv/bin/python bench/classify.py --db sqlite                # 200,000 subscribers, 6,000,000 events
    .venv/bin/python bench/classify.py --db sqlite --scale 0.1    # a tenth of that

Builds a synthetic audience in a scratch database (a PostgreSQL database it creates and drops, or a
temporary SQLite file), times the bare scan
    SELECT subscriber_id, max(occurred_at) FROM events WHERE type IN ('open','click') GROUP BY subscriber_id
into a temporary table, then runs the classification twice in a fresh process each (peak memory of
that process from getrusage): the first run classifies everyone, the second must write no history.
Prints the times and the ratios classification / bare scan (goal <= 2.0; < 60 s on PostgreSQL).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import synthetic  # noqa: E402  (bench/ is the script's directory)

from mailseg.config import EngagementConfig  # noqa: E402
from mailseg.db import Database  # noqa: E402
from mailseg.engagement import classify_audience  # noqa: E402
from mailseg.models import ClassChange  # noqa: E402

FULL_SIZE = {"postgresql": (1_000_000, 30), "sqlite": (200_000, 30)}  # subscribers, events per subscriber
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BARE_SCAN = ("CREATE TEMPORARY TABLE bare_scan AS SELECT subscriber_id, max(occurred_at) AS last_at "
             "FROM events WHERE type IN ('open', 'click') GROUP BY subscriber_id")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("postgresql", "sqlite"), required=True)
    parser.add_argument("--scale", type=float, default=1.0, help="Fraction of the full size (default 1).")
    parser.add_argument("--postgres-url", default=os.environ.get("MAILSEG_BENCH_POSTGRES_URL", DEFAULT_PG),
                        help="Server to create the scratch database on.")
    parser.add_argument("--classify-url", help=argparse.SUPPRESS)  # internal: one classification, JSON out
    args = parser.parse_args()
    if args.classify_url:
        print(json.dumps(classify_once(args.classify_url)))
        return
    subscribers = int(FULL_SIZE[args.db][0] * args.scale)
    with scratch_database(args.db, args.postgres_url) as url:
        build(args.db, url, subscribers, FULL_SIZE[args.db][1])
        measure(url)


class scratch_database:
    """A migrated empty database: a new PostgreSQL database (dropped after) or a temporary SQLite file."""

    def __init__(self, dialect: str, postgres_url: str) -> None:
        self.dialect, self.postgres_url = dialect, postgres_url

    def __enter__(self) -> str:
        if self.dialect == "sqlite":
            self.tmp = tempfile.TemporaryDirectory(prefix="mailseg-bench-")
            self.url = f"sqlite:///{self.tmp.name}/bench.sqlite3"
        else:
            self.name = f"mailseg_bench_{uuid.uuid4().hex[:8]}"
            self._admin(f'CREATE DATABASE "{self.name}"')
            self.url = make_url(self.postgres_url).set(database=self.name).render_as_string(hide_password=False)
        db = Database(self.url)
        db.upgrade()
        db.dispose()
        return self.url

    def __exit__(self, *exc) -> None:
        if self.dialect == "sqlite":
            self.tmp.cleanup()
        else:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        engine = create_engine(self.postgres_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(sql))
        engine.dispose()


def kept_database(postgres_url: str, name: str, subscribers: int, written: str, build_into) -> str:
    """The URL of the kept PostgreSQL database `name` (a bench's --keep): created, migrated and built
    by `build_into(url)` when it has no subscribers yet, else emptied of what the measured steps write
    (`written`, a comma-separated list of tables) so that a first run is a first run again."""
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    db = Database(url)
    db.upgrade()
    with db.engine.connect() as conn:
        built = conn.scalar(text("SELECT count(*) FROM subscribers"))
    db.dispose()
    if not built:
        build_into(url)
    elif built != subscribers:
        raise SystemExit(f"database {name} holds {built} subscribers, not {subscribers}: drop it or use another")
    else:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f"TRUNCATE {written}"))
            conn.execute(text(f"VACUUM ANALYZE {written}"))
        engine.dispose()
        log(f"reusing database {name} ({built} subscribers)")
    return url


def build(dialect: str, url: str, subscribers: int, per_subscriber: int) -> None:
    log(f"generating {subscribers} subscribers and about {subscribers * per_subscriber} events")
    started = time.perf_counter()
    if dialect == "postgresql":
        with psycopg.connect(_libpq(url)) as conn:
            synthetic.load_postgres(conn, subscribers, per_subscriber, log)
        with psycopg.connect(_libpq(url), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    else:
        synthetic.load_sqlite(make_url(url).database, subscribers, per_subscriber, log)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        engine.dispose()
    log(f"built in {time.perf_counter() - started:.1f} s")


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def measure(url: str) -> None:
    engine = create_engine(url)
    with engine.connect() as conn:
        events = conn.execute(text("SELECT count(*) FROM events")).scalar_one()
        subscribers = conn.execute(text("SELECT count(*) FROM subscribers")).scalar_one()
    engine.dispose()
    log(f"{subscribers} subscribers, {events} events ({engine.dialect.name})")
    scans = [bare_scan(url) for _ in range(2)]  # the first one warms the cache, as classify's runs are warm too
    scan = min(scans)
    log(f"bare scan: {', '.join(f'{s:.2f} s' for s in scans)}")
    first = run_classify_process(url)
    log(f"first classification: {first['seconds']:.2f} s, {first['changes']} changes, "
        f"peak memory {first['max_rss_mb']:.0f} MB, counts {first['counts']}")
    second = run_classify_process(url)
    log(f"second classification: {second['seconds']:.2f} s, {second['changes']} changes, "
        f"{second['history_rows_written']} history rows written, peak memory {second['max_rss_mb']:.0f} MB")
    print(json.dumps({
        "dialect": engine.dialect.name, "subscribers": subscribers, "events": events,
        "bare_scan_s": round(scan, 2), "first_classify_s": round(first["seconds"], 2),
        "second_classify_s": round(second["seconds"], 2),
        "ratio_first": round(first["seconds"] / scan, 2), "ratio_second": round(second["seconds"] / scan, 2),
        "second_run_history_rows": second["history_rows_written"],
        "peak_memory_mb": round(max(first["max_rss_mb"], second["max_rss_mb"]), 1),
    }, indent=2))


def bare_scan(url: str, statement: str = BARE_SCAN) -> float:
    """Seconds of `statement`, a CREATE TEMPORARY TABLE bare_scan AS ... (dropped after)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bare_scan"))
        started = time.perf_counter()
        conn.execute(text(statement))
        elapsed = time.perf_counter() - started
        conn.execute(text("DROP TABLE bare_scan"))
    engine.dispose()
    return elapsed


def run_classify_process(url: str) -> dict:
    """One classification in a fresh interpreter, so its peak memory is the classify step's own."""
    out = subprocess.run([sys.executable, __file__, "--db", "sqlite", "--classify-url", url],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def classify_once(url: str) -> dict:
    db = Database(url)
    with db.session() as session:
        history_before = session.scalar(select(func.count()).select_from(ClassChange))
        started = time.perf_counter()
        result = classify_audience(session, 1, EngagementConfig(), as_of=synthetic.AS_OF)
        seconds = time.perf_counter() - started
        history_after = session.scalar(select(func.count()).select_from(ClassChange))
    db.dispose()
    max_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "changes": result.changes, "counts": result.counts,
            "history_rows_written": history_after - history_before, "max_rss_mb": max_rss_kb / 1024}


if __name__ == "__main__":
    main()
