"""The audience table: search by email or name, class and status filters, sorting and keyset
pagination that stay indexed at millions of subscribers, a result count that never scans a million
rows (exact up to COUNT_CAP, else the planner's estimate, marked as such), and CSV export."""

from __future__ import annotations

import base64
import json
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator

from sqlalchemy import Select, and_, case, func, literal, literal_column, or_, select, text
from sqlalchemy.orm import Session

from ..models import Event, Subscriber, UTCDateTime
from ..search import SEARCH_TEXT_SQL, fold
from ..timeutil import isoformat_utc, parse_datetime
from ..values import is_subscriber_id
from .dashboard import CLASS_ORDER, UNCLASSIFIED

# Classes in display order for the sort by class (unclassified last).
CLASS_RANK = case({name: rank for rank, name in enumerate(CLASS_ORDER)}, value=Subscriber.engagement_class,
                  else_=len(CLASS_ORDER))
# Never-classified rows sort as the oldest "class since".
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
CLASS_SINCE = func.coalesce(Subscriber.class_since, literal(EPOCH, UTCDateTime))

# sort name -> (column, descending); each is served by an index on (audience_id, column[, id]).
SORTS = {
    "email": (Subscriber.email, False),
    "-email": (Subscriber.email, True),
    "subscribed": (Subscriber.subscribed_at, False),
    "-subscribed": (Subscriber.subscribed_at, True),
    "class": (CLASS_RANK, False),
    "since": (Subscriber.class_since, False),
    "-since": (Subscriber.class_since, True),
}
# Queries shorter than this search the email prefix (a trigram index needs three characters).
MIN_SUBSTRING = 3
# Up to this many matches the count is exact (counting them reads at most this many index entries).
COUNT_CAP = 10_000
DEFAULT_SORT = "email"
PAGE_SIZE = 50
EXPORT_BATCH = 5000


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class SubscriberFilter:
    q: str = ""
    engagement_class: str = ""
    status: str = ""
    sort: str = DEFAULT_SORT

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            object.__setattr__(self, "sort", DEFAULT_SORT)
        object.__setattr__(self, "q", self.q.strip().lower())


@dataclass(frozen=True)
class AudienceRow:
    id: int
    email: str
    name: str
    status: str
    engagement_class: str | None
    class_since: datetime | None
    subscribed_at: datetime
    last_open: datetime | None
    last_click: datetime | None


@dataclass(frozen=True)
class Page:
    rows: list[AudienceRow]
    next_cursor: str | None


@dataclass(frozen=True)
class ResultCount:
    value: int
    exact: bool  # False: the database's estimate (more than COUNT_CAP matches)


def filtered(audience_id: int, f: SubscriberFilter, dialect: str, narrowed=None) -> Select:
    stmt = _where(select(Subscriber), audience_id, f, dialect, narrowed)
    column, descending = SORTS[f.sort]
    if column is Subscriber.email and dialect == "postgresql":
        # Byte order with the text_pattern_ops operators, so the prefix index both finds and orders
        # the rows (the collation-ordered unique index would scan half the audience for a search).
        return stmt.order_by(text(f"subscribers.email USING {'~>~' if descending else '~<~'}"))
    if column is Subscriber.email:  # unique within the audience: no tie-breaker needed
        return stmt.order_by(column.desc() if descending else column)
    column = _sort_expression(column)
    if descending:
        return stmt.order_by(column.desc(), Subscriber.id.desc())
    return stmt.order_by(column, Subscriber.id)


def _sort_expression(column):
    return CLASS_SINCE if column is Subscriber.class_since else column


def _where(stmt: Select, audience_id: int, f: SubscriberFilter, dialect: str, narrowed=None) -> Select:
    stmt = stmt.where(Subscriber.audience_id == audience_id)
    if narrowed is not None:
        stmt = stmt.join(narrowed, narrowed.c.id == Subscriber.id)
    elif f.q:
        stmt = stmt.where(matches(f.q, dialect))
    if f.engagement_class == UNCLASSIFIED:
        stmt = stmt.where(Subscriber.engagement_class.is_(None))
    elif f.engagement_class:
        stmt = stmt.where(Subscriber.engagement_class == f.engagement_class)
    if f.status:
        stmt = stmt.where(Subscriber.status == f.status)
    return stmt


def matches(query: str, dialect: str):
    """Subscribers whose email or name contains the query, ignoring case and accents (the folded
    text, mailseg/search.py; a GIN trigram index on PostgreSQL). Shorter queries than MIN_SUBSTRING
    match the start of the email (an index range on both databases)."""
    folded = fold(query)
    if len(folded) < MIN_SUBSTRING:
        return email_prefix(folded, dialect)
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return literal_column(SEARCH_TEXT_SQL).like(f"%{escaped}%", escape="\\")


