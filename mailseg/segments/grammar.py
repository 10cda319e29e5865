"""The rule grammar of segments: what a rule may say, checked before it is saved or evaluated.

A rule is JSON (the panel's builder writes the same JSON):
- groups: {"all": [...]}, {"any": [...]}, {"not": {...}}, nested to any depth (a group has >= 1 item);
- field conditions: {"field": F, "op": OP, "value": V} (no value for is_empty / is_not_empty / is_member);
- event conditions: {"event": "send"|"open"|"click"|"purchase", "human": true, "campaign": KEY,
  "url_contains": S, "within_days": N, "count": {"op": OP, "value": K}} (count defaults to >= 1).

Semantics (exact; the compiler and tests/segment_reference.py implement them):
- a segment ranges over every subscriber of the audience, whatever their status;
- a missing or empty value (NULL, '', no tags) is empty: is_empty is true for it and every other
  comparison is false (so `!=`, not_in and not_contains are false on empty too); `not` is the plain complement;
- text comparisons ignore case; contains/starts_with/ends_with/url_contains match literally;
- dates are ISO-8601; a bare date stands for the whole day: before D = earlier than D 00:00,
  after D = later than the end of D, between [A, B] = A 00:00 .. end of B (a datetime is exact);
  within_last_days N = as_of - N days < value <= as_of; not_within_last_days N = a present value
  that is not within;
- event conditions count events with occurred_at <= as_of (and > as_of - within_days days);
  `human` (default true) applies the counted-event rule to opens and clicks.

`parse_rule` turns JSON into the typed tree below or raises RuleError listing every problem with
its path (`all[2].any[0].op: 'contains' does not apply to number field 'clv'`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Protocol, Union

from ..engagement.window import CLASS_NAMES
from ..models import QUADRANTS, SUBSCRIBER_STATUSES

TEXT, NUMBER, DATE, LIST, MEMBERSHIP = "text", "number", "date", "list", "segment"

OPERATORS: dict[str, tuple[str, ...]] = {
    TEXT: ("=", "!=", "in", "not_in", "contains", "starts_with", "ends_with", "is_empty", "is_not_empty"),
    NUMBER: ("=", "!=", "<", "<=", ">", ">=", "between", "in", "not_in", "is_empty", "is_not_empty"),
    DATE: ("before", "after", "between", "within_last_days", "not_within_last_days"),
    LIST: ("contains", "not_contains", "is_empty"),
    MEMBERSHIP: ("is_member", "is_not_member"),
}
NO_VALUE_OPS = ("is_empty", "is_not_empty", "is_member", "is_not_member")
COUNT_OPS = ("=", "!=", "<", "<=", ">", ">=", "between")
EVENT_TYPES = ("send", "open", "click", "purchase")
EVENT_KEYS = ("event", "human", "campaign", "url_contains", "within_days", "count")

# Fields on the subscriber row (and the value table) with their type.
SUBSCRIBER_FIELDS = {"email": TEXT, "status": TEXT, "engagement_class": TEXT, "class_since": DATE,
                     "subscribed_at": DATE, "tags": LIST}
# The value table's fields (issue 13's subscriber_values; see CONTRACTS.md).
VALUE_FIELDS = {"rfm_segment": TEXT, "abc_class": TEXT, "quadrant": TEXT, "r_score": NUMBER, "f_score": NUMBER,
                "m_score": NUMBER, "clv": NUMBER, "p_alive": NUMBER, "frequency": NUMBER, "monetary": NUMBER,
                "recency_days": NUMBER}
# Fields whose values come from a fixed set: a typo is refused instead of matching nobody.
KNOWN_VALUES = {"status": SUBSCRIBER_STATUSES, "engagement_class": CLASS_NAMES, "abc_class": ("A", "B", "C"),
                "quadrant": QUADRANTS}
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")


class RuleError(ValueError):
    """A rule that cannot be saved; .errors lists every problem as 'path: what is wrong'."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class Resolver(Protocol):
    """What validation needs to know about the audience: other segments' rules and the surveys."""

    def segment_rule(self, name: str) -> dict | None: ...

    def survey(self, name: str) -> tuple[int, str] | None:  # (survey id, kind 'choice' | 'scale')
        ...


