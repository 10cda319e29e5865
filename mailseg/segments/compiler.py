"""A parsed rule (grammar.py) compiled to ONE set-based SELECT of subscriber ids, the same SQLAlchemy
Core on SQLite and PostgreSQL.

The statement ("segment members"):

    SELECT subscribers.id FROM subscribers
      LEFT JOIN subscriber_values ON ...              -- when a value field is used
      LEFT JOIN survey_responses AS survey_1 ON ...   -- one per survey used
      LEFT JOIN (SELECT subscriber_id, count(*) AS n FROM events
                 WHERE <type, window, human, campaign, url> GROUP BY subscriber_id) AS event_1 ON ...
                                                      -- one per event condition: one pass over its events
    WHERE subscribers.audience_id = :audience AND <the rule as a boolean expression>

Every leaf is TRUE or FALSE, never NULL: a comparison is `<value present> AND <comparison>`, so
`NOT` is the plain complement and empty values match only is_empty. A `segment.<name>` condition is
the referenced rule inlined (same as_of, same statement), not the stored membership.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, ColumnElement, FromClause, Integer, Select, and_, cast, func, literal, not_, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction

from ..config import EngagementConfig
from ..engagement.rules import counted_click, counted_open
from ..models import UNCOUNTED_ORDER_STATUSES, Campaign, Event, Subscriber, SubscriberClass, SurveyResponse
from .grammar import (DATE, LIST, MEMBERSHIP, NUMBER, TEXT, VALUE_FIELDS, DateValue, EventCondition, FieldCondition,
                      Group, Node, Not)
from .values import VALUES

SUBSCRIBERS = Subscriber.__table__
# The current class fields live in the narrow subscriber_classes table, outer-joined when a rule reads them.
CLASSES = SubscriberClass.__table__
CLASS_FIELDS = ("engagement_class", "class_since")
EVENTS = Event.__table__


@dataclass
class _Context:
    audience_id: int
    as_of: datetime
    settings: EngagementConfig
    joins: dict[Any, tuple[FromClause, ColumnElement]] = field(default_factory=dict)

    def join(self, key: Any, target: FromClause, on: ColumnElement) -> FromClause:
        if key not in self.joins:
            self.joins[key] = (target, on)
        return self.joins[key][0]


def members_query(node: Node, audience_id: int, as_of: datetime, settings: EngagementConfig) -> Select:
    """SELECT subscribers.id AS id of the audience's subscribers matching the rule as of `as_of`."""
    ctx = _Context(audience_id, as_of, settings)
    condition = _node(node, ctx)
    source: FromClause = SUBSCRIBERS
    for target, on in ctx.joins.values():
        source = source.outerjoin(target, on)
    return (select(SUBSCRIBERS.c.id.label("id")).select_from(source)
            .where(SUBSCRIBERS.c.audience_id == audience_id, condition))


def _node(node: Node, ctx: _Context) -> ColumnElement[bool]:
    if isinstance(node, Group):
        parts = [_node(item, ctx) for item in node.items]
        return and_(*parts) if node.kind == "all" else or_(*parts)
    if isinstance(node, Not):
        return not_(_node(node.item, ctx))
    if isinstance(node, EventCondition):
        return _event(node, ctx)
    return _field(node, ctx)


# --- field conditions -----------------------------------------------------------------------------

def _field(cond: FieldCondition, ctx: _Context) -> ColumnElement[bool]:
    if cond.kind == MEMBERSHIP:
        inner = _node(cond.segment, ctx)
        return inner if cond.op == "is_member" else not_(inner)
    column = _column(cond, ctx)
    if cond.kind == TEXT:
        return _text(column, cond.op, cond.value)
    if cond.kind == NUMBER:
        return _number(column, cond.op, cond.value)
    if cond.kind == DATE:
        return _date(column, cond.op, cond.value, ctx.as_of)
    return _tags(column, cond.op, cond.value)


