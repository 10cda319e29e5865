"""Dialect-aware statement builders used wherever mailseg writes in bulk."""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence, TypeVar

from sqlalchemy import ColumnElement, Select, Table, any_, column, insert, literal, literal_column, table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql.expression import ClauseElement, Executable
from sqlalchemy.orm import Session

T = TypeVar("T")


def on_citus(session: Session) -> bool:
    """True when the session's database has the citus extension (docs/SCALING.md); asked once per session."""
    if "citus" not in session.info:
        session.info["citus"] = session.get_bind().dialect.name == "postgresql" and bool(session.scalar(
            text("SELECT count(*) FROM pg_extension WHERE extname = 'citus'")))
    return session.info["citus"]


# Sorts and hash aggregates of the heavy set-based statements in memory instead of temporary files:
# PostgreSQL's default work_mem (4 MB) spills them to disk. For the caller's transaction only; a
# database server's memory, not the process's.
SORT_MEMORY = "256MB"


def set_local(session: Session, setting: str, value: str) -> None:
    """SET LOCAL setting = value for the rest of the current transaction (PostgreSQL; nothing on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL {setting} = '{value}'"))


def sort_memory(session: Session) -> None:
    """work_mem for the rest of the current transaction (see SORT_MEMORY)."""
    set_local(session, "work_mem", SORT_MEMORY)


def without_jit(session: Session) -> None:
    """jit off for the rest of the current transaction. For statements of many correlated subqueries:
    their estimated cost crosses jit_above_cost, and compiling their expressions took seconds per
    statement where running them took a fraction of a second."""
    set_local(session, "jit", "off")


def written_rows(session: Session, stmt) -> int:
    """The rows an INSERT ... SELECT wrote. Its rowcount, except on Citus: an INSERT ... SELECT that
    Citus runs through the coordinator reports the rows it sent to the shards, not those written (ON
    CONFLICT ... DO NOTHING or WHERE skip some), so there they are counted from RETURNING."""
    if on_citus(session):
        return len(session.execute(stmt.returning(literal_column("1"))).all())
    return session.execute(stmt.execution_options(preserve_rowcount=True)).rowcount or 0


def upsert(session: Session, table: Table):
    """INSERT for the session's database with .on_conflict_do_nothing / .on_conflict_do_update available."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"mailseg supports SQLite and PostgreSQL, not {dialect}")


class CreateTemporaryTableAs(Executable, ClauseElement):
    """CREATE TEMPORARY TABLE name AS SELECT ... on both databases. Unlike INSERT ... SELECT,
    PostgreSQL may run the query in parallel."""

    inherit_cache = False
    kind, rows = "TEMPORARY", ""

    def __init__(self, name: str, query: Select, *, fillfactor: int | None = None) -> None:
        self.name, self.query, self.fillfactor = name, query, fillfactor


class CreateStagingTable(CreateTemporaryTableAs):
    """CREATE UNLOGGED TABLE name AS SELECT ... WITH NO DATA: the columns and types of the query, no
    rows (Citus's staging tables, see stage)."""

    inherit_cache = False
    kind, rows = "UNLOGGED", " WITH NO DATA"


@compiles(CreateTemporaryTableAs)
def _compile_create_table_as(element: CreateTemporaryTableAs, compiler, **kw) -> str:
    # fillfactor (PostgreSQL): free room in each page for updates that need no new index entry (HOT).
    storage = (f" WITH (fillfactor = {element.fillfactor})"
               if element.fillfactor and compiler.dialect.name == "postgresql" else "")
    return (f"CREATE {element.kind} TABLE {element.name}{storage} AS {compiler.process(element.query, **kw)}"
            f"{element.rows}")


def stage(session: Session, name: str, query: Select, *, key: str) -> None:
    """A staging table `name` holding the rows of `query`, one row per subscriber (`key` their id).

    SQLite, PostgreSQL: a temporary table (CREATE TEMPORARY TABLE AS). On Citus a temporary table
    lives on the coordinator, so every row of the query would be pulled there (and pushed back to the
    shards by the statements that join it): there the table is an unlogged distributed table
    co-located with subscribers, filled by an INSERT ... SELECT that Citus runs on each shard when the
    query joins per-subscriber tables on the subscriber key (tests/test_citus.py reads it from
    EXPLAIN). It is an ordinary table visible to other sessions: created and dropped inside the job's
    transaction, so two jobs staging under the same name wait for each other. Drop it with
    drop_staging."""
    if not on_citus(session):
        session.execute(CreateTemporaryTableAs(name, query))
        return
    session.execute(CreateStagingTable(name, query))
    _distribute_staging(session, name, key)
    names = [selected.key for selected in query.selected_columns]
    session.execute(insert(table(name, *(column(n) for n in names))).from_select(names, query))


