"""Every status change is recorded with its time and source, through the one status-change function
and the one subscriber upsert (issue 11)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from mailseg.ingest.events import EventIn, store_events
from mailseg.ingest.importing import import_subscribers_file
from mailseg.models import Subscriber, SubscriberStatusChange
from mailseg.subscribers.status import StatusChange, change_statuses, status_at
from mailseg.subscribers.upsert import SubscriberRow, upsert_subscribers

from .factories import make_audience, make_subscriber, utc, write_file


def history(session, subscriber_id):
    session.expire_all()
    rows = session.scalars(select(SubscriberStatusChange).where(SubscriberStatusChange.subscriber_id == subscriber_id)
                           .order_by(SubscriberStatusChange.changed_at, SubscriberStatusChange.id))
    return [(r.from_status, r.to_status, r.changed_at, r.source, r.time_known) for r in rows]


def test_an_unsubscribe_event_changes_the_status_at_its_time(session):
    aud = make_audience(session)
    sub = make_subscriber(session, aud, "a@example.com", subscribed_at=utc(2025, 1, 1))
    store_events(session, aud.id, [EventIn("unsubscribe", utc(2025, 6, 1, 9), "mailchimp", email="a@example.com")])
    assert history(session, sub.id) == [("subscribed", "unsubscribed", utc(2025, 6, 1, 9), "mailchimp", True)]
    assert session.get(Subscriber, sub.id).status == "unsubscribed"
    assert session.get(Subscriber, sub.id).status_changed_at == utc(2025, 6, 1, 9)


def test_a_change_older_than_the_last_recorded_one_is_not_applied(session):
    aud = make_audience(session)
    sub = make_subscriber(session, aud, "a@example.com")
    assert change_statuses(session, [StatusChange(sub.id, "unsubscribed", utc(2025, 6, 1), "panel")]) == 1
    assert change_statuses(session, [StatusChange(sub.id, "subscribed", utc(2025, 7, 1), "mailchimp")]) == 1
    # A late retry of something that happened before the last change: nothing.
    assert change_statuses(session, [StatusChange(sub.id, "cleaned", utc(2025, 6, 15), "pull")]) == 0
    # The same status again: nothing.
    assert change_statuses(session, [StatusChange(sub.id, "subscribed", utc(2025, 8, 1), "pull")]) == 0
    assert [row[:3] for row in history(session, sub.id)] == [
        ("subscribed", "unsubscribed", utc(2025, 6, 1)), ("unsubscribed", "subscribed", utc(2025, 7, 1))]


def test_status_at_a_moment(session):
    aud = make_audience(session)
    sub = make_subscriber(session, aud, "a@example.com", subscribed_at=utc(2025, 1, 1))
    change_statuses(session, [StatusChange(sub.id, "unsubscribed", utc(2025, 6, 1), "panel"),
                              StatusChange(sub.id, "subscribed", utc(2025, 9, 1), "mailchimp")])
    assert status_at(session, sub.id, utc(2025, 5, 31)) == "subscribed"
    assert status_at(session, sub.id, utc(2025, 6, 1)) == "unsubscribed"  # at the change: the change counts
    assert status_at(session, sub.id, utc(2025, 8, 31)) == "unsubscribed"
    assert status_at(session, sub.id, utc(2025, 9, 1)) == "subscribed"


def test_a_pending_subscriber_is_created_pending_and_confirmation_is_a_change(session):
    aud = make_audience(session)
    upsert_subscribers(session, aud.id, [SubscriberRow("p@example.com", {"status": "pending"})], source="mailchimp")
    sid = session.scalar(select(Subscriber.id).where(Subscriber.email == "p@example.com"))
    assert history(session, sid) == []
    upsert_subscribers(session, aud.id, [SubscriberRow("p@example.com", {"status": "subscribed"},
                                                       status_at=utc(2025, 2, 2))], source="mailchimp")
    assert history(session, sid) == [("pending", "subscribed", utc(2025, 2, 2), "mailchimp", True)]


def test_import_with_status_changed_at_uses_that_time(session, tmp_path):
    aud = make_audience(session)
    path = write_file(tmp_path, "subs.csv", """
