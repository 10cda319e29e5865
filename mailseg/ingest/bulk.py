"""Fast paths for storing event batches, one per database; both keep the semantics of
INSERT ... ON CONFLICT (subscriber_id, dedupe_key) DO NOTHING and return the dedupe keys actually stored.

PostgreSQL: COPY the rows into a session-local temporary table, then one INSERT ... SELECT ...
ON CONFLICT DO NOTHING RETURNING dedupe_key — without building and parsing a 13-parameters-per-row
VALUES list (which costs more than the insert itself at 1,000 rows).
SQLite: the same staging idea — the driver's executemany (values pre-formatted the way SQLAlchemy
stores them, skipping per-value bind processing) into a temporary table, then INSERT ... SELECT.
Timestamps are naive UTC, as UTCDateTime stores them.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.orm import Session


STAGING = "mailseg_events_incoming"
TIME_COLUMNS = ("occurred_at", "created_at")
# Below this many rows the temporary-table round trips cost more than they save.
MIN_COPY_ROWS = 50


def copy_insert_events(session: Session, rows: list[dict], columns: list[str]) -> set[str]:
    """COPY the rows' `columns` (the rows may carry more keys) and insert the new ones."""
    names = ", ".join(columns)
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING} "
                       "(LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        times = [index for index, name in enumerate(columns) if name in TIME_COLUMNS]
        with cursor.copy(f"COPY {STAGING} ({names}) FROM STDIN") as copy:
            for row in rows:
                values = [row[name] for name in columns]
                for index in times:
                    values[index] = _naive_utc(values[index])
                copy.write_row(values)
        cursor.execute(f"INSERT INTO events ({names}) SELECT {names} FROM {STAGING} "
                       "ON CONFLICT (subscriber_id, dedupe_key) DO NOTHING RETURNING dedupe_key")
        stored = {key for (key,) in cursor.fetchall()}
        cursor.execute(f"DELETE FROM {STAGING}")
        return stored
    finally:
        cursor.close()


def _naive_utc(value):
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


_SQLITE_COLUMNS = ("subscriber_id", "campaign_id", "type", "occurred_at", "url", "user_agent", "ip", "amount",
                   "is_machine", "machine_reason", "source", "dedupe_key", "created_at", "order_id", "margin",
                   "order_status")
_SQLITE_STAGING = "mailseg_events_incoming"
_SQLITE_NAMES = ", ".join(_SQLITE_COLUMNS)


def insert_events_sqlite(session: Session, rows: list[dict]) -> set[str]:
    """The driver's executemany into an index-free temporary table, then one INSERT ... SELECT ...
    ON CONFLICT DO NOTHING RETURNING dedupe_key (a single statement may RETURN on SQLite >= 3.35)."""
    created = _sqlite_datetime(rows[0]["created_at"])
    params = [(r["subscriber_id"], r["campaign_id"], r["type"], _sqlite_datetime(r["occurred_at"]), r["url"],
               r["user_agent"], r["ip"], None if r["amount"] is None else float(r["amount"]), r["is_machine"],
               r["machine_reason"], r["source"], r["dedupe_key"], created, r["order_id"],
               None if r["margin"] is None else float(r["margin"]), r["order_status"]) for r in rows]
    conn = session.connection()
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {_SQLITE_STAGING} AS "
                         f"SELECT {_SQLITE_NAMES} FROM events WHERE 0")
    conn.exec_driver_sql(f"INSERT INTO {_SQLITE_STAGING} ({_SQLITE_NAMES}) "
                         f"VALUES ({', '.join('?' * len(_SQLITE_COLUMNS))})", params)
    # "WHERE true" lets SQLite parse ON CONFLICT after INSERT ... SELECT
    stored = conn.exec_driver_sql(f"INSERT INTO events ({_SQLITE_NAMES}) SELECT {_SQLITE_NAMES} "
                                  f"FROM {_SQLITE_STAGING} WHERE true ON CONFLICT (subscriber_id, dedupe_key) DO NOTHING "
                                  "RETURNING dedupe_key").scalars().all()
    conn.exec_driver_sql(f"DELETE FROM {_SQLITE_STAGING}")
    return set(stored)


def _sqlite_datetime(value: datetime) -> str:
    """SQLAlchemy's SQLite storage format, 'YYYY-MM-DD HH:MM:SS.ffffff' (isoformat is faster than strftime)."""
    value = _naive_utc(value)
    text = value.isoformat(" ")
    return text if value.microsecond else text + ".000000"
