"""The class names and the window arithmetic every part of classification shares."""

from __future__ import annotations

import calendar
from datetime import datetime, timezone

# Exactly these names appear in exports, the API and the class columns (issue 5).
ENGAGED_CLASSES = ("active", "semi_active", "inactive", "new")
STATUS_CLASSES = ("unsubscribed", "cleaned", "complained", "pending")
CLASS_NAMES = ENGAGED_CLASSES + STATUS_CLASSES


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier, the day clamped to that month's end
    (2026-08-31 minus 6 months is 2026-02-28)."""
    year, month_index = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    month = month_index + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def window_bounds(as_of: datetime, months: int) -> tuple[datetime, datetime]:
    """(window_start, window_end = as_of), aware UTC. An event counts if start < occurred_at <= end."""
    end = as_utc(as_of)
    return months_before(end, months), end