def email_prefix(prefix: str, dialect: str):
    """Emails starting with the prefix, in a form the database answers from an index:
    LIKE on PostgreSQL (text_pattern_ops index), a byte range on SQLite (binary collation)."""
    if dialect == "postgresql":
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return Subscriber.email.like(escaped + "%", escape="\\")
    if ord(prefix[-1]) == sys.maxunicode:  # no character sorts after U+10FFFF: drop it and use LIKE-free >=
        return and_(Subscriber.email >= prefix, Subscriber.email.startswith(prefix, autoescape=True))
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(Subscriber.email >= prefix, Subscriber.email < upper)


def subscriber_page(session: Session, audience_id: int, f: SubscriberFilter, *, cursor: str | None = None,
                    limit: int = PAGE_SIZE) -> Page:
    """One page after `cursor` (the last row of the previous page); fetches limit+1 rows to know
    whether there is a next page."""
    dialect = session.get_bind().dialect.name
    narrowed = _narrowed(session, audience_id, f, dialect)
    if f.sort in BUCKETED:
        return _bucketed_page(session, audience_id, f, dialect, cursor, limit, narrowed)
    stmt = filtered(audience_id, f, dialect, narrowed)
    if cursor:
        stmt = stmt.where(_after(f.sort, cursor, dialect))
    rows = list(session.scalars(stmt.limit(limit + 1)))
    next_cursor = _cursor(f.sort, rows[limit - 1]) if len(rows) > limit else None
    return Page(_with_activity(session, rows[:limit]), next_cursor)


def _narrowed(session: Session, audience_id: int, f: SubscriberFilter, dialect: str):
    """A substring search on PostgreSQL with at most COUNT_CAP matches: the matching ids, found once
    on the trigram index and materialized, so the page sorts those few rows. Left alone, the planner
    walks the email (or date) index testing every row, expecting matches early — wrong when they
    cluster (every "mei.…" address sits in the middle of the email order: 2.3 s at 300,000). With
    more matches they are dense enough for that walk; None then, and on SQLite (a scan either way)."""
    if dialect != "postgresql" or not f.q or len(fold(f.q)) < MIN_SUBSTRING:
        return None
    found = _where(select(Subscriber.id), audience_id, f, dialect).limit(COUNT_CAP + 1)  # with every filter
    if (session.scalar(select(func.count()).select_from(found.subquery())) or 0) > COUNT_CAP:
        return None
    return found.cte("matched").prefix_with("MATERIALIZED")


# Sorts read bucket by bucket, each bucket an index range: by class, one class after the other on
# (audience_id, engagement_class, id); by class since, the classified on (audience_id, class_since,
# id), then the never classified by id. A sort over an expression (CASE, COALESCE) would sort the
# whole audience for every page.
BUCKETED = ("class", "since", "-since")


def _buckets(sort: str) -> list[tuple]:
    """(condition, order) of each bucket in display order."""
    if sort == "class":
        rest = or_(Subscriber.engagement_class.is_(None), Subscriber.engagement_class.not_in(CLASS_ORDER))
        return [*((Subscriber.engagement_class == name, (Subscriber.id,)) for name in CLASS_ORDER),
                (rest, (Subscriber.id,))]
    since = Subscriber.class_since
    if sort == "-since":
        return [(since.is_not(None), (since.desc(), Subscriber.id.desc())), (since.is_(None), (Subscriber.id.desc(),))]
    return [(since.is_not(None), (since, Subscriber.id)), (since.is_(None), (Subscriber.id,))]


def _bucket_of(sort: str, row: Subscriber) -> int:
    if sort == "class":
        return CLASS_ORDER.index(row.engagement_class) if row.engagement_class in CLASS_ORDER else len(CLASS_ORDER)
    return 0 if row.class_since is not None else 1


def _bucketed_page(session: Session, audience_id: int, f: SubscriberFilter, dialect: str, cursor: str | None,
                   limit: int, narrowed=None) -> Page:
    start, after = 0, None
    if cursor:
        try:
            start, value, last_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            start, last_id = int(start), int(last_id)
            value = parse_datetime(value) if value else None
        except (ValueError, TypeError, json.JSONDecodeError) as exc:
            raise BadCursor("the page link is damaged; start again from the first page") from exc
        descending = f.sort.startswith("-")
        later_id = Subscriber.id < last_id if descending else Subscriber.id > last_id
        after = later_id
        if value is not None:  # inside the classified bucket of a sort by class since
            since = Subscriber.class_since
            after = (or_(since < value, and_(since == value, later_id)) if descending
                     else or_(since > value, and_(since == value, later_id)))
    rows: list[Subscriber] = []
    for index, (condition, order) in enumerate(_buckets(f.sort)):
        if index < start:
            continue
        stmt = _where(select(Subscriber), audience_id, f, dialect, narrowed).where(condition)
        if index == start and after is not None:
            stmt = stmt.where(after)
        rows += session.scalars(stmt.order_by(*order).limit(limit + 1 - len(rows)))
        if len(rows) > limit:
            break
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        bucket = _bucket_of(f.sort, last)
        value = isoformat_utc(last.class_since) if f.sort != "class" and bucket == 0 else None
        next_cursor = base64.urlsafe_b64encode(json.dumps([bucket, value, last.id]).encode()).decode().rstrip("=")
    return Page(_with_activity(session, rows[:limit]), next_cursor)


