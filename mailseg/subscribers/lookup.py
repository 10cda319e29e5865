"""Subscribers found by address: the one statement every batch lookup by email goes through (the pull,
imports, the orders API, event ingest and upsert_subscribers)."""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import BigInteger, Row, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ..models import Subscriber, normalise_email
from ..models.audience import subscriber_key
from ..sqlutil import member_of

SUBSCRIBERS = Subscriber.__table__


def subscribers_by_email(session: Session, audience_id: int, emails: Iterable[str], *columns) -> dict[str, Row]:
    """email -> row (id, audience_id, email and the columns asked for) of the emails that are
    subscribers of the audience; emails are matched as given (callers pass normalised addresses).

    Named statement "subscribers by email", one per batch. An address's id is its key (subscriber_key
    of the audience and the normalised address), so the lookup goes by the primary key and checks
    audience and address on the rows it finds (a key held by another address is not a match;
    upsert_subscribers refuses such rows). PostgreSQL: the keys as one array parameter, unnested and
    joined to the primary key (on Citus: to the distribution column), with no other condition: index
    probes, or one hash join when the planner thinks the table small (a first pull, before
    statistics), never a comparison of every row with every address. `id = ANY(array)` would be
    that: after five runs psycopg prepares the statement, and a generic plan compares each row with
    the whole array (0.3 s per API batch became 3 s from the tenth, docs/BENCHMARKS.md, issue 13); a
    join on (audience_id, email) read the whole audience per batch on a table never analyzed, which
    takes `audience_id = ?` for 0.5% of the rows."""
    wanted = set(emails)
    keys = sorted({subscriber_key(audience_id, email) for email in wanted})
    if not keys:
        return {}
    columns = (SUBSCRIBERS.c.id, SUBSCRIBERS.c.audience_id, SUBSCRIBERS.c.email, *columns)
    if session.get_bind().dialect.name == "postgresql":
        probe = func.unnest(literal(keys, ARRAY(BigInteger))).table_valued("id").render_derived()
        stmts = [select(*columns).join(probe, SUBSCRIBERS.c.id == probe.c.id)]
    else:
        stmts = [select(*columns).where(matches) for matches in member_of(session, SUBSCRIBERS.c.id, keys)]
    found: dict[str, Row] = {}
    for stmt in stmts:
        found.update((row.email, row) for row in session.execute(stmt)
                     if row.audience_id == audience_id and row.email in wanted)
    return found


def subscriber_ids_by_email(session: Session, audience_id: int, emails: Iterable[str | None]) -> dict[str, int]:
    """Normalised email -> id, for the emails that are subscribers of the audience."""
    found = subscribers_by_email(session, audience_id, (normalise_email(e) for e in emails if e))
    return {email: row.id for email, row in found.items()}
