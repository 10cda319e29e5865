"""What a value must be for every database to store it the same: one check in Python, so SQLite
never keeps what PostgreSQL would refuse and PostgreSQL never raises on user input.

PostgreSQL refuses NUL characters in text and JSON, unpaired surrogates (not encodable as UTF-8),
strings longer than a VARCHAR(n) and numbers with more integer digits than a NUMERIC(p, s) allows;
SQLite stores all of them. Imports, webhooks and panel forms call these before anything is stored.
Dates are bounded where they are parsed (mailseg.timeutil.parse_datetime).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Column
# The largest id an INTEGER primary key holds on PostgreSQL (ids in URLs and tokens are checked
# against it: a larger one is "not found", never an out-of-range error from the database).
MAX_ID = 2**31 - 1
# Subscriber ids are 63-bit keys (mailseg.models.audience.subscriber_key), BIGINT on PostgreSQL.
MAX_SUBSCRIBER_ID = 2**63 - 1
from sqlalchemy.orm import InstrumentedAttribute


def check_text(value: str, *, max_length: int | None = None) -> str:
    """The text unchanged, or ValueError naming what a database would refuse in it."""
    if "\x00" in value:
        raise ValueError(f"contains a NUL character at position {value.index(chr(0)) + 1}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"contains an unpaired surrogate (U+{ord(value[exc.start]):04X}) at position "
                         f"{exc.start + 1}") from None
    if max_length is not None and len(value) > max_length:
        raise ValueError(f"too long: {len(value)} characters, at most {max_length}")
    return value


def is_id(value: object) -> bool:
    """An int (not a bool) that can be a row id: 1..MAX_ID."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def is_subscriber_id(value: object) -> bool:
    """An int (not a bool) that can be a subscriber's id: 1..MAX_SUBSCRIBER_ID."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_SUBSCRIBER_ID


def text_problem(value: str) -> str | None:
    """Why check_text refuses the text, or None when it is fine."""
    try:
        check_text(value)
    except ValueError as exc:
        return str(exc)
    return None


def column_length(column: Column | InstrumentedAttribute) -> int | None:
    """The VARCHAR length of a model column (None for unbounded text)."""
    return getattr(getattr(column, "type", None), "length", None)


def check_column_text(column: Column | InstrumentedAttribute, value: str) -> str:
    """check_text with the column's own length: Campaign.provider_id -> at most 100 characters."""
    return check_text(value, max_length=column_length(column))


def check_json(value: Any) -> Any:
    """Every key and string inside a JSON value passes check_text (PostgreSQL's jsonb refuses \\u0000)."""
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            try:
                check_text(str(key))
            except ValueError as exc:
                raise ValueError(f"key {str(key)!r}: {exc}") from None
            check_json(item)
    elif isinstance(value, list):
        for item in value:
            check_json(item)
    return value


def check_decimal(column: Column | InstrumentedAttribute, text: str) -> Decimal:
    """Parse a number for a NUMERIC(p, s) column, rounded half-up to its scale as PostgreSQL does;
    ValueError when it is not a finite number or has more integer digits than the column holds."""
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if not number.is_finite():
        raise ValueError(f"not a number: {text!r}")
    precision, scale = column.type.precision, column.type.scale
    limit = Decimal(10) ** (precision - scale)
    if abs(number) >= limit:
        raise ValueError(f"too large: at most {precision - scale} digits before the decimal point")
    return number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