@dataclass(frozen=True)
class DateValue:
    start: datetime  # the moment (or the day's 00:00)
    whole_day: bool  # a bare date: the value covers the whole day

    @property
    def end(self) -> datetime:
        """The last instant the value covers (exclusive bound for 'up to the end of the day')."""
        return self.start + timedelta(days=1) if self.whole_day else self.start


@dataclass(frozen=True)
class FieldCondition:
    field: str
    kind: str  # TEXT, NUMBER, ...
    op: str
    value: Any  # normalised: lower-case text, numbers, DateValue, tuples for in/between
    survey_id: int | None = None  # survey.<name>
    segment: "Node | None" = None  # segment.<name>: the referenced rule, parsed


@dataclass(frozen=True)
class EventCondition:
    event: str
    human: bool
    campaign: str | None
    url_contains: str | None  # lower-case
    within_days: int | None
    count_op: str
    count_value: Any  # int, or (low, high) for between


@dataclass(frozen=True)
class Group:
    kind: str  # all | any
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    item: "Node"


Node = Union[Group, Not, FieldCondition, EventCondition]


class _NoReferences:
    def segment_rule(self, name: str) -> dict | None:
        return None

    def survey(self, name: str) -> tuple[int, str] | None:
        return None


def parse_rule(rule: Any, resolver: Resolver | None = None, *, name: str | None = None) -> Node:
    """Validate `rule` (JSON already decoded) and return its tree; `name` is the segment's own name
    (a reference back to it, directly or through others, is a cycle)."""
    parser = _Parser(resolver or _NoReferences(), [name] if name else [])
    node = parser.node(rule, "")
    if parser.errors:
        raise RuleError(parser.errors)
    return node


