"""The audience table: search by email or name (bounded: mailseg.reports.audience_search), class and
status filters, sorting and keyset pagination that stay indexed at millions of subscribers, a result
count that never scans a million rows (exact up to a cap, else "more than" or the planner's estimate,
marked as such), and CSV export."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Iterator

from sqlalchemy import ARRAY, BigInteger, Select, and_, case, func, literal, null, or_, select, text, true
from sqlalchemy.orm import Session, contains_eager

from ..models import Event, Subscriber, SubscriberActivity, SubscriberClass, UTCDateTime
from ..timeutil import isoformat_utc, parse_datetime
from ..values import is_subscriber_id
from .audience_search import SEARCH_CAP, WALK_TIMEOUT_MS, is_substring_search, matches, within_time
from .dashboard import CLASS_ORDER, UNCLASSIFIED

# Classes in display order for the sort by class (unclassified last).
# The current class and since when: the narrow subscriber_classes table, outer-joined to every
# statement of this module (_where); PostgreSQL drops the join where nothing reads it (unique key).
CLASS = SubscriberClass.engagement_class
SINCE = SubscriberClass.class_since
CLASS_RANK = case({name: rank for rank, name in enumerate(CLASS_ORDER)}, value=CLASS,
                  else_=len(CLASS_ORDER))
# Never-classified rows sort as the oldest "class since".
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
CLASS_SINCE = func.coalesce(SINCE, literal(EPOCH, UTCDateTime))

# sort name -> (column, descending); each is served by an index on (audience_id, column[, id]).
SORTS = {
    "email": (Subscriber.email, False),
    "-email": (Subscriber.email, True),
    "subscribed": (Subscriber.subscribed_at, False),
    "-subscribed": (Subscriber.subscribed_at, True),
    "class": (CLASS_RANK, False),
    "since": (SINCE, False),
    "-since": (SINCE, True),
    "activity": (SubscriberActivity.last_activity_at, False),  # bucketed: stored after each classification
    "-activity": (SubscriberActivity.last_activity_at, True),
}
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
    # True: too many matches spread too far to walk in order; the page sorts the first ones found.
    partial: bool = False


@dataclass(frozen=True)
class ResultCount:
    value: int
    exact: bool  # False: more than `value` (at_least), or the database's estimate
    at_least: bool = False


def filtered(audience_id: int, f: SubscriberFilter, dialect: str, narrowed=None) -> Select:
    stmt = _where(_rows(), audience_id, f, dialect, narrowed)
    column, descending = SORTS[f.sort]
    if column is Subscriber.email and dialect == "postgresql":
        # Byte order with the text_pattern_ops operators, so the prefix index both finds and orders
        # the rows (the collation-ordered unique index would scan half the audience for a search).
        return stmt.order_by(text(f"subscribers.email USING {'~>~' if descending else '~<~'}"))
    if column is Subscriber.email:  # unique within the audience: no tie-breaker needed
        return stmt.order_by(column.desc() if descending else column)
    if column is SubscriberActivity.last_activity_at:  # the whole set (an export): never active last
        stmt = stmt.outerjoin(ACTIVITY, ACTIVITY.c.subscriber_id == Subscriber.id)
        never = case((ACTIVITY.c.last_activity_at.is_(None), 1), else_=0)
        if descending:
            return stmt.order_by(never, ACTIVITY.c.last_activity_at.desc(), Subscriber.id.desc())
        return stmt.order_by(never, ACTIVITY.c.last_activity_at, Subscriber.id)
    column = _sort_expression(column)
    if descending:
        return stmt.order_by(column.desc(), Subscriber.id.desc())
    return stmt.order_by(column, Subscriber.id)


def _sort_expression(column):
    return CLASS_SINCE if column is SINCE else column


def _rows(*extra) -> Select:
    """The subscribers with their current class loaded from the join in _where (no query per row)."""
    return select(Subscriber, *extra).options(contains_eager(Subscriber.current_class))


def _where(stmt: Select, audience_id: int, f: SubscriberFilter, dialect: str, narrowed=None) -> Select:
    # The audience in the join condition too: a class condition then reads the class table's
    # (audience_id, engagement_class | class_since, subscriber_id) indexes in order.
    stmt = (stmt.outerjoin(SubscriberClass, and_(SubscriberClass.subscriber_id == Subscriber.id,
                                                 SubscriberClass.audience_id == audience_id))
            .where(Subscriber.audience_id == audience_id))
    if narrowed is not None:
        stmt = stmt.join(narrowed, narrowed.c.id == Subscriber.id)
    elif f.q:
        stmt = stmt.where(matches(f.q, dialect))
    if f.engagement_class == UNCLASSIFIED:
        stmt = stmt.where(CLASS.is_(None))
    elif f.engagement_class:
        stmt = stmt.where(CLASS == f.engagement_class)
    if f.status:
        stmt = stmt.where(Subscriber.status == f.status)
    return stmt


def subscriber_page(session: Session, audience_id: int, f: SubscriberFilter, *, cursor: str | None = None,
                    limit: int = PAGE_SIZE, found: list[int] | None = None) -> Page:
    """One page after `cursor` (the last row of the previous page); fetches limit+1 rows to know
    whether there is a next page. A substring search on PostgreSQL stays bounded (audience_search);
    `found` is its search_matches, when the caller has them already (the count used them)."""
    dialect = session.get_bind().dialect.name
    if dialect != "postgresql" or not is_substring_search(f.q):
        return _page(session, audience_id, f, dialect, cursor, limit)
    found = search_matches(session, audience_id, f) if found is None else found
    # The found ids as a materialized set: the page sorts just those rows (given as a plain IN list,
    # the planner walks the sort's index instead, testing every row).
    matched = select(func.unnest(literal(found, ARRAY(BigInteger))).label("id")).cte("matched").prefix_with("MATERIALIZED")
    if len(found) <= SEARCH_CAP:  # every match
        return _page(session, audience_id, f, dialect, cursor, limit, matched)
    walked = within_time(session, WALK_TIMEOUT_MS, lambda: _page(session, audience_id, f, dialect, cursor, limit))
    if walked is not None:
        return walked
    return replace(_page(session, audience_id, f, dialect, cursor, limit, matched), partial=True)


def search_matches(session: Session, audience_id: int, f: SubscriberFilter) -> list[int] | None:
    """The ids of the first SEARCH_CAP + 1 matches of a substring search (every filter applied), as the
    trigram index yields them; None when f is no substring search. One bounded read for the count and the page."""
    if not is_substring_search(f.q):
        return None
    return list(session.scalars(_where(select(Subscriber.id), audience_id, f, session.get_bind().dialect.name)
                                .limit(SEARCH_CAP + 1)))


def _count(session: Session, capped: Select) -> int:
    return session.scalar(select(func.count()).select_from(capped.subquery())) or 0


def _page(session: Session, audience_id: int, f: SubscriberFilter, dialect: str, cursor: str | None, limit: int,
          narrowed=None) -> Page:
    if f.sort in BUCKETED:
        return _bucketed_page(session, audience_id, f, dialect, cursor, limit, narrowed)
    stmt = filtered(audience_id, f, dialect, narrowed)
    if cursor:
        stmt = stmt.where(_after(f.sort, cursor, dialect))
    rows = list(session.scalars(stmt.limit(limit + 1)))
    next_cursor = _cursor(f.sort, rows[limit - 1]) if len(rows) > limit else None
    return Page(_with_activity(session, rows[:limit]), next_cursor)


# Sorts read bucket by bucket, each bucket an index range: by class, one class after the other on
# subscriber_classes (audience_id, engagement_class, subscriber_id); by class since, the classified on
# (audience_id, class_since, subscriber_id), then the never classified by id; by last activity, the subscribers with a stored last
# activity on subscriber_activity (audience_id, last_activity_at, subscriber_id), then those with
# none by id. A sort over an expression (CASE, COALESCE) or an aggregate would sort the whole
# audience for every page.
BUCKETED = ("class", "since", "-since", "activity", "-activity")
ACTIVITY = SubscriberActivity.__table__


@dataclass(frozen=True)
class Bucket:
    where: object  # which subscribers (a condition on the subscriber row, or True)
    key: object  # the sort value the cursor carries besides the id (None: the id alone)
    ident: object  # the id column ordered by (the last column of the index walked)
    descending: bool = False
    activity: bool = False  # joined to subscriber_activity (the key is its last_activity_at)

    def order(self) -> list:
        columns = [c for c in (self.key, self.ident) if c is not None]
        return [c.desc() for c in columns] if self.descending else columns

    def after(self, value, last_id: int):
        """Rows after (value, last_id) in this bucket's order."""
        later_id = self.ident < last_id if self.descending else self.ident > last_id
        if self.key is None or value is None:
            return later_id
        beyond = self.key < value if self.descending else self.key > value
        return or_(beyond, and_(self.key == value, later_id))


