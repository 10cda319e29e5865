"""Ingest benchmark through the real HTTP stack: gunicorn (2 sync workers) on 127.0.0.1 in front of
PostgreSQL, in a scratch database this script creates and drops.

Measures, in one run:
  1. Mandrill webhook POSTs of 1,000 events each (goal: >= 10,000 events/s stored),
  2. open-pixel GETs (goal: >= 1,500 requests/s, p99 < 25 ms),
  3. the raw INSERT ... ON CONFLICT DO NOTHING rate of the same event rows straight into PostgreSQL
     (psycopg executemany, 1,000-row transactions) as the baseline, and the ratio webhook / raw.

The load generator only talks to 127.0.0.1 and is bounded in requests and seconds.

    .venv/bin/python bench/ingest.py [--admin-url postgresql://postgres@127.0.0.1:5432/test]
        [--posts 40] [--pixels 6000] [--concurrency 8] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailseg.db import Database  # noqa: E402
from mailseg.tracking.rewrite import open_url  # noqa: E402
from mailseg.tracking.tokens import OpenToken  # noqa: E402
from mailseg.webhooks.mandrill import signature  # noqa: E402

HOST = "127.0.0.1"
KEY, SECRET = "bench-mandrill-key", "bench-tracking-secret"
SUBSCRIBERS = 20_000
EVENTS_PER_POST = 1_000


def main() -> None:
    args = parse_args()
    name = f"mailseg_bench_{uuid.uuid4().hex[:8]}"
    admin = make_url(args.admin_url).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name)
    sa_url = url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    dsn = url.render_as_string(hide_password=False)
    try:
        run(args, sa_url, dsn)
    finally:
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--posts", type=int, default=40, help="Mandrill POSTs of 1,000 events")
    parser.add_argument("--pixels", type=int, default=6000, help="open-pixel requests")
    parser.add_argument("--concurrency", type=int, default=8, help="client connections in flight")
    parser.add_argument("--seconds", type=float, default=60, help="time limit of each phase")
    parser.add_argument("--port", type=int, default=0, help="gunicorn port (default: a free one)")
    return parser.parse_args()


def run(args, sa_url: str, dsn: str) -> None:
    db = Database(sa_url)
    db.upgrade()
    db.dispose()
    audience_id, campaign_id, subscriber_ids = seed(dsn)
    port = args.port or free_port()
    webhook_url = f"http://{HOST}:{port}/webhooks/mandrill"
    server = start_gunicorn(sa_url, port, webhook_url)
    try:
        wait_until_up(port)
        posts = [mandrill_body(i, webhook_url) for i in range(args.posts)]
        mandrill = load(port, [("POST", "/webhooks/mandrill", body, headers) for body, headers in posts],
                        concurrency=2, seconds=args.seconds)
        stored = count(dsn, "events")
        rng = random.Random(7)
        pixel_paths = [urlsplit(open_url(f"http://{HOST}", SECRET, OpenToken(audience_id, rng.choice(subscriber_ids),
                                                                              campaign_id))).path
                       for _ in range(args.pixels)]
        pixels = load(port, [("GET", p, b"", {}) for p in pixel_paths], concurrency=args.concurrency,
                      seconds=args.seconds)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    raw_rate = raw_insert_rate(dsn)
    report(args, mandrill, stored, pixels, raw_rate)


def seed(dsn: str) -> tuple[int, int, list[int]]:
    with psycopg.connect(dsn) as conn:
        audience_id = conn.execute("INSERT INTO audiences (name, provider, created_at) VALUES ('bench', 'mailchimp', now())"
                                   " RETURNING id").fetchone()[0]
        campaign_id = conn.execute("INSERT INTO campaigns (audience_id, provider_id, name, kind, status, variant, created_at)"
                                   " VALUES (%s, 'bench', 'bench', 'regular', 'sent', 1, now()) RETURNING id",
                                   (audience_id,)).fetchone()[0]
        with conn.cursor().copy("COPY subscribers (audience_id, email, status, subscribed_at, merge_fields, tags,"
                                " created_at, updated_at) FROM STDIN") as copy:
            for i in range(SUBSCRIBERS):
                copy.write_row((audience_id, f"user{i}@bench.example", "subscribed", "2024-01-01", "{}", "[]",
                                "2024-01-01", "2024-01-01"))
        ids = [row[0] for row in conn.execute("SELECT id FROM subscribers ORDER BY id")]
    return audience_id, campaign_id, ids


def mandrill_events(post: int) -> list[dict]:
    """1,000 events: each message is sent, opened minutes later, and half of them clicked."""
    rng = random.Random(post)
    events, base = [], 1_700_000_000 + post * 10_000
    while len(events) < EVENTS_PER_POST:
        n = len(events)
        email = f"user{rng.randrange(SUBSCRIBERS)}@bench.example"
        msg = {"_id": f"p{post}m{n}", "email": email, "ts": base, "metadata": {}}
        ua = rng.choice(["Mozilla/5.0", "Mozilla/5.0 (Windows NT 10.0) Chrome/124.0", "Thunderbird/115"])
        events.append({"event": "send", "_id": msg["_id"], "ts": base, "msg": msg})
        events.append({"event": "open", "_id": msg["_id"], "ts": base + rng.randrange(1, 3600), "msg": msg,
                       "user_agent": ua, "ip": rng.choice(["17.58.3.4", "198.51.100.7"])})
        if rng.random() < 0.5:
            events.append({"event": "click", "_id": msg["_id"], "ts": base + rng.randrange(5, 7200), "msg": msg,
                           "url": f"https://shop.example/item/{rng.randrange(50)}", "user_agent": ua, "ip": "198.51.100.7"})
    return events[:EVENTS_PER_POST]


def mandrill_body(post: int, webhook_url: str) -> tuple[bytes, dict]:
    from urllib.parse import urlencode

    form = {"mandrill_events": json.dumps(mandrill_events(post))}
    headers = {"X-Mandrill-Signature": signature(KEY, webhook_url, form.items()),
               "Content-Type": "application/x-www-form-urlencoded"}
    return urlencode(form).encode(), headers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_gunicorn(sa_url: str, port: int, webhook_url: str) -> subprocess.Popen:
    env = dict(os.environ, MAILSEG_DATABASE_URL=sa_url, MAILSEG_WEB_SECRET_KEY="bench", MAILSEG_TRACKING_SECRET=SECRET,
               MAILSEG_MANDRILL_WEBHOOK_KEY=KEY, MAILSEG_MANDRILL_WEBHOOK_URL=webhook_url)
    env.pop("MAILSEG_CONFIG", None)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    return subprocess.Popen([str(gunicorn), "-w", "2", "-b", f"{HOST}:{port}", "--log-level", "warning",
                             "--timeout", "120", "mailseg.app:create_app()"], cwd=ROOT, env=env)


def wait_until_up(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if request(port, "GET", "/healthz", b"", {})[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not come up")


def request(port: int, method: str, path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((HOST, port), timeout=60) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    response = b"".join(chunks)
    return int(response[9:12]), response


def load(port: int, requests: list[tuple], *, concurrency: int, seconds: float) -> dict:
    """Send the requests with `concurrency` connections in flight; stop early at the time limit."""
    latencies, errors, lock = [], [], threading.Lock()
    deadline = time.monotonic() + seconds
    queue = iter(requests)

    def worker() -> None:
        while time.monotonic() < deadline:
            with lock:
                item = next(queue, None)
            if item is None:
                return
            started = time.perf_counter()
            status, response = request(port, *item)
            elapsed = time.perf_counter() - started
            with lock:
                (latencies if status == 200 else errors).append(elapsed if status == 200 else response[:300])

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    wall = time.perf_counter() - started
    latencies.sort()
    return {"ok": len(latencies), "errors": errors, "wall": wall,
            "p50": percentile(latencies, 50), "p99": percentile(latencies, 99)}


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(pct / 100 * (len(values) - 1))))] * 1000


def count(dsn: str, table: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def raw_insert_rate(dsn: str) -> float:
    """The same event rows (as stored by the webhook run) inserted again into an empty copy of the
    events table (same columns and indexes, no foreign keys) with INSERT ... ON CONFLICT DO NOTHING."""
    columns = ("subscriber_id, campaign_id, type, occurred_at, url, user_agent, ip, amount, is_machine, "
               "machine_reason, source, dedupe_key, created_at")
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f"SELECT {columns} FROM events WHERE source = 'mandrill' ORDER BY id").fetchall()
        conn.execute("CREATE TABLE events_raw (LIKE events INCLUDING ALL)")
        conn.commit()
        sql = (f"INSERT INTO events_raw ({columns}) VALUES ({', '.join(['%s'] * 13)})"
               " ON CONFLICT (dedupe_key) DO NOTHING")
        started = time.perf_counter()
        with conn.cursor() as cur:
            for start in range(0, len(rows), EVENTS_PER_POST):
                cur.executemany(sql, rows[start:start + EVENTS_PER_POST])
                conn.commit()
        elapsed = time.perf_counter() - started
    return len(rows) / elapsed if elapsed else float("nan")


def report(args, mandrill: dict, stored: int, pixels: dict, raw_rate: float) -> None:
    webhook_rate = stored / mandrill["wall"]
    pixel_rate = pixels["ok"] / pixels["wall"]
    print(f"mandrill: {mandrill['ok']} POSTs x {EVENTS_PER_POST} events in {mandrill['wall']:.2f} s -> "
          f"{stored} events stored, {webhook_rate:,.0f} events/s (goal >= 10,000); "
          f"POST p50 {mandrill['p50']:.0f} ms, p99 {mandrill['p99']:.0f} ms; errors {len(mandrill['errors'])}")
    print(f"pixel:    {pixels['ok']} opens in {pixels['wall']:.2f} s, concurrency {args.concurrency} -> "
          f"{pixel_rate:,.0f} req/s (goal >= 1,500), p50 {pixels['p50']:.1f} ms, p99 {pixels['p99']:.1f} ms "
          f"(goal < 25 ms); errors {len(pixels['errors'])}")
    print(f"raw:      INSERT ... ON CONFLICT DO NOTHING of the same rows: {raw_rate:,.0f} rows/s")
    print(f"ratio:    webhook / raw = {webhook_rate / raw_rate:.2f}")
    for sample in (mandrill["errors"] + pixels["errors"])[:3]:
        print("error sample:", sample)


if __name__ == "__main__":
    main()
