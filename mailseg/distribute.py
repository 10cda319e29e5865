"""Spreading a PostgreSQL database over Citus workers (`mailseg db distribute`, docs/SCALING.md).

Every table with a subscriber_id column, and subscribers itself, is a distributed table: sharded by
the subscriber key (subscribers.id, the others' subscriber_id) and co-located, so all rows about one
subscriber live on the same shard and every statement that works per subscriber runs on each shard
without moving rows between nodes. Every other table (audiences, campaigns, settings, runs, users,
segment and survey definitions...) is a reference table: small, copied whole to every node, joinable
from any shard. alembic_version stays a plain table of the coordinator.

Foreign keys to reference tables are dropped. Citus refuses to modify a reference table that a
foreign key points at once the transaction has run a parallel query on a distributed table, and
mailseg's jobs do exactly that (a classification ends by finishing its job_runs row; an evaluation
updates segments.member_count after writing the members). On Citus the references to audiences,
campaigns, segments, runs... are kept by mailseg itself: the deletes that relied on a cascade delete
the rows explicitly (remove_segment). The keys between co-located tables (subscriber_id ->
subscribers.id) stay and are checked per shard.

Idempotent: tables already distributed are left alone, so the same call after `mailseg db upgrade`
distributes the tables a migration added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

from .db import Database
from .models import Base

# The one unique constraint Citus cannot hold (no distribution column): the subscriber key implies it
# (mailseg.models.audience.subscriber_key) and upsert_subscribers checks collisions instead.
DROPPED_ON_CITUS = (("subscribers", "uq_subscribers_audience_id_email"),)
LOCAL_TABLES = frozenset({"alembic_version"})


class DistributeError(RuntimeError):
    pass


@dataclass
class DistributeResult:
    distributed: list[str] = field(default_factory=list)
    reference: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    dropped_keys: list[str] = field(default_factory=list)
    workers: int = 0
    shard_count: int = 0


def distribution_column(table_name: str) -> str | None:
    """The column a table is sharded by, or None for a reference table."""
    if table_name == "subscribers":
        return "id"
    table = Base.metadata.tables.get(table_name)
    return "subscriber_id" if table is not None and "subscriber_id" in table.c else None


def citus_workers(conn: Connection) -> int:
    """The active workers; DistributeError when the database has no Citus."""
    if conn.dialect.name != "postgresql":
        raise DistributeError(f"{conn.dialect.name} cannot be distributed: Citus is a PostgreSQL extension "
                              "(docs/SCALING.md)")
    installed = conn.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'citus'")).scalar()
    if installed is None:
        available = conn.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'citus'")).scalar()
        hint = ("run CREATE EXTENSION citus in it (and on every worker)" if available else
                "install Citus on every node as Citus documents, add citus to shared_preload_libraries, then "
                "CREATE EXTENSION citus")
        raise DistributeError(f"database {conn.engine.url.database!r} has no citus extension: {hint} (docs/SCALING.md)")
    return conn.execute(text("SELECT count(*) FROM citus_get_active_worker_nodes()")).scalar() or 0


def is_distributed(db: Database) -> bool:
    """True when the database's subscribers table is a Citus distributed table."""
    if db.dialect != "postgresql":
        return False
    with db.engine.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'citus'")).scalar() is None:
            return False
        return conn.execute(text("SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'subscribers'::regclass "
                                 "AND partmethod = 'h'")).scalar() is not None


def _citus_tables(conn: Connection) -> set[str]:
    """Tables already distributed or replicated (a table Citus made a "local" citus table, because it
    has a foreign key to a reference table, still has to be distributed)."""
    return set(conn.execute(text("SELECT table_name::text FROM citus_tables "
                                 "WHERE citus_table_type IN ('distributed', 'reference')")).scalars())


def _plan(conn: Connection) -> tuple[list[str], list[str]]:
    """(reference tables, distributed tables) in creation order: reference tables first (the
    distributed tables' foreign keys point at them), subscribers first among the distributed."""
    existing = set(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).scalars())
    names = [t.name for t in Base.metadata.sorted_tables if t.name in existing]
    names += sorted(existing - set(names) - LOCAL_TABLES)  # tables of migrations the models do not map
    reference = [n for n in names if distribution_column(n) is None and not _has_column(conn, n, "subscriber_id")]
    distributed = ["subscribers"] + [n for n in names if n != "subscribers" and n not in reference]
    return reference, distributed


