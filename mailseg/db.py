"""Engine, sessions and migrations. Nothing here runs at import time."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from .paths import migrations_dir


def make_engine(url: str, *, echo: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # 64 MB page cache (default 2 MB): bulk inserts into the events indexes stay in memory.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()
    from .search import fold

    # The audience search's folding (PostgreSQL has it as a SQL function, see mailseg/search.py).
    dbapi_connection.create_function("mailseg_fold", 1, fold, deterministic=True)


class SchemaOutOfDate(RuntimeError):
    pass


class Database:
    """One engine and its session factory; the unit of work for CLI commands, jobs and web requests."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        """A session the caller commits explicitly; closing it rolls back anything uncommitted."""
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session that commits when the block ends normally and rolls back on an exception."""
        with self._sessions.begin() as session:
            yield session

    def upgrade(self, revision: str = "head") -> None:
        from alembic import command
        from alembic.util import CommandError

        try:
            command.upgrade(alembic_config(self.engine), revision)
        except CommandError as exc:  # e.g. a database migrated by a newer (or unrelated) mailseg
            raise SchemaOutOfDate(f"cannot migrate the database: {exc}") from None

    def head_revision(self) -> str | None:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(alembic_config(self.engine)).get_current_head()

    def require_current_schema(self) -> None:
        """Raise SchemaOutOfDate unless every migration has been applied."""
        current, head = self.current_revision(), self.head_revision()
        if current != head:
            raise SchemaOutOfDate(
                f"the database is at revision {current or '(empty)'} but this mailseg needs {head}: "
                "run `mailseg db upgrade`")

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(engine: Engine):
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["engine"] = engine
    return cfg


# Indexes only the migrations know, for one dialect, which the models cannot declare: a PostgreSQL
# expression index (ix_subscribers_search, migration 0014b_audience_search), and SQLite's index of a
# subscriber's history in time order, which PostgreSQL's primary key serves (0022_history_keys).
# Autogenerate leaves them alone.
DATABASE_ONLY_INDEXES = frozenset({"ix_subscribers_search", "ix_class_changes_subscriber",
                                   "ix_value_changes_subscriber", "ix_segment_changes_subscriber"})


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "index" and name in DATABASE_ONLY_INDEXES)