def _buckets(sort: str) -> list[Bucket]:
    """The buckets of a sort, in display order."""
    descending = sort.startswith("-")
    if sort == "class":
        rest = or_(CLASS.is_(None), CLASS.not_in(CLASS_ORDER))
        return [*(Bucket(CLASS == name, None, Subscriber.id) for name in CLASS_ORDER),
                Bucket(rest, None, Subscriber.id)]
    if sort in ("activity", "-activity"):
        none_stored = ~select(ACTIVITY.c.subscriber_id).where(ACTIVITY.c.subscriber_id == Subscriber.id).exists()
        return [Bucket(true(), ACTIVITY.c.last_activity_at, ACTIVITY.c.subscriber_id, descending, activity=True),
                Bucket(none_stored, None, Subscriber.id, descending)]
    since = SINCE
    return [Bucket(since.is_not(None), since, Subscriber.id, descending),
            Bucket(since.is_(None), None, Subscriber.id, descending)]


def _join_activity(stmt: Select, audience_id: int, f: SubscriberFilter) -> Select:
    """The subscribers with a stored last activity, walked on subscriber_activity's index: within the
    filtered class when there is one (its copy of the class names the index range; the subscriber's
    own class stays the filter, so a class changed since the last rebuild is never shown wrongly)."""
    stmt = stmt.join(ACTIVITY, ACTIVITY.c.subscriber_id == Subscriber.id).where(ACTIVITY.c.audience_id == audience_id)
    if f.engagement_class == UNCLASSIFIED:
        return stmt.where(ACTIVITY.c.engagement_class.is_(None))
    if f.engagement_class:
        return stmt.where(ACTIVITY.c.engagement_class == f.engagement_class)
    return stmt