def _has_column(conn: Connection, table: str, column: str) -> bool:
    return conn.execute(text("SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                             "AND table_name = :t AND column_name = :c"), {"t": table, "c": column}).scalar() is not None


def distribute(db: Database, *, shard_count: int | None = None,
               progress: Callable[[str], None] = lambda _line: None) -> DistributeResult:
    """Make the database's tables Citus distributed and reference tables (data moved to the shards)."""
    result = DistributeResult()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        result.workers = citus_workers(conn)
        if result.workers == 0:
            raise DistributeError(f"database {conn.engine.url.database!r} has citus but no active workers: register "
                                  "them from the coordinator with SELECT citus_add_node('host', port) (docs/SCALING.md)")
        if shard_count:
            conn.execute(text(f"SET citus.shard_count = {int(shard_count)}"))
        result.shard_count = int(conn.execute(text("SHOW citus.shard_count")).scalar())
        done = _citus_tables(conn)
        reference, distributed = _plan(conn)
        for name in reference:
            if name in done:
                result.already.append(name)
                continue
            progress(f"reference table {name}")
            conn.execute(text("SELECT create_reference_table(:t)"), {"t": name})
            _drop_local_copy(conn, name)
            result.reference.append(name)
        for table, constraint in DROPPED_ON_CITUS:
            conn.execute(text(f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{constraint}"'))
        todo = [name for name in distributed if name not in done]
        result.already += [name for name in distributed if name in done]
        # Foreign keys from plain tables to a distributed table are refused: the keys to subscribers
        # come off while the tables move and go back once all are co-located (_restore_subscriber_keys).
        for name in todo:
            if name != "subscribers":
                conn.execute(text(f'ALTER TABLE "{name}" DROP CONSTRAINT IF EXISTS "{_subscriber_fk(name)}"'))
        for name in todo:
            column = "id" if name == "subscribers" else "subscriber_id"
            progress(f"distributed table {name} by {column}")
            conn.execute(text("SELECT create_distributed_table(:t, :c, colocate_with => :w)"),
                         {"t": name, "c": column, "w": "none" if name == "subscribers" else "subscribers"})
            _drop_local_copy(conn, name)
            result.distributed.append(name)
        _restore_subscriber_keys(conn, [name for name in distributed if _keyed_to_subscribers(name)])
        result.dropped_keys = _drop_keys_to_reference_tables(conn)
    return result


def _drop_keys_to_reference_tables(conn: Connection) -> list[str]:
    rows = conn.execute(text(
        "SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint c JOIN citus_tables t "
        "ON t.table_name = c.confrelid::regclass WHERE c.contype = 'f' AND t.citus_table_type = 'reference' "
        "ORDER BY 1, 2")).all()
    for table, name in rows:
        conn.execute(text(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"'))
    return [name for _, name in rows]


def _keyed_to_subscribers(table_name: str) -> bool:
    """Whether the model gives the table a foreign key to subscribers (the class and segment tables
    have none on purpose: their per-row check cost more than the insert)."""
    table = Base.metadata.tables.get(table_name)
    return table is not None and any(fk.column.table.name == "subscribers" for fk in table.foreign_keys)


def _subscriber_fk(table: str) -> str:
    """The name the models' naming convention gives a table's foreign key to subscribers."""
    return f"fk_{table}_subscriber_id_subscribers"


def _restore_subscriber_keys(conn: Connection, tables: list[str]) -> None:
    """Every distributed table's subscriber_id refers to subscribers.id again (ON DELETE CASCADE, as
    the models say); between co-located tables sharded by that very column Citus checks it per shard."""
    present = set(conn.execute(text("SELECT conname FROM pg_constraint WHERE contype = 'f'")).scalars())
    for name in tables:
        if _subscriber_fk(name) not in present:
            conn.execute(text(f'ALTER TABLE "{name}" ADD CONSTRAINT "{_subscriber_fk(name)}" FOREIGN KEY '
                              '(subscriber_id) REFERENCES subscribers (id) ON DELETE CASCADE'))


def _drop_local_copy(conn: Connection, name: str) -> None:
    """create_distributed_table copies existing rows into the shards and leaves the coordinator's
    original rows hidden behind the table: free their space."""
    conn.execute(text("SELECT truncate_local_data_after_distributing_table(:t)"), {"t": name})


def create_citus_database(coordinator_url: str, name: str) -> str:
    """A new database `name` on the coordinator of `coordinator_url` and on each of its active workers
    (Citus does not propagate CREATE DATABASE), citus created in each and the workers registered in
    it; returns its URL. For scratch databases of the tests and bench/citus.py."""
    coordinator = make_url(coordinator_url)
    port = coordinator.port or 5432
    with _autocommit(coordinator) as conn:
        workers = conn.execute(text("SELECT node_name, node_port FROM citus_get_active_worker_nodes()")).all()
    for host, node_port in [(coordinator.host, port), *workers]:
        with _autocommit(coordinator.set(host=host, port=node_port)) as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        with _autocommit(coordinator.set(host=host, port=node_port, database=name)) as conn:
            conn.execute(text("CREATE EXTENSION citus"))
    with _autocommit(coordinator.set(database=name)) as conn:
        conn.execute(text("SELECT citus_set_coordinator_host(:h, :p)"), {"h": coordinator.host, "p": port})
        for host, node_port in workers:
            conn.execute(text("SELECT citus_add_node(:h, :p)"), {"h": host, "p": node_port})
    return coordinator.set(database=name).render_as_string(hide_password=False)


def drop_citus_database(coordinator_url: str, name: str) -> None:
    coordinator = make_url(coordinator_url)
    with _autocommit(coordinator.set(database=name)) as conn:
        workers = conn.execute(text("SELECT node_name, node_port FROM citus_get_active_worker_nodes()")).all()
    for host, node_port in [(coordinator.host, coordinator.port or 5432), *workers]:
        with _autocommit(coordinator.set(host=host, port=node_port)) as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class _autocommit:
    def __init__(self, url) -> None:
        self.engine = create_engine(url, isolation_level="AUTOCOMMIT")

    def __enter__(self) -> Connection:
        self.conn = self.engine.connect()
        return self.conn

    def __exit__(self, *exc) -> None:
        self.conn.close()
        self.engine.dispose()
