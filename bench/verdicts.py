"""Time the uplift verdicts (`experiments.uplift.freeze_due`) on a simulation's PostgreSQL database,
in one transaction that is rolled back: the database is left as it was.

    .venv/bin/python bench/verdicts.py --database URL [--as-of 2026-04-26T10:00] [--days 7] [--explain 2] [--dump FILE]

The verdicts that closed in the `days` before `as_of` (default: the latest verdict's close) are
judged again: experiment_verdicts is shadowed by a temporary copy without them (so a simulation still
running on the database is never blocked by this transaction's rows), then freeze_due runs as of
`as_of`. Prints the time of the call, the time per cohort judged and per kind of statement (cohort
list, moments, events, reactivation), and EXPLAIN (ANALYZE, BUFFERS) of the `explain` slowest
statements; --dump writes the verdicts' sums, to compare two versions of the code. On a database without experiment_cohorts (migrated before 0021) while the code has it,
the table is shadowed too, filled as the migration would (that time printed apart).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]

from sqlalchemy import event, inspect, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from mailseg import models  # noqa: E402
from mailseg.config import Config  # noqa: E402
from mailseg.db import Database  # noqa: E402
from mailseg.experiments import uplift  # noqa: E402
from mailseg.settings import effective_config  # noqa: E402

KINDS = (("experiment_cohorts", "cohort list"), ("GROUP BY experiment_exposures.policy", "cohort list"),
         ("DISTINCT experiment_exposures.exposed_at", "moments"), ("class_changes", "reactivation"),
         ("events", "events"))


def kind(statement: str) -> str:
    return next((name for marker, name in KINDS if marker in statement), "other")


class Timer:
    """Seconds per kind of statement, and the statements themselves (for EXPLAIN)."""

    def __init__(self, engine) -> None:
        self.seconds: dict[str, float] = {}
        self.statements: list[tuple[float, str, object]] = []
        event.listen(engine, "before_cursor_execute", self.before)
        event.listen(engine, "after_cursor_execute", self.after)

    def before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        conn.info["began"] = time.perf_counter()

    def after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        spent = time.perf_counter() - conn.info.pop("began")
        self.seconds[kind(statement)] = self.seconds.get(kind(statement), 0.0) + spent
        if statement.lstrip().upper().startswith("SELECT"):
            self.statements.append((spent, statement, parameters))


def timed_measure(cohorts: list):
    """uplift.measure, timed per cohort."""
    original = uplift.measure

    def measure(session, key, specs, settings):
        began = time.perf_counter()
        out = original(session, key, specs, settings)
        sizes = next(iter(out.values()), {})
        exposed = sum(group.n for group in sizes.values())
        cohorts.append((time.perf_counter() - began, key, len(specs), exposed))
        return out

    return measure


def shadow(conn, audience_id: int, cut: datetime) -> float:
    """Temporary tables in front of the real ones (pg_temp is searched first): the verdicts without
    those closed after `cut`; experiment_cohorts from the exposures when the database has none
    (returns the seconds that took)."""
    conn.execute(text("CREATE TEMPORARY TABLE experiment_verdicts (LIKE public.experiment_verdicts "
                      "INCLUDING INDEXES INCLUDING CONSTRAINTS)"))
    conn.execute(text("INSERT INTO experiment_verdicts SELECT * FROM public.experiment_verdicts "
                      "WHERE audience_id = :a AND closed_at <= :cut"), {"a": audience_id, "cut": cut})
    start = conn.execute(text("SELECT coalesce(max(id), 0) + 1 FROM public.experiment_verdicts")).scalar()
    conn.execute(text(f"CREATE TEMPORARY SEQUENCE bench_verdict_ids START {int(start)}"))
    conn.execute(text("ALTER TABLE experiment_verdicts ALTER COLUMN id SET DEFAULT nextval('bench_verdict_ids')"))
    if not hasattr(models, "ExperimentCohort") or inspect(conn).has_table("experiment_cohorts"):
        return 0.0
    began = time.perf_counter()
    conn.execute(text("CREATE TEMPORARY TABLE experiment_cohorts AS SELECT audience_id, policy, cohort, variant, "
                      "salt, max(share) AS share FROM experiment_exposures "
                      "GROUP BY audience_id, policy, cohort, variant, salt"))
    return time.perf_counter() - began


def explain(conn, statements, count: int) -> None:
    for spent, statement, parameters in sorted(statements, key=lambda s: -s[0])[:count]:
        print(f"\n--- {spent:.2f} s: {kind(statement)}")
        cursor = conn.connection.driver_connection.cursor()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        print("\n".join(row[0] for row in cursor.fetchall()))


def dump(conn, cut: datetime, path: str) -> None:
    """The verdicts judged, keyed by cohort and metric: two runs' files compare their sums."""
    rows = conn.execute(text("SELECT policy, cohort, variant, salt, metric, groups FROM experiment_verdicts "
                             "WHERE closed_at > :cut ORDER BY 1, 2, 3, 4, 5"), {"cut": cut}).all()
    Path(path).write_text(json.dumps({f"{p} {c} v{v} {s} {m}": g for p, c, v, s, m, g in rows}, indent=1,
                                     sort_keys=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="SQLAlchemy URL of a simulation's PostgreSQL database")
    parser.add_argument("--as-of", type=datetime.fromisoformat, help="default: the latest verdict's close")
    parser.add_argument("--days", type=float, default=7.0, help="judge again the verdicts closed in these days")
    parser.add_argument("--explain", type=int, default=0, help="EXPLAIN ANALYZE the N slowest statements")
    parser.add_argument("--timeout-minutes", type=int, default=15)
    parser.add_argument("--dump", help="write the verdicts judged (groups' n, sum, sum of squares) to this JSON file")
    args = parser.parse_args()
    db = Database(args.database)
    timer = Timer(db.engine)
    with db.engine.connect() as conn:
        conn.execute(text(f"SET LOCAL statement_timeout = '{args.timeout_minutes}min'"))
        audience_id = conn.execute(text("SELECT id FROM audiences WHERE name = 'bench'")).scalar_one()
        as_of = args.as_of or conn.execute(text("SELECT max(closed_at) FROM experiment_verdicts")).scalar()
        as_of = as_of.replace(tzinfo=timezone.utc)
        filled = shadow(conn, audience_id, as_of - timedelta(days=args.days))
        timer.seconds.clear()
        cohorts: list = []
        uplift.measure = timed_measure(cohorts)
        session = Session(bind=conn, join_transaction_mode="create_savepoint")
        config = effective_config(session, Config())
        timer.seconds.clear()
        began = time.perf_counter()
        written = uplift.freeze_due(session, audience_id, config, as_of)
        spent = time.perf_counter() - began
        print(f"freeze_due as of {as_of:%Y-%m-%d %H:%M}: {written} verdicts in {spent:.1f} s"
              + (f" (cohort list filled from the exposures first: {filled:.1f} s)" if filled else ""))
        print("per statement kind: " + ", ".join(f"{k} {s:.2f} s" for k, s in sorted(timer.seconds.items())))
        idle = [c for c in cohorts if c[2] == 0]  # measured with nothing due (main's code before issue 15's fix)
        if idle:
            print(f"  {len(idle)} cohorts with nothing due: {sum(c[0] for c in idle):.2f} s")
        for seconds, key, metrics, exposed in sorted((c for c in cohorts if c[2]), key=lambda c: -c[0]):
            print(f"  {key.policy:<12} {key.cohort} v{key.variant}: {metrics} metrics, {exposed:>7,} exposures, "
                  f"{seconds:6.2f} s")
        if args.dump:
            dump(conn, as_of - timedelta(days=args.days), args.dump)
        statements = list(timer.statements)
        explain(conn, statements, args.explain)
        conn.rollback()


if __name__ == "__main__":
    main()
