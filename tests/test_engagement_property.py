"""The SQL engine against a small pure-Python reference of the rules, on random small audiences with
random subscription dates, status changes (through the status history) and past as_of values."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from .factories import add_event, add_subscriber, engagement_audience, stored_class
from mailseg.config import EngagementConfig
from mailseg.engagement import classify_audience, explain_subscriber
from mailseg.subscribers.status import StatusChange, change_statuses

UTC = timezone.utc
STATUSES = ("subscribed", "subscribed", "subscribed", "unsubscribed", "cleaned", "complained", "pending")
CREATED = ("subscribed", "subscribed", "pending")
# Moments relative to the window: before it, its excluded start, just inside, inside, as_of, after.
PLACES = ("long_before", "start", "just_after_start", "inside", "end", "after_end")


def reference_window_start(as_of: datetime, months: int) -> datetime:
    year, month = as_of.year, as_of.month - months
    while month < 1:
        month, year = month + 12, year - 1
    next_month = date(year + month // 12, month % 12 + 1, 1)
    last_day = (next_month - timedelta(days=1)).day
    return as_of.replace(year=year, month=month, day=min(as_of.day, last_day))


def moment(place: str, start: datetime, as_of: datetime, jitter: int) -> datetime:
    return {
        "long_before": start - timedelta(days=40, seconds=jitter),
        "start": start,
        "just_after_start": start + timedelta(microseconds=1),
        "inside": start + (as_of - start) * (jitter % 97 + 1) / 100,
        "end": as_of,
        "after_end": as_of + timedelta(microseconds=1 + jitter),
    }[place]


def reference_status(created: str, changes: list[tuple[str, datetime]], as_of: datetime) -> str:
    """Replay the changes in time order (a change to the status already held is no change) up to as_of."""
    status = created
    for to_status, at in sorted(changes, key=lambda change: change[1]):
        if at > as_of:
            break
        status = to_status
    return status


def reference_class(status, subscribed_at, events, start, as_of, cfg: EngagementConfig) -> str | None:
    if subscribed_at > as_of:
        return None
    if status != "subscribed":
        return status
    inside = [(t, machine) for t, at, machine in events if start < at <= as_of]
    clicks = sum(1 for t, machine in inside if t == "click" and not machine)
    opens = sum(1 for t, machine in inside if t == "open" and (not machine or cfg.count_machine_opens))
    if clicks >= cfg.active_min_clicks:
        return "active"
    if opens >= cfg.semi_active_min_opens:
        return "semi_active"
    return "new" if subscribed_at > start else "inactive"


event_strategy = st.tuples(st.sampled_from(("open", "click", "send")), st.sampled_from(PLACES), st.booleans())
change_strategy = st.tuples(st.sampled_from(STATUSES), st.sampled_from(PLACES))
subscriber_strategy = st.tuples(st.sampled_from(CREATED), st.sampled_from(PLACES),
                                st.lists(event_strategy, max_size=5), st.lists(change_strategy, max_size=3))
config_strategy = st.builds(EngagementConfig, window_months=st.integers(6, 12),
                            count_machine_opens=st.booleans(), active_min_clicks=st.integers(1, 2),
                            semi_active_min_opens=st.integers(1, 3))
as_of_strategy = st.sampled_from([
    datetime(2026, 8, 31, 12, 0, tzinfo=UTC), datetime(2028, 8, 31, tzinfo=UTC),
    datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=UTC), datetime(2025, 12, 30, 6, 30, tzinfo=UTC),
    datetime(2026, 7, 15, 9, 0, tzinfo=UTC),
])


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subscribers=st.lists(subscriber_strategy, min_size=1, max_size=6), cfg=config_strategy,
       as_of=as_of_strategy, jitter=st.integers(0, 10_000), classified_later_first=st.booleans())
def test_engine_matches_the_reference(session, subscribers, cfg, as_of, jitter, classified_later_first):
    start = reference_window_start(as_of, cfg.window_months)
    audience_id = engagement_audience(session, f"a-{uuid.uuid4().hex}")
    expected, statuses = {}, {}
    for n, (created, joined, raw_events, raw_changes) in enumerate(subscribers):
        subscribed_at = moment(joined, start, as_of, jitter + n)
        sub_id = add_subscriber(session, audience_id, f"s{n}@example.com", status=created, subscribed_at=subscribed_at)
        events = [(t, moment(place, start, as_of, jitter + n + i), machine)
                  for i, (t, place, machine) in enumerate(raw_events)]
        for t, at, machine in events:
            add_event(session, sub_id, t, at, machine_reason="flagged" if machine else None)
        # Status changes happen after the subscription (at it at the earliest).
        changes = [(to, max(moment(place, start, as_of, jitter + 7 * n + i), subscribed_at))
                   for i, (to, place) in enumerate(raw_changes)]
        change_statuses(session, [StatusChange(sub_id, to, at, "test") for to, at in changes])
        statuses[sub_id] = reference_status(created, changes, as_of)
        expected[sub_id] = reference_class(statuses[sub_id], subscribed_at, events, start, as_of, cfg)
    session.commit()
    if classified_later_first:  # stored classes of a later moment, then back to as_of
        classify_audience(session, audience_id, cfg, as_of=as_of + timedelta(days=400))
    result = classify_audience(session, audience_id, cfg, as_of=as_of)
    assert result.window_start == start
    assert {sub_id: stored_class(session, sub_id) for sub_id in expected} == expected
    explained = {sub_id: explain_subscriber(session, sub_id, cfg, as_of=as_of) for sub_id in expected}
    assert {sub_id: e.engagement_class or None for sub_id, e in explained.items()} == expected
    assert {sub_id: e.status for sub_id, e in explained.items() if e.exists} == {
        sub_id: statuses[sub_id] for sub_id, cls in expected.items() if cls is not None}
    assert sum(result.counts.values()) == sum(1 for cls in expected.values() if cls is not None)
