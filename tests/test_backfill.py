"""`mailseg classify --backfill`: the class history recomputed from FROM to now, point by point, with
the subscribers and statuses of each moment; no policy triggered; `mailseg export history`."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from mailseg.config import Config, EngagementConfig
from mailseg.engagement import classify_audience
from mailseg.engagement.backfill import Every, backfill_audience, backfill_points, parse_every
from mailseg.models import ClassChange, JobRun, PolicyAction, Subscriber
from mailseg.policies import offer
from mailseg.reports.dashboard import class_series, transitions
from mailseg.subscribers.status import StatusChange, change_statuses

from .conftest import NO_HOLDOUTS
from .factories import add_event, add_subscriber, engagement_audience

UTC = timezone.utc
DEFAULTS = EngagementConfig()
FROM = datetime(2026, 1, 5, tzinfo=UTC)
NOW = datetime(2026, 7, 6, 12, tzinfo=UTC)


def test_points_are_from_every_step_then_now():
    assert backfill_points(FROM, parse_every("1w"), FROM + timedelta(days=15)) == [
        FROM, FROM + timedelta(days=7), FROM + timedelta(days=14), FROM + timedelta(days=15)]
    assert backfill_points(FROM, parse_every("14d"), FROM + timedelta(days=28)) == [
        FROM, FROM + timedelta(days=14), FROM + timedelta(days=28)]
    jan31 = datetime(2026, 1, 31, tzinfo=UTC)
    assert backfill_points(jan31, parse_every("1m"), datetime(2026, 4, 1, tzinfo=UTC)) == [
        jan31, datetime(2026, 2, 28, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)]
    assert backfill_points(NOW + timedelta(days=1), parse_every("1d"), NOW) == []


@pytest.mark.parametrize("text", ["", "14", "d", "0d", "2y", "-1w", "1.5m"])
def test_bad_steps_are_refused(text):
    with pytest.raises(ValueError, match="expected a step like 14d"):
        parse_every(text)


def growing_audience(session, name: str) -> int:
    """Subscribers joining over the half-year, readers and clickers, an unsubscribe and a resubscribe."""
    audience_id = engagement_audience(session, name)
    for n in range(8):
        joined = FROM - timedelta(days=200) + timedelta(days=40 * n)
        sid = add_subscriber(session, audience_id, f"s{n}@example.com", subscribed_at=joined)
        for week in range(0, 26, 1 + n % 3):
            at = FROM + timedelta(weeks=week, hours=n)
            if at > joined:
                add_event(session, sid, "send", at)
                if n % 2:
                    add_event(session, sid, "open", at + timedelta(hours=1))
                elif n % 3 == 0:
                    add_event(session, sid, "open", at + timedelta(seconds=5), machine_reason="apple_mpp")
                if n % 4 == 1 and week % 5 == 0:
                    add_event(session, sid, "click", at + timedelta(hours=2))
        if n == 3:
            change_statuses(session, [StatusChange(sid, "unsubscribed", FROM + timedelta(days=40), "test")])
        if n == 5:
            change_statuses(session, [StatusChange(sid, "unsubscribed", FROM + timedelta(days=20), "test"),
                                      StatusChange(sid, "subscribed", FROM + timedelta(days=90), "test")])
    session.commit()
    return audience_id


def history_by_email(session, audience_id: int) -> list[tuple]:
    rows = session.execute(select(Subscriber.email, ClassChange.from_class, ClassChange.to_class, ClassChange.changed_at)
                           .join(Subscriber, Subscriber.id == ClassChange.subscriber_id)
                           .where(ClassChange.audience_id == audience_id)
                           .order_by(ClassChange.changed_at, Subscriber.email)).all()
    return [tuple(row) for row in rows]


def counts_by_point(session, audience_id: int) -> list[tuple]:
    runs = session.execute(select(JobRun.as_of, JobRun.summary).where(
        JobRun.job == "classify", JobRun.audience_id == audience_id, JobRun.status == "succeeded")
        .order_by(JobRun.as_of)).all()
    return [(as_of, summary["counts"]) for as_of, summary in runs]


@pytest.mark.parametrize("settings, every", [
    (EngagementConfig(window_months=7, count_machine_opens=True, active_min_clicks=2, semi_active_min_opens=3),
     Every(10, "d")),
    (EngagementConfig(window_months=12), Every(1, "m")),
])
def test_backfill_equals_running_the_points_one_by_one_with_other_settings(session, settings, every):
    backfilled = growing_audience(session, "backfilled")
    one_by_one = growing_audience(session, "one-by-one")
    result = backfill_audience(session, backfilled, settings, FROM, every, now=NOW)
    for point in result.points:
        classify_audience(session, one_by_one, settings, as_of=point.as_of)
    assert history_by_email(session, backfilled) == history_by_email(session, one_by_one)
    assert counts_by_point(session, backfilled) == counts_by_point(session, one_by_one)


def test_backfill_equals_running_the_points_one_by_one(session):
    backfilled = growing_audience(session, "backfilled")
    one_by_one = growing_audience(session, "one-by-one")
    result = backfill_audience(session, backfilled, DEFAULTS, FROM, Every(14, "d"), now=NOW)
    points = backfill_points(FROM, Every(14, "d"), NOW)
    assert [p.as_of for p in result.points] == points and len(points) == 15
    for as_of in points:
        classify_audience(session, one_by_one, DEFAULTS, as_of=as_of)
    assert history_by_email(session, backfilled) == history_by_email(session, one_by_one)
    assert counts_by_point(session, backfilled) == counts_by_point(session, one_by_one)
    # The audience grows: nobody is counted before subscribing.
    totals = [sum(counts.values()) for _, counts in counts_by_point(session, backfilled)]
    assert totals[0] == 6 and totals[-1] == 8 and totals == sorted(totals)
    # Churn and return are in the history at the points after them.
    moves = {(email, src, dst) for email, src, dst, _ in history_by_email(session, backfilled)}
    assert ("s3@example.com", "semi_active", "unsubscribed") in moves
    assert ("s5@example.com", "active", "unsubscribed") in moves
    assert ("s5@example.com", "unsubscribed", "active") in moves


def test_backfill_replaces_the_history_after_from_only(session):
    audience_id = growing_audience(session, "main")
    early = FROM + timedelta(days=10)
    for as_of in (early, FROM + timedelta(days=50), FROM + timedelta(days=51), NOW):
        classify_audience(session, audience_id, DEFAULTS, as_of=as_of)
    before = [row for row in history_by_email(session, audience_id) if row[3] < FROM + timedelta(days=30)]
    result = backfill_audience(session, audience_id, DEFAULTS, FROM + timedelta(days=30), Every(1, "m"), now=NOW)
    assert result.replaced_runs == 3 and result.removed_changes > 0
    history = history_by_email(session, audience_id)
    assert [row for row in history if row[3] < FROM + timedelta(days=30)] == before
    # From the state before FROM, exactly what running the points would have written.
    reference = growing_audience(session, "reference")
    classify_audience(session, reference, DEFAULTS, as_of=early)
    for point in result.points:
        classify_audience(session, reference, DEFAULTS, as_of=point.as_of)
    assert history == history_by_email(session, reference)
    statuses = dict(session.execute(select(JobRun.as_of, JobRun.status).where(JobRun.audience_id == audience_id,
                                                                                JobRun.summary["backfill"].as_string().is_(None))).all())
    assert statuses[early] == "succeeded" and statuses[NOW] == "replaced"


def test_backfill_triggers_no_policy(session):
    audience_id = engagement_audience(session)
    sid = add_subscriber(session, audience_id, "warm@example.com", subscribed_at=FROM - timedelta(days=400))
    add_event(session, sid, "open", NOW - timedelta(days=20))
    add_event(session, sid, "click", NOW - timedelta(days=2))
    session.commit()
    backfill_audience(session, audience_id, DEFAULTS, NOW - timedelta(days=10), Every(5, "d"), now=NOW)
    moves = history_by_email(session, audience_id)
    assert ("warm@example.com", "semi_active", "active", NOW) in moves
    config = Config().replace(offer={"campaign_id": "offer1"}, holdout=NO_HOLDOUTS)  # the selection alone
    assert offer.count(session, audience_id, config, NOW) == 0
    assert offer.record(session, audience_id, config, NOW) == []
    assert session.scalar(select(PolicyAction.id)) is None
    assert session.scalar(select(JobRun.id).where(JobRun.job == "policies")) is None
    # The same move found by a routine classification is news: the offer goes.
    classify_audience(session, audience_id, DEFAULTS, as_of=NOW - timedelta(days=6))  # back to semi_active
    classify_audience(session, audience_id, DEFAULTS, as_of=NOW - timedelta(days=1))
    assert offer.count(session, audience_id, config, NOW) == 1


def test_chart_and_transitions_of_a_backfilled_audience(session):
    audience_id = growing_audience(session, "main")
    backfill_audience(session, audience_id, DEFAULTS, FROM, Every(14, "d"), now=NOW)
    series = class_series(session, audience_id)
    assert len(series.labels) == 14  # 15 points, the last two on the same day (the day's last wins)
    totals = [sum(values[i] for values in series.datasets.values()) for i in range(len(series.labels))]
    assert totals[0] == 6 and totals[-1] == 8  # the total follows the audience's growth
    assert series.datasets["unsubscribed"][0] == 0 and series.datasets["unsubscribed"][-1] == 1
    moves = transitions(session, audience_id, NOW - timedelta(days=170))
    assert moves.joined == 2  # s6 and s7 joined within the last 170 days
    assert moves.churned == 2  # s3 and s5 unsubscribed (s5 came back)
    assert moves.sources[0] == "joined" and "unsubscribed" in moves.targets


def test_cli_backfill_and_export_history(cli, session):
    audience_id = growing_audience(session, "main")
    start = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    result = cli("classify", "--backfill", start, "--every", "1w")
    assert result.exit_code == 0, result.output
    assert "replaces the class history of audience 'main'" in result.output
    assert "points from" in result.output
    out = cli("export", "history").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and set(rows[0]) == {"email", "from_class", "to_class", "changed_at"}
    assert all(row["changed_at"].endswith("Z") for row in rows)
    firsts = [row for row in rows if row["from_class"] == ""]
    assert len({row["email"] for row in firsts}) == len(firsts) == 8
    assert cli("classify", "--backfill", start, "--every", "2y").exit_code == 2
    assert cli("classify", "--backfill", "2999-01-01").exit_code == 2
    assert cli("classify", "--backfill", start, "--as-of", start).exit_code == 2
    runs = session.scalars(select(JobRun.summary).where(JobRun.audience_id == audience_id)).all()
    assert all("backfill" in summary for summary in runs)
