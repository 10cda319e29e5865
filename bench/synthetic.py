"""A synthetic audience for the classification benchmark, loaded in bulk (COPY / executemany).

Rows are written straight to the tables (not through the ORM or store_events) in the exact text
format SQLAlchemy stores, so the engine reads them like any imported data.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta
from typing import Iterator

from mailseg.models.audience import subscriber_key

AS_OF = datetime(2026, 6, 30)
HISTORY_DAYS = 730  # events spread over two years; a 6-month window sees about a quarter of them
TIME_POOL_SIZE = 200_000
OLD_SUBSCRIPTION = "2023-06-01 00:00:00.000000"
CAMPAIGNS = 100
STATUSES = ["subscribed"] * 90 + ["unsubscribed"] * 4 + ["cleaned"] * 3 + ["complained"] * 2 + ["pending"]
CHUNK = 10_000  # subscribers per generated block


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def time_pool(seed: int = 7) -> list[str]:
    """Timestamps in the two years before AS_OF; index 0 is the most recent."""
    rnd = random.Random(seed)
    span = HISTORY_DAYS * 86400
    offsets = sorted(rnd.randrange(span * 1000) / 1000 for _ in range(TIME_POOL_SIZE))
    return [_stamp(AS_OF - timedelta(seconds=s)) for s in offsets]


def subscriber_rows(count: int, pool: list[str], seed: int = 1) -> Iterator[tuple]:
    """(id, audience_id, email, status, subscribed_at, merge_fields, tags, created_at, updated_at)."""
    rnd = random.Random(seed)
    recent = len(pool) // 4  # the newest quarter of the pool: inside a 6-month window
    for sub_id in range(1, count + 1):
        joined = pool[rnd.randrange(recent)] if rnd.random() < 0.08 else OLD_SUBSCRIPTION
        yield (key_of(sub_id), 1, f"s{sub_id}@example.com", rnd.choice(STATUSES), joined, "{}", "[]", joined, joined)


def key_of(n: int) -> int:
    """The id of generated subscriber n (s<n>@example.com in audience 1): its subscriber key."""
    return subscriber_key(1, f"s{n}@example.com")


def event_rows(subscribers: int, per_subscriber: int, pool: list[str], seed: int = 2) -> Iterator[tuple]:
    """(id, subscriber_id, campaign_id, type, occurred_at, is_machine, machine_reason, source,
    dedupe_key, created_at): sends throughout, opens and clicks up to each subscriber's last
    activity, about 40% of opens and 25% of clicks flagged; 30% of subscribers never engage."""
    rnd = random.random
    random.seed(seed)
    size = len(pool)
    event_id = 0
    low, high = per_subscriber // 3, per_subscriber * 5 // 3
    for n in range(1, subscribers + 1):
        sub_id = key_of(n)
        engages = rnd() >= 0.3
        last_active = int(rnd() ** 2 * size)  # recent activity is more common than old
        for _ in range(random.randint(low, high)):
            event_id += 1
            r = rnd()
            campaign = event_id % CAMPAIGNS + 1
            if r < 0.45 or not engages:
                at = pool[int(rnd() * size)]
                yield (event_id, sub_id, campaign, "send", at, False, None, "demo", f"{event_id:012d}", at)
                continue
            at = pool[last_active + int(rnd() * (size - last_active))]
            if r < 0.87:
                machine = rnd() < 0.4
                yield (event_id, sub_id, campaign, "open", at, machine, "apple_mpp" if machine else None,
                       "demo", f"{event_id:012d}", at)
            else:
                machine = rnd() < 0.25
                yield (event_id, sub_id, campaign, "click", at, machine, "link_scanner" if machine else None,
                       "demo", f"{event_id:012d}", at)


def campaign_rows(pool: list[str]) -> list[tuple]:
    return [(n, 1, f"c{n}", f"Campaign {n}", "regular", "sent", pool[-1], 1, pool[-1]) for n in range(1, CAMPAIGNS + 1)]


SUBSCRIBER_COLUMNS = "id, audience_id, email, status, subscribed_at, merge_fields, tags, created_at, updated_at"
EVENT_COLUMNS = ("id, subscriber_id, campaign_id, type, occurred_at, is_machine, machine_reason, source, "
                 "dedupe_key, created_at")
CAMPAIGN_COLUMNS = "id, audience_id, provider_id, name, kind, status, sent_at, variant, created_at"
AUDIENCE_SQL = "INSERT INTO audiences (id, name, provider, created_at) VALUES (1, 'bench', 'mailchimp', '2023-01-01')"
# Secondary indexes of events, dropped during the load and rebuilt after it (faster than
# maintaining them row by row); their definitions are read from the database before dropping.
EVENT_INDEXES_SQL = {
    "postgresql": "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'events' "
                  "AND indexname LIKE 'ix_%'",
    "sqlite": "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' "
              "AND name LIKE 'ix_%'",
}


def _load(execute, write, dialect: str, subscribers: int, per_subscriber: int, report) -> None:
    """The load sequence both databases share; `write(table, columns, rows)` is COPY or executemany."""
    pool = time_pool()
    execute(AUDIENCE_SQL)
    write("campaigns", CAMPAIGN_COLUMNS, campaign_rows(pool))
    write("subscribers", SUBSCRIBER_COLUMNS, subscriber_rows(subscribers, pool))
    report(f"{subscribers} subscribers written")
    indexes = execute(EVENT_INDEXES_SQL[dialect]).fetchall()
    for name, _ in indexes:
        execute(f"DROP INDEX {name}")
    if dialect == "postgresql":
        # Scratch data: skip the write-ahead log for the big table (reading it is unaffected).
        execute("ALTER TABLE events SET UNLOGGED")
    write("events", EVENT_COLUMNS, event_rows(subscribers, per_subscriber, pool))
    report("events written")
    for _, definition in indexes:
        execute(definition)
    report("indexes rebuilt")


def load_postgres(conn, subscribers: int, per_subscriber: int, report) -> None:
    """conn: a psycopg connection. COPY every table, FK triggers off during the load."""
    with conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        _load(cur.execute, lambda *args: _copy(cur, *args), "postgresql", subscribers, per_subscriber, report)
        for table in ("subscribers", "events", "campaigns"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
        cur.execute("SET session_replication_role = origin")
    conn.commit()


def _copy(cur, table: str, columns: str, rows, block: int = 20_000) -> None:
    """COPY in text format, written in blocks of lines (much faster than adapting row by row).
    The generated values never contain tabs, newlines or backslashes."""
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        lines: list[str] = []
        for row in rows:
            lines.append("\t".join(map(_cell, row)))
            if len(lines) >= block:
                copy.write("\n".join(lines) + "\n")
                lines.clear()
        if lines:
            copy.write("\n".join(lines) + "\n")


def _cell(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def load_sqlite(path: str, subscribers: int, per_subscriber: int, report) -> None:
    """executemany in one transaction, without fsync (a scratch file)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    _load(conn.execute, lambda *args: _insert(conn, *args), "sqlite", subscribers, per_subscriber, report)
    conn.commit()
    conn.close()


def _insert(conn: sqlite3.Connection, table: str, columns: str, rows) -> None:
    marks = ", ".join("?" for _ in columns.split(","))
    conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
