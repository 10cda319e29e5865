"""The rule grammar: every operator of every type through the real SQL (a table of cases on a fixed
audience), the empty-value and literal-matching semantics, and validation errors with their paths."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from mailseg.config import EngagementConfig
from mailseg.models import Campaign, Event, SubscriberValue, Survey, SurveyResponse
from mailseg.segments import RuleError, members_query, parse_for, parse_rule

from . import factories

UTC = timezone.utc
AS_OF = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def people(session):
    """ann: active, tagged VIP, Kyiv, rich; bob: inactive, no tags, empty city, no value row;
    cy: unsubscribed, city '50%_off', prospect values; returns (audience id, {name: id})."""
    audience = factories.make_audience(session, "main", list_id=None)
    ids = {}
    rows = [
        ("ann", "Ann@Example.com", "subscribed", "active", datetime(2026, 6, 1, tzinfo=UTC), ["VIP", "shoes"],
         {"city": "Kyiv", "age": 41}, datetime(2025, 3, 10, 8, 0, tzinfo=UTC)),
        ("bob", "bob@test.org", "subscribed", "inactive", None, [], {"city": ""}, datetime(2026, 6, 10, tzinfo=UTC)),
        ("cy", "cy@example.com", "unsubscribed", "unsubscribed", datetime(2026, 1, 1, tzinfo=UTC), ["x%"],
         {"city": "50%_off"}, datetime(2024, 1, 1, tzinfo=UTC)),
    ]
    for key, email, status, cls, since, tags, merge, joined in rows:
        ids[key] = factories.make_subscriber(session, audience, email, status=status, engagement_class=cls,
                                             class_since=since, tags=tags, merge_fields=merge, subscribed_at=joined).id
    session.add(SubscriberValue(subscriber_id=ids["ann"], audience_id=audience.id, as_of=AS_OF, frequency=3,
                                monetary=Decimal("900"), r_score=5, f_score=4, m_score=5, rfm_segment="champions",
                                abc_class="A", clv=1234.5, p_alive=0.9))
    session.add(SubscriberValue(subscriber_id=ids["cy"], audience_id=audience.id, as_of=AS_OF, frequency=0,
                                monetary=Decimal("0"), rfm_segment="prospect"))
    campaign = Campaign(audience_id=audience.id, provider_id="spring-sale", name="Spring")
    session.add(campaign)
    survey = Survey(audience_id=audience.id, name="nps", question="Recommend us?", kind="scale",
                    answers=[str(n) for n in range(11)])
    session.add(survey)
    session.flush()
    session.add(SurveyResponse(survey_id=survey.id, subscriber_id=ids["ann"], answer="9", answered_at=AS_OF))
    session.add(SurveyResponse(survey_id=survey.id, subscriber_id=ids["bob"], answer="3", answered_at=AS_OF))

    def event(who, type_, days_ago, url=None, machine=False, campaign_id=None):
        session.add(Event(subscriber_id=ids[who], type=type_, occurred_at=AS_OF - timedelta(days=days_ago), url=url,
                          is_machine=machine, campaign_id=campaign_id, source="import", dedupe_key=uuid.uuid4().hex))

    event("ann", "click", 3, "https://shop.io/Pricing?a=1", campaign_id=campaign.id)
    event("ann", "click", 40, "https://shop.io/pricing")
    event("bob", "click", 2, "https://shop.io/pricing", machine=True)  # a link scanner
    event("bob", "open", 1, machine=True)  # Apple MPP
    for days in (5, 12, 19, 26, 33):
        event("bob", "send", days)
    event("cy", "purchase", 200)
    event("ann", "send", -1)  # after as_of: never counted
    session.flush()
    return audience.id, ids


CASES = [
    # text: case-insensitive, literal LIKE
    ({"field": "email", "op": "=", "value": "ann@example.com"}, {"ann"}),
    ({"field": "email", "op": "!=", "value": "ann@example.com"}, {"bob", "cy"}),
    ({"field": "email", "op": "in", "value": ["BOB@test.org", "nobody@x"]}, {"bob"}),
    ({"field": "email", "op": "not_in", "value": ["bob@test.org"]}, {"ann", "cy"}),
    ({"field": "email", "op": "contains", "value": "EXAMPLE"}, {"ann", "cy"}),
    ({"field": "email", "op": "starts_with", "value": "an"}, {"ann"}),
    ({"field": "email", "op": "ends_with", "value": ".org"}, {"bob"}),
    ({"field": "merge.city", "op": "contains", "value": "%_"}, {"cy"}),
    ({"field": "merge.city", "op": "contains", "value": "0_o"}, set()),  # '_' is not a wildcard
    ({"field": "merge.city", "op": "is_empty"}, {"bob"}),
    ({"field": "merge.city", "op": "is_not_empty"}, {"ann", "cy"}),
    ({"field": "merge.city", "op": "!=", "value": "kyiv"}, {"cy"}),  # empty is never "different"
    ({"field": "merge.age", "op": "=", "value": "41"}, {"ann"}),
    ({"field": "merge.nothing", "op": "is_empty"}, {"ann", "bob", "cy"}),
    ({"field": "status", "op": "=", "value": "subscribed"}, {"ann", "bob"}),
    ({"field": "engagement_class", "op": "in", "value": ["active", "inactive"]}, {"ann", "bob"}),
    # value fields (bob has no value row: empty)
    ({"field": "rfm_segment", "op": "=", "value": "Champions"}, {"ann"}),
    ({"field": "rfm_segment", "op": "is_empty"}, {"bob"}),
    ({"field": "abc_class", "op": "=", "value": "a"}, {"ann"}),
    ({"field": "clv", "op": ">", "value": 1000}, {"ann"}),
    ({"field": "clv", "op": "<=", "value": 1234.5}, {"ann"}),
    ({"field": "clv", "op": "is_empty"}, {"bob", "cy"}),
    ({"field": "r_score", "op": "between", "value": [5, 5]}, {"ann"}),
    ({"field": "r_score", "op": "!=", "value": 4}, {"ann"}),
    ({"field": "m_score", "op": "in", "value": [1, 5]}, {"ann"}),
    ({"field": "f_score", "op": "not_in", "value": [1]}, {"ann"}),
    ({"field": "p_alive", "op": ">=", "value": 0.9}, {"ann"}),
    ({"field": "f_score", "op": "<", "value": 5}, {"ann"}),
    ({"field": "f_score", "op": "is_not_empty"}, {"ann"}),
    # survey (a 0-10 scale survey compares as a number)
    ({"field": "survey.nps", "op": ">=", "value": 9}, {"ann"}),
    ({"field": "survey.nps", "op": "is_empty"}, {"cy"}),
    # dates: bare dates cover the whole day; relative to as_of
    ({"field": "subscribed_at", "op": "before", "value": "2025-03-10"}, {"cy"}),
    ({"field": "subscribed_at", "op": "after", "value": "2025-03-10"}, {"bob"}),
    ({"field": "subscribed_at", "op": "after", "value": "2025-03-10T07:59:59"}, {"ann", "bob"}),
    ({"field": "subscribed_at", "op": "between", "value": ["2025-03-10", "2026-06-10"]}, {"ann", "bob"}),
    ({"field": "subscribed_at", "op": "within_last_days", "value": 6}, {"bob"}),
    ({"field": "class_since", "op": "within_last_days", "value": 30}, {"ann"}),
    ({"field": "class_since", "op": "not_within_last_days", "value": 30}, {"cy"}),  # bob: empty
    # tags
    ({"field": "tags", "op": "contains", "value": "vip"}, {"ann"}),
    ({"field": "tags", "op": "not_contains", "value": "vip"}, {"cy"}),  # bob has no tags: empty
    ({"field": "tags", "op": "contains", "value": "x_"}, set()),
    ({"field": "tags", "op": "is_empty"}, {"bob"}),
    # events: human by default, windows relative to as_of
    ({"event": "click", "url_contains": "PRICING", "count": {"op": ">=", "value": 2}}, {"ann"}),
    ({"event": "click", "url_contains": "pricing", "within_days": 30}, {"ann"}),
    ({"event": "click", "human": False, "within_days": 30}, {"ann", "bob"}),
    ({"event": "click", "campaign": "spring-sale"}, {"ann"}),
    ({"event": "open"}, set()),  # bob's open is a machine open
    ({"all": [{"event": "send", "count": {"op": ">=", "value": 5}},
              {"event": "open", "count": {"op": "=", "value": 0}}]}, {"bob"}),
    ({"event": "purchase", "within_days": 180, "count": {"op": "=", "value": 0}}, {"ann", "bob", "cy"}),
    ({"event": "purchase", "count": {"op": "between", "value": [1, 1]}}, {"cy"}),
    ({"event": "send", "count": {"op": "!=", "value": 5}}, {"ann", "cy"}),
    # groups: not is the plain complement, nested any/all
    ({"not": {"field": "merge.city", "op": "=", "value": "kyiv"}}, {"bob", "cy"}),
    ({"any": [{"field": "tags", "op": "contains", "value": "x%"}, {"all": [
        {"field": "status", "op": "=", "value": "subscribed"}, {"not": {"event": "click"}}]}]}, {"bob", "cy"}),
]


@pytest.mark.parametrize("rule,expected", CASES, ids=[str(i) for i in range(len(CASES))])
def test_operator_table(session, people, rule, expected):
    audience_id, ids = people
    node = parse_for(session, audience_id, rule)
    got = set(session.scalars(members_query(node, audience_id, AS_OF, EngagementConfig())))
    assert got == {ids[name] for name in expected}


def test_machine_opens_count_when_configured(session, people):
    audience_id, ids = people
    node = parse_for(session, audience_id, {"event": "open"})
    got = set(session.scalars(members_query(node, audience_id, AS_OF, EngagementConfig(count_machine_opens=True))))
    assert got == {ids["bob"]}


ERRORS = [
    ({"all": [{"field": "email", "op": "=", "value": "a"}, {"field": "tags", "op": "contains", "value": "x"},
              {"any": [{"field": "clv", "op": "contains", "value": "x"}]}]},
     "all[2].any[0].op: 'contains' does not apply to number field 'clv'"),
    ({"field": "nope", "op": "=", "value": 1}, "field: unknown field 'nope'"),
    ({"field": "email", "op": "=", "value": 3}, "value: 'email' compares with non-empty text, not 3"),
    ({"field": "clv", "op": ">", "value": "10"}, "value: 'clv' compares with a number, not '10'"),
    ({"field": "clv", "op": ">", "value": True}, "value: 'clv' compares with a number"),
    ({"field": "subscribed_at", "op": "before", "value": "2026-02-30"}, "value: not an ISO-8601 date"),
    ({"field": "subscribed_at", "op": "between", "value": ["2026-02-01"]}, "value: 'between' takes a two-item list"),
    ({"field": "clv", "op": "between", "value": [5, 1]}, "value: 'between' needs low <= high"),
    ({"field": "clv", "op": "in", "value": []}, "value: 'in' takes a non-empty list"),
    ({"field": "status", "op": "=", "value": "subscrbed"}, "value: 'subscrbed' is not a status"),
    ({"field": "quadrant", "op": "=", "value": "gold"}, "value: 'gold' is not a quadrant (one of: profitable_loyal"),
    ({"field": "engagement_class", "op": "in", "value": ["active", "activ"]}, "value[1]: 'activ' is not a engagement_class"),
    ({"field": "tags", "op": "=", "value": "x"}, "op: '=' does not apply to list field 'tags'"),
    ({"field": "email", "op": "is_empty", "value": "x"}, "value: 'is_empty' takes no value"),
    ({"field": "email", "op": "="}, "value: '=' needs a value"),
    ({"field": "class_since", "op": "within_last_days", "value": 0}, "value: a number of days"),
    ({"all": []}, "all: must be a non-empty list"),
    ({"not": [1]}, "not: a condition or group must be an object"),
    ({"all": [{"any": [{"nope": 1}]}]}, "all[0].any[0]: expected 'all', 'any', 'not', 'field' or 'event'"),
    ({"event": "bounce"}, "event: 'bounce' is not an event"),
    ({"event": "open", "url_contains": "x"}, "url_contains: applies to click events only"),
    ({"event": "click", "within_days": -3}, "within_days: must be a number of days"),
    ({"event": "click", "count": {"op": ">=", "value": -1}}, "count.value: a count is a whole number >= 0"),
    ({"event": "click", "count": {"op": "contains", "value": 1}}, "count.op: 'contains' is not a count operator"),
    ({"event": "click", "colour": "red"}, "unknown key(s) ['colour']"),
    ({"field": "survey.csat", "op": "=", "value": "x"}, "field: there is no survey named 'csat'"),
    ({"field": "segment.ghost", "op": "is_member"}, "field: there is no segment named 'ghost'"),
    ([1, 2], "rule: a condition or group must be an object"),
]


@pytest.mark.parametrize("rule,message", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_validation_names_the_path(rule, message):
    with pytest.raises(RuleError) as caught:
        parse_rule(rule)
    assert any(message in error for error in caught.value.errors), caught.value.errors


def test_all_errors_are_reported_together():
    with pytest.raises(RuleError) as caught:
        parse_rule({"any": [{"field": "nope"}, {"field": "clv", "op": "~"}, {"event": "x"}]})
    assert [e.split(":")[0] for e in caught.value.errors] == ["any[0].field", "any[1].op", "any[2].event"]
