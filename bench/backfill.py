"""Benchmark of `mailseg classify --backfill`: 26 fortnightly points against 26 routine classifications
and against the bare scan, all measured in the same run on the same synthetic audience.

    .venv/bin/python bench/backfill.py --db postgresql              # 1,000,000 subscribers, 30,000,000 events
    .venv/bin/python bench/backfill.py --db postgresql --scale 0.1  # a tenth of that
    .venv/bin/python bench/backfill.py --db postgresql --keep i11_bench  # build once, reuse after

--keep NAME builds the audience into the PostgreSQL database NAME and keeps it; a later run with the
same NAME (and scale) skips the build and empties what the measured steps write (classes, their history,
the runs) instead. --profile logs each step's slowest statements and its total time in SQL.

Builds the audience of bench/classify.py (a scratch PostgreSQL database, dropped after), times the
bare scan (twice, the faster one counts), then in a fresh process each (peak memory of that process
from getrusage): the first classification as of AS_OF, one routine classification (as of AS_OF plus a
day: the window moves, few classes change), and the backfill of 26 points every 14 days ending at
AS_OF (which starts from the state before its FROM, i.e. with a first classification of its own).
Goals (issue 11): backfill < 26 x the bare scan and < 10 minutes; process memory < 300 MB; first
classification <= 3 x the bare scan; routine classification <= 1.2 x the bare scan.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic  # noqa: E402
from classify import DEFAULT_PG, FULL_SIZE, bare_scan, build, kept_database, log, scratch_database  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from value import _time_statements  # noqa: E402

from mailseg.config import EngagementConfig  # noqa: E402
from mailseg.db import Database  # noqa: E402

POINTS = 26
EVERY_DAYS = 14


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--scale", type=float, default=1.0, help="Fraction of the full size (default 1).")
    parser.add_argument("--postgres-url", default=os.environ.get("MAILSEG_BENCH_POSTGRES_URL", DEFAULT_PG))
    parser.add_argument("--keep", metavar="NAME", help="Build into this PostgreSQL database once and keep it.")
    parser.add_argument("--profile", action="store_true", help="Log the slowest statements of each step.")
    parser.add_argument("--step", help=argparse.SUPPRESS)  # internal: one measured step, JSON out
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(run_step(args.step, args.url, args.profile)))
        return
    subscribers = int(FULL_SIZE[args.db][0] * args.scale)
    if args.keep:
        url = kept_database(args.postgres_url, args.keep, subscribers, WRITTEN,
                            lambda url: build("postgresql", url, subscribers, FULL_SIZE["postgresql"][1]))
        measure(url, args.profile)
        return
    with scratch_database(args.db, args.postgres_url) as url:
        build(args.db, url, subscribers, FULL_SIZE[args.db][1])
        measure(url, args.profile)


# What the measured steps write; emptied before measuring in a kept database.
WRITTEN = "class_changes, subscriber_classes, job_runs, job_requests"


def measure(url: str, profile: bool = False) -> None:
    scan = min(bare_scan(url) for _ in range(2))
    log(f"bare scan: {scan:.2f} s")
    first = in_process("first", url, profile)
    log(f"first classification: {first['seconds']:.2f} s ({first['seconds'] / scan:.2f} x), "
        f"{first['changes']} changes, peak {first['max_rss_mb']:.0f} MB")
    routine = in_process("routine", url, profile)
    log(f"routine classification: {routine['seconds']:.2f} s ({routine['seconds'] / scan:.2f} x), "
        f"{routine['changes']} changes, peak {routine['max_rss_mb']:.0f} MB")
    backfill = in_process("backfill", url, profile)
    log(f"backfill of {POINTS} points: {backfill['seconds']:.2f} s, {backfill['changes']} changes, "
        f"peak {backfill['max_rss_mb']:.0f} MB")
    print(json.dumps({
        "bare_scan_s": round(scan, 2), "first_classify_s": round(first["seconds"], 2),
        "routine_classify_s": round(routine["seconds"], 2), "backfill_s": round(backfill["seconds"], 2),
        "points": POINTS, "backfill_point_times_s": backfill["point_seconds"],
        "ratio_first_to_scan": round(first["seconds"] / scan, 2),
        "ratio_routine_to_scan": round(routine["seconds"] / scan, 2),
        "ratio_backfill_to_26_routine": round(backfill["seconds"] / (POINTS * routine["seconds"]), 2),
        "ratio_backfill_to_26_scans": round(backfill["seconds"] / (POINTS * scan), 2),
        "peak_memory_mb": round(max(first["max_rss_mb"], routine["max_rss_mb"], backfill["max_rss_mb"]), 1),
    }, indent=2))


def in_process(step: str, url: str, profile: bool = False) -> dict:
    """One step in a fresh interpreter, so its peak memory is the step's own."""
    out = subprocess.run([sys.executable, __file__, "--step", step, "--url", url, *(["--profile"] * profile)],
                         check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for seconds, count, statement in result.get("statements", []):
        log(f"    {step}: {seconds:7.2f} s in {count:3d} x  {statement}")
    return result


def run_step(step: str, url: str, profile: bool = False) -> dict:
    from mailseg.engagement import classify_audience
    from mailseg.engagement.backfill import Every, backfill_audience

    db = Database(url)
    statements = _time_statements(db.engine) if profile else None
    settings = EngagementConfig()
    with db.session() as session:
        started = time.perf_counter()
        if step == "first":
            results = [classify_audience(session, 1, settings, as_of=synthetic.AS_OF)]
        elif step == "routine":
            results = [classify_audience(session, 1, settings, as_of=synthetic.AS_OF + timedelta(days=1))]
        else:
            start = synthetic.AS_OF - timedelta(days=EVERY_DAYS * (POINTS - 1))
            results = backfill_audience(session, 1, settings, start, Every(EVERY_DAYS, "d"),
                                        now=synthetic.AS_OF).points
        seconds = time.perf_counter() - started
    db.dispose()
    point_seconds = []
    from mailseg.models import JobRun

    with Database(url).session() as session:
        for run_id in [r.run_id for r in results]:
            run = session.get(JobRun, run_id)
            point_seconds.append(round((run.finished_at - run.started_at).total_seconds(), 2))
    return {"seconds": seconds, "changes": sum(r.changes for r in results), "point_seconds": point_seconds,
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "statements": _by_statement(statements or [])}


def _by_statement(timed: list, count: int = 40) -> list:
    """[seconds, executions, first words] of the costliest statements (summed over executions, grouped by
    their first 90 characters), after the step's total in SQL."""
    totals: dict[str, list] = {}
    for seconds, statement in timed:
        entry = totals.setdefault(statement[:90], [0.0, 0])
        entry[0] += seconds
        entry[1] += 1
    top = sorted(([round(s, 2), n, text_] for text_, (s, n) in totals.items()), reverse=True)[:count]
    return [[round(sum(s for s, _ in timed), 2), len(timed), "(all statements)"], *top] if timed else []


if __name__ == "__main__":
    main()
