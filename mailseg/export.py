"""Exports: stream rows out of the database as CSV, JSON or JSON Lines, in constant memory."""

from __future__ import annotations

import csv
import io
import json
from itertools import chain
from decimal import Decimal
from datetime import datetime
from typing import IO, Iterable, Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from .csvcells import neutralise
from .models import Campaign, Event, Subscriber
from .timeutil import isoformat_utc

FORMATS = ("csv", "json", "jsonl")
SUBSCRIBER_COLUMNS = ("email", "status", "subscribed_at", "first_name", "last_name", "tags")
EVENT_COLUMNS = ("email", "type", "occurred_at", "campaign", "url", "user_agent", "ip", "amount",
                 "is_machine", "machine_reason", "source")
STREAM_BATCH = 5000


def subscriber_columns(session: Session, audience_id: int, fmt: str) -> list[str]:
    """CSV gets one column per merge field (so the file imports back as it was); JSON nests them."""
    if fmt != "csv":
        return [*SUBSCRIBER_COLUMNS, "merge_fields"]
    keys: set[str] = set()
    stmt = (select(Subscriber.merge_fields).where(Subscriber.audience_id == audience_id)
            .execution_options(yield_per=STREAM_BATCH))
    for fields in session.scalars(stmt):
        keys.update(fields or ())
    return [*SUBSCRIBER_COLUMNS, *sorted(keys - set(SUBSCRIBER_COLUMNS))]


def subscriber_rows(session: Session, audience_id: int) -> Iterator[dict]:
    stmt = (select(Subscriber).where(Subscriber.audience_id == audience_id)
            # by address (ids are keys, not the order of creation), along ix_subscribers_audience_email_prefix
            .order_by(Subscriber.email).execution_options(yield_per=STREAM_BATCH))
    for sub in session.scalars(stmt):
        yield {**(sub.merge_fields or {}), "email": sub.email, "status": sub.status,
               "subscribed_at": sub.subscribed_at, "first_name": sub.first_name, "last_name": sub.last_name,
               "tags": sub.tags, "merge_fields": sub.merge_fields}


def event_rows(session: Session, audience_id: int) -> Iterator[dict]:
    stmt = (select(Subscriber.email, Event.type, Event.occurred_at, Campaign.provider_id, Event.url,
                   Event.user_agent, Event.ip, Event.amount, Event.is_machine, Event.machine_reason, Event.source)
            .join(Subscriber, Subscriber.id == Event.subscriber_id)
            .outerjoin(Campaign, Campaign.id == Event.campaign_id)
            .where(Subscriber.audience_id == audience_id)
            .order_by(Event.id).execution_options(yield_per=STREAM_BATCH))
    for row in session.execute(stmt):
        yield dict(zip(EVENT_COLUMNS, row))


def write_rows(rows: Iterable[dict], columns: Sequence[str], fmt: str, out: IO[str]) -> int:
    """Write rows in the format; returns how many. CSV flattens tags to 'a;b' and merge fields to JSON
    and makes every cell spreadsheet-safe (mailseg.csvcells)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([neutralise(c) for c in columns])
        for row in rows:
            writer.writerow([_csv_value(row.get(c)) for c in columns])
            count += 1
        return count
    if fmt == "json":
        out.write("[")
    for row in rows:
        text = json.dumps({c: _json_value(row.get(c)) for c in columns}, ensure_ascii=False)
        if fmt == "json":
            out.write(("," if count else "") + "\n" + text)
        else:
            out.write(text + "\n")
        count += 1
    if fmt == "json":
        out.write("\n]\n")
    return count


def csv_lines(rows: Iterable[dict], columns: Sequence[str]) -> Iterator[str]:
    """The header, then one CSV line per row: for streaming a CSV out of a web response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = [neutralise(c) for c in columns]
    for values in chain([header], ([_csv_value(row.get(c)) for c in columns] for row in rows)):
        writer.writerow(values)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _json_value(value):
    if isinstance(value, datetime):
        return isoformat_utc(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def _csv_value(value) -> str:
    """One cell as text, made safe for spreadsheets (mailseg.csvcells); JSON exports stay raw."""
    if value is None:
        return ""
    if isinstance(value, list):
        text = ";".join(value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(_json_value(value))
    return neutralise(text)
