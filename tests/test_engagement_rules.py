"""The classification rules of issue 5, case by case, through the SQL engine on both databases."""

from datetime import timedelta

import pytest

from .factories import AS_OF, WINDOW_START, add_event, add_subscriber, engagement_audience, stored_class
from mailseg.config import EngagementConfig
from mailseg.engagement import classify_audience

TICK = timedelta(microseconds=1)
DEFAULTS = EngagementConfig()


def classify_one(session, events, *, settings=DEFAULTS, status="subscribed", subscribed_at=None):
    """One subscriber with the given (type, occurred_at, machine_reason) events, classified as of AS_OF."""
    audience_id = engagement_audience(session)
    kwargs = {"subscribed_at": subscribed_at} if subscribed_at else {}
    sub_id = add_subscriber(session, audience_id, "ann@example.com", status=status, **kwargs)
    for type_, at, reason in events:
        add_event(session, sub_id, type_, at, machine_reason=reason)
    session.commit()
    classify_audience(session, audience_id, settings, as_of=AS_OF)
    return stored_class(session, sub_id)


@pytest.mark.parametrize("events, expected", [
    ([], "inactive"),
    ([("click", AS_OF - timedelta(days=1), None)], "active"),
    ([("open", AS_OF - timedelta(days=1), None)], "semi_active"),
    ([("open", AS_OF, None), ("click", AS_OF - timedelta(days=3), None)], "active"),
    ([("send", AS_OF - timedelta(days=1), None)], "inactive"),  # a send is not engagement
    # Window boundaries: start excluded, as_of included, anything later ignored.
    ([("click", WINDOW_START, None)], "inactive"),
    ([("click", WINDOW_START + TICK, None)], "active"),
    ([("click", AS_OF, None)], "active"),
    ([("click", AS_OF + TICK, None)], "inactive"),
    ([("open", WINDOW_START, None)], "inactive"),
    ([("open", WINDOW_START + TICK, None)], "semi_active"),
    ([("open", AS_OF, None)], "semi_active"),
    ([("open", AS_OF + TICK, None), ("click", AS_OF + timedelta(days=2), None)], "inactive"),
    # Flagged events.
    ([("open", AS_OF - timedelta(days=1), "apple_mpp")], "inactive"),
    ([("click", AS_OF - timedelta(days=1), "link_scanner")], "inactive"),
    ([("click", AS_OF - timedelta(days=1), "link_scanner"), ("open", AS_OF, None)], "semi_active"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_rules_with_default_settings(session, events, expected):
    assert classify_one(session, events) == expected


def test_machine_opens_count_when_configured(session):
    settings = EngagementConfig(count_machine_opens=True)
    assert classify_one(session, [("open", AS_OF - timedelta(days=1), "apple_mpp")], settings=settings) \
        == "semi_active"


def test_flagged_clicks_never_count_even_with_machine_opens_counted(session):
    settings = EngagementConfig(count_machine_opens=True)
    assert classify_one(session, [("click", AS_OF - timedelta(days=1), "link_scanner")], settings=settings) \
        == "inactive"


@pytest.mark.parametrize("status", ["unsubscribed", "cleaned", "complained", "pending"])
def test_non_subscribed_take_their_status_as_class(session, status):
    events = [("click", AS_OF - timedelta(days=1), None), ("open", AS_OF - timedelta(days=1), None)]
    assert classify_one(session, events, status=status) == status


@pytest.mark.parametrize("subscribed_at, expected", [
    (WINDOW_START, "inactive"),          # subscribed exactly at the window start: not inside it
    (WINDOW_START + TICK, "new"),
    (AS_OF - timedelta(days=1), "new"),
    (WINDOW_START - timedelta(days=1), "inactive"),
])
def test_new_versus_inactive_at_the_subscription_boundary(session, subscribed_at, expected):
    assert classify_one(session, [], subscribed_at=subscribed_at) == expected


def test_new_subscriber_who_clicked_is_active(session):
    events = [("click", AS_OF - timedelta(days=1), None)]
    assert classify_one(session, events, subscribed_at=AS_OF - timedelta(days=2)) == "active"


def test_click_threshold(session):
    settings = EngagementConfig(active_min_clicks=2)
    one_click = [("click", AS_OF - timedelta(days=1), None)]
    assert classify_one(session, one_click, settings=settings) == "inactive"  # a click is not an open


def test_click_below_threshold_with_an_open_is_semi_active(session):
    settings = EngagementConfig(active_min_clicks=2)
    events = [("click", AS_OF - timedelta(days=1), None), ("open", AS_OF - timedelta(days=1), None)]
    assert classify_one(session, events, settings=settings) == "semi_active"


def test_click_threshold_reached(session):
    settings = EngagementConfig(active_min_clicks=2)
    two_clicks = [("click", AS_OF - timedelta(days=1), None), ("click", AS_OF - timedelta(days=2), None)]
    assert classify_one(session, two_clicks, settings=settings) == "active"


def test_open_threshold(session):
    settings = EngagementConfig(semi_active_min_opens=3)
    two_opens = [("open", AS_OF - timedelta(days=d), None) for d in (1, 2)]
    assert classify_one(session, two_opens, settings=settings) == "inactive"


def test_open_threshold_reached(session):
    settings = EngagementConfig(semi_active_min_opens=3)
    three_opens = [("open", AS_OF - timedelta(days=d), None) for d in (1, 2, 3)]
    assert classify_one(session, three_opens, settings=settings) == "semi_active"


def test_longer_window_reaches_older_events(session):
    settings = EngagementConfig(window_months=12)
    old_open = [("open", AS_OF - timedelta(days=300), None)]
    assert classify_one(session, old_open, settings=settings) == "semi_active"
