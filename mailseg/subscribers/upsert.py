"""The one path that creates and updates subscribers: file imports, `mailseg pull`, the Mailchimp
subscribe/profile webhook and the demo all call upsert_subscribers.

A subscriber is inserted with the status it is created with (subscribed, or pending); any other
status, and every later status change, goes through change_statuses, so the status history has the
change with its time. Where that time comes from (issue 11):
- the row says (`status_at`: the import's status_changed_at column, the pull's last_changed, the
  webhook's fired_at): that time, known;
- otherwise, the first time an import tells a subscriber's status (no earlier import-sourced
  change): the subscriber's last stored event before now, or subscribed_at when there is none,
  marked estimated;
- otherwise (a later import changes it): now, the moment of the import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ..models import Event, Subscriber, SubscriberStatusChange, utcnow
from ..models.audience import subscriber_key
from ..sqlutil import member_of, upsert
from .lookup import subscriber_ids_by_email, subscribers_by_email
from .status import StatusChange, change_statuses, creation_status

SUBSCRIBERS = Subscriber.__table__
DEFAULTS = {"subscribed_at": None, "first_name": None, "last_name": None, "tags": [], "merge_fields": {}}


@dataclass(frozen=True)
class SubscriberRow:
    email: str
    # The columns this row sets on insert and on update (only the columns the source has).
    values: dict
    # Columns set only when the subscriber is created (e.g. the webhook's subscribed_at).
    on_insert: dict = field(default_factory=dict)
    # When the status in values was taken, if the source says.
    status_at: datetime | None = None


def upsert_subscribers(session: Session, audience_id: int, rows: list[SubscriberRow], *,
                       source: str = "import") -> tuple[int, int]:
    """Insert new subscribers and update changed ones (INSERT ... ON CONFLICT (id) DO
    UPDATE ... WHERE a value differs), then apply their statuses through change_statuses.

    Returns (inserted, updated); rows identical to what is stored are not touched."""
    now = utcnow()
    before = _existing(session, audience_id, [row.email for row in rows])
    groups: dict[tuple, list[SubscriberRow]] = {}
    for row in rows:
        key = (tuple(sorted(k for k in row.values if k != "status")), tuple(sorted(row.on_insert)))
        groups.setdefault(key, []).append(row)
    touched: set[int] = set()
    for (columns, _), group in groups.items():
        touched.update(_upsert_group(session, audience_id, columns, group, now))
    ids = {**{email: sid for email, (sid, _) in before.items()},
           **subscriber_ids_by_email(session, audience_id, [row.email for row in rows if row.email not in before])}
    _check_keys(audience_id, rows, ids)
    changes = _status_changes(session, rows, before, ids, source, now)
    change_statuses(session, changes)
    existing_ids = {sid for sid, _ in before.values()}
    changed_existing = {c.subscriber_id for c in changes} & existing_ids
    inserted = sum(1 for row in rows if row.email not in before)
    return inserted, len((touched & existing_ids) | changed_existing)


def _upsert_group(session: Session, audience_id: int, columns: tuple[str, ...], rows: list[SubscriberRow],
                  now: datetime) -> set[int]:
    params = []
    for row in rows:
        values = {k: v for k, v in row.values.items() if k != "status"}
        merged = {**DEFAULTS, **row.on_insert, **values}
        if merged["subscribed_at"] is None:
            merged["subscribed_at"] = now
        params.append({"id": subscriber_key(audience_id, row.email), "audience_id": audience_id, "email": row.email,
                       "created_at": now, "updated_at": now,
                       "status": creation_status(row.values.get("status")), "status_changed_at": None, **merged})
    # The conflict target is the id (subscriber_key of audience and email): on a sharded database the
    # statement routes each row to its shard. An id already held by another address (a key collision)
    # is never updated: the email must match too; _check_keys then refuses the row.
    stmt = upsert(session, SUBSCRIBERS)
    if columns:
        changed = or_(*(SUBSCRIBERS.c[name].is_distinct_from(stmt.excluded[name]) for name in columns))
        set_ = {name: stmt.excluded[name] for name in columns}
        set_["updated_at"] = stmt.excluded.updated_at
        stmt = stmt.on_conflict_do_update(index_elements=["id"], set_=set_,
                                          where=and_(SUBSCRIBERS.c.email == stmt.excluded.email, changed))
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=["id"])
    return set(session.scalars(stmt.returning(SUBSCRIBERS.c.id), params))


class SubscriberKeyCollision(ValueError):
    pass


def _check_keys(audience_id: int, rows: list[SubscriberRow], ids: dict[str, int]) -> None:
    """Every address upserted is stored under its own key: e-mail uniqueness per audience rests on the
    primary key (subscriber_key), so two addresses sharing a key would otherwise be one subscriber."""
    for row in rows:
        key, held = subscriber_key(audience_id, row.email), ids.get(row.email)
        if held != key:
            raise SubscriberKeyCollision(
                f"audience {audience_id}: {row.email!r} cannot be stored: its key {key} is held by another "
                "address" + ("" if held is None else f" (stored under {held})"))


def _status_changes(session: Session, rows: list[SubscriberRow], before: dict[str, tuple[int, str]],
                    ids: dict[str, int], source: str, now: datetime) -> list[StatusChange]:
    wanted: list[tuple[SubscriberRow, int, str]] = []
    for row in rows:
        status = row.values.get("status")
        if status is None or row.email not in ids:
            continue
        current = before[row.email][1] if row.email in before else creation_status(status)
        if status != current:
            wanted.append((row, ids[row.email], status))
    untimed = [sid for row, sid, _ in wanted if row.status_at is None]
    first_time = _without_import_history(session, untimed) if source == "import" else set()
    estimates = _estimated_times(session, sorted(first_time), now)
    changes = []
    for row, sid, status in wanted:
        if row.status_at is not None:
            changes.append(StatusChange(sid, status, row.status_at, source))
        elif sid in first_time:
            changes.append(StatusChange(sid, status, estimates[sid], source, time_known=False))
        else:
            changes.append(StatusChange(sid, status, now, source))
    return changes


def _existing(session: Session, audience_id: int, emails: list[str]) -> dict[str, tuple[int, str]]:
    """email -> (id, status) of the emails already in the audience."""
    found = subscribers_by_email(session, audience_id, emails, SUBSCRIBERS.c.status)
    return {email: (row.id, row.status) for email, row in found.items()}


def _without_import_history(session: Session, ids: list[int]) -> set[int]:
    """The subscribers whose status no import has told before (no import-sourced status change)."""
    told: set[int] = set()
    table = SubscriberStatusChange.__table__
    for matches in member_of(session, table.c.subscriber_id, ids):
        told.update(session.scalars(select(table.c.subscriber_id).where(matches, table.c.source == "import")))
    return set(ids) - told


def _estimated_times(session: Session, ids: list[int], now: datetime) -> dict[int, datetime]:
    """Per subscriber: the last stored event before now, or subscribed_at when there is none."""
    events = Event.__table__
    last_event = (select(func.max(events.c.occurred_at)).where(events.c.subscriber_id == SUBSCRIBERS.c.id,
                                                               events.c.occurred_at <= now).scalar_subquery())
    found: dict[int, datetime] = {}
    for matches in member_of(session, SUBSCRIBERS.c.id, ids):
        rows = session.execute(select(SUBSCRIBERS.c.id, last_event, SUBSCRIBERS.c.subscribed_at).where(matches)).all()
        found.update((sid, max(last or joined, joined)) for sid, last, joined in rows)
    return found
