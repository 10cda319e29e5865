"""Benchmark of the whole scheduled chain on the sandbox platform (`mailseg simulate`).

    .venv/bin/python bench/simulate.py [--subscribers 100000] [--weeks 26] [--step-days 1] [--database URL]

Builds a sandbox list of N members with the default behaviour model and a mailseg audience on it,
with a weekly newsletter plan, re-engagement and offer switched on and the default 10% holdouts,
then runs the chain (delivery -> pull -> classify -> policies -> sync -> uplift) every `step-days`
simulated days for `weeks` weeks. Prints the time per simulated week and the share of each step;
the baseline is the first simulated week (an audience without history), so the ratio shows how the
chain's cost grows as months of events, campaigns and exposures pile up.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from mailseg.config import Config  # noqa: E402
from mailseg.db import Database  # noqa: E402
from mailseg.demo_sandbox import new_sandbox_audience  # noqa: E402
from mailseg.sandbox import world  # noqa: E402
from mailseg.simulation import simulate  # noqa: E402

LIST_ID = "bench"
START = datetime(2026, 1, 5, 10, tzinfo=timezone.utc)  # a Monday


def build(db: Database, config: Config, members: int) -> tuple[int, Config]:
    people = [world.NewMember(f"user{i:07d}@example.org", START - timedelta(days=30 + i % 700)) for i in range(members)]
    with db.transaction() as s:
        return new_sandbox_audience(s, LIST_ID, people, config, name="bench", clock=START - timedelta(days=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--step-days", type=int, default=1)
    parser.add_argument("--database", help="SQLAlchemy URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    url = args.database or f"sqlite:///{tempfile.mkdtemp(prefix='mailseg-bench-')}/simulate.sqlite3"
    db = Database(url)
    db.upgrade()
    config = Config().replace(database={"url": url}, platform={"kind": "sandbox"})
    began = time.perf_counter()
    audience_id, config = build(db, config, args.subscribers)
    print(f"built {args.subscribers:,} sandbox members in {time.perf_counter() - began:.1f} s ({db.dialect})")
    report = simulate(db, config, audience_id, weeks=args.weeks, start=START, step_days=args.step_days)
    weeks = report.week_seconds
    print(f"{args.weeks} simulated weeks, chain every {args.step_days} day(s): {report.total_seconds:.1f} s in all")
    print(f"per simulated week: median {statistics.median(weeks):.1f} s, first {weeks[0]:.1f} s (baseline), "
          f"last {weeks[-1]:.1f} s, max {max(weeks):.1f} s; ratio last/first {weeks[-1] / weeks[0]:.2f}")
    for name, share in report.shares().items():
        print(f"  {name:<9} {share:6.1%}  {report.seconds[name]:8.1f} s")
    print("weeks:", " ".join(f"{w:.1f}" for w in weeks))


if __name__ == "__main__":
    main()
