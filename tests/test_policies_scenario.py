"""The issue's "done when" against the fake Mailchimp, over a year of synthetic weekly mailings:
the eligible tag honours the cap, inactive entrants get one re-engagement per attempt and then the
sunset, a resend goes exactly to the human non-openers with the next subject, a warmed-up clicker
gets one offer, and running again changes nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from mailseg.engagement import classify_audience
from mailseg.models import PolicyAction, ReengagementState
from mailseg.policies import plan_policies, run_policies

from .factories import AS_OF, LIST_ID, add_event, classed_subscriber, fast_factory, moved, policy_audience, sent_campaign

WEEKS = 52
PERSONAS = {"reader": 6, "clicker": 4, "faded": 5, "machine": 3, "newbie": 2, "unsub": 2}


def year_of_mail(session, fake):
    """Weekly campaigns for a year; readers open, clickers click, the faded stopped opening after
    four months, machine-only readers have Apple MPP opens only."""
    a = policy_audience(session)
    people: dict[str, list[int]] = {}
    emails = []
    for persona, n in PERSONAS.items():
        for i in range(n):
            email = f"{persona}{i}@example.org"
            joined = AS_OF - timedelta(days=20) if persona == "newbie" else AS_OF - timedelta(days=400)
            status = "unsubscribed" if persona == "unsub" else "subscribed"
            people.setdefault(persona, []).append(classed_subscriber(session, a, email, None, status=status, subscribed_at=joined))
            emails.append(email)
    fake.add_members(LIST_ID, emails)
    originals = []
    for week in range(WEEKS, 0, -1):
        sent = AS_OF - timedelta(weeks=week, days=1)  # the last one went out 8 days before AS_OF
        cid = sent_campaign(session, a, f"weekly{week}", sent, subject=f"Weekly {week}")
        originals.append(cid)
        for persona, members in people.items():
            for sub in members:
                if persona == "newbie" and sent < AS_OF - timedelta(days=20) or persona == "unsub":
                    continue
                add_event(session, sub, "send", sent, campaign_id=cid)
                if persona in ("reader", "clicker") or (persona == "faded" and week > 36):
                    add_event(session, sub, "open", sent + timedelta(hours=3), campaign_id=cid)
                if persona == "clicker":
                    add_event(session, sub, "click", sent + timedelta(hours=4), campaign_id=cid)
                if persona == "machine":
                    add_event(session, sub, "open", sent + timedelta(seconds=2), campaign_id=cid, machine=True)
    # the last weekly is on Mailchimp too (what `mailseg pull` would have recorded)
    session.commit()
    return a, people, originals


def test_policies_against_the_fake(database, session, mailchimp_config, fake_mailchimp):
    fake = fake_mailchimp
    a, people, originals = year_of_mail(session, fake)
    template = fake.add_draft_campaign(LIST_ID, title="Come back", subject="We miss you")
    offer = fake.add_draft_campaign(LIST_ID, title="Offer", subject="10% off for you")
    last_weekly = fake.add_draft_campaign(LIST_ID, title="Weekly 1", subject="Weekly 1")
    from mailseg.models import Campaign

    session.get(Campaign, originals[-1]).provider_id = last_weekly
    # one reader clicked for the first time yesterday: semi-active -> active
    add_event(session, people["reader"][0], "click", AS_OF - timedelta(days=1), campaign_id=originals[-1])
    moved(session, a, people["reader"][0], AS_OF - timedelta(days=1))
    session.commit()
    classify_audience(session, a, mailchimp_config.engagement, as_of=AS_OF)
    config = mailchimp_config.replace(reengagement={"template_campaign_id": template, "attempts": 2},
                                      offer={"campaign_id": offer})
    from mailseg.models import Audience

    target = session.get(Audience, a)
    factory = fast_factory(config)

    planned = plan_policies(session, target, config, as_of=AS_OF)
    assert planned.reengagement.entrants == 8  # the faded and the machine-only readers
    assert session.scalar(select(func.count()).select_from(PolicyAction)) == 0

    report = run_policies(session, target, config, factory, as_of=AS_OF)
    assert sorted(report.done) == ["offer:2026-08-31", "reengage:2026-08-31:a1", f"resend:{last_weekly}:v2"]
    fake.deliver_scheduled()
    inactive = {f"faded{i}@example.org" for i in range(5)} | {f"machine{i}@example.org" for i in range(3)}
    assert fake.received("reengage:") == dict.fromkeys(inactive, 1)
    resend_got = fake.received("resend:")
    newbies = {"newbie0@example.org", "newbie1@example.org"}
    assert resend_got == dict.fromkeys(inactive | newbies, 1)  # human non-openers only, not the unsubscribed
    (resend_campaign,) = [c for c in fake.campaigns.values() if "resend:" in c["settings"]["title"]]
    assert resend_campaign["settings"]["subject_line"] == "Did you miss this? Weekly 1"
    assert fake.received("offer:") == {"reader0@example.org": 1}
    version = session.scalar(select(Campaign).where(Campaign.kind == "resend"))
    assert (version.parent_id, version.variant, version.status) == (originals[-1], 2, "scheduled")

    campaigns_before = len(fake.campaigns)
    again = run_policies(session, target, config, factory, as_of=AS_OF + timedelta(hours=1))
    assert again.done == [] and len(fake.campaigns) == campaigns_before

    # attempt 2 after wait_days, then the sunset after another wait; one faded reader answers
    answered = people["faded"][0]
    add_event(session, answered, "click", AS_OF + timedelta(days=3))
    session.commit()
    second = run_policies(session, target, config, factory, as_of=AS_OF + timedelta(days=15))
    assert "reengage:2026-09-15:a2" in second.done
    fake.deliver_scheduled()
    assert fake.received("reengage:") == {**dict.fromkeys(inactive, 2), "faded0@example.org": 1}
    run_policies(session, target, config, factory, as_of=AS_OF + timedelta(days=30))
    sunset = set(session.scalars(select(ReengagementState.subscriber_id).where(ReengagementState.state == "sunset")))
    assert len(sunset) == 7 and answered not in sunset
    assert fake.segment_emails(LIST_ID, "mailseg:sunset") == inactive - {"faded0@example.org"}
    assert not fake.segment_emails(LIST_ID, "mailseg:eligible") & fake.segment_emails(LIST_ID, "mailseg:sunset")
    # a sunset subscriber engages again: the state is answered and the tag drops at the next sync
    add_event(session, people["machine"][0], "open", AS_OF + timedelta(days=31))
    session.commit()
    run_policies(session, target, config, factory, as_of=AS_OF + timedelta(days=32))
    assert "machine0@example.org" not in fake.segment_emails(LIST_ID, "mailseg:sunset")
