"""Ingest benchmark through the real HTTP stack: gunicorn (2 workers) on 127.0.0.1 in front of
PostgreSQL, in a scratch database this script creates and drops.

Measures, in one run:
  1. Mandrill webhook POSTs of 1,000 events each (goal: >= 10,000 events/s stored),
  2. the raw INSERT ... ON CONFLICT DO NOTHING rate of the same event rows straight into PostgreSQL
     (psycopg executemany, 1,000-row transactions) as the baseline, and the ratio webhook / raw,
  3. open-pixel GETs (goal: >= 1,500 requests/s, p99 < 25 ms) with wrk, for each mode in
     --pixel-modes: `direct` (tracking.queue_url empty: opens stored in batches by each worker's
     in-process buffer, tracking.buffer_seconds 0.2, the default), `unbuffered` (buffer_seconds 0:
     each open stored in its own request, the direct path before the buffer) and `queue`
     (write-behind through Redis: each worker's buffer pushes its batch in one round trip, drained by
     `mailseg ingest-worker`); with a new TCP connection
     per request and, when gunicorn runs gthread workers (--threads N), with kept-alive connections.
     The script waits until the queue is drained and checks that every answered open was stored.

The load generators only talk to 127.0.0.1 and are bounded in requests, connections and seconds.

    .venv/bin/python bench/ingest.py [--admin-url postgresql://postgres@127.0.0.1:5432/test]
        [--posts 40] [--post-concurrency 4] [--tokens 6000] [--connections 8] [--pixel-seconds 10]
        [--threads 0] [--pixel-modes direct,unbuffered,queue] [--redis-url redis://127.0.0.1:6379/0] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loadgen import HOST, post_all, wait_until_up, wrk  # noqa: E402
from mailseg.db import Database  # noqa: E402
from mailseg.ingest.queue import EventQueue  # noqa: E402
from mailseg.models.audience import subscriber_key  # noqa: E402
from mailseg.tracking.rewrite import open_url  # noqa: E402
from mailseg.tracking.tokens import OpenToken  # noqa: E402
from mailseg.webhooks.mandrill import signature  # noqa: E402

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
    parser.add_argument("--post-concurrency", type=int, default=4, help="Mandrill POSTs in flight")
    parser.add_argument("--tokens", type=int, default=6000, help="distinct pixel tokens the GETs rotate through")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--pixel-seconds", type=float, default=10, help="duration of each pixel run")
    parser.add_argument("--threads", type=int, default=0,
                        help="gthread threads per worker; 0 (default): sync workers, no kept-alive run")
    parser.add_argument("--pixel-modes", default="direct,unbuffered,queue", type=lambda text: text.split(","))
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--seconds", type=float, default=60, help="time limit of the POST phase and of draining")
    parser.add_argument("--port", type=int, default=0, help="gunicorn port (default: a free one)")
    args = parser.parse_args()
    args.load_before = f"{os.getloadavg()[0]:.2f}"
    return args


def run(args, sa_url: str, dsn: str) -> None:
    db = Database(sa_url)
    db.upgrade()
    db.dispose()
    audience_id, campaign_id, subscriber_ids = seed(dsn)
    port = args.port or free_port()
    webhook_url = f"http://{HOST}:{port}/webhooks/mandrill"
    env = server_env(sa_url, webhook_url)
    results: dict = {}
    with serving(args, env, port):
        posts = [mandrill_body(i, webhook_url) for i in range(args.posts)]
        results["mandrill"] = post_all(port, [("POST", "/webhooks/mandrill", body, headers) for body, headers in posts],
                                       concurrency=args.post_concurrency, seconds=args.seconds)
        results["stored"] = count(dsn, "source = 'mandrill'")
    rng = random.Random(7)
    paths = [urlsplit(open_url(f"http://{HOST}", SECRET, OpenToken(audience_id, rng.choice(subscriber_ids),
                                                                   campaign_id))).path for _ in range(args.tokens)]
    results["pixels"] = []
    for mode in args.pixel_modes:
        results["pixels"] += pixel_phase(args, mode, env, port, paths, dsn)
    results["raw_rate"] = raw_insert_rate(dsn)
    report(args, results)


def server_env(sa_url: str, webhook_url: str) -> dict:
    env = dict(os.environ, MAILSEG_DATABASE_URL=sa_url, MAILSEG_WEB_SECRET_KEY="bench", MAILSEG_TRACKING_SECRET=SECRET,
               MAILSEG_MANDRILL_WEBHOOK_KEY=KEY, MAILSEG_MANDRILL_WEBHOOK_URL=webhook_url)
    env.pop("MAILSEG_CONFIG", None)
    env.pop("MAILSEG_TRACKING_QUEUE_URL", None)
    return env


def pixel_phase(args, mode: str, env: dict, port: int, paths: list[str], dsn: str) -> list[dict]:
    """Pixel GETs with a new connection per request, then with kept-alive connections; with the queue,
    wait until the drainer stored everything and check that every answered open is in the table."""
    queue_name = f"mailseg-bench:{uuid.uuid4().hex[:8]}"
    if mode == "queue":
        env = dict(env, MAILSEG_TRACKING_QUEUE_URL=args.redis_url, MAILSEG_TRACKING_QUEUE_NAME=queue_name)
    elif mode == "unbuffered":
        env = dict(env, MAILSEG_TRACKING_BUFFER_SECONDS="0")
    phases = []
    try:
        with serving(args, env, port, drainer=mode == "queue"):
            # gunicorn's sync workers close every connection: kept-alive runs need gthread workers.
            for keep_alive in (False, True) if args.threads else (False,):
                before = count(dsn, "source = 'pixel'")
                figures = wrk(port, paths, connections=args.connections, seconds=args.pixel_seconds,
                              keep_alive=keep_alive)
                figures.update(mode=mode, keep_alive=keep_alive)
                if mode == "queue":  # the workers' buffers push within 0.2 s, then the drainer stores
                    time.sleep(0.3)
                    figures["drain_s"] = 0.3 + max(wait_drained(args.redis_url, queue_name, args.seconds),
                                             wait_settled(dsn, args.seconds))
                elif mode == "direct":
                    figures["drain_s"] = wait_settled(dsn, args.seconds)
                figures["stored"] = count(dsn, "source = 'pixel'") - before
                phases.append(figures)
    finally:
        if mode == "queue":
            EventQueue(args.redis_url, queue_name).delete_all()
    return phases


def wait_drained(redis_url: str, name: str, seconds: float) -> float:
    """Seconds from the end of the load until nothing is pending or unacknowledged in the queue."""
    queue = EventQueue(redis_url, name)
    started = time.perf_counter()
    while queue.pending_count() or queue.unacknowledged():
        if time.perf_counter() - started > seconds:
            raise SystemExit(f"the queue was not drained within {seconds} s")
        time.sleep(0.05)
    return time.perf_counter() - started


def wait_settled(dsn: str, seconds: float) -> float:
    """Seconds from the end of the load until the workers' buffers stored everything (the count of
    pixel opens stops growing for half a second)."""
    started, last, since = time.perf_counter(), -1, time.perf_counter()
    while time.perf_counter() - started < seconds:
        now = count(dsn, "source = 'pixel'")
        if now != last:
            last, since = now, time.perf_counter()
        elif time.perf_counter() - since >= 0.5:
            return since - started
        time.sleep(0.05)
    raise SystemExit(f"the buffered opens were not stored within {seconds} s")


@contextmanager
def serving(args, env: dict, port: int, *, drainer: bool = False):
    """gunicorn with 2 workers (and `mailseg ingest-worker` when the queue is on) until the block ends."""
    bin_dir = Path(sys.executable).parent
    worker = ["-k", "gthread", "--threads", str(args.threads)] if args.threads else ["-k", "sync"]
    processes = [subprocess.Popen([str(bin_dir / "gunicorn"), "-w", "2", *worker, "--keep-alive", "5",
                                   "-b", f"{HOST}:{port}", "--log-level", "warning", "--timeout", "120",
                                   "mailseg.app:create_app()"], cwd=ROOT, env=env)]
    if drainer:
        processes.append(subprocess.Popen([str(bin_dir / "mailseg"), "ingest-worker"], cwd=ROOT,
                                          env=dict(env, MAILSEG_TRACKING_QUEUE_FLUSH_SECONDS="0.2")))
    try:
        wait_until_up(port)
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)


def seed(dsn: str) -> tuple[int, int, list[int]]:
    with psycopg.connect(dsn) as conn:
        audience_id = conn.execute("INSERT INTO audiences (name, provider, created_at) VALUES ('bench', 'mailchimp', now())"
                                   " RETURNING id").fetchone()[0]
        campaign_id = conn.execute("INSERT INTO campaigns (audience_id, provider_id, name, kind, status, variant, created_at)"
                                   " VALUES (%s, 'bench', 'bench', 'regular', 'sent', 1, now()) RETURNING id",
                                   (audience_id,)).fetchone()[0]
        with conn.cursor().copy("COPY subscribers (id, audience_id, email, status, subscribed_at, merge_fields, tags,"
                                " created_at, updated_at) FROM STDIN") as copy:
            for i in range(SUBSCRIBERS):
                email = f"user{i}@bench.example"
                copy.write_row((subscriber_key(audience_id, email), audience_id, email, "subscribed", "2024-01-01",
                                "{}", "[]", "2024-01-01", "2024-01-01"))
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


def count(dsn: str, where: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT count(*) FROM events WHERE {where}").fetchone()[0]


RAW_COLUMNS = ("subscriber_id, campaign_id, type, occurred_at, url, user_agent, ip, amount, is_machine, "
               "machine_reason, source, dedupe_key, created_at")


def raw_insert_rate(dsn: str, *, source: str = "mandrill", columns: str = RAW_COLUMNS) -> float:
    """The same event rows (as stored by the webhook or API run) inserted again into an empty copy of
    the events table (same columns and indexes, no foreign keys) with INSERT ... ON CONFLICT DO NOTHING."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f"SELECT {columns} FROM events WHERE source = %s ORDER BY id", (source,)).fetchall()
        conn.execute("CREATE TABLE events_raw (LIKE events INCLUDING ALL)")
        conn.commit()
        sql = (f"INSERT INTO events_raw ({columns}) VALUES ({', '.join(['%s'] * len(columns.split(',')))})"
               " ON CONFLICT (subscriber_id, dedupe_key) DO NOTHING")
        started = time.perf_counter()
        with conn.cursor() as cur:
            for start in range(0, len(rows), EVENTS_PER_POST):
                cur.executemany(sql, rows[start:start + EVENTS_PER_POST])
                conn.commit()
        elapsed = time.perf_counter() - started
    return len(rows) / elapsed if elapsed else float("nan")


