"""Classes as of a moment: only subscribers who exist then, with their status then (issue 11), case
by case through the SQL engine, `mailseg explain` and `mailseg export classes`, on both databases."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from mailseg.config import EngagementConfig
from mailseg.engagement import classify_audience, explain_subscriber
from mailseg.models import ClassChange
from mailseg.subscribers.status import StatusChange, change_statuses

from .factories import AS_OF, add_event, add_subscriber, engagement_audience, stored_class

DEFAULTS = EngagementConfig()
DAY = timedelta(days=1)
JOINED = AS_OF - timedelta(days=400)


def one(session, *, subscribed_at=JOINED, created="subscribed", changes=(), events=()):
    audience_id = engagement_audience(session)
    sub_id = add_subscriber(session, audience_id, "ann@example.com", status=created, subscribed_at=subscribed_at)
    for type_, at in events:
        add_event(session, sub_id, type_, at)
    change_statuses(session, [StatusChange(sub_id, to, at, "test", time_known=known) for to, at, known in changes])
    session.commit()
    return audience_id, sub_id


@pytest.mark.parametrize("subscribed_at, created, changes, events, expected", [
    # Existence: subscribed_at <= T.
    (AS_OF + DAY, "subscribed", [], [], None),
    (AS_OF, "subscribed", [], [], "new"),
    (AS_OF - DAY, "subscribed", [], [("click", AS_OF - timedelta(hours=1))], "active"),
    # Unsubscribed before T: unsubscribed at T; after T: still classified by engagement at T.
    (JOINED, "subscribed", [("unsubscribed", AS_OF - DAY, True)], [("click", AS_OF - 2 * DAY)], "unsubscribed"),
    (JOINED, "subscribed", [("unsubscribed", AS_OF, True)], [("click", AS_OF - 2 * DAY)], "unsubscribed"),
    (JOINED, "subscribed", [("unsubscribed", AS_OF + DAY, True)], [("click", AS_OF - 2 * DAY)], "active"),
    (JOINED, "subscribed", [("cleaned", AS_OF + DAY, True)], [], "inactive"),
    # Resubscribed: before T back to subscribed; after T still unsubscribed at T.
    (JOINED, "subscribed", [("unsubscribed", AS_OF - 30 * DAY, True), ("subscribed", AS_OF - DAY, True)],
     [("open", AS_OF - 40 * DAY)], "semi_active"),
    (JOINED, "subscribed", [("unsubscribed", AS_OF - 30 * DAY, True), ("subscribed", AS_OF + DAY, True)],
     [("open", AS_OF - 40 * DAY)], "unsubscribed"),
    # Double opt-in: pending until confirmed.
    (AS_OF - 10 * DAY, "pending", [("subscribed", AS_OF + DAY, True)], [], "pending"),
    (AS_OF - 10 * DAY, "pending", [("subscribed", AS_OF - DAY, True)], [], "new"),
    # An estimated time counts like a known one.
    (JOINED, "subscribed", [("complained", AS_OF - DAY, False)], [], "complained"),
    (JOINED, "subscribed", [("complained", AS_OF + DAY, False)], [], "inactive"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_class_at_as_of(session, subscribed_at, created, changes, events, expected):
    audience_id, sub_id = one(session, subscribed_at=subscribed_at, created=created, changes=changes, events=events)
    result = classify_audience(session, audience_id, DEFAULTS, as_of=AS_OF)
    assert stored_class(session, sub_id) == expected
    assert sum(result.counts.values()) == (0 if expected is None else 1)
    explained = explain_subscriber(session, sub_id, DEFAULTS, as_of=AS_OF)
    assert (explained.engagement_class or None) == expected
    history = session.scalars(select(ClassChange.to_class).where(ClassChange.subscriber_id == sub_id)).all()
    assert history == ([] if expected is None else [expected])


def test_going_back_before_the_subscription_leaves_no_class_and_no_history_row(session):
    audience_id, sub_id = one(session, subscribed_at=AS_OF - DAY)
    classify_audience(session, audience_id, DEFAULTS, as_of=AS_OF)
    assert stored_class(session, sub_id) == "new"
    classify_audience(session, audience_id, DEFAULTS, as_of=AS_OF - 2 * DAY)
    assert stored_class(session, sub_id) is None
    assert session.scalars(select(ClassChange.to_class).where(ClassChange.subscriber_id == sub_id)).all() == ["new"]


def test_explain_and_export_leave_out_who_was_not_subscribed_yet(cli, session):
    audience_id = engagement_audience(session)
    add_subscriber(session, audience_id, "early@example.com", subscribed_at=JOINED)
    add_subscriber(session, audience_id, "late@example.com", subscribed_at=AS_OF + 60 * DAY)  # before the real now
    session.commit()
    assert cli("classify", "--as-of", AS_OF.isoformat()).exit_code == 0
    result = cli("explain", "late@example.com", "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0
    assert "not yet subscribed at 2026-08-31 12:00 UTC" in result.stdout
    rows = list(csv.DictReader(io.StringIO(cli("export", "classes").stdout)))
    assert [(row["email"], row["class"]) for row in rows] == [("early@example.com", "inactive")]
    # Classified as of now, the late subscriber is there.
    assert cli("classify").exit_code == 0
    rows = list(csv.DictReader(io.StringIO(cli("export", "classes").stdout)))
    assert sorted(row["email"] for row in rows) == ["early@example.com", "late@example.com"]