email,status,subscribed_at,status_changed_at
a@example.com,unsubscribed,2025-01-01,2025-04-05T06:07:08Z
b@example.com,subscribed,2025-01-01,
""")
    report = import_subscribers_file(session, aud.id, path)
    assert report.stored and report.inserted == 2
    a = session.scalar(select(Subscriber).where(Subscriber.email == "a@example.com"))
    assert history(session, a.id) == [("subscribed", "unsubscribed", utc(2025, 4, 5, 6, 7, 8), "import", True)]


def test_import_status_changed_at_needs_a_status_column(session, tmp_path):
    aud = make_audience(session)
    path = write_file(tmp_path, "subs.csv", "email,status_changed_at\na@example.com,2025-04-05\n")
    report = import_subscribers_file(session, aud.id, path)
    assert not report.stored
    assert "column 'status_changed_at'" in str(report.errors[0])


def test_first_import_without_a_time_is_estimated_later_imports_are_dated_at_the_import(session, tmp_path,
                                                                                         frozen_clock):
    aud = make_audience(session)
    # Known before any import (a webhook created it) with activity: the estimate is its last event.
    upsert_subscribers(session, aud.id, [SubscriberRow("old@example.com", {}, on_insert={"subscribed_at": utc(2025, 1, 1)})],
                       source="mailchimp")
    store_events(session, aud.id, [EventIn("open", utc(2025, 3, 3, 3), "import", email="old@example.com")])
    path = write_file(tmp_path, "subs.csv", """
email,status,subscribed_at
old@example.com,cleaned,2025-01-01
new@example.com,unsubscribed,2025-02-01
""")
    assert import_subscribers_file(session, aud.id, path).stored
    old = session.scalar(select(Subscriber.id).where(Subscriber.email == "old@example.com"))
    new = session.scalar(select(Subscriber.id).where(Subscriber.email == "new@example.com"))
    assert history(session, old) == [("subscribed", "cleaned", utc(2025, 3, 3, 3), "import", False)]
    assert history(session, new) == [("subscribed", "unsubscribed", utc(2025, 2, 1), "import", False)]
    imported_at = frozen_clock.advance(days=3)
    path.write_text("email,status\nnew@example.com,subscribed\n")
    assert import_subscribers_file(session, aud.id, path).stored
    assert history(session, new)[-1] == ("unsubscribed", "subscribed", imported_at, "import", True)


def test_reimporting_the_same_file_records_nothing_new(session, tmp_path):
    aud = make_audience(session)
    path = write_file(tmp_path, "subs.csv", "email,status,subscribed_at\na@example.com,complained,2025-01-01\n")
    import_subscribers_file(session, aud.id, path)
    report = import_subscribers_file(session, aud.id, path)
    assert (report.inserted, report.updated, report.unchanged) == (0, 0, 1)
    sid = session.scalar(select(Subscriber.id))
    assert len(history(session, sid)) == 1


def test_a_retried_unsubscribe_is_recorded_once(session):
    aud = make_audience(session)
    sub = make_subscriber(session, aud, "a@example.com")
    event = EventIn("unsubscribe", utc(2025, 6, 1), "mandrill", email="a@example.com", external_id="x1")
    store_events(session, aud.id, [event])
    store_events(session, aud.id, [event])
    assert len(history(session, sub.id)) == 1


def test_changes_of_one_batch_apply_in_time_order(session):
    aud = make_audience(session)
    sub = make_subscriber(session, aud, "a@example.com")
    later = utc(2025, 6, 2)
    change_statuses(session, [StatusChange(sub.id, "subscribed", later, "mailchimp"),
                              StatusChange(sub.id, "unsubscribed", later - timedelta(days=1), "mailchimp")])
    assert [row[1] for row in history(session, sub.id)] == ["unsubscribed", "subscribed"]
    assert session.get(Subscriber, sub.id).status == "subscribed"


def test_a_sunset_unsubscribe_is_dated_when_the_policy_acts(session, mailchimp_config, fake_mailchimp, frozen_clock):
    from mailseg.models import PolicyAction, PolicyRecipient
    from mailseg.policies import actions
    from mailseg.providers.mailchimp import MailchimpPlatform

    from .factories import LIST_ID, classed_subscriber, policy_audience

    audience_id = policy_audience(session)
    gone = classed_subscriber(session, audience_id, "gone@example.org")
    already = classed_subscriber(session, audience_id, "left@example.org", status="unsubscribed")
    fake_mailchimp.add_members(LIST_ID, ["gone@example.org", "left@example.org"])
    action = PolicyAction(audience_id=audience_id, policy="sunset", key="sunset:2026-08-31", as_of=frozen_clock.now,
                          details={"how": "unsubscribe"})
    session.add(action)
    session.flush()
    session.add_all([PolicyRecipient(action_id=action.id, subscriber_id=sid) for sid in (gone, already)])
    session.commit()
    acted_at = frozen_clock.advance(minutes=3)
    actions.execute(session, action, actions.Platform(MailchimpPlatform(mailchimp_config.mailchimp), LIST_ID, "mailseg:"))
    assert history(session, gone) == [("subscribed", "unsubscribed", acted_at, "policy:sunset", True)]
    assert history(session, already) == []
