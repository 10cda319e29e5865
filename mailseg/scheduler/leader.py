"""Electing the one active scheduler.

APScheduler 3's job stores "must never be shared between schedulers", so every `mailseg scheduler`
process first takes a database lock and only the holder runs jobs; the others wait as hot standbys.
PostgreSQL: a session-level advisory lock held on a dedicated connection (released by the server
the moment the process or its connection dies). SQLite: a lease row renewed by the holder and taken
over by a standby once it has expired.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from sqlalchemy import Connection, or_, select, text, update
from sqlalchemy.exc import DBAPIError, OperationalError

from ..db import Database
from ..models import SchedulerLease, utcnow
from ..runs import this_process
from ..sqlutil import upsert

LOCK_NAME = "scheduler"
# pg_advisory_lock key: the first 8 bytes of "mailseg\0" as a signed 64-bit integer.
ADVISORY_KEY = int.from_bytes(b"mailseg\0", "big", signed=True)


class LeaderLock(Protocol):
    def try_acquire(self) -> bool: ...
    def still_held(self) -> bool: ...
    def believed_held(self) -> bool: ...
    def release(self) -> None: ...


class AdvisoryLock:
    """PostgreSQL session advisory lock on a connection kept open while leading."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.conn: Connection | None = None

    def try_acquire(self) -> bool:
        if self.conn is None:
            self.conn = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if self.conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}):
            return True
        self._close()
        return False

    def still_held(self) -> bool:
        if self.conn is None:
            return False
        try:  # a session lock lasts as long as its connection: alive connection, lock still ours
            self.conn.execute(text("SELECT 1"))
            return True
        except DBAPIError:
            self._close()
            return False

    def believed_held(self) -> bool:
        """Held as far as this process knows, without a query (safe from any thread)."""
        return self.conn is not None

    def release(self) -> None:
        if self.conn is not None:
            try:
                self.conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
            except DBAPIError:
                pass
        self._close()

    def _close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class LeaseLock:
    """A row in scheduler_leases: whoever holds an unexpired lease is the active scheduler."""

    def __init__(self, db: Database, lease_seconds: int, holder: str | None = None) -> None:
        self.db, self.lease, self.holder = db, timedelta(seconds=lease_seconds), holder or this_process()
        self.renewed_at = utcnow()

    def try_acquire(self) -> bool:
        now = utcnow()
        with self.db.transaction() as session:
            session.execute(upsert(session, SchedulerLease.__table__).on_conflict_do_nothing(index_elements=["name"]),
                            {"name": LOCK_NAME, "holder": self.holder, "expires_at": now + self.lease})
            taken = session.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == LOCK_NAME,
                       or_(SchedulerLease.holder == self.holder, SchedulerLease.expires_at < now))
                .values(holder=self.holder, expires_at=now + self.lease)
                .execution_options(synchronize_session=False)).rowcount
        if taken == 1:
            self.renewed_at = now
        return taken == 1

    def still_held(self) -> bool:
        """Renew the lease; False when another scheduler took it (we were gone too long).

        A renewal blocked by a long write (SQLite has one writer at a time) keeps the lease while
        it has not expired: a standby is blocked by the same write and cannot take it either."""
        now = utcnow()
        try:
            with self.db.transaction() as session:
                renewed = session.execute(
                    update(SchedulerLease)
                    .where(SchedulerLease.name == LOCK_NAME, SchedulerLease.holder == self.holder)
                    .values(expires_at=now + self.lease)
                    .execution_options(synchronize_session=False)).rowcount
        except OperationalError:
            return now - self.renewed_at < self.lease
        if renewed == 1:
            self.renewed_at = now
        return renewed == 1

    def believed_held(self) -> bool:
        """The lease this process last renewed has not expired (no query: safe from any thread).
        A process that stalled past its lease must assume a standby has taken over."""
        return utcnow() - self.renewed_at < self.lease

    def release(self) -> None:
        with self.db.transaction() as session:
            session.execute(update(SchedulerLease)
                            .where(SchedulerLease.name == LOCK_NAME, SchedulerLease.holder == self.holder)
                            .values(expires_at=utcnow())
                            .execution_options(synchronize_session=False))

    def current_holder(self) -> str | None:
        with self.db.session() as session:
            return session.scalar(select(SchedulerLease.holder).where(SchedulerLease.name == LOCK_NAME,
                                                                      SchedulerLease.expires_at >= utcnow()))


def leader_lock(db: Database, lease_seconds: int) -> LeaderLock:
    return AdvisoryLock(db) if db.dialect == "postgresql" else LeaseLock(db, lease_seconds)
