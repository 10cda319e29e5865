"""The audience list's search, bounded at millions of subscribers (mailseg.reports.audience pages it).

A query of MIN_SUBSTRING characters or more matches a substring of the folded email and name (a GIN
trigram index on PostgreSQL, migration 0014b_audience_search); a shorter one matches the start of the
email (an index range). What a substring search costs is bounded whatever it matches:

- the first SEARCH_CAP + 1 matches are read once from the trigram index (a surname is a few thousand
  at a million subscribers): the count is exact up to SEARCH_CAP, else "more than SEARCH_CAP" (a
  trigram row estimate is too rough to show);
- with at most SEARCH_CAP matches, the page sorts just those (materialized);
- with more, the page walks the sort's own index testing each row, which finds the page early when
  the matches are spread over the audience; when they cluster far along that order ("mei.0…" sits in
  the middle of the email order) the walk is stopped after WALK_TIMEOUT_MS and the page sorts the
  first SEARCH_CAP + 1 matches found instead, marked as partial ("narrow the search").
SQLite has no trigram index: a search scans the audience there, with the same rules for the count.
"""

from __future__ import annotations

import sys
from typing import Callable, TypeVar

from sqlalchemy import and_, literal_column, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..models import Subscriber
from ..search import SEARCH_TEXT_SQL, fold

# Queries shorter than this search the email prefix (a trigram index needs three characters).
MIN_SUBSTRING = 3
# A substring search counts (and sorts) at most this many matches exactly.
SEARCH_CAP = 3_000
# How long the page of a broad search may walk the sort order before it sorts the first matches found.
WALK_TIMEOUT_MS = 100

T = TypeVar("T")


def is_substring_search(query: str) -> bool:
    return len(fold(query) or "") >= MIN_SUBSTRING


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


def within_time(session: Session, milliseconds: int, work: Callable[[], T]) -> T | None:
    """work() with each of its statements limited to `milliseconds` on PostgreSQL (in a savepoint:
    the transaction goes on); None when one ran out. Elsewhere work() runs unbounded."""
    if session.get_bind().dialect.name != "postgresql":
        return work()
    previous = session.scalar(text("SELECT current_setting('statement_timeout')"))
    try:
        with session.begin_nested():
            session.execute(text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": str(milliseconds)})
            result = work()
            session.execute(text("SELECT set_config('statement_timeout', :was, true)"), {"was": previous})
            return result
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == "57014":  # query_canceled: the timeout, the savepoint undone
            return None
        raise
