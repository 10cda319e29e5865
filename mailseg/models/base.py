"""Declarative base, naming convention and the column types shared by all models."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import JSON, DateTime, MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Stable constraint names on both databases, so Alembic can find them again.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Stored as naive UTC (same text on SQLite, plain timestamp on PostgreSQL); read back as aware UTC.

    Naive values passed in are taken to be UTC already.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if isinstance(value, str):  # raw aggregates on SQLite come back as text
            value = datetime.fromisoformat(value)
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


# JSONB on PostgreSQL so values compare with = (used by idempotent upserts).
JSONType = JSON().with_variant(JSONB(), "postgresql")


def _system_now() -> datetime:
    return datetime.now(timezone.utc)


# Where utcnow() reads the time: the system clock, or a frozen one installed by the tests (the
# `frozen_clock` fixture) so every code path that reads the time sees the same moment.
_clock: Callable[[], datetime] = _system_now


def utcnow() -> datetime:
    return _clock()


def set_clock(clock: Callable[[], datetime] | None) -> None:
    """Install the time source of utcnow() (None: the system clock again)."""
    global _clock
    _clock = clock or _system_now


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
