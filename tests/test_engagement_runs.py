"""Classification runs: history only on change, recorded runs, a failed run and the re-run completing it."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from .factories import AS_OF, add_event, add_subscriber, engagement_audience, stored_class
from mailseg.config import EngagementConfig
from mailseg.engagement import classify_all, classify_audience
from mailseg.models import ClassChange, JobRun, Subscriber

SETTINGS = EngagementConfig()
LATER = AS_OF + timedelta(days=1)


@pytest.fixture
def audience(session):
    """ann clicked, bob opened, cat did nothing, dan unsubscribed."""
    audience_id = engagement_audience(session)
    ids = {name: add_subscriber(session, audience_id, f"{name}@example.com") for name in ("ann", "bob", "cat")}
    ids["dan"] = add_subscriber(session, audience_id, "dan@example.com", status="unsubscribed")
    add_event(session, ids["ann"], "click", AS_OF - timedelta(days=2))
    add_event(session, ids["bob"], "open", AS_OF - timedelta(days=2))
    session.commit()
    return audience_id, ids


def history(session):
    return session.execute(select(ClassChange.subscriber_id, ClassChange.from_class, ClassChange.to_class,
                                  ClassChange.changed_at, ClassChange.run_id)
                           .order_by(ClassChange.id)).all()


def test_first_classification_records_every_subscriber_once(session, audience):
    audience_id, ids = audience
    result = classify_audience(session, audience_id, SETTINGS, as_of=AS_OF)
    assert result.changes == 4
    assert result.counts == {"active": 1, "semi_active": 1, "inactive": 1, "new": 0,
                             "unsubscribed": 1, "cleaned": 0, "complained": 0, "pending": 0}
    assert sorted(history(session)) == sorted([
        (ids["ann"], None, "active", AS_OF, result.run_id), (ids["bob"], None, "semi_active", AS_OF, result.run_id),
        (ids["cat"], None, "inactive", AS_OF, result.run_id), (ids["dan"], None, "unsubscribed", AS_OF, result.run_id),
    ])
    ann = session.get(Subscriber, ids["ann"])
    assert (ann.engagement_class, ann.class_since) == ("active", AS_OF)


def test_run_is_recorded_with_counts_and_changes(session, audience):
    audience_id, _ = audience
    result = classify_audience(session, audience_id, SETTINGS, as_of=AS_OF)
    run = session.get(JobRun, result.run_id)
    assert (run.job, run.status, run.audience_id, run.as_of) == ("classify", "succeeded", audience_id, AS_OF)
    assert run.summary["counts"] == result.counts and run.summary["changes"] == 4
    assert run.finished_at is not None and run.error is None


def test_second_classification_without_new_events_writes_no_history(session, audience):
    audience_id, ids = audience
    classify_audience(session, audience_id, SETTINGS, as_of=AS_OF)
    before = history(session)
    again = classify_audience(session, audience_id, SETTINGS, as_of=AS_OF + timedelta(hours=1))
    assert again.changes == 0
    assert history(session) == before
    session.expire_all()
    assert session.get(Subscriber, ids["ann"]).class_since == AS_OF  # since the first run, unchanged


def test_only_changed_subscribers_get_history(session, audience):
    audience_id, ids = audience
    classify_audience(session, audience_id, SETTINGS, as_of=AS_OF)
    add_event(session, ids["bob"], "click", LATER - timedelta(hours=1))
    session.commit()
    result = classify_audience(session, audience_id, SETTINGS, as_of=LATER)
    assert result.changes == 1
    assert history(session)[-1] == (ids["bob"], "semi_active", "active", LATER, result.run_id)
    assert len(history(session)) == 5
    session.expire_all()
    assert session.get(Subscriber, ids["bob"]).class_since == LATER


def test_status_change_moves_the_class(session, audience):
    audience_id, ids = audience
    classify_audience(session, audience_id, SETTINGS, as_of=AS_OF)
    session.get(Subscriber, ids["ann"]).status = "cleaned"
    session.commit()
    assert classify_audience(session, audience_id, SETTINGS, as_of=AS_OF).changes == 1
    assert stored_class(session, ids["ann"]) == "cleaned"


class FailAt:
    """A progress reporter that raises at the given step, as an interrupted run would."""

    def __init__(self, step: int) -> None:
        self.step, self.done = step, 0

    def advance(self, amount: int = 1) -> None:
        self.done += amount
        if self.done >= self.step:
            raise KeyboardInterrupt("interrupted")


@pytest.mark.parametrize("step", [1, 2, 3, 4])
def test_failed_run_stays_visible_and_leaves_nothing_half_done(session, audience, step):
    audience_id, ids = audience
    with pytest.raises(KeyboardInterrupt):
        classify_audience(session, audience_id, SETTINGS, as_of=AS_OF, progress=FailAt(step))
    runs = session.scalars(select(JobRun)).all()
    assert [(r.job, r.status) for r in runs] == [("classify", "failed")]
    assert "interrupted" in runs[0].error and runs[0].finished_at is not None
    assert history(session) == []
    assert session.scalar(select(func.count()).select_from(Subscriber)
                          .where(Subscriber.engagement_class.is_not(None))) == 0


def test_rerun_completes_a_failed_run(session, audience):
    audience_id, ids = audience
    with pytest.raises(KeyboardInterrupt):
        classify_audience(session, audience_id, SETTINGS, as_of=AS_OF, progress=FailAt(3))
    failed_id = session.scalar(select(JobRun.id))
    result = classify_audience(session, audience_id, SETTINGS, as_of=AS_OF)
    assert result.changes == 4 and result.completes_run_id == failed_id
    run = session.get(JobRun, result.run_id)
    assert run.status == "succeeded" and run.summary["completes_run"] == failed_id
    assert session.get(JobRun, failed_id).status == "failed"
    assert stored_class(session, ids["bob"]) == "semi_active"


def test_classify_all_covers_every_audience_and_only_its_own_subscribers(session, audience):
    audience_id, ids = audience
    other = engagement_audience(session, "other")
    eve = add_subscriber(session, other, "eve@example.com", subscribed_at=AS_OF - timedelta(days=3))
    session.commit()
    classify_audience(session, other, SETTINGS, as_of=AS_OF)
    assert stored_class(session, eve) == "new" and stored_class(session, ids["ann"]) is None
    results = classify_all(session, SETTINGS, as_of=AS_OF)
    assert [(r.audience_id, r.changes) for r in results] == [(audience_id, 4), (other, 0)]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_concurrent_run_that_committed_first_wins(database, session, audience):
    """SQLite has no row locks, so two runs can interleave; on PostgreSQL the second run waits for the
    audience row lock taken by the first (see _lock_audience) and never sees stale staged changes."""
    audience_id, _ = audience

    class OtherRunInBetween:
        """After this run staged its changes, another process classifies and commits."""

        def __init__(self) -> None:
            self.ran = False

        def advance(self, amount: int = 1) -> None:
            if not self.ran:
                self.ran = True
                with database.session() as other:
                    classify_audience(other, audience_id, SETTINGS, as_of=AS_OF)

    result = classify_audience(session, audience_id, SETTINGS, as_of=AS_OF, progress=OtherRunInBetween())
    assert result.changes == 0
    assert len(history(session)) == 4  # written once, by the other run


def test_a_run_left_running_by_a_dead_process_is_marked_failed_and_completed(session, audience):
    import subprocess
    import sys

    from mailseg.models import JobRun
    from mailseg.runs import this_process

    audience_id, _ = audience
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = this_process().rsplit(":", 1)[0]
    crashed = JobRun(job="classify", audience_id=audience_id, status="running", holder=f"{host}:{gone.stdout.strip()}")
    elsewhere = JobRun(job="classify", audience_id=audience_id, status="running", holder="other-host:1")
    session.add_all([elsewhere, crashed])
    session.commit()
    result = classify_audience(session, audience_id, SETTINGS, as_of=AS_OF)
    session.refresh(crashed)
    session.refresh(elsewhere)
    assert crashed.status == "failed" and crashed.error.startswith("interrupted")
    assert elsewhere.status == "running"  # another host's process cannot be checked from here
    assert result.completes_run_id == crashed.id
