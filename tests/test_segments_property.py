"""The compiled segment statement against a small pure-Python reading of the rule semantics
(mailseg/segments/grammar.py's docstring), on random rules and random small audiences, on both databases."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from mailseg.config import EngagementConfig
from mailseg.models import Campaign, Event, SubscriberValue
from mailseg.segments import members_query, parse_rule

from . import factories

UTC = timezone.utc
AS_OF = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
SETTINGS = EngagementConfig()


# --- the reference -------------------------------------------------------------------------------

def _empty(value) -> bool:
    return value is None or value == "" or value == []


def _date_bounds(text: str) -> tuple[datetime, datetime]:
    """(start, end) of an ISO date (the whole day) or datetime (one instant)."""
    if len(text) == 10:
        start = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        return start, start + timedelta(days=1)
    moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return moment, moment


def ref_field(sub: dict, cond: dict) -> bool:
    field, op, value = cond["field"], cond["op"], cond.get("value")
    if field.startswith("merge."):
        actual = sub["merge"].get(field[6:])
    elif field in ("r_score", "clv", "rfm_segment"):
        actual = (sub["values"] or {}).get(field)
    else:
        actual = sub[field]
    if op == "is_empty":
        return _empty(actual)
    if op == "is_not_empty":
        return not _empty(actual)
    if _empty(actual):
        return False
    if field == "tags":
        held = any(t.lower() == value.lower() for t in actual)
        return held if op == "contains" else not held
    if isinstance(actual, datetime):
        if op == "before":
            return actual < _date_bounds(value)[0]
        if op == "after":
            start, end = _date_bounds(value)
            return actual >= end if len(value) == 10 else actual > start
        if op == "between":
            low, (high_start, high_end) = _date_bounds(value[0])[0], _date_bounds(value[1])
            return low <= actual and (actual < high_end if len(value[1]) == 10 else actual <= high_start)
        within = AS_OF - timedelta(days=value) < actual <= AS_OF
        return within if op == "within_last_days" else not within
    if isinstance(actual, str):
        a = actual.lower()
        lowered = value.lower() if isinstance(value, str) else [v.lower() for v in value]
        return {"=": lambda: a == lowered, "!=": lambda: a != lowered, "in": lambda: a in lowered,
                "not_in": lambda: a not in lowered, "contains": lambda: lowered in a,
                "starts_with": lambda: a.startswith(lowered), "ends_with": lambda: a.endswith(lowered)}[op]()
    return _compare(float(actual), op, value)


def _compare(actual, op, value) -> bool:
    return {"=": lambda: actual == value, "!=": lambda: actual != value, "<": lambda: actual < value,
            "<=": lambda: actual <= value, ">": lambda: actual > value, ">=": lambda: actual >= value,
            "between": lambda: value[0] <= actual <= value[1], "in": lambda: actual in value,
            "not_in": lambda: actual not in value}[op]()


def ref_event(sub: dict, cond: dict) -> bool:
    human = cond.get("human", True)
    n = 0
    for e in sub["events"]:
        if e["type"] != cond["event"] or e["at"] > AS_OF:
            continue
        if human and e["type"] in ("open", "click") and e["machine"]:
            continue
        if cond.get("within_days") and e["at"] <= AS_OF - timedelta(days=cond["within_days"]):
            continue
        if cond.get("campaign") and e["campaign"] != cond["campaign"]:
            continue
        if cond.get("url_contains") and cond["url_contains"].lower() not in (e["url"] or "").lower():
            continue
        n += 1
    count = cond.get("count", {"op": ">=", "value": 1})
    return _compare(n, count["op"], tuple(count["value"]) if isinstance(count["value"], list) else count["value"])


def ref_matches(sub: dict, rule: dict) -> bool:
    if "all" in rule:
        return all(ref_matches(sub, r) for r in rule["all"])
    if "any" in rule:
        return any(ref_matches(sub, r) for r in rule["any"])
    if "not" in rule:
        return not ref_matches(sub, rule["not"])
    if "event" in rule:
        return ref_event(sub, rule)
    return ref_field(sub, rule)


# --- random rules and audiences ----------------------------------------------------------------------

TEXTS = ["a%b", "A_b", "ab", "x", "Kyiv", "kyiv", "ky", "iv", "%", "_"]
DATES = ["2026-01-01", "2026-06-15", "2026-06-14T12:00:00", "2025-12-31", "2026-03-01"]
MOMENTS = [datetime(2026, 6, 15, 12, tzinfo=UTC), datetime(2026, 6, 15, 0, tzinfo=UTC),
           datetime(2025, 12, 31, 23, 59, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC),
           datetime(2026, 6, 14, 12, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC),
           datetime(2026, 6, 16, tzinfo=UTC), AS_OF - timedelta(days=30), AS_OF - timedelta(days=30, seconds=-1)]

text_leaf = st.one_of(
    st.builds(lambda f, op, v: {"field": f, "op": op, "value": v},
              st.sampled_from(["email", "merge.city"]),
              st.sampled_from(["=", "!=", "contains", "starts_with", "ends_with"]), st.sampled_from(TEXTS)),
    st.builds(lambda f, op, v: {"field": f, "op": op, "value": v}, st.sampled_from(["merge.city", "rfm_segment"]),
              st.sampled_from(["in", "not_in"]), st.lists(st.sampled_from(TEXTS), min_size=1, max_size=3)),
    st.builds(lambda f, op: {"field": f, "op": op}, st.sampled_from(["merge.city", "rfm_segment", "email"]),
              st.sampled_from(["is_empty", "is_not_empty"])),
    st.builds(lambda op, v: {"field": "engagement_class", "op": op, "value": v}, st.sampled_from(["=", "!="]),
              st.sampled_from(["active", "Inactive", "new"])),
)
number_leaf = st.one_of(
    st.builds(lambda f, op, v: {"field": f, "op": op, "value": v}, st.sampled_from(["r_score", "clv"]),
              st.sampled_from(["=", "!=", "<", "<=", ">", ">="]), st.sampled_from([1, 3, 5, 2.5, 100])),
    st.builds(lambda f, v: {"field": f, "op": "between", "value": sorted(v)}, st.sampled_from(["r_score", "clv"]),
              st.lists(st.sampled_from([1, 3, 5, 100]), min_size=2, max_size=2)),
    st.builds(lambda f, op: {"field": f, "op": op}, st.sampled_from(["r_score", "clv"]),
              st.sampled_from(["is_empty", "is_not_empty"])),
)
date_leaf = st.one_of(
    st.builds(lambda f, op, v: {"field": f, "op": op, "value": v}, st.sampled_from(["subscribed_at", "class_since"]),
              st.sampled_from(["before", "after"]), st.sampled_from(DATES)),
    st.builds(lambda f, v: {"field": f, "op": "between", "value": sorted(v)},
              st.sampled_from(["subscribed_at", "class_since"]), st.lists(st.sampled_from(DATES), min_size=2, max_size=2)),
    st.builds(lambda f, op, v: {"field": f, "op": op, "value": v}, st.sampled_from(["subscribed_at", "class_since"]),
              st.sampled_from(["within_last_days", "not_within_last_days"]), st.sampled_from([1, 30, 200])),
)
tag_leaf = st.one_of(
    st.builds(lambda op, v: {"field": "tags", "op": op, "value": v}, st.sampled_from(["contains", "not_contains"]),
              st.sampled_from(["vip", "VIP", "x%"])),
    st.just({"field": "tags", "op": "is_empty"}),
)


def _event(event, human, campaign, url, days, count):
    rule = {"event": event, "human": human}
    if campaign:
        rule["campaign"] = campaign
    if url and event == "click":
        rule["url_contains"] = url
    if days:
        rule["within_days"] = days
    if count:
        rule["count"] = count
    return rule


event_leaf = st.builds(
    _event, st.sampled_from(["send", "open", "click", "purchase"]), st.booleans(), st.sampled_from([None, "c1"]),
    st.sampled_from([None, "pricing", "PRI", "a_b"]), st.sampled_from([None, 30, 90]),
    st.one_of(st.none(), st.builds(lambda op, v: {"op": op, "value": v},
                                   st.sampled_from(["=", "!=", "<", ">=", ">"]), st.integers(0, 2)),
              st.just({"op": "between", "value": [1, 2]})))

leaf = st.one_of(text_leaf, number_leaf, date_leaf, tag_leaf, event_leaf)
rules = st.recursive(leaf, lambda children: st.one_of(
    st.builds(lambda items: {"all": items}, st.lists(children, min_size=1, max_size=3)),
    st.builds(lambda items: {"any": items}, st.lists(children, min_size=1, max_size=3)),
    st.builds(lambda item: {"not": item}, children)), max_leaves=6)

event_strategy = st.fixed_dictionaries({
    "type": st.sampled_from(["send", "open", "click", "purchase"]), "at": st.sampled_from(MOMENTS),
    "machine": st.booleans(), "url": st.sampled_from([None, "https://x.io/Pricing", "https://x.io/a_b", "https://x.io/ab"]),
    "campaign": st.sampled_from([None, "c1", "c2"])})
subscriber_strategy = st.fixed_dictionaries({
    "status": st.sampled_from(["subscribed", "unsubscribed", "pending"]),
    "engagement_class": st.sampled_from([None, "active", "inactive", "new"]),
    "class_since": st.one_of(st.none(), st.sampled_from(MOMENTS)),
    "subscribed_at": st.sampled_from(MOMENTS),
    "tags": st.lists(st.sampled_from(["vip", "Vip", "x%", "xy", "other"]), max_size=2, unique=True),
    "merge": st.dictionaries(st.just("city"), st.sampled_from(["Kyiv", "", "a%b", "aXb", "AB", "xyz"])),
    "values": st.one_of(st.none(), st.fixed_dictionaries({
        "r_score": st.one_of(st.none(), st.integers(1, 5)), "clv": st.one_of(st.none(), st.sampled_from([2.5, 100.0, 0.0])),
        "rfm_segment": st.sampled_from(["prospect", "kyiv", "A_b"])})),
    "events": st.lists(event_strategy, max_size=4)})


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rule=rules, subscribers=st.lists(subscriber_strategy, min_size=1, max_size=6))
def test_compiled_rule_matches_the_reference(session, rule, subscribers):
    audience = factories.make_audience(session, f"a-{uuid.uuid4().hex[:8]}", list_id=None)
    campaigns = {}
    for key in ("c1", "c2"):
        campaigns[key] = Campaign(audience_id=audience.id, provider_id=key, name=key)
        session.add(campaigns[key])
    session.flush()
    expected = set()
    for n, sub in enumerate(subscribers):
        email = f"s{n}-{sub['merge'].get('city', 'none')}@example.com"
        row = factories.make_subscriber(session, audience, email, status=sub["status"],
                                        subscribed_at=sub["subscribed_at"], engagement_class=sub["engagement_class"],
                                        class_since=sub["class_since"], tags=sub["tags"], merge_fields=sub["merge"])
        sub["email"] = email
        if sub["values"] is not None:
            session.add(SubscriberValue(subscriber_id=row.id, audience_id=audience.id, as_of=AS_OF, frequency=0,
                                        monetary=Decimal("0"), **sub["values"]))
        for i, e in enumerate(sub["events"]):
            session.add(Event(subscriber_id=row.id, type=e["type"], occurred_at=e["at"], is_machine=e["machine"],
                              url=e["url"], campaign_id=campaigns[e["campaign"]].id if e["campaign"] else None,
                              source="import", dedupe_key=uuid.uuid4().hex))
        if ref_matches(sub, rule):
            expected.add(row.id)
    session.flush()
    got = set(session.scalars(members_query(parse_rule(rule), audience.id, AS_OF, SETTINGS)))
    assert got == expected, rule
    session.rollback()
