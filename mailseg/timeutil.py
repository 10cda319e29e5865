"""Parsing and arithmetic of UTC datetimes shared by import, CLI options and windows."""

from __future__ import annotations

from datetime import date, datetime, timezone

# The dates mailseg accepts anywhere (files, webhooks, query parameters, options). Python's datetime
# stops at year 1 and 9999 and PostgreSQL's timestamptz elsewhere, so a far date either overflows
# while converting to UTC (0001-01-01T00:00:00+05:00 is year 0) or is stored by one database and
# refused by the other; and windows and schedules add months and days to stored dates. No email
# event or sign-up happened before 1900 or after 2199.
MIN_DATETIME = datetime(1900, 1, 1, tzinfo=timezone.utc)
MAX_DATETIME = datetime(2200, 1, 1, tzinfo=timezone.utc)


def parse_datetime(text: str) -> datetime:
    """ISO-8601 date or datetime to an aware UTC datetime; naive means UTC, a bare date means 00:00 UTC.

    Raises ValueError with a readable reason, also for a moment outside MIN_DATETIME..MAX_DATETIME.
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
    try:
        parsed = parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)
    except OverflowError:
        parsed = None
    if parsed is None or not MIN_DATETIME <= parsed < MAX_DATETIME:
        raise ValueError(f"out of range (from {MIN_DATETIME:%Y-%m-%d} to {MAX_DATETIME:%Y-%m-%d}): {value!r}")
    return parsed


def isoformat_utc(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is not timezone.utc:  # the common case (parse_datetime's output) skips the conversion
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return value.isoformat().replace("+00:00", "Z")
