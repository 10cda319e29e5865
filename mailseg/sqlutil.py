"""Dialect-aware statement builders used wherever mailseg writes in bulk."""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence, TypeVar

from sqlalchemy import ColumnElement, Select, Table, any_, literal, literal_column, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable
from sqlalchemy.orm import Session

T = TypeVar("T")


def on_citus(session: Session) -> bool:
    """True when the session's database has the citus extension (docs/SCALING.md); asked once per session."""
    if "citus" not in session.info:
        session.info["citus"] = session.get_bind().dialect.name == "postgresql" and bool(session.scalar(
            text("SELECT count(*) FROM pg_extension WHERE extname = 'citus'")))
    return session.info["citus"]


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

    def __init__(self, name: str, query: Select) -> None:
        self.name, self.query = name, query


@compiles(CreateTemporaryTableAs)
def _compile_create_temporary_table_as(element: CreateTemporaryTableAs, compiler, **kw) -> str:
    return f"CREATE TEMPORARY TABLE {element.name} AS {compiler.process(element.query, **kw)}"


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
    if session.get_bind().dialect.name != "postgresql":
        return []
    due = [name for name, rows in sorted(written.items()) if rows > ANALYZE_BASE_ROWS and rows > (
        ANALYZE_BASE_ROWS + ANALYZE_SCALE * max(0.0, session.scalar(
            text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"), {"name": name}) or 0.0))]
    for name in due:
        session.execute(text(f'ANALYZE "{name}"'))
    session.commit()
    return due