def report(args, results: dict) -> None:
    mandrill, stored, raw_rate = results["mandrill"], results["stored"], results["raw_rate"]
    webhook_rate = stored / mandrill["wall"]
    workers = f"gthread x {args.threads} threads" if args.threads else "sync"
    print(f"gunicorn: 2 workers, {workers}; load average before {args.load_before}, now {os.getloadavg()[0]:.2f}")
    print(f"mandrill: {mandrill['ok']} POSTs x {EVENTS_PER_POST} events ({args.post_concurrency} in flight) in "
          f"{mandrill['wall']:.2f} s -> {stored} events stored, {webhook_rate:,.0f} events/s (goal >= 10,000); "
          f"POST p50 {mandrill['p50_ms']:.0f} ms, p99 {mandrill['p99_ms']:.0f} ms; errors {len(mandrill['errors'])}; "
          f"client {mandrill['client_cpu']:.0%} of a core")
    print(f"raw:      INSERT ... ON CONFLICT DO NOTHING of the same rows: {raw_rate:,.0f} rows/s")
    print(f"ratio:    webhook / raw = {webhook_rate / raw_rate:.2f}")
    for phase in results["pixels"]:
        connection = "kept-alive connections" if phase["keep_alive"] else "new connection per request"
        drained = f", drained {phase['drain_s']:.2f} s after the load" if "drain_s" in phase else ""
        verdict = "every answered open stored" if phase["stored"] >= phase["ok"] else "OPENS MISSING"
        print(f"pixel:    {phase['mode']:6} {connection:27} {args.connections} conns: {phase['rate']:,.0f} req/s "
              f"(goal >= 1,500), p50 {phase['p50_ms']:.1f} ms, p99 {phase['p99_ms']:.1f} ms (goal < 25 ms), "
              f"max {phase['max_ms']:.0f} ms; errors {phase['errors']}; wrk {phase['client_cpu']:.0%} of a core; "
              f"answered {phase['ok']}, "
              f"stored {phase['stored']}{drained}: {verdict}")
    for sample in mandrill["errors"][:3]:
        print("error sample:", sample)


if __name__ == "__main__":
    main()
