"""Importing subscribers and events from files: validate every record, name every bad one,
store good ones in batches, all-or-nothing unless the caller accepts a partial import."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy import case, or_, select
from sqlalchemy.orm import Session

from ..config import FlaggingConfig
from ..models import (EVENT_TYPES, SUBSCRIBER_STATUSES, Subscriber, normalise_email, normalise_order_status,
                      utcnow)
from ..models.events import ORDER_STATUS_MAX
from ..progress import Progress
from ..sqlutil import in_chunks, upsert
from ..timeutil import parse_datetime
from .events import EventIn, StoreResult, store_events, subscriber_ids_by_email
from .records import FileFormatError, Record, RowError, csv_header, read_records

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SUBSCRIBER_COLUMNS = {"email", "status", "subscribed_at", "first_name", "last_name", "tags"}
EVENT_REQUIRED = ("email", "type", "occurred_at")
EVENT_OPTIONAL = ("campaign", "url", "user_agent", "ip", "amount", "order_id", "margin", "order_status")
ORDER_COLUMNS = ("order_id", "margin", "order_status")
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
        _require_columns(path, csv_header(path), EVENT_REQUIRED)

    known: dict[str, int] = {}  # email -> subscriber id, looked up once per import

    def store(batch: list[EventIn]) -> None:
        known.update(subscriber_ids_by_email(session, audience_id, (e.email for e in batch if e.email not in known)))
        for event in batch:
            event.subscriber_id = known.get(event.email)
        report.events.add(store_events(session, audience_id, batch, flagging=flagging))

    parsed = (_parse_event(path.name, record) for record in read_records(path, formats={"csv", "jsonl"}))
    return _Batches(session, report, store, skip_bad=skip_bad, batch_size=batch_size, progress=progress).run(parsed)


def _parse_event(file: str, record: Record) -> EventIn | RowError:
    if record.fields is None:
        return RowError(file, record.line, None, record.error or "unreadable")
    f = record.fields
    for name in EVENT_REQUIRED:
        if not (f.get(name) or "").strip():
            return RowError(file, record.line, name, "required value is missing")
    email = normalise_email(f["email"])
    if not EMAIL_PATTERN.match(email):
        return RowError(file, record.line, "email", f"not an email address: {f['email']!r}")
    event_type = f["type"].strip().lower()
    if event_type not in EVENT_TYPES:
        return RowError(file, record.line, "type", f"unknown event type {f['type']!r} (expected one of {', '.join(EVENT_TYPES)})")
    try:
        occurred_at = parse_datetime(f["occurred_at"])
    except ValueError as exc:
        return RowError(file, record.line, "occurred_at", str(exc))
    get = f.get
    amount = margin = None
    for name in ("amount", "margin"):
        if (get(name) or "").strip():
            try:
                number = Decimal(f[name].strip())
                if not number.is_finite():
                    raise InvalidOperation
            except InvalidOperation:
                return RowError(file, record.line, name, f"not a number: {f[name]!r}")
            if name == "amount":
                amount = number
            else:
                margin = number
    order = {name: (get(name) or "").strip() or None for name in ORDER_COLUMNS}
    problem = check_order_fields(event_type, amount, order["order_id"], order["order_status"], margin)
    if problem:
        return RowError(file, record.line, *problem)
    return EventIn(type=event_type, occurred_at=occurred_at, source="import", email=email, amount=amount,
                   campaign=(get("campaign") or "").strip() or None, url=(get("url") or "").strip() or None,
                   user_agent=(get("user_agent") or "").strip() or None, ip=(get("ip") or "").strip() or None,
                   order_id=order["order_id"], margin=margin, order_status=order["order_status"])


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


# --- subscribers ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SubscriberRow:
    email: str
    values: dict  # only the columns the file has


def import_subscribers_file(session: Session, audience_id: int, path: Path, *, skip_bad: bool = False,
                            batch_size: int = 5000, progress: Progress | None = None) -> ImportReport:
    """Upsert subscribers from a CSV file; re-importing the same file changes nothing."""
    report = ImportReport(file=str(path))
    header = csv_header(path)
    _require_columns(path, header, ("email",))
    if len(set(header)) != len(header):
        duplicated = sorted({name for name in header if header.count(name) > 1})
        raise FileFormatError(f"{path}:1: column(s) appear twice in the header: {', '.join(duplicated)}")
    seen: dict[str, int] = {}

    def store(batch: list[SubscriberRow]) -> None:
        inserted, updated = upsert_subscribers(session, audience_id, batch)
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

    return _Batches(session, report, store, skip_bad=skip_bad, batch_size=batch_size, progress=progress).run(parse_all())


def _parse_subscriber(file: str, record: Record) -> SubscriberRow | RowError:
    if record.fields is None:
        return RowError(file, record.line, None, record.error or "unreadable")
    f = record.fields
    email = normalise_email(f.get("email", ""))
    if not email:
        return RowError(file, record.line, "email", "required value is missing")
    if not EMAIL_PATTERN.match(email):
        return RowError(file, record.line, "email", f"not an email address: {f['email']!r}")
    values: dict = {}
    if "status" in f:
        status = f["status"].strip().lower() or "subscribed"
        if status not in SUBSCRIBER_STATUSES:
            return RowError(file, record.line, "status",
                            f"unknown status {f['status']!r} (expected one of {', '.join(SUBSCRIBER_STATUSES)})")
        values["status"] = status
    if "subscribed_at" in f and f["subscribed_at"].strip():
        try:
            values["subscribed_at"] = parse_datetime(f["subscribed_at"])
        except ValueError as exc:
            return RowError(file, record.line, "subscribed_at", str(exc))
    for name in ("first_name", "last_name"):
        if name in f:
            values[name] = f[name].strip() or None
    if "tags" in f:
        tags = [t.strip() for t in f["tags"].split(";") if t.strip()]
        values["tags"] = list(dict.fromkeys(tags))
    merge = {k: v for k, v in f.items() if k not in SUBSCRIBER_COLUMNS}
    if merge:
        values["merge_fields"] = merge
    return SubscriberRow(email, values)


def upsert_subscribers(session: Session, audience_id: int, rows: list[SubscriberRow]) -> tuple[int, int]:
    """INSERT ... ON CONFLICT (audience_id, email) DO UPDATE the given columns WHERE any of them differs.

    Each row updates only the values it carries (a blank subscribed_at keeps the stored one).
    Returns (inserted, updated); rows identical to what is stored are not touched.
    """
    table = Subscriber.__table__
    emails = [row.email for row in rows]
    existing: set[str] = set()
    for chunk in in_chunks(emails):
        existing.update(session.scalars(select(table.c.email).where(
            table.c.audience_id == audience_id, table.c.email.in_(chunk))))
    groups: dict[tuple[str, ...], list[SubscriberRow]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row.values)), []).append(row)
    touched = sum(_upsert_group(session, audience_id, columns, group) for columns, group in groups.items())
    inserted = sum(1 for email in emails if email not in existing)
    return inserted, touched - inserted


def _upsert_group(session: Session, audience_id: int, columns: tuple[str, ...], rows: list[SubscriberRow]) -> int:
    table = Subscriber.__table__
    now = utcnow()
    defaults = {"status": "subscribed", "subscribed_at": now, "first_name": None, "last_name": None,
                "tags": [], "merge_fields": {}}
    params = [{"audience_id": audience_id, "email": row.email, "created_at": now, "updated_at": now,
               "status_changed_at": None, **defaults, **row.values} for row in rows]
    stmt = upsert(session, table)
    if columns:
        changed = or_(*(table.c[name].is_distinct_from(stmt.excluded[name]) for name in columns))
        set_ = {name: stmt.excluded[name] for name in columns}
        set_["updated_at"] = stmt.excluded.updated_at
        if "status" in columns:  # status_changed_at moves only when the status really changes
            set_["status_changed_at"] = case(
                (table.c.status.is_distinct_from(stmt.excluded.status), stmt.excluded.updated_at),
                else_=table.c.status_changed_at)
        stmt = stmt.on_conflict_do_update(index_elements=["audience_id", "email"], set_=set_, where=changed)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=["audience_id", "email"])
    return len(session.execute(stmt.returning(table.c.id), params).all())


def _require_columns(path: Path, header: list[str], required: Iterable[str]) -> None:
    missing = [name for name in required if name not in header]
    if missing:
        raise FileFormatError(f"{path}:1: header lacks required column(s): {', '.join(missing)}")
