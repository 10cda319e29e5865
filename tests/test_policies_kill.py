"""Exactly once: a real `mailseg run-policies` is killed (SIGKILL) at each step of a re-engagement
action, right after the fake Mailchimp carried out the call and before the answer reached it; each
re-run resumes. In the end: one segment, one campaign, every treated entrant mailed once, every
held-out entrant never, and both groups recorded once."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import func, select

from mailseg.experiments.assignment import held_out_reference
from mailseg.models import Exposure, PolicyAction, Subscriber

from .factories import AS_OF, LIST_ID, classed_subscriber, policy_audience, sends

# The campaign is a replica of the template: killed after the replicate call (its id never reached
# mailseg: the re-run adopts the draft copy) and after the update that points it at the segment.
STEPS = [("POST", r"/segments$"), ("POST", r"/segments/\d+$"), ("POST", r"/actions/replicate$"),
         ("PATCH", r"/campaigns/[^/]+$"), ("POST", r"/actions/schedule$")]


def write_config(path, db_url: str, fake, template: str):
    path.write_text(f"""
[database]
url = "{db_url}"
[mailchimp]
api_key = "{fake.api_key}"
api_base_url = "{fake.base_url}"
list_id = "{LIST_ID}"
max_attempts = 1
[reengagement]
template_campaign_id = "{template}"
[holdout]
reengagement_share = 0.5
""")
    return path


def run_policies(config_path, fake, kill_at=None) -> int:
    env = {**os.environ, "MAILSEG_CONFIG": str(config_path)}
    process = subprocess.Popen([sys.executable, "-m", "mailseg", "run-policies", "--as-of", AS_OF.isoformat()],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if kill_at is not None:
        fake.kill_on(process.pid, *kill_at)
    output, _ = process.communicate(timeout=60)
    if kill_at is None:
        assert process.returncode == 0, output.decode()
    return process.returncode


def test_killed_at_every_step_then_resumed(db_url, session, fake_mailchimp, tmp_path):
    fake = fake_mailchimp
    a = policy_audience(session)
    everyone = {f"quiet{i}@example.org": None for i in range(12)}
    for email in everyone:
        everyone[email] = classed_subscriber(session, a, email)
        sends(session, everyone[email], 6, last=AS_OF - timedelta(days=30))
    session.commit()
    held = {e for e, sid in everyone.items() if held_out_reference("reengagement", "", 0.5, sid)}
    entrants = sorted(set(everyone) - held)
    assert held and entrants  # both groups exist (the stable hash of these ids splits them)
    fake.add_members(LIST_ID, list(everyone))
    template = fake.add_draft_campaign(LIST_ID, title="Come back", subject="We miss you", html="<p>Hi again</p>")
    config_path = write_config(tmp_path / "mailseg.toml", db_url, fake, template)

    for step in STEPS:
        assert run_policies(config_path, fake, kill_at=step) == -9, step
    run_policies(config_path, fake)

    segments = [s["name"] for s in fake.lists[LIST_ID].segments.values()]
    assert [name for name in segments if "reengage" in name] == ["mailseg:reengage:2026-08-31:a1"]
    assert sorted(segments) == ["mailseg:eligible", "mailseg:reengage:2026-08-31:a1", "mailseg:sunset"]
    copies = [c for c in fake.campaigns.values() if c["id"] != template]
    assert len(copies) == 1 and copies[0]["status"] == "schedule"
    assert fake.contents[copies[0]["id"]]["html"] == "<p>Hi again</p>"
    assert len(fake.replicated) == 1 and copies[0]["settings"]["title"].startswith("[mailseg reengage:")
    fake.deliver_scheduled()
    assert fake.received("reengage:") == dict.fromkeys(entrants, 1)
    session.expire_all()
    (action,) = session.scalars(select(PolicyAction)).all()
    assert (action.step, action.provider_campaign_id, action.recipients) == ("done", copies[0]["id"], len(entrants))
    groups = {(email, held_out) for email, held_out in session.execute(
        select(Subscriber.email, Exposure.held_out).join(Exposure, Exposure.subscriber_id == Subscriber.id)
        .where(Exposure.policy == "reengagement"))}
    assert groups == {(e, e in held) for e in everyone}
    run_policies(config_path, fake)  # nothing left to do
    assert len(fake.campaigns) == 2
    assert session.scalar(select(func.count()).select_from(Exposure)
                          .where(Exposure.policy == "reengagement")) == len(everyone)
