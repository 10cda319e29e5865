"""Parsing and arithmetic of UTC datetimes shared by import, CLI options and windows."""

from __future__ import annotations

from datetime import date, datetime, timezone


def parse_datetime(text: str) -> datetime:
    """ISO-8601 date or datetime to an aware UTC datetime; naive means UTC, a bare date means 00:00 UTC.

    Raises ValueError with a readable reason.
    """
    value = text.strip()
    if not value:
        raise ValueError("empty date")
    try:
        if len(value) == 10:
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
        else:
            parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO-8601 date or datetime: {value!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def isoformat_utc(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is not timezone.utc:  # the common case (parse_datetime's output) skips the conversion
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return value.isoformat().replace("+00:00", "Z")