def _with_activity(session: Session, subscribers: list[Subscriber]) -> list[AudienceRow]:
    """The page's rows with each one's last human open and click (one grouped read of the page's
    ids on ix_events_subscriber_type_time, never the whole audience)."""
    last: dict[tuple[int, str], datetime] = {}
    if subscribers:
        last = {(sid, kind): at for sid, kind, at in session.execute(
            select(Event.subscriber_id, Event.type, func.max(Event.occurred_at))
            .where(Event.subscriber_id.in_([s.id for s in subscribers]), Event.type.in_(("open", "click")),
                   Event.is_machine.is_(False))
            .group_by(Event.subscriber_id, Event.type))}
    return [AudienceRow(s.id, s.email, " ".join(n for n in (s.first_name, s.last_name) if n), s.status,
                        s.engagement_class, s.class_since, s.subscribed_at, last.get((s.id, "open")),
                        last.get((s.id, "click"))) for s in subscribers]


def result_count(session: Session, audience_id: int, f: SubscriberFilter) -> ResultCount:
    """How many subscribers match: exact when at most COUNT_CAP do (the count stops reading there),
    else PostgreSQL's planner estimate (EXPLAIN, no rows read) or, on SQLite, the cap as a floor."""
    dialect = session.get_bind().dialect.name
    capped = _where(select(Subscriber.id), audience_id, f, dialect).limit(COUNT_CAP + 1).subquery()
    exact = session.scalar(select(func.count()).select_from(capped)) or 0
    if exact <= COUNT_CAP:
        return ResultCount(exact, True)
    if dialect != "postgresql":
        return ResultCount(COUNT_CAP, False)
    stmt = _where(select(Subscriber.id), audience_id, f, dialect)
    compiled = stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
    plan = session.execute(text(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar()
    return ResultCount(max(int(plan[0]["Plan"]["Plan Rows"]), COUNT_CAP + 1), False)


def _cursor(sort: str, row: Subscriber) -> str:
    column, _ = SORTS[sort]
    if column is CLASS_RANK:
        value = CLASS_ORDER.index(row.engagement_class) if row.engagement_class in CLASS_ORDER else len(CLASS_ORDER)
    else:
        value = getattr(row, column.key)
        if column is Subscriber.class_since and value is None:
            value = EPOCH
    payload = [isoformat_utc(value) if isinstance(value, datetime) else value, row.id]
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _after(sort: str, cursor: str, dialect: str):
    column, descending = SORTS[sort]
    try:
        value, last_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        # A cursor is [text, id] as _cursor made it; anything else ([{}, 1], [null, 1], an id of
        # 1e30) is refused here, before it reaches SQL.
        if column is CLASS_RANK:
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError("not a cursor")
        elif not isinstance(value, str) or "\x00" in value:
            raise ValueError("not a cursor")
        if not is_subscriber_id(last_id):
            raise ValueError("not a cursor")
        if column in (Subscriber.subscribed_at, Subscriber.class_since):
            value = parse_datetime(value)
    except (ValueError, TypeError, RecursionError) as exc:
        raise BadCursor("the page link is damaged; start again from the first page") from exc
    if column is Subscriber.email:
        if dialect == "postgresql":
            return column.op("~<~" if descending else "~>~")(value)
        return column < value if descending else column > value
    column = _sort_expression(column)
    if descending:
        return or_(column < value, and_(column == value, Subscriber.id < last_id))
    return or_(column > value, and_(column == value, Subscriber.id > last_id))


EXPORT_COLUMNS = ("email", "status", "engagement_class", "class_since", "subscribed_at", "first_name", "last_name", "tags")


def export_rows(session: Session, audience_id: int, f: SubscriberFilter) -> Iterator[dict]:
    """Every subscriber matching the filter, streamed in batches (constant memory)."""
    stmt = filtered(audience_id, f, session.get_bind().dialect.name).execution_options(yield_per=EXPORT_BATCH)
    for sub in session.scalars(stmt):
        yield {column: getattr(sub, column) for column in EXPORT_COLUMNS}