class _Parser:
    def __init__(self, resolver: Resolver, stack: list[str]) -> None:
        self.resolver, self.stack, self.errors = resolver, stack, []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(f"{path or 'rule'}: {message}")

    def node(self, raw: Any, path: str) -> Node | None:
        if not isinstance(raw, dict):
            self.fail(path, "a condition or group must be an object")
            return None
        groups = [k for k in ("all", "any", "not") if k in raw]
        if groups:
            if len(raw) != 1:
                self.fail(path, f"a group has one key, {groups[0]!r}; found {sorted(raw)}")
                return None
            return self.group(groups[0], raw[groups[0]], path)
        if "event" in raw:
            return self.event(raw, path)
        if "field" in raw:
            return self.field(raw, path)
        self.fail(path, "expected 'all', 'any', 'not', 'field' or 'event'")
        return None

    def group(self, kind: str, items: Any, path: str) -> Node | None:
        here = _join(path, kind)
        if kind == "not":
            inner = self.node(items, here)
            return Not(inner) if inner is not None else None
        if not isinstance(items, list) or not items:
            self.fail(here, "must be a non-empty list of conditions")
            return None
        parsed = [self.node(item, f"{here}[{i}]") for i, item in enumerate(items)]
        return Group(kind, tuple(p for p in parsed if p is not None))

    def field(self, raw: dict, path: str) -> FieldCondition | None:
        unknown = sorted(set(raw) - {"field", "op", "value"})
        if unknown:
            self.fail(path, f"unknown key(s) {unknown} in a field condition")
        field, op = raw.get("field"), raw.get("op")
        if not isinstance(field, str):
            self.fail(_join(path, "field"), "must be a field name")
            return None
        kind, extra = self.field_kind(field, _join(path, "field"))
        if kind is None:
            return None
        if op not in OPERATORS[kind]:
            shown = f"{op!r}" if isinstance(op, str) else "missing"
            self.fail(_join(path, "op"), f"{shown} does not apply to {kind} field {field!r} "
                                         f"(use one of: {', '.join(OPERATORS[kind])})")
            return None
        if op in NO_VALUE_OPS:
            if "value" in raw and raw["value"] is not None:
                self.fail(_join(path, "value"), f"{op!r} takes no value")
            return FieldCondition(field, kind, op, None, **extra)
        if "value" not in raw:
            self.fail(_join(path, "value"), f"{op!r} needs a value")
            return None
        value = self.value(field, kind, op, raw["value"], _join(path, "value"))
        return None if value is _INVALID else FieldCondition(field, kind, op, value, **extra)

    def field_kind(self, field: str, path: str) -> tuple[str | None, dict]:
        if field in SUBSCRIBER_FIELDS:
            return SUBSCRIBER_FIELDS[field], {}
        if field in VALUE_FIELDS:
            return VALUE_FIELDS[field], {}
        prefix, _, key = field.partition(".")
        if prefix == "merge" and key:
            return TEXT, {}
        if prefix == "survey" and key:
            found = self.resolver.survey(key)
            if found is None:
                self.fail(path, f"there is no survey named {key!r}")
                return None, {}
            survey_id, survey_kind = found
            return (NUMBER if survey_kind == "scale" else TEXT), {"survey_id": survey_id}
        if prefix == "segment" and key:
            return self.reference(key, path)
        self.fail(path, f"unknown field {field!r} (fields: {', '.join([*SUBSCRIBER_FIELDS, *VALUE_FIELDS])}, "
                        "merge.<KEY>, survey.<name>, segment.<name>)")
        return None, {}

    def reference(self, name: str, path: str) -> tuple[str | None, dict]:
        if name in self.stack:
            cycle = " -> ".join([*self.stack[self.stack.index(name):], name])
            self.fail(path, f"segment {name!r} refers back to itself ({cycle})")
            return None, {}
        rule = self.resolver.segment_rule(name)
        if rule is None:
            self.fail(path, f"there is no segment named {name!r}")
            return None, {}
        inner = _Parser(self.resolver, [*self.stack, name])
        node = inner.node(rule, "")
        if inner.errors:
            self.errors.extend(f"{path}: in segment {name!r}: {e}" for e in inner.errors)
            return None, {}
        return MEMBERSHIP, {"segment": node}

    def value(self, field: str, kind: str, op: str, raw: Any, path: str) -> Any:
        one = {TEXT: self.text, NUMBER: self.number, DATE: self.date, LIST: self.text}[kind]
        if op in ("in", "not_in"):
            if not isinstance(raw, list) or not raw:
                self.fail(path, f"{op!r} takes a non-empty list")
                return _INVALID
            items = [one(field, item, f"{path}[{i}]") for i, item in enumerate(raw)]
            return _INVALID if _INVALID in items else tuple(items)
        if op == "between":
            if not isinstance(raw, list) or len(raw) != 2:
                self.fail(path, "'between' takes a two-item list [low, high]")
                return _INVALID
            low, high = one(field, raw[0], f"{path}[0]"), one(field, raw[1], f"{path}[1]")
            if _INVALID in (low, high):
                return _INVALID
            if (low.start if kind == DATE else low) > (high.start if kind == DATE else high):
                self.fail(path, "'between' needs low <= high")
                return _INVALID
            return (low, high)
        if op in ("within_last_days", "not_within_last_days"):
            return self.days(raw, path)
        return one(field, raw, path)

    def text(self, field: str, raw: Any, path: str) -> Any:
        if not isinstance(raw, str) or raw == "":
            self.fail(path, f"{field!r} compares with non-empty text, not {raw!r}")
            return _INVALID
        known = KNOWN_VALUES.get(field)
        if known is not None and raw.lower() not in {k.lower() for k in known}:
            self.fail(path, f"{raw!r} is not a {field} (one of: {', '.join(known)})")
            return _INVALID
        return raw.lower()

    def number(self, field: str, raw: Any, path: str) -> Any:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            self.fail(path, f"{field!r} compares with a number, not {raw!r}")
            return _INVALID
        return raw

    def date(self, field: str, raw: Any, path: str) -> Any:
        if not isinstance(raw, str):
            self.fail(path, f"{field!r} compares with an ISO-8601 date, not {raw!r}")
            return _INVALID
        try:
            return parse_date_value(raw)
        except ValueError as exc:
            self.fail(path, str(exc))
            return _INVALID

    def days(self, raw: Any, path: str) -> Any:
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
            self.fail(path, f"a number of days (a whole number >= 1), not {raw!r}")
            return _INVALID
        return raw

    def event(self, raw: dict, path: str) -> EventCondition | None:
        ok = True
        unknown = sorted(set(raw) - set(EVENT_KEYS))
        if unknown:
            self.fail(path, f"unknown key(s) {unknown} in an event condition (keys: {', '.join(EVENT_KEYS)})")
            ok = False
        event = raw.get("event")
        if event not in EVENT_TYPES:
            self.fail(_join(path, "event"), f"{event!r} is not an event (one of: {', '.join(EVENT_TYPES)})")
            ok = False
        human = raw.get("human", True)
        if not isinstance(human, bool):
            self.fail(_join(path, "human"), f"must be true or false, not {human!r}")
            ok = False
        checks: list[tuple[str, Callable[[Any], bool], str]] = [
            ("campaign", lambda v: isinstance(v, str) and v != "", "a campaign key (text)"),
            ("url_contains", lambda v: isinstance(v, str) and v != "", "non-empty text"),
            ("within_days", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
             "a number of days (a whole number >= 1)"),
        ]
        for key, valid, what in checks:
            if key in raw and raw[key] is not None and not valid(raw[key]):
                self.fail(_join(path, key), f"must be {what}, not {raw[key]!r}")
                ok = False
        if raw.get("url_contains") is not None and event != "click":
            self.fail(_join(path, "url_contains"), "applies to click events only")
            ok = False
        count = self.count(raw.get("count", {"op": ">=", "value": 1}), _join(path, "count"))
        if not ok or count is None:
            return None
        url = raw.get("url_contains")
        return EventCondition(event, human, raw.get("campaign"), url.lower() if url else None,
                              raw.get("within_days"), *count)

    def count(self, raw: Any, path: str) -> tuple[str, Any] | None:
        if not isinstance(raw, dict) or set(raw) != {"op", "value"}:
            self.fail(path, 'must be {"op": OP, "value": K}')
            return None
        op, value = raw["op"], raw["value"]
        if op not in COUNT_OPS:
            self.fail(_join(path, "op"), f"{op!r} is not a count operator (one of: {', '.join(COUNT_OPS)})")
            return None

        def whole(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v >= 0

        if op == "between":
            if not (isinstance(value, list) and len(value) == 2 and all(map(whole, value)) and value[0] <= value[1]):
                self.fail(_join(path, "value"), "'between' takes two whole numbers [low, high], low <= high")
                return None
            return op, (value[0], value[1])
        if not whole(value):
            self.fail(_join(path, "value"), f"a count is a whole number >= 0, not {value!r}")
            return None
        return op, value


_INVALID = object()


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def parse_date_value(raw: str) -> DateValue:
    text = raw.strip()
    try:
        if len(text) == 10:
            return DateValue(datetime.combine(date.fromisoformat(text), datetime.min.time(), timezone.utc), True)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO-8601 date or datetime: {raw!r}") from None
    moment = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    return DateValue(moment, False)


def referenced_segments(rule: Any) -> set[str]:
    """Names of the segments a rule refers to directly (segment.<name> fields)."""
    found: set[str] = set()
    if isinstance(rule, dict):
        field = rule.get("field")
        if isinstance(field, str) and field.startswith("segment."):
            found.add(field.split(".", 1)[1])
        for key in ("all", "any"):
            if isinstance(rule.get(key), list):
                for item in rule[key]:
                    found |= referenced_segments(item)
        if "not" in rule:
            found |= referenced_segments(rule["not"])
    return found


def check_name(name: str) -> str:
    """Segment and survey names: lower-case letters, digits, '-' and '_' (they become tags and URLs)."""
    if not NAME_PATTERN.match(name or ""):
        raise RuleError([f"name: {name!r} must be 1-80 lower-case letters, digits, '-' or '_' "
                         "(starting with a letter or digit)"])
    return name
