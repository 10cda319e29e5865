"""Benchmark of `mailseg value` against the bare scan of the orders any value computation must do.

    .venv/bin/python bench/value.py --db postgresql             # 1,000,000 subscribers, 500,000 customers, ~5,000,000 orders
    .venv/bin/python bench/value.py --db sqlite                 # 200,000 subscribers, 100,000 customers, ~1,000,000 orders
    .venv/bin/python bench/value.py --db postgresql --scale 0.2 # a fifth of that

Builds a synthetic audience in a scratch database (see bench/classify.py): half the subscribers are
customers whose orders follow the BG/NBD story over two years (a Gamma purchase rate, a Beta chance to
stop after each order), spend the Gamma-Gamma story, 3% refunded. Times the bare scan
    SELECT subscriber_id, count(*), sum(amount), max(occurred_at) FROM events WHERE type = 'purchase'
    GROUP BY subscriber_id
into a temporary table, then runs the whole value run (scores, ABC, both model fits, predictions,
storing, history) twice, each in a fresh process (peak memory from getrusage): the second run, with
no new orders, must write no history rows. Each run's slowest SQL statements are logged (SQLAlchemy
cursor events; the rest of a run is Python: the fits, reading and writing the model's columns). Prints times, the ratio value run / bare scan (goal <= 3)
and the peak memory (goal < 400 MB).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import synthetic  # noqa: E402  (bench/ is the script's directory)
from classify import DEFAULT_PG, _libpq, bare_scan, log, scratch_database  # noqa: E402

from mailseg.config import Config  # noqa: E402
from mailseg.db import Database  # noqa: E402
from mailseg.models import ValueChange  # noqa: E402
from mailseg.value import value_audience  # noqa: E402

FULL_SIZE = {"postgresql": 1_000_000, "sqlite": 200_000}  # subscribers; half of them are customers
BARE_SCAN = ("CREATE TEMPORARY TABLE bare_scan AS SELECT subscriber_id, count(*) AS orders, sum(amount) AS revenue, "
             "max(occurred_at) AS last_at FROM events WHERE type = 'purchase' GROUP BY subscriber_id")
ORDER_COLUMNS = ("id, subscriber_id, type, occurred_at, is_machine, source, dedupe_key, created_at, amount, "
                 "order_id, order_status")
DAYS = 730


def order_rows(subscribers: int, seed: int = 3):
    """Orders of every second subscriber: about 10 each on average, as the BG/NBD story draws them."""
    rnd = random.Random(seed)
    order_id = 0
    for n in range(1, subscribers + 1, 2):
        sub_id = synthetic.key_of(n)
        weekly = rnd.gammavariate(2.0, 0.08)
        dropout = rnd.betavariate(1.0, 14.0)
        nu = rnd.gammavariate(4.0, 1 / 60)
        day = rnd.uniform(0, DAYS * 0.5)
        while day < DAYS:
            order_id += 1
            at = synthetic._stamp(synthetic.AS_OF - timedelta(days=DAYS - day))
            status = "refunded" if rnd.random() < 0.03 else "paid"
            amount = round(rnd.gammavariate(4.0, 1 / nu), 2)
            yield (order_id, sub_id, "purchase", at, False, "import", f"o{order_id:011d}", at, amount,
                   f"order-{order_id}", status)
            if rnd.random() < dropout:
                break
            day += rnd.expovariate(weekly / 7)


def build(dialect: str, url: str, subscribers: int) -> None:
    log(f"generating {subscribers} subscribers, half of them customers")
    started = time.perf_counter()
    pool = synthetic.time_pool()
    if dialect == "postgresql":
        with psycopg.connect(_libpq(url)) as conn, conn.cursor() as cur:
            cur.execute("SET session_replication_role = replica")
            cur.execute(synthetic.AUDIENCE_SQL)
            synthetic._copy(cur, "subscribers", synthetic.SUBSCRIBER_COLUMNS, synthetic.subscriber_rows(subscribers, pool))
            cur.execute("ALTER TABLE events SET UNLOGGED")
            synthetic._copy(cur, "events", ORDER_COLUMNS, order_rows(subscribers))
            cur.execute("SET session_replication_role = origin")
            conn.commit()
        with psycopg.connect(_libpq(url), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    else:
        import sqlite3

        conn = sqlite3.connect(make_url(url).database)
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute(synthetic.AUDIENCE_SQL)
        synthetic._insert(conn, "subscribers", synthetic.SUBSCRIBER_COLUMNS, synthetic.subscriber_rows(subscribers, pool))
        synthetic._insert(conn, "events", ORDER_COLUMNS, order_rows(subscribers))
        conn.commit()
        conn.execute("ANALYZE")
        conn.close()
    log(f"built in {time.perf_counter() - started:.1f} s")


def value_once(url: str) -> dict:
    db = Database(url)
    statements = _time_statements(db.engine)
    with db.session() as session:
        history_before = session.scalar(select(func.count()).select_from(ValueChange))
        started = time.perf_counter()
        result = value_audience(session, 1, Config().value, as_of=synthetic.AS_OF)
        seconds = time.perf_counter() - started
        history_after = session.scalar(select(func.count()).select_from(ValueChange))
    db.dispose()
    return {"seconds": seconds, "customers": result.customers, "model_fitted": result.model_fitted,
            "model": result.model, "reason": result.model_reason, "rows_written": result.rows_written,
            "history_rows_written": history_after - history_before, "statements": _slowest(statements),
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _time_statements(engine) -> list:
    """(seconds, statement) of every statement the engine runs (SQLAlchemy cursor events)."""
    timed: list = []

    @event.listens_for(engine, "before_cursor_execute")
    def started(conn, cursor, statement, parameters, context, executemany):
        conn.info["statement_started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def ended(conn, cursor, statement, parameters, context, executemany):
        timed.append((time.perf_counter() - conn.info.pop("statement_started"), " ".join(statement.split())))

    return timed


def _slowest(statements: list, count: int = 6) -> list:
    """The slowest statements (seconds, their first words) and the run's total in SQL."""
    top = [[round(s, 2), text[:70]] for s, text in sorted(statements, reverse=True)[:count]]
    return [[round(sum(s for s, _ in statements), 2), "(all statements)"], *top]


