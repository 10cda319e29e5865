"""JSON API benchmark: POST /api/v1/orders of 1,000-order batches through gunicorn (2 workers) to
PostgreSQL (after 6 untimed warm-up POSTs of 100 orders), in a scratch database this script
creates and drops; beside it the raw INSERT rate of
the same order rows straight into PostgreSQL (psycopg executemany, 1,000-row transactions, ON
CONFLICT DO NOTHING) as the baseline. Goal: >= 10,000 orders/s through the API.

    .venv/bin/python bench/api_orders.py [--admin-url postgresql://postgres@127.0.0.1:5432/test]
        [--posts 40] [--post-concurrency 4] [--seconds 120]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import SUBSCRIBERS, count, free_port, raw_insert_rate, seed, server_env, serving  # noqa: E402
from bench.loadgen import post_all  # noqa: E402
from mailseg.db import Database  # noqa: E402
from mailseg.tokens import create_token  # noqa: E402

ORDERS_PER_POST = 1_000
WARM_UP_POSTS, WARM_UP_ORDERS = 6, 100
RAW_COLUMNS = ("subscriber_id, type, occurred_at, amount, order_id, order_status, margin, is_machine, source, "
               "dedupe_key, created_at")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--posts", type=int, default=40, help="POSTs of 1,000 orders")
    parser.add_argument("--post-concurrency", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=120, help="time limit of the POST phase")
    args = parser.parse_args()
    args.threads = 0  # gunicorn sync workers (bench.ingest.serving)
    load_before = os.getloadavg()[0]
    name = f"mailseg_bench_{uuid.uuid4().hex[:8]}"
    admin = make_url(args.admin_url).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name)
    sa_url = url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    dsn = url.render_as_string(hide_password=False)
    try:
        db = Database(sa_url)
        db.upgrade()
        with db.session() as session:
            token = create_token(session, "bench", ["orders:write"]).token
            session.commit()
        db.dispose()
        seed(dsn)
        port = free_port()
        bodies = [order_body(post) for post in range(args.posts)]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with serving(args, server_env(sa_url, f"http://127.0.0.1:{port}/unused"), port):
            # Warm-up, not timed: each worker's first requests open its connection pool and fill
            # SQLAlchemy's statement caches.
            warm = [("POST", "/api/v1/orders", order_body(post, size=WARM_UP_ORDERS, prefix="w"), headers)
                    for post in range(WARM_UP_POSTS)]
            post_all(port, warm, concurrency=2, seconds=args.seconds, ok=(207,))
            warmed = count(dsn, "source = 'api'")
            result = post_all(port, [("POST", "/api/v1/orders", body, headers) for body in bodies],
                              concurrency=args.post_concurrency, seconds=args.seconds, ok=(207,))
        stored = count(dsn, "source = 'api'") - warmed
        raw = raw_insert_rate(dsn, source="api", columns=RAW_COLUMNS)
    finally:
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    rate = stored / result["wall"]
    print(f"gunicorn: 2 sync workers; load average before {load_before:.2f}, now {os.getloadavg()[0]:.2f}")
    print(f"POST /api/v1/orders: {result['ok']} POSTs x {ORDERS_PER_POST} orders ({args.post_concurrency} in flight) "
          f"in {result['wall']:.2f} s -> {stored} orders stored, {rate:,.0f} orders/s (goal >= 10,000); "
          f"p50 {result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms; errors {len(result['errors'])}")
    print(f"raw INSERT ... ON CONFLICT DO NOTHING of the same rows: {raw:,.0f} rows/s; API / raw = {rate / raw:.2f}")
    print(json.dumps({"orders_per_s": round(rate), "raw_rows_per_s": round(raw), "stored": stored,
                      "errors": result["errors"][:3]}))


def order_body(post: int, *, size: int = ORDERS_PER_POST, prefix: str = "p") -> bytes:
    rng = random.Random(f"{prefix}{post}")
    orders = [{"email": f"user{rng.randrange(SUBSCRIBERS)}@bench.example", "order_id": f"{prefix}{post}-{n}",
               "amount": round(rng.uniform(5, 300), 2), "occurred_at": f"2026-0{1 + n % 9}-1{n % 10}T10:{n % 60:02d}:00Z",
               "status": "refunded" if n % 40 == 0 else "paid"} for n in range(size)]
    return json.dumps({"orders": orders}).encode()


if __name__ == "__main__":
    main()
