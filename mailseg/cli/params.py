"""Option types shared by every command: one `--as-of` (and any other moment) parser."""

from __future__ import annotations

from datetime import datetime

import click

from ..timeutil import parse_datetime


class DateTimeParam(click.ParamType):
    """An ISO-8601 date or datetime (naive = UTC, a bare date = 00:00 UTC) as an aware UTC datetime."""

    name = "datetime"

    def convert(self, value, param, ctx) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_datetime(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DATETIME = DateTimeParam()


def as_of_option(help_text: str = "As of this ISO-8601 moment (a bare date is 00:00 UTC; default: now)."):
    return click.option("--as-of", "as_of", type=DATETIME, help=help_text)