def run_value_process(url: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--db", "sqlite", "--value-url", url],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _log_statements(run: dict) -> None:
    for seconds, statement in run.get("statements", []):
        log(f"    {seconds:7.2f} s  {statement}")


def measure(url: str) -> None:
    engine = create_engine(url)
    with engine.connect() as conn:
        orders = conn.execute(text("SELECT count(*) FROM events WHERE type = 'purchase'")).scalar_one()
        subscribers = conn.execute(text("SELECT count(*) FROM subscribers")).scalar_one()
    engine.dispose()
    log(f"{subscribers} subscribers, {orders} orders ({engine.dialect.name})")
    scans = [bare_scan(url, BARE_SCAN) for _ in range(2)]  # the first warms the cache
    scan = min(scans)
    log(f"bare scan: {', '.join(f'{s:.2f} s' for s in scans)}")
    first = run_value_process(url)
    model = first["model"] or {}
    log(f"first value run: {first['seconds']:.2f} s, {first['customers']} customers, model fitted "
        f"{first['model_fitted']} {first['reason'] or ''}, {first['history_rows_written']} history rows, "
        f"peak memory {first['max_rss_mb']:.0f} MB; BG/NBD {model.get('bgnbd')}")
    _log_statements(first)
    second = run_value_process(url)
    log(f"second value run: {second['seconds']:.2f} s, {second['history_rows_written']} history rows, "
        f"{second['rows_written']} value rows written, peak memory {second['max_rss_mb']:.0f} MB")
    _log_statements(second)
    print(json.dumps({
        "dialect": engine.dialect.name, "subscribers": subscribers, "orders": orders,
        "customers": first["customers"], "bare_scan_s": round(scan, 2),
        "first_value_s": round(first["seconds"], 2), "second_value_s": round(second["seconds"], 2),
        "ratio_first": round(first["seconds"] / scan, 2), "ratio_second": round(second["seconds"] / scan, 2),
        "second_run_history_rows": second["history_rows_written"],
        "peak_memory_mb": round(max(first["max_rss_mb"], second["max_rss_mb"]), 1),
    }, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("postgresql", "sqlite"), required=True)
    parser.add_argument("--scale", type=float, default=1.0, help="Fraction of the full size (default 1).")
    parser.add_argument("--postgres-url", default=os.environ.get("MAILSEG_BENCH_POSTGRES_URL", DEFAULT_PG))
    parser.add_argument("--value-url", help=argparse.SUPPRESS)  # internal: one value run, JSON out
    args = parser.parse_args()
    if args.value_url:
        print(json.dumps(value_once(args.value_url)))
        return
    with scratch_database(args.db, args.postgres_url) as url:
        build(args.db, url, int(FULL_SIZE[args.db] * args.scale))
        measure(url)


if __name__ == "__main__":
    main()
