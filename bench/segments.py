"""Benchmark of rule segments against the bare scan of the classification benchmark, same run.

    .venv/bin/python bench/segments.py --db postgresql              # 1,000,000 subscribers, 30,000,000 events
    .venv/bin/python bench/segments.py --db postgresql --scale 0.2  # a fifth of that
    .venv/bin/python bench/segments.py --db sqlite --scale 0.1

Builds the synthetic audience of bench/classify.py, then gives it what a segment rule reads: classes
(an UPDATE spreading active / semi_active / inactive / new), a merge field `city` (10 cities), a `vip`
tag on 1 in 7, value rows with 5 RFM segments, and URLs on the clicks (half contain "pricing"),
plus two recent pricing clicks for 1 subscriber in 10.
Then, in the same run, it times:
- the bare scan of bench/classify.py (twice; the faster one is the baseline);
- a warm-up preview of the 6-condition rule (reads the same tables, writes nothing; timed too);
- the 6-condition rule of the issue (class in two classes, rfm_segment in two, merge.city equals,
  clicked a URL containing "pricing" at least twice in 90 days, not tagged vip, subscribed before a
  date) evaluated and stored (refresh_segment): first run (everyone joins) and a second run with no
  change (must write no history row);
- `segments preview` of a two-condition field rule (count and first 10 emails).
Prints the figures and the ratios to the bare scan (goal: evaluate and store <= 2x; preview < 1 s).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import classify as classify_bench  # noqa: E402  (bench/classify.py: scratch database, build, bare scan)
import synthetic  # noqa: E402

from mailseg.config import EngagementConfig  # noqa: E402
from mailseg.db import Database  # noqa: E402
from mailseg.models import SegmentChange, utcnow  # noqa: E402
from mailseg.segments import add_segment, preview, refresh_segment  # noqa: E402

SIX_CONDITIONS = {"all": [
    {"field": "engagement_class", "op": "in", "value": ["active", "semi_active"]},
    {"field": "rfm_segment", "op": "in", "value": ["champions", "loyal"]},
    {"field": "merge.city", "op": "=", "value": "kyiv"},
    {"event": "click", "url_contains": "pricing", "within_days": 90, "count": {"op": ">=", "value": 2}},
    {"not": {"field": "tags", "op": "contains", "value": "vip"}},
    {"field": "subscribed_at", "op": "before", "value": "2024-01-01"},
]}
TWO_FIELDS = {"all": [{"field": "engagement_class", "op": "in", "value": ["active", "semi_active"]},
                      {"field": "merge.city", "op": "=", "value": "kyiv"}]}
CITIES = ("kyiv", "lviv", "odesa", "kharkiv", "dnipro", "warsaw", "berlin", "paris", "oslo", "riga")
SEGMENTS = ("champions", "loyal", "at_risk", "hibernating", "new_customers")

# Plain SQL (bench data only); {json} casts a text expression to the JSON column's type.
ENRICH = [
    "INSERT INTO subscriber_classes (subscriber_id, audience_id, engagement_class) SELECT id, audience_id, "
    "CASE id % 4 WHEN 0 THEN 'active' WHEN 1 THEN 'semi_active' WHEN 2 THEN 'inactive' ELSE 'new' END FROM subscribers",
    "UPDATE subscribers SET merge_fields = CAST(CASE id % 10 " + " ".join(
        f"WHEN {n} THEN '{{\"city\": \"{city}\"}}'" for n, city in enumerate(CITIES)) + " END AS {json})",
    "UPDATE subscribers SET tags = '[\"vip\"]' WHERE id % 7 = 0",
    "INSERT INTO subscriber_values (subscriber_id, audience_id, as_of, frequency, monetary, rfm_segment) "
    "SELECT id, 1, '2026-06-30 00:00:00', 1, 10, CASE id % 5 " + " ".join(
        f"WHEN {n} THEN '{name}'" for n, name in enumerate(SEGMENTS)) + " END FROM subscribers",
    "UPDATE events SET url = CASE WHEN id % 2 = 0 THEN 'https://shop.example/pricing?plan=pro' "
    "ELSE 'https://shop.example/blog/post' END WHERE type = 'click'",
    # The synthetic history has few clicks in the last 90 days: one subscriber in 10 gets two recent
    # pricing clicks, so the rule selects a few percent of the audience rather than nobody.
    *[f"INSERT INTO events (subscriber_id, campaign_id, type, occurred_at, url, is_machine, source, dedupe_key, "
      f"created_at) SELECT id, 1, 'click', '{at}', 'https://shop.example/pricing?plan=pro', false, 'demo', "
      f"'bench-{n}-' || id, '{at}' FROM subscribers WHERE id % 10 = 0"
      for n, at in ((1, "2026-06-01 10:00:00.000000"), (2, "2026-06-15 10:00:00.000000"))],
]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("postgresql", "sqlite"), required=True)
    parser.add_argument("--scale", type=float, default=1.0, help="Fraction of the full size (default 1).")
    parser.add_argument("--postgres-url", default=os.environ.get("MAILSEG_BENCH_POSTGRES_URL", classify_bench.DEFAULT_PG))
    args = parser.parse_args()
    subscribers = int(classify_bench.FULL_SIZE[args.db][0] * args.scale)
    with classify_bench.scratch_database(args.db, args.postgres_url) as url:
        classify_bench.build(args.db, url, subscribers, classify_bench.FULL_SIZE[args.db][1])
        enrich(url, args.db)
        measure(url)


def enrich(url: str, dialect: str) -> None:
    started = time.perf_counter()
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in ENRICH:
            conn.execute(text(statement.replace("{json}", "JSONB" if dialect == "postgresql" else "TEXT")))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if dialect == "postgresql" else "ANALYZE"))
    engine.dispose()
    log(f"classes, merge fields, tags, value rows and click URLs added in {time.perf_counter() - started:.1f} s")


def measure(url: str) -> None:
    engine = create_engine(url)
    with engine.connect() as conn:
        events = conn.execute(text("SELECT count(*) FROM events")).scalar_one()
        subscribers = conn.execute(text("SELECT count(*) FROM subscribers")).scalar_one()
    engine.dispose()
    log(f"{subscribers} subscribers, {events} events ({engine.dialect.name})")
    scans = [classify_bench.bare_scan(url) for _ in range(2)]
    scan = min(scans)
    log(f"bare scan: {', '.join(f'{s:.2f} s' for s in scans)}")
    db = Database(url)
    settings = EngagementConfig()
    as_of = synthetic.AS_OF
    with db.session() as session:
        segment = add_segment(session, 1, "bench-six", SIX_CONDITIONS)
        session.commit()
        # Warm-up, as the bare scan's first run is: a preview of the same rule reads the same tables
        # (subscribers, subscriber_values, events) and writes nothing.
        started = time.perf_counter()
        warm = preview(session, 1, SIX_CONDITIONS, settings, as_of=as_of)
        warm_seconds = time.perf_counter() - started
        log(f"warm-up: preview of the 6-condition rule {warm_seconds:.2f} s ({warm.count} match)")
        runs = []
        for label in ("first", "second"):
            history_before = session.scalar(select(func.count()).select_from(SegmentChange))
            started = time.perf_counter()
            result = refresh_segment(session, segment, settings, as_of=as_of)
            session.commit()
            seconds = time.perf_counter() - started
            history = session.scalar(select(func.count()).select_from(SegmentChange)) - history_before
            runs.append((seconds, result, history))
            log(f"{label} evaluation: {seconds:.2f} s, {result.members} members, {result.joined} joined, "
                f"{result.left} left, {history} history rows")
        previews = []
        for _ in range(3):
            started = time.perf_counter()
            shown = preview(session, 1, TWO_FIELDS, settings, as_of=utcnow())
            previews.append(time.perf_counter() - started)
        log(f"preview of a two-condition field rule: {', '.join(f'{p:.3f} s' for p in previews)} "
            f"({shown.count} match)")
    db.dispose()
    print(json.dumps({
        "dialect": engine.dialect.name, "subscribers": subscribers, "events": events, "bare_scan_s": round(scan, 2),
        "evaluate_first_s": round(runs[0][0], 2), "ratio_first": round(runs[0][0] / scan, 2),
        "evaluate_second_s": round(runs[1][0], 2), "ratio_second": round(runs[1][0] / scan, 2),
        "warm_up_preview_s": round(warm_seconds, 2), "members": runs[0][1].members, "second_run_history_rows": runs[1][2],
        "preview_s": round(min(previews), 3), "preview_count": shown.count,
    }, indent=2))


if __name__ == "__main__":
    main()
