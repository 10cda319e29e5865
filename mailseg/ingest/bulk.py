"""PostgreSQL's fast path for large event batches: COPY the rows into a session-local temporary
table, then one INSERT ... SELECT ... ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key.

Same statement semantics as the portable INSERT ... ON CONFLICT used for SQLite and small batches,
but without building and parsing a 13-parameters-per-row VALUES list (which costs more than the
insert itself at 1,000 rows). Timestamps are passed as naive UTC, as UTCDateTime stores them.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.orm import Session

STAGING = "mailseg_events_incoming"
# Below this many rows the temporary-table round trips cost more than they save.
MIN_ROWS = 50


def copy_insert_events(session: Session, rows: list[dict]) -> set[str]:
    columns = list(rows[0])
    names = ", ".join(columns)
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING} "
                       "(LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        with cursor.copy(f"COPY {STAGING} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_naive_utc(row[name]) for name in columns])
        cursor.execute(f"INSERT INTO events ({names}) SELECT {names} FROM {STAGING} "
                       "ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key")
        stored = {key for (key,) in cursor.fetchall()}
        cursor.execute(f"DELETE FROM {STAGING}")
        return stored
    finally:
        cursor.close()


def _naive_utc(value):
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value