def _column(cond: FieldCondition, ctx: _Context) -> ColumnElement:
    name = cond.field
    if name in VALUE_FIELDS:
        values = ctx.join("values", VALUES, VALUES.c.subscriber_id == SUBSCRIBERS.c.id)
        return values.c[name]
    if name in CLASS_FIELDS:
        return ctx.join("classes", CLASSES, CLASSES.c.subscriber_id == SUBSCRIBERS.c.id).c[name]
    if name.startswith("merge."):
        # merge fields are matched as stored (imports lower-case CSV headers)
        return SUBSCRIBERS.c.merge_fields[name.split(".", 1)[1]].as_string()
    if name.startswith("survey."):
        key = ("survey", cond.survey_id)
        if key not in ctx.joins:
            alias = SurveyResponse.__table__.alias(f"survey_{len(ctx.joins) + 1}")
            ctx.join(key, alias, and_(alias.c.subscriber_id == SUBSCRIBERS.c.id, alias.c.survey_id == cond.survey_id))
        alias = ctx.joins[key][0]
        answer = alias.c.answer
        return cast(answer, Integer) if cond.kind == NUMBER else answer
    return SUBSCRIBERS.c[name]


def _text(column: ColumnElement, op: str, value: Any) -> ColumnElement[bool]:
    present = and_(column.is_not(None), column != "")
    if op == "is_empty":
        return not_(present)
    if op == "is_not_empty":
        return present
    lowered = func.lower(column)
    comparison = {
        "=": lambda: lowered == value,
        "!=": lambda: lowered != value,
        "in": lambda: lowered.in_(value),
        "not_in": lambda: lowered.not_in(value),
        # literal matching: % and _ in the value are escaped (autoescape)
        "contains": lambda: lowered.contains(value, autoescape=True),
        "starts_with": lambda: lowered.startswith(value, autoescape=True),
        "ends_with": lambda: lowered.endswith(value, autoescape=True),
    }[op]()
    return and_(present, comparison)


def _number(column: ColumnElement, op: str, value: Any) -> ColumnElement[bool]:
    present = column.is_not(None)
    if op == "is_empty":
        return not_(present)
    if op == "is_not_empty":
        return present
    return and_(present, _compare(column, op, value))


def _compare(column: ColumnElement, op: str, value: Any) -> ColumnElement[bool]:
    return {
        "=": lambda: column == value, "!=": lambda: column != value,
        "<": lambda: column < value, "<=": lambda: column <= value,
        ">": lambda: column > value, ">=": lambda: column >= value,
        "between": lambda: and_(column >= value[0], column <= value[1]),
        "in": lambda: column.in_(value), "not_in": lambda: column.not_in(value),
    }[op]()


def _date(column: ColumnElement, op: str, value: Any, as_of: datetime) -> ColumnElement[bool]:
    present = column.is_not(None)
    if op in ("within_last_days", "not_within_last_days"):
        within = and_(column > as_of - timedelta(days=value), column <= as_of)
        return and_(present, within if op == "within_last_days" else not_(within))
    if op == "before":
        return and_(present, column < value.start)
    if op == "after":
        return and_(present, _after(column, value))
    low, high = value
    return and_(present, column >= low.start, _up_to(column, high))


def _after(column: ColumnElement, value: DateValue) -> ColumnElement[bool]:
    return column >= value.end if value.whole_day else column > value.start


def _up_to(column: ColumnElement, value: DateValue) -> ColumnElement[bool]:
    return column < value.end if value.whole_day else column <= value.start


def _tags(column: ColumnElement, op: str, value: Any) -> ColumnElement[bool]:
    present = json_array_length(column) > 0
    if op == "is_empty":
        return not_(present)
    contains = TagIn(column, value)
    return and_(present, contains if op == "contains" else not_(contains))


# --- event conditions -----------------------------------------------------------------------------