def _bucket_cursor(cursor: str) -> tuple[int, datetime | None, int]:
    """(bucket index, key value or None, last id) of a bucketed sort's page link."""
    try:
        start, value, last_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not is_subscriber_id(last_id) or not isinstance(start, int) or isinstance(start, bool) or start < 0:
            raise ValueError("not a cursor")
        if value is not None and (not isinstance(value, str) or "\x00" in value):
            raise ValueError("not a cursor")
        return start, parse_datetime(value) if value else None, int(last_id)
    except (ValueError, TypeError, RecursionError, json.JSONDecodeError) as exc:
        raise BadCursor("the page link is damaged; start again from the first page") from exc


def _bucketed_page(session: Session, audience_id: int, f: SubscriberFilter, dialect: str, cursor: str | None,
                   limit: int, narrowed=None) -> Page:
    start, value, last_id = _bucket_cursor(cursor) if cursor else (0, None, None)
    rows: list[tuple[int, Subscriber, datetime | None]] = []  # (bucket, subscriber, key value)
    for index, bucket in enumerate(_buckets(f.sort)):
        if index < start:
            continue
        stmt = _where(_rows(bucket.key if bucket.key is not None else null()), audience_id, f, dialect,
                      narrowed).where(bucket.where)
        if bucket.activity:
            stmt = _join_activity(stmt, audience_id, f)
        if index == start and last_id is not None:
            stmt = stmt.where(bucket.after(value, last_id))
        rows += [(index, sub, key) for sub, key in
                 session.execute(stmt.order_by(*bucket.order()).limit(limit + 1 - len(rows)))]
        if len(rows) > limit:
            break
    next_cursor = None
    if len(rows) > limit:
        index, last, key = rows[limit - 1]
        payload = [index, isoformat_utc(key) if key is not None else None, last.id]
        next_cursor = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    return Page(_with_activity(session, [sub for _, sub, _ in rows[:limit]]), next_cursor)


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


def result_count(session: Session, audience_id: int, f: SubscriberFilter, *, found: list[int] | None = None) -> ResultCount:
    """How many subscribers match, never reading a million rows: a substring search counts at most
    SEARCH_CAP + 1 matches ("more than SEARCH_CAP" beyond); other filters count exactly up to
    COUNT_CAP on their index, beyond that PostgreSQL's planner estimate (EXPLAIN, no rows read) or,
    on SQLite, the cap as a floor."""
    dialect = session.get_bind().dialect.name
    if is_substring_search(f.q):
        n = len(search_matches(session, audience_id, f) if found is None else found)
        return ResultCount(n, True) if n <= SEARCH_CAP else ResultCount(SEARCH_CAP, False, at_least=True)
    exact = _count(session, _where(select(Subscriber.id), audience_id, f, dialect).limit(COUNT_CAP + 1))
    if exact <= COUNT_CAP:
        return ResultCount(exact, True)
    if dialect != "postgresql":
        return ResultCount(COUNT_CAP, False, at_least=True)
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
        if column is SINCE and value is None:
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
        if column is Subscriber.subscribed_at or column is SINCE:
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
