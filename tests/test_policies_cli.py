"""`mailseg plan` writes nothing; `mailseg plans` manages campaign plans; the scheduler's classify
chain runs classify → policies → sync; a plan occurrence goes to the eligible tag once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from mailseg.models import Base, CampaignPlan, JobRun, PolicyAction
from mailseg.policies.plans import run_occurrence
from mailseg.scheduler.jobs import classify_all

from .policy_helpers import AS_OF, LIST_ID, audience, sends, subscriber
from .sync_helpers import fast_factory


def row_counts(session) -> dict[str, int]:
    return {t.name: session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def test_plan_writes_nothing(cli, session):
    a = audience(session)
    for i in range(3):
        sends(session, subscriber(session, a, f"q{i}@x.org"), 6, last=AS_OF - timedelta(days=20))
    session.commit()
    before = row_counts(session)
    result = cli("plan", "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, result.output
    assert "re-engagement (off: set reengagement.template_campaign_id): 3 entrants" in result.output
    assert "saves 0 sends per month" in result.output and "nothing was written" in result.output
    session.expire_all()
    assert row_counts(session) == before


def test_plans_add_list_remove(cli, session):
    audience(session)
    session.commit()
    assert cli("plans", "add", "weekly", "--template", "c123", "--cadence", "0 10 * * 2",
               "--timezone", "Europe/Kyiv").exit_code == 0
    assert "weekly: c123 on '0 10 * * 2' (Europe/Kyiv)" in cli("plans", "list").output
    bad = cli("plans", "add", "bad", "--template", "c1", "--cadence", "tuesdays")
    assert bad.exit_code == 2 and "expected a 5-field crontab" in bad.output
    assert cli("plans", "remove", "weekly").exit_code == 0
    assert "no campaign plans" in cli("plans", "list").output


def test_classify_chain_runs_policies_before_sync(database, session, mailchimp_config, fake_mailchimp):
    a = audience(session)
    subscriber(session, a, "x@example.org", None)
    session.commit()
    fake_mailchimp.add_members(LIST_ID, ["x@example.org"])
    classify_all(database, mailchimp_config)
    session.expire_all()
    assert [(r.job, r.status) for r in session.scalars(select(JobRun).order_by(JobRun.id))] == [
        ("classify", "succeeded"), ("value", "succeeded"), ("policies", "succeeded"), ("sync", "succeeded")]
    assert fake_mailchimp.segment_emails(LIST_ID, "mailseg:eligible") == {"x@example.org"}


def test_plan_occurrence_goes_to_the_eligible_tag_once(session, mailchimp_config, fake_mailchimp):
    a = audience(session)
    emails = [f"p{i}@example.org" for i in range(4)]
    for email in emails:
        subscriber(session, a, email, "active")
    session.add(CampaignPlan(audience_id=a, name="weekly", template_campaign_id="", cadence="0 10 * * 2",
                             timezone="UTC"))
    session.commit()
    fake_mailchimp.add_members(LIST_ID, emails)
    plan = session.scalar(select(CampaignPlan))
    plan.template_campaign_id = fake_mailchimp.add_draft_campaign(LIST_ID, title="Weekly", subject="News")
    session.commit()
    factory = fast_factory(mailchimp_config)
    first = run_occurrence(session, plan.id, mailchimp_config, factory, now=AS_OF)
    again = run_occurrence(session, plan.id, mailchimp_config, factory, now=AS_OF)
    assert first.step == "done" and again.id == first.id
    assert fake_mailchimp.received("plan:") == dict.fromkeys(emails, 1)
    assert session.scalar(select(func.count()).select_from(PolicyAction)) == 1


def test_resend_command_switches_one_campaign(cli, session):
    from mailseg.models import Audience, Campaign

    audience = Audience(name="main", provider="mailchimp", provider_list_id="l1")
    session.add(audience)
    session.flush()
    session.add(Campaign(audience_id=audience.id, provider_id="c42", subject="News", kind="regular", status="sent"))
    session.commit()
    result = cli("resend", "c42", "--off")
    assert result.exit_code == 0 and "resend for c42: off; subjects: resend.subjects" in result.output
    result = cli("resend", "c42", "--subject", "Again: {subject}", "--subject", "Last: {subject}")
    assert "resend for c42: off; subjects: Again: {subject} | Last: {subject}" in result.output
    result = cli("resend", "c42", "--follow-rule", "--default-subjects")
    assert "following resend.all_regular; subjects: resend.subjects" in result.output
    assert cli("resend", "nope", "--on").exit_code == 1
    session.expire_all()
    row = session.query(Campaign).filter_by(provider_id="c42").one()
    assert row.resend_enabled is None and row.resend_subjects is None
