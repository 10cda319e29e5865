"""Benchmark of `mailseg value` against the bare scan of the orders any value computation must do.

    .venv/bin/python bench/value.py --db postgresql             # 1,000,000 subscribers, 500,000 customers, ~5,000,000 orders
    .venv/bin/python bench/value.py --db sqlite                 # 200,000 subscribers, 100,000 customers, ~1,000,000 orders
    .venv/bin/python bench/value.py --db postgresql --scale 0.2 # a fifth of that
    .venv/bin/python bench/value.py --db postgresql --keep i13_bench  # build once, reuse after

--keep NAME builds the audience into the PostgreSQL database NAME and keeps it; a later run with the
same NAME (and scale) skips the build and empties what the value runs write instead.

Builds a synthetic audience in a scratch database (see bench/classify.py): half the subscribers are
customers whose orders follow the BG/NBD story over two years (a Gamma purchase rate, a Beta chance to
stop after each order), spend the Gamma-Gamma story, 3% refunded. Times the bare scan
    SELECT subscriber_id, count(*), sum(amount), max(occurred_at) FROM events WHERE type = 'purchase'
    GROUP BY subscriber_id
into a temporary table, then runs the whole value run (scores, ABC, both model fits, predictions,
storing, history) three times, each in a fresh process (peak memory from getrusage): the first one
(which also builds the kept order totals from all orders), a second with no new orders, which must
write no history rows, and a third after a day's business arrived through the ingest function
(NEW_ORDERS new orders and REFUNDS refunds of stored ones, on the day of AS_OF): the routine run. Each run's slowest SQL statements are logged (SQLAlchemy
cursor events; the rest of a run is Python: the fits, reading and writing the model's columns). Prints times, the ratio value run / bare scan (goal <= 3)
and the peak memory (goal < 400 MB). On PostgreSQL each measurement starts after a CHECKPOINT, and the
bench times the first run's write floor last: only storing the rows that run stored (write_floor),
against the same bare scan.
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
from classify import DEFAULT_PG, _libpq, bare_scan, kept_database, log, scratch_database  # noqa: E402

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
# What the value runs write (and the order totals they keep); emptied before measuring in a kept database.
WRITTEN = "subscriber_values, value_changes, value_models, order_totals, order_changes, job_runs, job_requests"
# A day's business before the third run: new orders of this many customers, this many refunds, and
# this many new subscribers (through the one upsert; no orders yet).
NEW_ORDERS, REFUNDS, NEW_SUBSCRIBERS = 5_000, 500, 1_000
# The addresses of those sign-ups (day-<n>@signup.example), as a LIKE pattern.
SIGNUPS_LIKE = "day-%@signup.example"


def order_rows(subscribers: int, seed: int = 3):
    """Orders of every second subscriber: about 10 each on average, as the BG/NBD story draws them,
    with the dedupe keys ingest gives orders (so that ingest finds them again: the refunds of
    add_days_orders)."""
    from mailseg.ingest.events import EventIn, dedupe_key

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
            key = dedupe_key(1, sub_id, EventIn("purchase", at, "import", order_id=f"order-{order_id}"), None)
            yield (order_id, sub_id, "purchase", at, False, "import", key, at, amount, f"order-{order_id}", status)
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


def value_once(url: str, statements_shown: int) -> dict:
    db = Database(url)
    statements = _time_statements(db.engine)
    with db.session() as session:
        history_before = session.scalar(select(func.count()).select_from(ValueChange))
        started = time.perf_counter()
        result = value_audience(session, 1, Config().value, as_of=synthetic.AS_OF)
        seconds = time.perf_counter() - started
        history_after = session.scalar(select(func.count()).select_from(ValueChange))
    db.dispose()
    return {"seconds": seconds, "run_id": result.run_id, "customers": result.customers, "model_fitted": result.model_fitted,
            "model": result.model, "reason": result.model_reason, "rows_written": result.rows_written,
            "history_rows_written": history_after - history_before,
            "statements": _slowest(statements, statements_shown),
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
    top = [[round(s, 3), text[:110]] for s, text in sorted(statements, reverse=True)[:count]]
    return [[round(sum(s for s, _ in statements), 2), "(all statements)"], *top]


def run_value_process(url: str, statements_shown: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--db", "sqlite", "--value-url", url,
                          "--statements", str(statements_shown)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _log_statements(run: dict) -> None:
    for seconds, statement in run.get("statements", []):
        log(f"    {seconds:7.3f} s  {statement}")


def add_days_orders(url: str, subscribers: int) -> None:
    """NEW_ORDERS orders of as many customers and REFUNDS refunds, through store_events (so ingest
    marks their subscribers for the kept order totals), all before AS_OF; NEW_SUBSCRIBERS sign-ups
    through upsert_subscribers."""
    from decimal import Decimal

    from mailseg.ingest.events import EventIn, store_events
    from mailseg.subscribers.upsert import SubscriberRow, upsert_subscribers

    rnd = random.Random(11)
    customers = [synthetic.key_of(n) for n in rnd.sample(range(1, subscribers + 1, 2), NEW_ORDERS)]
    orders = [EventIn("purchase", synthetic.AS_OF - timedelta(hours=rnd.uniform(1, 20)), "import",
                      subscriber_id=key, amount=Decimal(f"{rnd.uniform(5, 200):.2f}"), order_id=f"day-{n}")
              for n, key in enumerate(customers)]
    db = Database(url)
    with db.session() as session:
        refunded = session.execute(text("SELECT subscriber_id, order_id, occurred_at, amount, id FROM events WHERE "
                                        "type = 'purchase' AND order_status = 'paid' ORDER BY id LIMIT :n"),
                                   {"n": REFUNDS}).all()
        # which ones, so that a kept database can be given back as built (_forget_days_orders)
        session.execute(text("CREATE TABLE IF NOT EXISTS bench_refunds (id BIGINT)"))
        session.execute(text("INSERT INTO bench_refunds (id) VALUES (:id)"), [{"id": row.id} for row in refunded])
        orders += [EventIn("purchase", at, "import", subscriber_id=key, amount=amount, order_id=order_id,
                           order_status="refunded") for key, order_id, at, amount, _ in refunded]
        result = store_events(session, 1, orders)
        signed_up = synthetic.AS_OF - timedelta(hours=2)
        upsert_subscribers(session, 1, [SubscriberRow(f"day-{n}@signup.example", {"status": "subscribed"},
                                                      on_insert={"subscribed_at": signed_up})
                                        for n in range(NEW_SUBSCRIBERS)])
        session.commit()
    db.dispose()
    log(f"a day's business: {result.inserted} new orders, {result.orders_cancelled} refunds, "
        f"{NEW_SUBSCRIBERS} new subscribers")


def measure(url: str, statements_shown: int) -> None:
    engine = create_engine(url)
    with engine.connect() as conn:
        orders = conn.execute(text("SELECT count(*) FROM events WHERE type = 'purchase'")).scalar_one()
        subscribers = conn.execute(text("SELECT count(*) FROM subscribers")).scalar_one()
    engine.dispose()
    log(f"{subscribers} subscribers, {orders} orders ({engine.dialect.name})")
    checkpoint(url)
    scans = [bare_scan(url, BARE_SCAN) for _ in range(2)]  # the first warms the cache
    scan = min(scans)
    log(f"bare scan: {', '.join(f'{s:.2f} s' for s in scans)}")
    first = run_value_process(url, statements_shown)
    model = first["model"] or {}
    log(f"first value run: {first['seconds']:.2f} s, {first['customers']} customers, model fitted "
        f"{first['model_fitted']} {first['reason'] or ''}, {first['history_rows_written']} history rows, "
        f"peak memory {first['max_rss_mb']:.0f} MB; BG/NBD {model.get('bgnbd')}")
    _log_statements(first)
    checkpoint(url)
    second = run_value_process(url, statements_shown)
    log(f"second value run: {second['seconds']:.2f} s, {second['history_rows_written']} history rows, "
        f"{second['rows_written']} value rows written, peak memory {second['max_rss_mb']:.0f} MB")
    _log_statements(second)
    add_days_orders(url, subscribers)
    checkpoint(url)
    third = run_value_process(url, statements_shown)
    log(f"third value run (after a day's orders): {third['seconds']:.2f} s, {third['history_rows_written']} history "
        f"rows, {third['rows_written']} value rows written, peak memory {third['max_rss_mb']:.0f} MB")
    _log_statements(third)
    floor = None
    if engine.dialect.name == "postgresql":
        checkpoint(url)
        floor = sum(write_floor(url, first["run_id"]).values())
        log(f"first run's write floor (storing its rows, nothing else): {floor:.2f} s = {floor / scan:.2f} x the bare scan")
    _forget_days_orders(url)  # a kept database as built, for the next run of the bench
    print(json.dumps({
        "dialect": engine.dialect.name, "subscribers": subscribers, "orders": orders,
        "customers": first["customers"], "bare_scan_s": round(scan, 2),
        "first_value_s": round(first["seconds"], 2), "second_value_s": round(second["seconds"], 2),
        "third_value_s": round(third["seconds"], 2),
        "ratio_first": round(first["seconds"] / scan, 2), "ratio_second": round(second["seconds"] / scan, 2),
        "ratio_third": round(third["seconds"] / scan, 2),
        "first_run_write_floor_s": round(floor, 2) if floor is not None else None,
        "ratio_write_floor": round(floor / scan, 2) if floor is not None else None,
        "second_run_history_rows": second["history_rows_written"],
        "peak_memory_mb": round(max(run["max_rss_mb"] for run in (first, second, third)), 1),
    }, indent=2))


# The tables a first run fills: every subscriber's value row, the history of every customer's three
# families, every customer's order totals.
FIRST_RUN_TABLES = ("subscriber_values", "value_changes", "order_totals")


def write_floor(url: str, first_run_id: int) -> dict[str, float]:
    """Seconds PostgreSQL takes only to store the rows a first run stores, as INSERT ... SELECT from
    temporary copies into empty clones of the three tables (same indexes, same fillfactor), in one
    transaction, rolled back: what any first run must spend whatever it computes. Read after the
    third run: the value rows of the subscribers the first run valued, the first run's history rows
    and the order totals. Seconds per table."""
    which = {"subscriber_values": "subscriber_id IN (SELECT id FROM subscribers WHERE email NOT LIKE "
                                  f"'{SIGNUPS_LIKE}')",
             "value_changes": f"run_id = {int(first_run_id)}", "order_totals": "true"}
    engine = create_engine(url)
    seconds = {}
    with engine.connect() as conn:
        transaction = conn.begin()
        for table in FIRST_RUN_TABLES:
            conn.execute(text(f"CREATE TEMPORARY TABLE floor_source_{table} AS SELECT * FROM {table} "
                              f"WHERE {which[table]}"))
            options = conn.execute(text("SELECT reloptions FROM pg_class WHERE relname = :t"), {"t": table}).scalar()
            with_options = f" WITH ({', '.join(options)})" if options else ""
            conn.execute(text(f"CREATE TABLE floor_{table} (LIKE {table} INCLUDING ALL){with_options}"))
        for table in FIRST_RUN_TABLES:
            started = time.perf_counter()
            stored = conn.execute(text(f"INSERT INTO floor_{table} SELECT * FROM floor_source_{table}")).rowcount
            seconds[table] = time.perf_counter() - started
            log(f"    write floor: {stored} rows into {table} in {seconds[table]:.2f} s")
        transaction.rollback()
    engine.dispose()
    return seconds


def checkpoint(url: str) -> None:
    """PostgreSQL: a CHECKPOINT before a measurement, so that it does not pay for the WAL the previous
    one wrote (runs a day apart do not)."""
    if not url.startswith("postgresql"):
        return
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def _forget_days_orders(url: str) -> None:
    """A kept database as built: the orders and refunds of an earlier run's day taken back, the order
    totals marked never built."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM events WHERE order_id LIKE 'day-%'"))
        conn.execute(text(f"DELETE FROM subscribers WHERE email LIKE '{SIGNUPS_LIKE}'"))
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_refunds (id BIGINT)"))
        conn.execute(text("UPDATE events SET order_status = 'paid' WHERE id IN (SELECT id FROM bench_refunds)"))
        conn.execute(text("DELETE FROM bench_refunds"))
        conn.execute(text("UPDATE audiences SET order_totals_built_at = NULL"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("postgresql", "sqlite"), required=True)
    parser.add_argument("--scale", type=float, default=1.0, help="Fraction of the full size (default 1).")
    parser.add_argument("--postgres-url", default=os.environ.get("MAILSEG_BENCH_POSTGRES_URL", DEFAULT_PG))
    parser.add_argument("--keep", metavar="NAME", help="Build into this PostgreSQL database once and keep it.")
    parser.add_argument("--statements", type=int, default=6, metavar="N",
                        help="How many of each run's slowest statements to show (default 6).")
    parser.add_argument("--value-url", help=argparse.SUPPRESS)  # internal: one value run, JSON out
    args = parser.parse_args()
    if args.value_url:
        print(json.dumps(value_once(args.value_url, args.statements)))
        return
    subscribers = int(FULL_SIZE[args.db] * args.scale)
    if args.keep:
        url = kept_database(args.postgres_url, args.keep, subscribers, WRITTEN,
                            lambda url: build("postgresql", url, subscribers))
        _forget_days_orders(url)
        measure(url, args.statements)
        return
    with scratch_database(args.db, args.postgres_url) as url:
        build(args.db, url, subscribers)
        measure(url, args.statements)


if __name__ == "__main__":
    main()
