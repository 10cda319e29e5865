"""One failed policy action never blocks the rest: a campaign known only from an imported history
file is no resend candidate; an action the platform refuses is recorded with its reason, retried
with backoff a bounded number of times, shown in `mailseg runs` and on the panel, and the run ends
"partial" with everything else sent. Policy campaigns are replicas of their source: preview text,
from name, reply-to and tracking survive, only the segment and subject change."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from mailseg.engagement import classify_audience
from mailseg.models import Audience, Campaign, JobRun, PolicyAction, utcnow
from mailseg.policies import run_policies

from .factories import AS_OF, LIST_ID, policy_audience, sent_campaign, add_event, moved, sends, classed_subscriber
from .factories import fast_factory


def _setup(session, fake):
    a = policy_audience(session)
    quiet = [f"quiet{i}@example.org" for i in range(3)]
    readers = [f"reader{i}@example.org" for i in range(3)]
    for email in quiet:
        sends(session, classed_subscriber(session, a, email), 6, last=AS_OF - timedelta(days=30))
    reader_ids = [classed_subscriber(session, a, email, "semi_active") for email in readers]
    fake.add_members(LIST_ID, quiet + readers)
    sent = AS_OF - timedelta(days=8)
    live = fake.add_draft_campaign(LIST_ID, title="Weekly", subject="Weekly news", preview_text="This week: shoes",
                                   tracking={"opens": True, "html_clicks": True, "google_analytics": "weekly"})
    originals = {"history": sent_campaign(session, a, "history-2026-08", sent, on_platform=False),
                 "gone": sent_campaign(session, a, "cgone0000", sent),  # pulled once, deleted on Mailchimp since
                 "live": sent_campaign(session, a, live, sent, subject="Weekly news")}
    for cid in originals.values():
        for sub in reader_ids:
            add_event(session, sub, "send", sent, campaign_id=cid)
    # reader0 clicked yesterday: semi-active -> active, so the offer goes out
    add_event(session, reader_ids[0], "click", AS_OF - timedelta(days=1))
    moved(session, a, reader_ids[0], AS_OF - timedelta(days=1))
    session.commit()
    template = fake.add_draft_campaign(LIST_ID, title="Come back", subject="We miss you", preview_text="A gift inside",
                                       from_name="Shop team", reply_to="care@example.com",
                                       tracking={"opens": False, "html_clicks": True})
    offer = fake.add_draft_campaign(LIST_ID, title="Offer", subject="10% off", preview_text="Only this week")
    return a, template, offer, live


def _config(mailchimp_config, template, offer, **actions):
    return mailchimp_config.replace(reengagement={"template_campaign_id": template},
                                    offer={"campaign_id": offer}, actions=actions or {})


def test_unknown_and_refused_campaigns_fail_alone(database, session, mailchimp_config, fake_mailchimp, app, cli):
    fake = fake_mailchimp
    a, template, offer, live = _setup(session, fake)
    config = _config(mailchimp_config, template, offer, max_attempts=2, retry_minutes=30)
    classify_audience(session, a, config.engagement, as_of=AS_OF)
    target = session.get(Audience, a)
    factory = fast_factory(config, max_attempts=1)

    report = run_policies(session, target, config, factory, as_of=AS_OF)
    assert sorted(report.done) == ["offer:2026-08-31", "reengage:2026-08-31:a1", f"resend:{live}:v2"]
    assert not [c for c in fake.calls if "history-2026-08" in c.path]  # never asked the platform about it
    assert list(report.failed) == ["resend:cgone0000:v2"]
    assert "404" in report.failed["resend:cgone0000:v2"]["error"]
    run = session.scalars(select(JobRun).where(JobRun.job == "policies")).one()
    assert run.status == "partial" and "resend:cgone0000:v2 failed (1 tries, next try" in run.error
    fake.deliver_scheduled()
    assert set(fake.received("reengage:")) == {f"quiet{i}@example.org" for i in range(3)}
    assert fake.received("offer:") == {"reader0@example.org": 1}

    shown = cli("runs", "--job", "policies")
    assert "partial" in shown.output and "cgone0000" in shown.output
    from .factories import ADMIN, login, seed_users

    seed_users(session)
    session.commit()
    app.config["WTF_CSRF_ENABLED"] = False
    panel = app.test_client()
    assert login(panel, ADMIN).status_code == 302
    page = panel.get("/").get_data(as_text=True)
    assert "status-partial" in page and "resend:cgone0000:v2 failed" in page

    # before its retry time the failed action waits; the next run changes nothing and succeeds
    calls = len(fake.calls)
    again = run_policies(session, target, config, factory, as_of=AS_OF + timedelta(hours=1))
    assert again.done == [] and again.failed == {}
    assert not [c for c in fake.calls[calls:] if "cgone0000" in c.path]
    # once the wait is over it is tried again; at max_attempts it is given up and shown as such
    action = session.scalar(select(PolicyAction).where(PolicyAction.key == "resend:cgone0000:v2"))
    assert action.failures == 1 and action.next_attempt_at > utcnow() + timedelta(minutes=29)
    action.next_attempt_at = utcnow() - timedelta(seconds=1)
    session.commit()
    third = run_policies(session, target, config, factory, as_of=AS_OF + timedelta(hours=2))
    assert "given up" in third.problems()[0]
    session.refresh(action)
    assert action.failures == 2 and action.failed_at is not None and action.finished_at is None
    assert run_policies(session, target, config, factory, as_of=AS_OF + timedelta(hours=3)).failed == {}


def test_policy_campaigns_are_replicas_with_only_segment_and_subject_changed(
        database, session, mailchimp_config, fake_mailchimp):
    fake = fake_mailchimp
    a, template, offer, live = _setup(session, fake)
    config = _config(mailchimp_config, template, offer)
    classify_audience(session, a, config.engagement, as_of=AS_OF)
    run_policies(session, session.get(Audience, a), config, fast_factory(config), as_of=AS_OF)

    sources = {source: replica for source, replica in fake.replicated}
    assert set(sources) == {template, offer, live}
    for source, replica in sources.items():
        original, copy = fake.campaigns[source], fake.campaigns[replica]
        for key in ("preview_text", "from_name", "reply_to"):
            assert copy["settings"][key] == original["settings"][key], key
        assert copy["tracking"] == original["tracking"]
        assert fake.contents[replica] == fake.contents[source]
        assert copy["settings"]["title"].startswith("[mailseg ")
        segment = copy["recipients"]["segment_opts"]["saved_segment_id"]
        assert fake.lists[LIST_ID].segments[segment]["name"].startswith("mailseg:")
    resend = fake.campaigns[sources[live]]
    assert resend["settings"]["subject_line"] == "Did you miss this? Weekly news"
    assert fake.campaigns[sources[template]]["settings"]["subject_line"] == "We miss you"
    assert session.scalar(select(Campaign.on_platform).where(Campaign.provider_id == sources[live])) is True
