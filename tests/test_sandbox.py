"""The sandbox platform delivers: sending produces the behaviour model's reactions, revealed as its
clock passes them, and `mailseg pull` brings them in through the one ingest path, flagged."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from mailseg.models import Event, Subscriber
from mailseg.providers import platform_factory
from mailseg.sandbox import world
from mailseg.sync.pull import pull_audience

from .factories import make_audience

LIST_ID = "sand01"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def sandbox_config(config, **model):
    return config.replace(platform={"kind": "sandbox"}, mailchimp={"list_id": LIST_ID}, sandbox=model)


def seed_world(database, cfg, n: int = 400) -> str:
    with database.transaction() as s:
        world.ensure_list(s, LIST_ID, clock=T0)
        world.add_members(s, LIST_ID, [world.NewMember(f"m{i}@example.org", T0 - timedelta(days=400))
                                       for i in range(n)], cfg.sandbox)
        return world.add_template(s, LIST_ID, title="News", subject="Weekly news", html="<p>news</p>")


def send_copy(platform, template: str, title: str) -> str:
    draft = platform.create_campaign(LIST_ID, None, title=title, subject="Weekly news", from_name="Shop",
                                     reply_to="shop@example.com")
    platform.copy_content(template, draft)
    platform.send_campaign(draft)
    return draft


def test_sending_delivers_reactions_revealed_by_the_clock_and_pulled(database, session, config):
    cfg = sandbox_config(config, apple_mpp_share=0.5, scanner_share=0.1, unsubscribe=0.02)
    template = seed_world(database, cfg)
    platform = platform_factory(cfg)()
    campaign = send_copy(platform, template, "Week 1")
    assert list(platform.campaign_activity(campaign)) == []  # nothing has happened yet at the send's moment
    with database.transaction() as s:
        world.set_clock(s, LIST_ID, T0 + timedelta(seconds=10), cfg.sandbox)
    early = list(platform.campaign_activity(campaign))
    assert early and all(a.ip.startswith(("17.", "40.94.")) for a in early)  # Apple's proxy and scanners first
    with database.transaction() as s:
        world.set_clock(s, LIST_ID, T0 + timedelta(days=7), cfg.sandbox)
    assert len(list(platform.campaign_activity(campaign))) > len(early)

    audience = make_audience(session, "sandbox", list_id=LIST_ID)
    session.commit()
    report = pull_audience(session, audience, cfg, platform, as_of=T0 + timedelta(days=7))
    assert report.members == 400 and report.campaigns == 1
    counts = dict(session.execute(select(Event.type, func.count()).group_by(Event.type)).all())
    assert counts["send"] == 400 and counts["open"] > 150 and counts.get("unsubscribe", 0) >= 1
    machine_opens = session.scalar(select(func.count()).where(Event.type == "open", Event.is_machine.is_(True)))
    assert 160 <= machine_opens <= 240  # half of 400 read in Apple Mail
    bot_clicks = session.scalar(select(func.count()).where(Event.type == "click", Event.is_machine.is_(True)))
    assert 20 <= bot_clicks <= 65  # a tenth behind link scanners
    unsubscribed = session.scalar(select(func.count()).where(Subscriber.status == "unsubscribed"))
    assert unsubscribed == counts["unsubscribe"]
    again = pull_audience(session, audience, cfg, platform, as_of=T0 + timedelta(days=7, minutes=1))
    assert again.events.inserted == 0


def test_the_same_seed_gives_the_same_reactions(config):
    import numpy as np

    from mailseg.sandbox import behaviour

    def run(seed: int):
        cfg = config.replace(sandbox={"seed": seed}).sandbox
        n = 500
        people = [behaviour.traits(cfg, f"m{i}@example.org") for i in range(n)]
        recipients = behaviour.Recipients(
            ids=np.arange(n), state=np.array([p.state for p in people]),
            propensity=np.array([p.propensity for p in people]), apple=np.array([p.apple for p in people]),
            scanner=np.array([p.scanner for p in people]), recent=np.zeros(n, dtype=np.int64),
            repeat=np.zeros(n, dtype=bool))
        return [(a["member_id"], a["action"], a["occurred_at"]) for a in
                behaviour.react(cfg, "sb1", "regular", T0, recipients).activity]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_a_resend_reaches_some_non_openers_at_the_configured_rate(database, config):
    cfg = sandbox_config(config, apple_mpp_share=0.0, scanner_share=0.0, propensity_sigma=0.0, resend_open=0.3,
                         open_active=0.0, open_semi_active=0.0, open_dormant=0.0, fatigue_per_mail=0.0)
    template = seed_world(database, cfg, n=1000)
    platform = platform_factory(cfg)()
    original = send_copy(platform, template, "Original")
    assert list(platform.campaign_activity(original)) == []  # nobody opens the original in this model
    with database.transaction() as s:
        world.set_clock(s, LIST_ID, T0 + timedelta(days=7), cfg.sandbox)
    version = send_copy(platform, template, "Version 2")
    with database.transaction() as s:
        world.set_clock(s, LIST_ID, T0 + timedelta(days=14), cfg.sandbox)
    opens = [a for a in platform.campaign_activity(version) if a.action == "open"]
    assert 250 <= len(opens) <= 350  # 30% of 1,000 (binomial sd 14.5)


def test_a_replica_is_pointed_at_a_segment_and_renamed(database, config):
    cfg = sandbox_config(config)
    template = seed_world(database, cfg, n=3)
    platform = platform_factory(cfg)()
    segment = platform.ensure_static_segment(LIST_ID, "mailseg:offer:2026-03-02").id
    platform.update_segment(LIST_ID, segment, add=["m1@example.org"], remove=[])
    copy = platform.replicate_campaign(template)
    assert platform.campaign(copy).title == "News (copy 01)"
    platform.update_campaign(copy, list_id=LIST_ID, segment_id=segment, title="[mailseg offer:2026-03-02] News",
                             subject="For you")
    platform.send_campaign(copy)
    info = platform.campaign(copy)
    assert (info.title, info.subject, info.status) == ("[mailseg offer:2026-03-02] News", "For you", "sent")
    assert [r.email for r in platform.campaign_recipients(copy)] == ["m1@example.org"]
