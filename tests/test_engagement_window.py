"""Window arithmetic: W calendar months back, the day clamped to the month's end, same time of day."""

from datetime import datetime, timedelta, timezone

import pytest

from mailseg.engagement import CLASS_NAMES, window_bounds

UTC = timezone.utc


def test_class_names_are_exactly_the_eight_in_order():
    assert CLASS_NAMES == ("active", "semi_active", "inactive", "new",
                           "unsubscribed", "cleaned", "complained", "pending")


@pytest.mark.parametrize("as_of, months, start", [
    ("2026-08-31T12:30:00", 6, "2026-02-28T12:30:00"),   # the example
    ("2028-08-31T00:00:00", 6, "2028-02-29T00:00:00"),   # leap year: February has 29 days
    ("2024-08-30T08:00:00", 6, "2024-02-29T08:00:00"),   # clamped to the leap day
    ("2026-08-29T00:00:00", 6, "2026-02-28T00:00:00"),
    ("2026-08-28T00:00:00", 6, "2026-02-28T00:00:00"),   # no clamping needed
    ("2026-03-31T23:59:59", 12, "2025-03-31T23:59:59"),  # a whole year back
    ("2025-02-28T00:00:00", 12, "2024-02-28T00:00:00"),
    ("2026-01-15T06:00:00", 7, "2025-06-15T06:00:00"),   # across the year boundary
    ("2026-05-31T00:00:00", 9, "2025-08-31T00:00:00"),
    ("2026-12-31T00:00:00", 10, "2026-02-28T00:00:00"),
    ("2026-07-31T10:00:00", 8, "2025-11-30T10:00:00"),   # 30-day month
])
def test_window_start(as_of, months, start):
    begin, end = window_bounds(datetime.fromisoformat(as_of).replace(tzinfo=UTC), months)
    assert begin == datetime.fromisoformat(start).replace(tzinfo=UTC)
    assert end == datetime.fromisoformat(as_of).replace(tzinfo=UTC)


def test_bounds_are_utc_and_naive_means_utc():
    other_zone = timezone(timedelta(hours=2))
    begin, end = window_bounds(datetime(2026, 9, 1, 1, 0, tzinfo=other_zone), 6)
    # 01:00 at +02:00 is 23:00 UTC on August 31st: the UTC date decides the clamping.
    assert end == datetime(2026, 8, 31, 23, 0, tzinfo=UTC)
    assert begin == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    assert window_bounds(datetime(2026, 8, 31), 6)[0] == datetime(2026, 2, 28, tzinfo=UTC)