def counted_event(cond: EventCondition, settings: EngagementConfig) -> ColumnElement[bool]:
    # counted-event rule: opens and clicks made by a person (engagement/rules.py); sends carry no
    # machine flag that matters. With human=false every stored event of the type counts.
    if cond.human and cond.event == "click":
        return counted_click()
    if cond.human and cond.event == "open":
        return counted_open(settings)
    if cond.event == "purchase":
        # counted-order rule: a cancelled or refunded order is no purchase (issue 13's value/sql.py
        # counted_order says the same; the lead points this at it when both are merged)
        return and_(EVENTS.c.type == "purchase", or_(EVENTS.c.order_status.is_(None),
                                                     EVENTS.c.order_status.not_in(UNCOUNTED_ORDER_STATUSES)))
    return EVENTS.c.type == cond.event


def _event(cond: EventCondition, ctx: _Context) -> ColumnElement[bool]:
    where = [counted_event(cond, ctx.settings), EVENTS.c.occurred_at <= ctx.as_of]
    if cond.within_days is not None:
        where.append(EVENTS.c.occurred_at > ctx.as_of - timedelta(days=cond.within_days))
    if cond.campaign is not None:
        campaigns = Campaign.__table__
        where.append(EVENTS.c.campaign_id.in_(
            select(campaigns.c.id).where(campaigns.c.audience_id == ctx.audience_id,
                                         campaigns.c.provider_id == cond.campaign)))
    if cond.url_contains is not None:
        where.append(func.lower(EVENTS.c.url).contains(cond.url_contains, autoescape=True))
    # No join to subscribers for the audience here: the outer statement keeps only the audience's
    # subscribers. Joining inside cost one subscribers index probe per matching event before the
    # aggregate (EXPLAIN ANALYZE, issue 14 benchmark: a third of the event part on a cold cache).
    name = f"event_{len(ctx.joins) + 1}"
    counts = (select(EVENTS.c.subscriber_id, func.count().label("n"))
              .where(*where).group_by(EVENTS.c.subscriber_id).subquery(name))
    ctx.join(name, counts, counts.c.subscriber_id == SUBSCRIBERS.c.id)
    return _compare(func.coalesce(counts.c.n, 0), cond.count_op, cond.count_value)


# --- JSON tag lists, the same meaning on both databases --------------------------------------------

class json_array_length(GenericFunction):
    """Number of items of a JSON array column; 0 for NULL or a non-array value."""

    type = Integer()
    inherit_cache = True


@compiles(json_array_length, "sqlite")
def _json_array_length_sqlite(element, compiler, **kw):
    arg = compiler.process(element.clauses, **kw)
    return f"coalesce(CASE WHEN json_type({arg}) = 'array' THEN json_array_length({arg}) END, 0)"


@compiles(json_array_length, "postgresql")
def _json_array_length_postgresql(element, compiler, **kw):
    arg = compiler.process(element.clauses, **kw)
    return f"coalesce(CASE WHEN jsonb_typeof({arg}) = 'array' THEN jsonb_array_length({arg}) END, 0)"


class TagIn(ColumnElement):
    """EXISTS: the JSON array of tags holds `tag` (compared lower-case)."""

    type = Boolean()
    inherit_cache = False

    def __init__(self, column: ColumnElement, tag: str) -> None:
        self.column, self.tag = column, literal(tag)


@compiles(TagIn, "sqlite")
def _tag_in_sqlite(element, compiler, **kw):
    arg, tag = compiler.process(element.column, **kw), compiler.process(element.tag, **kw)
    return (f"EXISTS (SELECT 1 FROM json_each(CASE WHEN json_type({arg}) = 'array' THEN {arg} ELSE '[]' END) "
            f"AS tag WHERE lower(tag.value) = {tag})")


@compiles(TagIn, "postgresql")
def _tag_in_postgresql(element, compiler, **kw):
    arg, tag = compiler.process(element.column, **kw), compiler.process(element.tag, **kw)
    return (f"EXISTS (SELECT 1 FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof({arg}) = 'array' "
            f"THEN {arg} ELSE '[]'::jsonb END) AS tag(value) WHERE lower(tag.value) = {tag})")

