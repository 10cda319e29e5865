"""The provider contract: the Mailchimp implementation (against the fake Mailchimp) and the sandbox
platform behave alike on every call the sync, pull and policy code makes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

import pytest

from mailseg.config import Config
from mailseg.providers import platform_factory
from mailseg.providers.base import EmailPlatform
from mailseg.providers.mailchimp import MailchimpPlatform, RetryPolicy
from mailseg.sandbox import world

LIST_ID = "list0001"


@dataclass
class Env:
    platform: EmailPlatform
    add_members: Callable[[list[str]], None]
    add_template: Callable[[str, str, str], str]  # title, subject, html -> campaign id


@pytest.fixture(params=["mailchimp", "sandbox"])
def env(request, config):
    if request.param == "mailchimp":
        fake = request.getfixturevalue("fake_mailchimp")
        settings = config.replace(mailchimp={"api_key": fake.api_key, "api_base_url": fake.base_url}).mailchimp
        return Env(MailchimpPlatform(settings, retry=RetryPolicy(base_delay=0.001, max_delay=0.01)),
                   lambda emails: fake.add_members(LIST_ID, emails),
                   lambda title, subject, html: fake.add_draft_campaign(LIST_ID, title=title, subject=subject, html=html))
    database = request.getfixturevalue("database")
    sandbox = config.replace(platform={"kind": "sandbox"})
    with database.transaction() as s:
        world.ensure_list(s, LIST_ID)

    def add_members(emails: list[str]) -> None:
        with database.transaction() as s:
            world.add_members(s, LIST_ID, [world.NewMember(e, datetime(2025, 1, 1, tzinfo=timezone.utc))
                                           for e in emails], sandbox.sandbox)

    def add_template(title: str, subject: str, html: str) -> str:
        with database.transaction() as s:
            return world.add_template(s, LIST_ID, title=title, subject=subject, html=html)

    return Env(platform_factory(sandbox)(), add_members, add_template)


def test_static_segments_are_found_again_and_hold_their_members(env):
    env.add_members(["a@example.org", "b@example.org", "c@example.org"])
    p = env.platform
    first = p.ensure_static_segment(LIST_ID, "mailseg:active")
    assert p.ensure_static_segment(LIST_ID, "mailseg:active").id == first.id
    assert p.segment_exists(LIST_ID, first.id) and not p.segment_exists(LIST_ID, "987654")
    answer = p.update_segment(LIST_ID, first.id, add=["a@example.org", "B@example.org", "nobody@example.org"], remove=[])
    assert answer.added == 2 and list(answer.errors) == ["nobody@example.org"]
    p.update_segment(LIST_ID, first.id, add=[], remove=["a@example.org"])
    assert sorted(p.segment_members(LIST_ID, first.id)) == ["b@example.org"]
    assert p.ensure_static_segment(LIST_ID, "mailseg:active").member_count == 1
    tags = {m.email: m.tags for m in p.list_members(LIST_ID)}
    assert tags["b@example.org"] == ["mailseg:active"] and tags["a@example.org"] == []
    with pytest.raises(ValueError):
        p.update_segment(LIST_ID, first.id, add=[f"x{i}@example.org" for i in range(501)], remove=[])


def test_member_status_and_archive(env):
    env.add_members(["a@example.org", "b@example.org"])
    p = env.platform
    assert p.update_member_status(LIST_ID, "A@example.org", "unsubscribed") is None
    assert "404" in p.update_member_status(LIST_ID, "nobody@example.org", "unsubscribed")
    assert p.archive_member(LIST_ID, "b@example.org") is None
    assert p.archive_member(LIST_ID, "b@example.org") is None  # archived already: nothing left to do
    assert {m.email: m.status for m in p.list_members(LIST_ID)} == {"a@example.org": "unsubscribed",
                                                                   "b@example.org": "archived"}


def test_campaign_lifecycle_to_a_segment(env):
    env.add_members(["a@example.org", "b@example.org"])
    p = env.platform
    template = env.add_template("Come back", "We miss you", "<p>Hi again</p>")
    segment = p.ensure_static_segment(LIST_ID, "mailseg:reengage:2026-08-31:a1")
    p.update_segment(LIST_ID, segment.id, add=["a@example.org"], remove=[])
    draft = p.create_campaign(LIST_ID, segment.id, title="[mailseg reengage:2026-08-31:a1] Come back",
                              subject="We miss you", from_name="Shop", reply_to="hi@example.org")
    assert p.find_campaign(LIST_ID, "[mailseg reengage:2026-08-31:a1]").id == draft
    assert p.find_campaign(LIST_ID, "[mailseg other]") is None
    p.copy_content(template, draft)
    info = p.campaign(draft)
    assert (info.status, info.subject, info.from_name) == ("save", "We miss you", "Shop")
    copy = p.replicate_campaign(draft)
    assert copy != draft and p.campaign(copy).status == "save"
    p.schedule_campaign(copy, datetime(2030, 1, 1, 10, 15, tzinfo=timezone.utc))
    assert p.campaign(copy).status == "schedule"
    p.send_campaign(draft)
    sent = list(p.sent_campaigns(LIST_ID))
    assert [c.id for c in sent] == [draft] and sent[0].sent_at is not None
    assert [r.email for r in p.campaign_recipients(draft)] == ["a@example.org"]
    activity = list(p.campaign_activity(draft))
    assert {a.action for a in activity} <= {"open", "click", "bounce", "unsubscribe", "purchase"}
    later = datetime.now(timezone.utc) + timedelta(days=1)
    assert list(p.campaign_activity(draft, since=later)) == []


def test_members_changed_since(env):
    env.add_members(["a@example.org"])
    p = env.platform
    assert [m.email for m in p.list_members(LIST_ID)] == ["a@example.org"]
    future = datetime.now(timezone.utc) + timedelta(days=3650)
    assert list(p.list_members(LIST_ID, since_last_changed=future)) == []


def test_unknown_objects_answer_404(env):
    from mailseg.providers import ProviderError

    p = env.platform
    with pytest.raises(ProviderError) as failure:
        p.update_segment(LIST_ID, "424242", add=["a@example.org"], remove=[])
    assert failure.value.status == 404
    with pytest.raises(ProviderError):
        p.campaign("c-unknown")


def test_the_sandbox_is_chosen_by_config(config):
    assert type(platform_factory(config.replace(platform={"kind": "sandbox"}))()).__name__ == "SandboxPlatform"
    with pytest.raises(Exception, match="platform.kind"):
        Config().replace(platform={"kind": "sendgrid"})
