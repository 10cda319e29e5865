"""The whole loop on the sandbox: simulated weeks of the scheduled chain with holdouts in every
policy. Held-out subscribers never receive the policy's mail, both groups are recorded once, and
cohorts get verdicts once their horizon has passed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from mailseg.demo_sandbox import new_sandbox_audience
from mailseg.models import (Exposure, PolicyAction, SandboxCampaign, SandboxMember, SandboxRecipient,
                            Verdict)
from mailseg.sandbox import world
from mailseg.scheduler import jobs
from mailseg.simulation import simulate

LIST_ID = "sim01"
START = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)  # a Monday


def sandbox_world(database, config, members: int = 300):
    people = [world.NewMember(f"p{i}@example.org", START - timedelta(days=400)) for i in range(members)]
    with database.transaction() as s:
        return new_sandbox_audience(s, LIST_ID, people, config, name="sim", clock=START - timedelta(days=1),
                                    cadence="0 10 * * 1")


def test_simulated_weeks_keep_the_held_out_out_and_close_cohorts(database, config, monkeypatch):
    base = config.replace(platform={"kind": "sandbox"}, mailchimp={"list_id": LIST_ID},
                          holdout={"cap_share": 0.3, "reengagement_share": 0.3, "resend_share": 0.3,
                                   "offer_share": 0.3, "plan_share": 0.2},
                          reengagement={"min_sends": 2}, resend={"after_days": 2}, uplift={"min_group_size": 5})
    audience_id, base = sandbox_world(database, base, members=120)
    snapshots = []
    monkeypatch.setattr(jobs, "effective_config", lambda session, config: snapshots.append(1) or config)
    report = simulate(database, base, audience_id, weeks=3, start=START, step_days=2)
    assert len(snapshots) == report.days  # one configuration snapshot per simulated day, for every step
    assert report.days == 11 and set(report.seconds) >= {"delivery", "pull", "classify", "policies", "sync"}

    with database.session() as s:
        policies = set(s.scalars(select(Exposure.policy).distinct()))
        assert {"plan", "resend", "cap", "reengagement"} <= policies
        for action in s.scalars(select(PolicyAction).where(PolicyAction.provider_campaign_id.is_not(None))):
            received = set(s.scalars(select(SandboxMember.email).join(
                SandboxRecipient, SandboxRecipient.member_id == SandboxMember.id)
                .where(SandboxRecipient.campaign_id == action.provider_campaign_id)))
            groups = dict(s.execute(select(Exposure.subscriber_id, Exposure.held_out).where(
                Exposure.key == action.key, Exposure.policy == _experiment(action.policy))).all())
            held = {sid for sid, is_held in groups.items() if is_held}
            treated = {sid for sid, is_held in groups.items() if not is_held}
            held_emails = _emails(s, held)
            assert not (received & held_emails), action.key  # the held out never get the policy's mail
            assert received <= _emails(s, treated), action.key
        # week 1's resend versions (2 days after each mail) closed by day 14 (week end + horizon 7 days): verdicts exist
        assert s.scalar(select(func.count()).select_from(Verdict).where(Verdict.policy == "resend")) > 0
        sent = s.scalar(select(func.count()).select_from(SandboxCampaign).where(SandboxCampaign.status == "sent"))
        assert sent >= 3


def _experiment(policy: str) -> str:
    return {"plan": "plan", "reengagement": "reengagement", "resend": "resend", "offer": "offer"}[policy]


def _emails(s, ids: set[int]) -> set[str]:
    from mailseg.models import Subscriber

    if not ids:
        return set()
    return set(s.scalars(select(Subscriber.email).where(Subscriber.id.in_(ids))))
