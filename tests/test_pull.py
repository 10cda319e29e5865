"""`mailseg pull` against the fake Mailchimp: members, sends and activity, incremental and idempotent."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from mailseg.models import Audience, Campaign, Event, JobRun, PullCursor, Subscriber
from mailseg.providers.mailchimp import MailchimpPlatform
from mailseg.sync.pull import pull_audience
from .factories import LIST_ID


def stamp(days_ago: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days_ago)).replace(microsecond=0).isoformat()


def seed(fake) -> str:
    fake.add_members(LIST_ID, ["ann@example.org", "bob@example.org"])
    fake.add_members(LIST_ID, ["cy@example.org"], status="cleaned")  # Mailchimp cleans a hard bounce
    fake.add_members(LIST_ID, ["gone@example.org"], status="unsubscribed")
    fake.add_members(LIST_ID, ["tx@example.org"], status="transactional")
    members = fake.lists[LIST_ID].members
    next(m for m in members.values() if m["email_address"] == "ann@example.org")["merge_fields"] = {
        "FNAME": "Ann", "LNAME": "Lee", "CITY": "Oslo"}
    return fake.add_sent_campaign(LIST_ID, subject="Spring", send_time=stamp(10),
                                  recipients=["ann@example.org", "bob@example.org", "cy@example.org"],
                                  activity={"ann@example.org": [{"action": "open", "timestamp": stamp(9), "ip": "1.2.3.4"},
                                                                {"action": "click", "timestamp": stamp(9),
                                                                 "url": "https://shop.example/a", "ip": "1.2.3.4"}],
                                            "cy@example.org": [{"action": "bounce", "type": "hard",
                                                                "timestamp": stamp(10)}]})


def pull(session, config):
    audience = session.scalar(select(Audience)) or Audience(name="default", provider_list_id=LIST_ID)
    session.add(audience)
    session.commit()
    return pull_audience(session, audience, config, MailchimpPlatform(config.mailchimp))


def test_pull_imports_members_sends_and_activity(session, mailchimp_config, fake_mailchimp):
    campaign_id = seed(fake_mailchimp)
    report = pull(session, mailchimp_config)
    people = {s.email: s for s in session.scalars(select(Subscriber))}
    assert set(people) == {"ann@example.org", "bob@example.org", "cy@example.org", "gone@example.org"}
    assert (people["ann@example.org"].first_name, people["ann@example.org"].last_name) == ("Ann", "Lee")
    assert people["ann@example.org"].merge_fields == {"CITY": "Oslo"}
    assert people["gone@example.org"].status == "unsubscribed"
    assert people["cy@example.org"].status == "cleaned"
    kinds = dict(session.execute(select(Event.type, func.count()).group_by(Event.type)).all())
    assert kinds == {"send": 3, "open": 1, "click": 1, "bounce": 1}
    assert set(session.scalars(select(Event.source))) == {"pull"}
    assert session.scalar(select(Campaign.subject).where(Campaign.provider_id == campaign_id)) == "Spring"
    assert report.events.inserted == 6
    run = session.scalars(select(JobRun).where(JobRun.job == "pull")).one()
    assert run.status == "succeeded" and run.summary["events_stored"] == 6


def test_second_pull_adds_nothing_and_asks_only_for_changes(session, mailchimp_config, fake_mailchimp):
    seed(fake_mailchimp)
    pull(session, mailchimp_config)
    events = session.scalar(select(func.count()).select_from(Event))
    before = len(fake_mailchimp.calls)
    report = pull(session, mailchimp_config)
    assert session.scalar(select(func.count()).select_from(Event)) == events
    assert report.events.inserted == 0 and report.inserted == 0 and report.updated == 0
    calls = fake_mailchimp.calls[before:]
    assert "since_last_changed" in next(c for c in calls if c.path.endswith("/members")).query
    assert not [c for c in calls if c.path.endswith("/sent-to")]  # recipients are read once
    assert "since" in next(c for c in calls if c.path.endswith("/email-activity")).query
    assert session.scalar(select(func.count()).select_from(PullCursor)) == 3


def test_pull_pages_through_large_collections(session, mailchimp_config, fake_mailchimp):
    fake_mailchimp.add_members(LIST_ID, [f"p{i}@example.org" for i in range(2500)])
    report = pull(session, mailchimp_config)
    assert report.members == 2500
    pages = [c for c in fake_mailchimp.calls if c.path.endswith("/members")]
    assert [c.query["offset"] for c in pages] == ["0", "1000", "2000"]


def test_pull_command(session, database, mailchimp_config, fake_mailchimp):
    from click.testing import CliRunner

    from mailseg.cli import main
    from mailseg.cli.runtime import Runtime

    seed(fake_mailchimp)
    session.add(Audience(name="default", provider_list_id=LIST_ID))
    session.commit()
    result = CliRunner().invoke(main, ["pull"], obj=Runtime(_config=mailchimp_config, _database=database))
    assert result.exit_code == 0, result.output
    assert "members: 5 read, 4 new" in result.output
    assert "6 stored" in result.output


def test_a_status_pulled_is_dated_at_the_members_last_changed(session, mailchimp_config, fake_mailchimp):
    from mailseg.models import SubscriberStatusChange

    fake_mailchimp.add_members(LIST_ID, ["dee@example.org"], last_changed=stamp(30))
    pull(session, mailchimp_config)
    member = next(m for m in fake_mailchimp.lists[LIST_ID].members.values() if m["email_address"] == "dee@example.org")
    changed = stamp(0)
    member.update(status="unsubscribed", last_changed=changed)
    pull(session, mailchimp_config)
    session.expire_all()
    rows = session.execute(select(SubscriberStatusChange.from_status, SubscriberStatusChange.to_status,
                                  SubscriberStatusChange.changed_at, SubscriberStatusChange.source)).all()
    assert [tuple(r) for r in rows] == [("subscribed", "unsubscribed", datetime.fromisoformat(changed), "pull")]
    # A member first seen unsubscribed: created subscribed at its opt-in, unsubscribed at last_changed.
    assert session.scalar(select(Subscriber.status).where(Subscriber.email == "dee@example.org")) == "unsubscribed"
