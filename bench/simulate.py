"""Benchmark of the whole scheduled chain on the sandbox platform (`mailseg simulate`).

    .venv/bin/python bench/simulate.py [--subscribers 100000] [--weeks 26] [--step-days 1] [--database URL]

Builds a sandbox list of N members with the default behaviour model and a mailseg audience on it,
with a weekly newsletter plan, re-engagement and offer switched on and the default 10% holdouts,
then runs the chain (delivery -> pull -> classify -> value -> segments -> policies -> sync -> uplift
-> outlook) every `step-days` simulated days for `weeks` weeks. Prints the time per simulated week
and the share of each step; the baseline is the first simulated week (an audience without
history), so the ratio shows how the chain's cost grows as months of events, campaigns and
exposures pile up.

On PostgreSQL, a stand-in for autovacuum analyzes the tables autovacuum would (more rows changed than
autovacuum_analyze_threshold + scale_factor x rows, the server's defaults) every --naptime seconds
in a background thread and after each step of the chain: a simulated
day lasts seconds, and a test server may run with autovacuum off, so without this the planner would
plan every statement of the run for the empty tables it started with (the first re-engagement
selection after the first pull of 20,000 members then ran for minutes: nested loops over a
"1-row" subscribers table). That time is printed apart and
is not in the chain's figures. `--naptime 0` runs without it: the product then has only its own
ANALYZE after a pull, an import or a classification that filled a table (sqlutil.refresh_statistics).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from sqlalchemy import text  # noqa: E402

from mailseg.config import Config  # noqa: E402
from mailseg.db import Database  # noqa: E402
from mailseg.demo_sandbox import new_sandbox_audience  # noqa: E402
from mailseg.sandbox import world  # noqa: E402
from mailseg.simulation import simulate  # noqa: E402

LIST_ID = "bench"
START = datetime(2026, 1, 5, 10, tzinfo=timezone.utc)  # a Monday
# autovacuum's defaults: analyze a table once this many rows changed since its last analyze
ANALYZE_THRESHOLD, ANALYZE_SCALE = 50, 0.1


def build(db: Database, config: Config, members: int) -> tuple[int, Config]:
    people = [world.NewMember(f"user{i:07d}@example.org", START - timedelta(days=30 + i % 700)) for i in range(members)]
    with db.transaction() as s:
        return new_sandbox_audience(s, LIST_ID, people, config, name="bench", clock=START - timedelta(days=1))


class AutoAnalyze:
    """What autovacuum's analyze would have done by now (PostgreSQL only); seconds spent."""

    def __init__(self, db: Database, *, enabled: bool = True) -> None:
        self.db, self.seconds, self.tables = db, 0.0, 0
        self.enabled = enabled and db.dialect == "postgresql"
        self.lock, self.stop = threading.Lock(), threading.Event()

    def every(self, naptime: float) -> threading.Thread:
        """Run in a background thread every `naptime` seconds until .stop is set (autovacuum's naptime)."""
        def loop() -> None:
            while not self.stop.wait(naptime):
                self()

        thread = threading.Thread(target=loop, name="autoanalyze", daemon=True)
        thread.start()
        return thread

    def __call__(self, _step: str = "", _as_of: datetime | None = None) -> None:
        if not self.enabled:
            return
        with self.lock:
            self._analyze()

    def _analyze(self) -> None:
        began = time.perf_counter()
        with self.db.engine.connect() as conn:
            due = conn.execute(text(
                "SELECT relname FROM pg_stat_user_tables "
                "WHERE n_mod_since_analyze > :threshold + :scale * GREATEST(n_live_tup, 0)"),
                {"threshold": ANALYZE_THRESHOLD, "scale": ANALYZE_SCALE}).scalars().all()
            conn.commit()
            for table in due:
                conn.execute(text(f'ANALYZE "{table}"'))
                conn.commit()
        self.tables += len(due)
        self.seconds += time.perf_counter() - began


def shares(seconds: dict[str, float]) -> str:
    total = sum(seconds.values()) or 1.0
    return ", ".join(f"{name} {spent / total:.0%}" for name, spent in sorted(seconds.items(), key=lambda kv: -kv[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--step-days", type=int, default=1)
    parser.add_argument("--database", help="SQLAlchemy URL of an empty database (default: a temporary SQLite file)")
    parser.add_argument("--naptime", type=float, default=10.0,
                        help="PostgreSQL: seconds between the autovacuum stand-in's checks; 0: no stand-in (the "
                             "product's own ANALYZE after a large pull or classification only)")
    args = parser.parse_args()
    url = args.database or f"sqlite:///{tempfile.mkdtemp(prefix='mailseg-bench-')}/simulate.sqlite3"
    db = Database(url)
    db.upgrade()
    config = Config().replace(database={"url": url}, platform={"kind": "sandbox"})
    began = time.perf_counter()
    audience_id, config = build(db, config, args.subscribers)
    analyze = AutoAnalyze(db, enabled=args.naptime > 0)
    analyze()
    if analyze.enabled:
        analyze.every(args.naptime)
    print(f"built {args.subscribers:,} sandbox members in {time.perf_counter() - began:.1f} s ({db.dialect})",
          flush=True)
    steps: dict[str, float] = {}
    week = {"number": 1, "spent": 0.0, "mark": time.perf_counter()}

    def after_step(step: str, as_of: datetime) -> None:
        """Running figures, so a run stopped early still tells its per-week time and shares."""
        spent = time.perf_counter() - week["mark"]
        steps[step] = steps.get(step, 0.0) + spent
        number = (as_of - START).days // 7 + 1
        if number > week["number"]:  # the first step of a new week: the last one is over
            print(f"  week {week['number']}: {week['spent']:.1f} s of chain; so far " + shares(steps), flush=True)
            week.update(number=number, spent=0.0)
        week["spent"] += spent
        analyze()
        week["mark"] = time.perf_counter()

    report = simulate(db, config, audience_id, weeks=args.weeks, start=START, step_days=args.step_days,
                      after_step=after_step)
    analyze.stop.set()
    weeks = report.week_seconds
    print(f"{args.subscribers:,} subscribers, {args.weeks} simulated weeks, chain every {args.step_days} day(s), "
          f"{db.dialect}: {report.total_seconds:.1f} s of chain in all")
    print(f"per simulated week: median {statistics.median(weeks):.1f} s, first {weeks[0]:.1f} s (baseline), "
          f"last {weeks[-1]:.1f} s, max {max(weeks):.1f} s; ratio last/first {weeks[-1] / weeks[0]:.2f}, "
          f"median/first {statistics.median(weeks) / weeks[0]:.2f}")
    for name, share in sorted(report.shares().items(), key=lambda item: -item[1]):
        print(f"  {name:<9} {share:6.1%}  {report.seconds[name]:8.1f} s")
    if db.dialect == "postgresql":
        print(f"autovacuum stand-in (not in the figures above): {analyze.tables} ANALYZE in {analyze.seconds:.1f} s")
    print("weeks:", " ".join(f"{w:.1f}" for w in weeks))


if __name__ == "__main__":
    main()
