"""The backfill's incremental points (engagement/backfill_counts.py): a point after the first classifies
again only the subscribers whose class can have changed, so every way a class changes between two
points is checked here against running the points one by one, at the exact boundaries."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from mailseg.config import EngagementConfig
from mailseg.engagement import classify_audience
from mailseg.engagement.backfill import Every, backfill_audience, backfill_points
from mailseg.engagement.window import window_bounds
from mailseg.subscribers.status import StatusChange, change_statuses

from .factories import add_event, add_subscriber, engagement_audience
from .test_backfill import counts_by_point, history_by_email

UTC = timezone.utc
FROM = datetime(2026, 1, 5, tzinfo=UTC)
NOW = datetime(2026, 3, 16, 12, tzinfo=UTC)
EVERY = Every(14, "d")
SETTINGS = EngagementConfig(active_min_clicks=2, semi_active_min_opens=3)
POINTS = backfill_points(FROM, EVERY, NOW)  # FROM + 0, 14, ..., 70 days, then NOW


def start_of(point: datetime, settings: EngagementConfig = SETTINGS) -> datetime:
    return window_bounds(point, settings.window_months)[0]


def boundary_audience(session, name: str) -> int:
    """One subscriber per way a class changes between two points, each at an exact boundary."""
    audience_id = engagement_audience(session, name)
    old = FROM - timedelta(days=400)

    def subscriber(email: str, joined: datetime = old) -> int:
        return add_subscriber(session, audience_id, f"{email}@example.com", subscribed_at=joined)

    # Its only clicks leave the window exactly at point 2's window start (start < occurred_at).
    leaves = subscriber("leaves")
    for _ in range(2):
        add_event(session, leaves, "click", start_of(POINTS[2]))
    # Clicks entering exactly at point 3 (occurred_at <= as_of counts).
    enters = subscriber("enters")
    for _ in range(2):
        add_event(session, enters, "click", POINTS[3])
    # One click leaves and one enters between points 1 and 2: two clicks at both, never a move.
    steady = subscriber("steady")
    add_event(session, steady, "click", start_of(POINTS[2]))
    add_event(session, steady, "click", FROM - timedelta(days=10))
    add_event(session, steady, "click", POINTS[2] - timedelta(hours=1))
    # Opens dropping below the threshold (3 -> 2) when one leaves: semi-active to inactive.
    reader = subscriber("reader")
    add_event(session, reader, "open", start_of(POINTS[1]))
    for days in (20, 40):
        add_event(session, reader, "open", start_of(POINTS[1]) + timedelta(days=days))
    # Status changes between points and exactly at a point (the status at T is the one set at or before T).
    between, at_point = subscriber("unsubscribes"), subscriber("cleaned")
    add_event(session, between, "click", FROM - timedelta(days=3))
    add_event(session, between, "click", FROM - timedelta(days=2))
    change_statuses(session, [StatusChange(between, "unsubscribed", POINTS[1] + timedelta(days=3), "test"),
                              StatusChange(at_point, "cleaned", POINTS[4], "test")])
    # Joining between points and exactly at a point.
    subscriber("joins-between", POINTS[2] + timedelta(days=5))
    subscriber("joins-at-point", POINTS[3])
    # Ageing out of "new": subscribed just after point 0's window start, and exactly at point 4's.
    subscriber("ages", start_of(POINTS[0]) + timedelta(days=10))
    subscriber("ages-at-boundary", start_of(POINTS[4]))
    session.commit()
    return audience_id


def moves_of(history: list[tuple], email: str) -> list[tuple]:
    return [(src, dst, at) for who, src, dst, at in history if who == f"{email}@example.com"]


def test_incremental_points_equal_running_the_points_one_by_one(session):
    backfilled = boundary_audience(session, "backfilled")
    one_by_one = boundary_audience(session, "one-by-one")
    result = backfill_audience(session, backfilled, SETTINGS, FROM, EVERY, now=NOW)
    assert [point.as_of for point in result.points] == POINTS
    for as_of in POINTS:
        classify_audience(session, one_by_one, SETTINGS, as_of=as_of)
    history = history_by_email(session, backfilled)
    assert history == history_by_email(session, one_by_one)
    assert counts_by_point(session, backfilled) == counts_by_point(session, one_by_one)
    # Each case moved where the rules say, so the incremental path was exercised by every one.
    p = POINTS
    assert moves_of(history, "leaves") == [(None, "active", p[0]), ("active", "inactive", p[2])]
    assert moves_of(history, "enters") == [(None, "inactive", p[0]), ("inactive", "active", p[3])]
    assert moves_of(history, "steady") == [(None, "active", p[0])]
    assert moves_of(history, "reader") == [(None, "semi_active", p[0]), ("semi_active", "inactive", p[1])]
    assert moves_of(history, "unsubscribes") == [(None, "active", p[0]), ("active", "unsubscribed", p[2])]
    assert moves_of(history, "cleaned") == [(None, "inactive", p[0]), ("inactive", "cleaned", p[4])]
    assert moves_of(history, "joins-between") == [(None, "new", p[3])]
    assert moves_of(history, "joins-at-point") == [(None, "new", p[3])]
    assert moves_of(history, "ages") == [(None, "new", p[0]), ("new", "inactive", p[1])]
    assert moves_of(history, "ages-at-boundary") == [(None, "new", p[0]), ("new", "inactive", p[4])]


@pytest.mark.parametrize("settings, every", [
    # The step longer than the window: buckets that enter and leave between the same two points.
    (EngagementConfig(window_months=1), Every(2, "m")),
    (EngagementConfig(window_months=1, count_machine_opens=True), Every(3, "w")),
])
def test_incremental_points_with_a_step_longer_than_the_window(session, settings, every):
    def audience(name: str) -> int:
        audience_id = engagement_audience(session, name)
        for n in range(6):
            sid = add_subscriber(session, audience_id, f"s{n}@example.com",
                                 subscribed_at=FROM - timedelta(days=60) + timedelta(days=25 * n))
            for day in range(0, 200, 9 + n):
                add_event(session, sid, "open", FROM - timedelta(days=40) + timedelta(days=day), machine=n % 2 == 0)
                if day % 3 == 0:
                    add_event(session, sid, "click", FROM - timedelta(days=40) + timedelta(days=day, hours=1))
        session.commit()
        return audience_id

    now = FROM + timedelta(days=150)
    backfilled, one_by_one = audience("backfilled"), audience("one-by-one")
    result = backfill_audience(session, backfilled, settings, FROM, every, now=now)
    for point in result.points:
        classify_audience(session, one_by_one, settings, as_of=point.as_of)
    history = history_by_email(session, backfilled)
    assert history == history_by_email(session, one_by_one)
    assert counts_by_point(session, backfilled) == counts_by_point(session, one_by_one)
    assert len({at for *_, at in history}) > 2  # classes moved at several points, not only the first


def test_backfill_keeps_one_connection_across_its_commits(session):
    """Its temporary tables live across the points' commits, whichever connection a pooled session
    would get next (NullPool: a new one for every transaction)."""
    audience_id = boundary_audience(session, "main")
    engine = create_engine(session.get_bind().url, poolclass=NullPool)
    try:
        with Session(engine) as unpinned:
            result = backfill_audience(unpinned, audience_id, SETTINGS, FROM, EVERY, now=NOW)
    finally:
        engine.dispose()
    assert [point.as_of for point in result.points] == POINTS
    assert moves_of(history_by_email(session, audience_id), "enters")[-1] == ("inactive", "active", POINTS[3])