def create_staging(session: Session, staging: Table, *, key: str) -> None:
    """An empty staging table of `staging`'s columns: temporary, or on Citus distributed (see stage)."""
    ddl = str(CreateTable(staging).compile(session.get_bind()))
    prefix = "CREATE UNLOGGED TABLE" if on_citus(session) else "CREATE TEMPORARY TABLE"
    session.execute(text(ddl.replace("CREATE TABLE", prefix, 1)))
    if on_citus(session):
        _distribute_staging(session, staging.name, key)


def _distribute_staging(session: Session, name: str, key: str) -> None:
    session.execute(text("SELECT create_distributed_table(:name, :key, colocate_with => 'subscribers')"),
                    {"name": name, "key": key})


def drop_staging(session: Session, *names: str) -> None:
    for name in names:
        session.execute(text(f"DROP TABLE IF EXISTS {name}"))


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def in_chunks(values: Sequence[T], size: int = 900) -> Iterator[Sequence[T]]:
    """Slices small enough for an IN (...) list on every supported database."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def member_of(session: Session, column, values: Sequence[T]) -> Iterator[ColumnElement[bool]]:
    """Conditions that together select the rows whose column is one of values, to run one query each.

    PostgreSQL: a single `column = ANY(array parameter)`; a 900-placeholder IN list would be
    re-parsed by the driver on every call (~7 ms per query at 1,000 values).
    SQLite: IN lists of at most 900 values (its limit on parameters).
    """
    if not values:
        return
    if session.get_bind().dialect.name == "postgresql":
        yield column == any_(literal(list(values), ARRAY(column.type)))
        return
    for chunk in in_chunks(values):
        yield column.in_(chunk)


# autovacuum's default analyze rule: a table is analyzed again once more rows changed than this
ANALYZE_BASE_ROWS, ANALYZE_SCALE = 50, 0.1


def refresh_statistics(session: Session, written: dict[str, int]) -> list[str]:
    """PostgreSQL: ANALYZE (and commit) each table a job wrote more rows to than autovacuum's rule lets
    pass before it re-analyzes (50 + 10% of the rows the statistics counted; a table never analyzed
    counts none). Called once per job that knows how many rows it wrote (a pull, an import): what a
    large first pull filled is then planned with its real size by the steps after it (a never-analyzed
    table is planned as a small one; the re-engagement entrants ran as a nested loop for minutes),
    without waiting for autovacuum, which may be off or a minute behind. Returns the tables analyzed."""
    due = analyze_written(session, written)
    if session.get_bind().dialect.name == "postgresql":
        session.commit()
    return due


def analyze_written(session: Session, written: dict[str, int]) -> list[str]:
    """refresh_statistics' ANALYZE without the commit, for a job that goes on in the same transaction
    (ANALYZE counts the rows the transaction itself wrote)."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    due = [name for name, rows in sorted(written.items()) if rows > ANALYZE_BASE_ROWS
           and rows > ANALYZE_BASE_ROWS + ANALYZE_SCALE * planned_rows(session, name)]
    for name in due:
        session.execute(text(f'ANALYZE "{name}"'))
    return due


def analyze_staging(session: Session, name: str) -> None:
    """ANALYZE a staging table the transaction has just filled, so that the statements joining it are
    planned with its real size. PostgreSQL only; not on Citus, where the table's shards were created in
    this transaction (the shard-level statistics are not reachable from here) and the statements that
    read it run per shard."""
    if session.get_bind().dialect.name == "postgresql" and not on_citus(session):
        session.execute(text(f'ANALYZE "{name}"'))


def planned_rows(session: Session, table_name: str) -> float:
    """The rows PostgreSQL's statistics count in a table (0 when never analyzed). On Citus a distributed
    table's statistics are its shards' (ANALYZE analyses the shards; the coordinator's table stays at 0):
    their sum."""
    if on_citus(session) and session.scalar(
            text("SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = to_regclass(:name)"),
            {"name": table_name}):
        counted = session.scalar(text(
            "SELECT sum(greatest(result::float, 0)) FROM run_command_on_shards(:name, "
            "$$SELECT reltuples FROM pg_class WHERE oid = '%s'::regclass$$)"), {"name": table_name})
    else:
        counted = session.scalar(text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"),
                                 {"name": table_name})
    return max(0.0, counted or 0.0)
