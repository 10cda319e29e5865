"""Importing subscribers and events from files: validate every record, name every bad one,
store good ones in batches, all-or-nothing unless the caller accepts a partial import."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy.orm import Session

from ..config import FlaggingConfig
from ..models import (EVENT_TYPES, SUBSCRIBER_STATUSES, Campaign, Event, Subscriber, normalise_email,
                      normalise_order_status)
from ..models.events import ORDER_STATUS_MAX
from ..progress import Progress
from ..sqlutil import refresh_statistics
from ..subscribers.lookup import subscriber_ids_by_email
from ..subscribers.upsert import SubscriberRow, upsert_subscribers
from ..timeutil import parse_datetime
from ..values import check_column_text, check_decimal, check_text
from .events import EventIn, StoreResult, store_events
from .records import FileFormatError, Record, RowError, csv_header, read_records

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SUBSCRIBER_COLUMNS = {"email", "status", "status_changed_at", "subscribed_at", "first_name", "last_name", "tags"}
EVENT_REQUIRED = ("email", "type", "occurred_at")
EVENT_OPTIONAL = ("campaign", "url", "user_agent", "ip", "amount", "order_id", "margin", "order_status")
# The column each optional text field of an event is stored in (its length is checked before storing).
EVENT_TEXT_COLUMNS = {"campaign": Campaign.provider_id, "url": Event.url, "user_agent": Event.user_agent,
                      "ip": Event.ip, "order_id": Event.order_id, "order_status": Event.order_status}
ORDER_ID_MAX = 100
MAX_ERRORS_KEPT = 1000


@dataclass
class ImportReport:
    file: str
    records: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    stored: bool = False
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    events: StoreResult = field(default_factory=StoreResult)

    def add_error(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(error)


class _Batches:
    """Runs `store` on batches; without skip_bad, one bad record stops storing and rolls everything back."""

    def __init__(self, session: Session, report: ImportReport, store: Callable[[list], None], *,
                 skip_bad: bool, batch_size: int, progress: Progress | None) -> None:
        self.session, self.report, self.store = session, report, store
        self.skip_bad, self.batch_size, self.progress = skip_bad, batch_size, progress
        self.batch: list = []

    def run(self, parsed: Iterable[object]) -> ImportReport:
        try:
            for item in parsed:
                self.report.records += 1
                if self.progress:
                    self.progress.advance()
                if isinstance(item, RowError):
                    self.report.add_error(item)
                    continue
                self.batch.append(item)
                if len(self.batch) >= self.batch_size:
                    self._flush()
            self._flush()
            if self.report.error_count and not self.skip_bad:
                self.session.rollback()
            else:
                self.session.commit()
                self.report.stored = True
        except BaseException:
            self.session.rollback()
            raise
        return self.report

    def _flush(self) -> None:
        batch, self.batch = self.batch, []
        if not batch or (self.report.error_count and not self.skip_bad):
            return
        self.store(batch)
        if self.skip_bad:
            self.session.commit()


# --- events -----------------------------------------------------------------------------------

def import_events_file(session: Session, audience_id: int, path: Path, *, skip_bad: bool = False,
                       batch_size: int = 5000, progress: Progress | None = None,
                       flagging: FlaggingConfig | None = None) -> ImportReport:
    """Import a CSV or JSON Lines file of events through store_events."""
    report = ImportReport(file=str(path))
    if path.suffix.lower() == ".csv":
        header = csv_header(path)
        _require_columns(path, header, EVENT_REQUIRED)
        _refuse_duplicate_columns(path, header)

    known: dict[str, int] = {}  # email -> subscriber id, looked up once per import

    def store(batch: list[EventIn]) -> None:
        known.update(subscriber_ids_by_email(session, audience_id, (e.email for e in batch if e.email not in known)))
        for event in batch:
            event.subscriber_id = known.get(event.email)
        report.events.add(store_events(session, audience_id, batch, flagging=flagging))

    parsed = (_parse_event(path.name, record) for record in read_records(path, formats={"csv", "jsonl"}))
    _Batches(session, report, store, skip_bad=skip_bad, batch_size=batch_size, progress=progress).run(parsed)
    if report.stored:
        refresh_statistics(session, {Event.__tablename__: report.events.inserted})
    return report


def _parse_event(file: str, record: Record) -> EventIn | RowError:
    if record.fields is None:
        return RowError(file, record.line, None, record.error or "unreadable")
    f = record.fields
    for name in EVENT_REQUIRED:
        if not (f.get(name) or "").strip():
            return RowError(file, record.line, name, "required value is missing")
    try:
        email = _email(f["email"])
    except ValueError as exc:
        return RowError(file, record.line, "email", str(exc))
    event_type = f["type"].strip().lower()
    if event_type not in EVENT_TYPES:
        return RowError(file, record.line, "type", f"unknown event type {_shown(f['type'])} "
                                                   f"(expected one of {', '.join(EVENT_TYPES)})")
    try:
        occurred_at = parse_datetime(f["occurred_at"])
    except ValueError as exc:
        return RowError(file, record.line, "occurred_at", str(exc))
    amount = margin = None
    for name in ("amount", "margin"):
        if (f.get(name) or "").strip():
            try:
                number = check_decimal(getattr(Event, name), f[name])
            except ValueError as exc:
                return RowError(file, record.line, name, _clipped(str(exc)))
            if name == "amount":
                amount = number
            else:
                margin = number
    text: dict[str, str | None] = {}
    for name, column in EVENT_TEXT_COLUMNS.items():
        value = (f.get(name) or "").strip() or None
        if value is not None:
            try:
                check_column_text(column, value)
            except ValueError as exc:
                return RowError(file, record.line, name, str(exc))
        text[name] = value
    problem = check_order_fields(event_type, amount, text["order_id"], text["order_status"], margin)
    if problem:
        return RowError(file, record.line, *problem)
    return EventIn(type=event_type, occurred_at=occurred_at, source="import", email=email, amount=amount,
                   margin=margin, **text)


def check_order_fields(event_type: str, amount: Decimal | None, order_id: str | None,
                       order_status: str | None, margin: Decimal | None = None) -> tuple[str, str] | None:
    """(field, reason) when the order fields of an event are wrong; one rule for files and the JSON API."""
    if event_type != "purchase":
        for name, value in (("order_id", order_id), ("order_status", order_status), ("margin", margin)):
            if value is not None:
                return name, f"only a purchase has an {name} (this event is a {event_type})"
        return None
    if amount is not None and amount < 0:
        return "amount", f"an order amount cannot be negative: {amount}"
    if order_id is not None and len(order_id) > ORDER_ID_MAX:
        return "order_id", f"longer than {ORDER_ID_MAX} characters"
    status = normalise_order_status(order_status)
    if status is not None and len(status) > ORDER_STATUS_MAX:
        return "order_status", f"longer than {ORDER_STATUS_MAX} characters: {order_status!r}"
    return None


def _email(raw: str) -> str:
    """The normalised address, or ValueError saying why it cannot be one."""
    email = normalise_email(raw)
    if not email:
        raise ValueError("required value is missing")
    check_column_text(Subscriber.email, email)
    if not EMAIL_PATTERN.match(email):
        raise ValueError(f"not an email address: {_shown(raw)}")
    return email


def _shown(value: str, limit: int = 80) -> str:
    """A value quoted for an error message, cut to `limit` characters."""
    return repr(value) if len(value) <= limit else repr(value[:limit]) + f"... ({len(value)} characters)"


def _clipped(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[:limit] + "..."


# --- subscribers ------------------------------------------------------------------------------

def import_subscribers_file(session: Session, audience_id: int, path: Path, *, skip_bad: bool = False,
                            batch_size: int = 5000, progress: Progress | None = None) -> ImportReport:
    """Upsert subscribers from a CSV file; re-importing the same file changes nothing."""
    report = ImportReport(file=str(path))
    header = csv_header(path)
    _require_columns(path, header, ("email",))
    _refuse_duplicate_columns(path, header)
    seen: dict[str, int] = {}

    def store(batch: list[SubscriberRow]) -> None:
        inserted, updated = upsert_subscribers(session, audience_id, batch, source="import")
        report.inserted += inserted
        report.updated += updated
        report.unchanged += len(batch) - inserted - updated

    def parse_all():
        for record in read_records(path, formats={"csv"}):
            row = _parse_subscriber(path.name, record)
            if isinstance(row, SubscriberRow):
                if row.email in seen:
                    row = RowError(path.name, record.line, "email", f"{row.email} already appears on line {seen[row.email]}")
                else:
                    seen[row.email] = record.line
            yield row

    _Batches(session, report, store, skip_bad=skip_bad, batch_size=batch_size, progress=progress).run(parse_all())
    if report.stored:
        refresh_statistics(session, {Subscriber.__tablename__: report.inserted})
    return report


def _parse_subscriber(file: str, record: Record) -> SubscriberRow | RowError:
    if record.fields is None:
        return RowError(file, record.line, None, record.error or "unreadable")
    f = record.fields
    try:
        email = _email(f.get("email", ""))
    except ValueError as exc:
        return RowError(file, record.line, "email", str(exc))
    values: dict = {}
    if "status" in f:
        status = f["status"].strip().lower() or "subscribed"
        if status not in SUBSCRIBER_STATUSES:
            return RowError(file, record.line, "status",
                            f"unknown status {_shown(f['status'])} (expected one of {', '.join(SUBSCRIBER_STATUSES)})")
        values["status"] = status
    if "subscribed_at" in f and f["subscribed_at"].strip():
        try:
            values["subscribed_at"] = parse_datetime(f["subscribed_at"])
        except ValueError as exc:
            return RowError(file, record.line, "subscribed_at", str(exc))
    status_at = None
    if (f.get("status_changed_at") or "").strip():
        if "status" not in values:
            return RowError(file, record.line, "status_changed_at", "given without a status column")
        try:
            status_at = parse_datetime(f["status_changed_at"])
        except ValueError as exc:
            return RowError(file, record.line, "status_changed_at", str(exc))
    for name in ("first_name", "last_name"):
        if name in f:
            try:
                values[name] = check_column_text(getattr(Subscriber, name), f[name].strip()) or None
            except ValueError as exc:
                return RowError(file, record.line, name, str(exc))
    merge = {k: v for k, v in f.items() if k not in SUBSCRIBER_COLUMNS}
    for name, value in [("tags", f.get("tags", "")), *merge.items()]:
        try:
            check_text(value)  # stored as JSON: PostgreSQL's jsonb refuses NUL
        except ValueError as exc:
            return RowError(file, record.line, name, str(exc))
    if "tags" in f:
        tags = [t.strip() for t in f["tags"].split(";") if t.strip()]
        values["tags"] = list(dict.fromkeys(tags))
    if merge:
        values["merge_fields"] = merge
    return SubscriberRow(email, values, status_at=status_at)


def _refuse_duplicate_columns(path: Path, header: list[str]) -> None:
    if len(set(header)) != len(header):
        duplicated = sorted({name for name in header if header.count(name) > 1})
        raise FileFormatError(f"{path}:1: column(s) appear twice in the header: {', '.join(duplicated)}")
    for name in header:
        try:
            check_text(name)
        except ValueError as exc:
            raise FileFormatError(f"{path}:1: column {name!r}: {exc}") from None


def _require_columns(path: Path, header: list[str], required: Iterable[str]) -> None:
    missing = [name for name in required if name not in header]
    if missing:
        raise FileFormatError(f"{path}:1: header lacks required column(s): {', '.join(missing)}")
