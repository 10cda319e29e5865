"""Schedules as written in the config and in campaign plans: a 5-field crontab ("0 3 * * *") or
"every N seconds|minutes|hours". Low in the package so config, policies and the scheduler can all use it."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

EVERY = re.compile(r"^every\s+(\d+)\s+(second|minute|hour)s?$")


def make_trigger(expression: str, timezone: str):
    """The APScheduler trigger for a schedule expression; ValueError says what is wrong with it."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    zone = check_timezone(timezone)
    text = expression.strip().lower()
    match = EVERY.match(text)
    if match:
        amount = int(match.group(1))
        if amount < 1:
            raise ValueError(f"interval must be at least 1: {expression!r}")
        return IntervalTrigger(**{match.group(2) + "s": amount}, timezone=zone)
    if len(text.split()) != 5:
        raise ValueError(f"expected a 5-field crontab like '0 3 * * *' or 'every 10 minutes', got {expression!r}")
    try:
        return CronTrigger.from_crontab(text, timezone=zone)
    except ValueError as exc:
        raise ValueError(f"invalid crontab {expression!r}: {exc}") from None


def check_schedule(expression: str) -> None:
    make_trigger(expression, "UTC")


def check_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Kyiv)") from None
