"""Benchmark of mailseg on Citus against one PostgreSQL, same data, same run (docs/SCALING.md).

    .venv/bin/python bench/citus.py --citus-url postgresql+psycopg://postgres@127.0.0.1:9700/postgres \\
        --postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/test --scale 0.05

--citus-url names a database on a Citus coordinator with its workers registered; the bench creates a
scratch database on every node (mailseg.distribute.create_citus_database), distributes the empty
schema (`mailseg db distribute`), loads the synthetic audience of bench/classify.py (1,000,000
subscribers / 30,000,000 events at --scale 1) plus the orders of bench/value.py and the segment
inputs of bench/segments.py, and does the same on a scratch database of the single PostgreSQL.
Then on each it times:
- the bare scan: SELECT count(*) FROM (SELECT subscriber_id, max(occurred_at) FROM events WHERE type
  IN ('open', 'click') GROUP BY subscriber_id) — on Citus, Citus's own pushed-down GROUP BY
  subscriber_id (the smaller of two runs); on Citus also one shard's time from EXPLAIN ANALYZE;
- a first classification (everyone classified) and a routine one (the same as_of again), a first value
  run (every value row written) and a routine one (no new orders), the 6-condition segment of
  bench/segments.py evaluated and stored.
Both databases are built first; then each step runs on Citus and at once on one PostgreSQL, so the two
figures of a step share the load of the (shared) machine.
Prints every time, each job's ratio to the bare scan of its database, and Citus / PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import classify as classify_bench  # noqa: E402  (bench/classify.py)
import segments as segments_bench  # noqa: E402  (bench/segments.py)
import synthetic  # noqa: E402
import value as value_bench  # noqa: E402  (bench/value.py)

from mailseg.config import Config  # noqa: E402
from mailseg.db import Database  # noqa: E402
from mailseg.distribute import create_citus_database, distribute, drop_citus_database  # noqa: E402
from mailseg.engagement import classify_audience  # noqa: E402
from mailseg.segments import add_segment, refresh_segment  # noqa: E402
from mailseg.value.run import value_audience  # noqa: E402

BARE_SCAN = ("SELECT count(*) FROM (SELECT subscriber_id, max(occurred_at) AS last_at FROM events "
             "WHERE type IN ('open', 'click') GROUP BY subscriber_id) AS per_subscriber")
ORDER_ID_OFFSET = 10_000_000_000  # order events' ids after the synthetic events' ids


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build(url: str, subscribers: int, per_subscriber: int) -> None:
    started = time.perf_counter()
    libpq = classify_bench._libpq(url)
    with psycopg.connect(libpq) as conn:
        synthetic.load_postgres(conn, subscribers, per_subscriber, log)
        with conn.cursor() as cur:
            orders = ((ORDER_ID_OFFSET + row[0], *row[1:]) for row in value_bench.order_rows(subscribers))
            synthetic._copy(cur, "events", value_bench.ORDER_COLUMNS, orders)
        conn.commit()
    log(f"loaded in {time.perf_counter() - started:.1f} s")
    segments_bench.enrich(url, "postgresql")


def _timed(job) -> float:
    started = time.perf_counter()
    job()
    return time.perf_counter() - started


def bare_scan(url: str) -> float:
    engine = create_engine(url)
    with engine.connect() as conn:
        seconds = min(_timed(lambda: conn.execute(text(BARE_SCAN)).scalar()) for _ in range(2))
    engine.dispose()
    return seconds


def shard_scan(url: str) -> tuple[float, int]:
    """(seconds of one shard's part of the bare scan, number of tasks) from Citus's EXPLAIN ANALYZE."""
    engine = create_engine(url)
    with engine.connect() as conn:
        plan = "\n".join(conn.execute(text(f"EXPLAIN (ANALYZE) {BARE_SCAN}")).scalars())
    engine.dispose()
    tasks = int(re.search(r"Task Count: (\d+)", plan).group(1))
    shard_ms = float(re.findall(r"Execution Time: ([\d.]+) ms", plan)[0])  # the task's own, printed first
    return shard_ms / 1000, tasks


class Jobs:
    """The timed jobs on one database, run one step at a time so the two databases' steps can alternate
    (the same step on Citus and on one PostgreSQL back to back, under the same load of the shared machine)."""

    STEPS = ("bare_scan", "classify", "routine_classify", "value", "routine_value", "segment")

    def __init__(self, url: str) -> None:
        self.url, self.config, self.db = url, Config(), Database(url)
        self.session = self.db.session()
        self.segment = None

    def run(self, step: str) -> float:
        if step == "bare_scan":
            return bare_scan(self.url)
        if step in ("classify", "routine_classify"):  # the first: everyone classified; then the same as_of again
            return _timed(lambda: classify_audience(self.session, 1, self.config.engagement, as_of=synthetic.AS_OF))
        if step in ("value", "routine_value"):  # the first: every value row written; then no new orders
            return _timed(lambda: value_audience(self.session, 1, self.config.value, as_of=synthetic.AS_OF))
        self.segment = add_segment(self.session, 1, "six", segments_bench.SIX_CONDITIONS)
        self.session.commit()

        def evaluate() -> None:
            refresh_segment(self.session, self.segment, self.config.engagement, as_of=synthetic.AS_OF)
            self.session.commit()

        return _timed(evaluate)

    def close(self) -> None:
        self.session.close()
        self.db.dispose()


def alternate(citus_url: str, pg_url: str) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {"citus": {}, "postgresql": {}}
    sides = {"citus": Jobs(citus_url), "postgresql": Jobs(pg_url)}
    try:
        for step in Jobs.STEPS:
            for name, jobs in sides.items():
                results[name][step] = jobs.run(step)
                log(f"{name}: {step} {results[name][step]:.2f} s")
    finally:
        for jobs in sides.values():
            jobs.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citus-url", required=True, help="A database on the Citus coordinator, workers registered.")
    parser.add_argument("--postgres-url", default=classify_bench.DEFAULT_PG, help="The single PostgreSQL server.")
    parser.add_argument("--scale", type=float, default=0.05, help="Fraction of 1,000,000 subscribers (default 0.05).")
    parser.add_argument("--shard-count", type=int, default=32)
    args = parser.parse_args()
    subscribers, per_subscriber = int(1_000_000 * args.scale), 30
    name = f"mailseg_bench_citus_{uuid.uuid4().hex[:8]}"
    citus_url = create_citus_database(args.citus_url, name)
    results = {}
    try:
        db = Database(citus_url)
        db.upgrade()
        distribute(db, shard_count=args.shard_count)
        db.dispose()
        log(f"citus: {subscribers} subscribers, {subscribers * per_subscriber} events")
        build(citus_url, subscribers, per_subscriber)
        with classify_bench.scratch_database("postgresql", args.postgres_url) as pg_url:
            log("single PostgreSQL: the same data")
            build(pg_url, subscribers, per_subscriber)
            results = alternate(citus_url, pg_url)
        results["citus"]["one_shard_scan"], results["citus"]["shards"] = shard_scan(citus_url)
    finally:
        drop_citus_database(args.citus_url, name)
    citus, single = results["citus"], results["postgresql"]
    report = {"subscribers": subscribers, "events_about": subscribers * per_subscriber, "citus": citus,
              "postgresql": single}
    for job in Jobs.STEPS[1:]:
        report[f"{job}_to_bare_scan"] = {"citus": round(citus[job] / citus["bare_scan"], 2),
                                         "postgresql": round(single[job] / single["bare_scan"], 2)}
        report[f"{job}_citus_to_postgresql"] = round(citus[job] / single[job], 2)
    report["bare_scan_citus_to_postgresql"] = round(citus["bare_scan"] / single["bare_scan"], 2)
    print(json.dumps(report, indent=2, default=lambda v: round(v, 3)))


if __name__ == "__main__":
    main()
