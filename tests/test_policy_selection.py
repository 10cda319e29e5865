"""Who each policy acts on, rule by rule, with a frozen as_of (set-based SQL, no platform)."""

from __future__ import annotations

from datetime import timedelta

from mailseg.config import Config
from mailseg.models import ReengagementState
from mailseg.policies import frequency, offer, reengagement, resend

from .policy_helpers import AS_OF, audience, campaign, event, ids, moved, sends, subscriber

CONFIG = Config()


def test_eligible_tag_honours_the_cap(session):
    a = audience(session)
    always = {subscriber(session, a, f"{k}@x.org", k) for k in ("active", "semi_active", "new", None)}
    rested = subscriber(session, a, "rested@x.org")
    sends(session, rested, 3, last=AS_OF - timedelta(days=61))
    recent = subscriber(session, a, "recent@x.org")
    sends(session, recent, 3, last=AS_OF - timedelta(days=59))
    never_mailed = subscriber(session, a, "never@x.org")
    gone = subscriber(session, a, "gone@x.org", "active", status="unsubscribed")
    sunset = subscriber(session, a, "sunset@x.org", "active")
    session.add(ReengagementState(subscriber_id=sunset, audience_id=a, state="sunset", attempt=1,
                                  started_at=AS_OF, last_sent_at=AS_OF))
    session.flush()
    assert ids(session, frequency.eligible(a, CONFIG, AS_OF)) == always | {rested, never_mailed}
    assert gone not in always and recent not in always
    wider = CONFIG.replace(frequency={"inactive_every_days": 30})
    assert recent in ids(session, frequency.eligible(a, wider, AS_OF))


def test_sends_saved_per_month(session):
    a = audience(session)
    for i in range(10):
        subscriber(session, a, f"i{i}@x.org")
    for week in range(4):  # weekly mailings: 4 in the last 30 days
        campaign(session, a, f"c{week}", AS_OF - timedelta(days=7 * week + 1))
    figures = frequency.cap_figures(session, a, CONFIG, AS_OF)
    # 10 inactive x (4 mailings - 0.5 allowed at one every 60 days)
    assert (figures.inactive, figures.mailings_per_month, figures.sends_saved_per_month) == (10, 4.0, 35)


def test_reengagement_entrants_need_sends_and_silence(session):
    a = audience(session)
    silent = subscriber(session, a, "silent@x.org")
    sends(session, silent, 5)
    too_few = subscriber(session, a, "few@x.org")
    sends(session, too_few, 4)
    machine_only = subscriber(session, a, "machine@x.org")
    sends(session, machine_only, 6)
    event(session, machine_only, "open", AS_OF - timedelta(days=60), machine=True)
    reader = subscriber(session, a, "reader@x.org")
    sends(session, reader, 6)
    event(session, reader, "open", AS_OF - timedelta(days=60))
    old_sends = subscriber(session, a, "old@x.org")
    sends(session, old_sends, 8, last=AS_OF - timedelta(days=200))  # outside the 6-month window
    unsubscribed = subscriber(session, a, "unsub@x.org", status="unsubscribed")
    sends(session, unsubscribed, 6)
    waiting = subscriber(session, a, "waiting@x.org")
    sends(session, waiting, 6)
    session.add(ReengagementState(subscriber_id=waiting, audience_id=a, state="waiting", attempt=1,
                                  started_at=AS_OF, last_sent_at=AS_OF))
    session.flush()
    assert ids(session, reengagement.entrants(a, CONFIG, AS_OF)) == {silent, machine_only}


def test_next_attempt_and_sunset_after_wait_days(session):
    a = audience(session)
    config = CONFIG.replace(reengagement={"attempts": 2, "wait_days": 14})
    rows = {}
    for name, attempt, days_ago in (("due2", 1, 15), ("early", 1, 13), ("due_sunset", 2, 14), ("answered", 1, 20)):
        rows[name] = subscriber(session, a, f"{name}@x.org")
        session.add(ReengagementState(subscriber_id=rows[name], audience_id=a, state="waiting", attempt=attempt,
                                      started_at=AS_OF - timedelta(days=40), last_sent_at=AS_OF - timedelta(days=days_ago)))
    session.flush()
    event(session, rows["answered"], "click", AS_OF - timedelta(days=2))
    assert ids(session, reengagement.next_attempt(a, config, AS_OF, 2)) == {rows["due2"], rows["answered"]}
    assert ids(session, reengagement.sunset_due(a, config, AS_OF)) == {rows["due_sunset"]}
    assert ids(session, reengagement.answered(a, config, AS_OF)) == {rows["answered"]}


def test_resend_goes_to_human_non_openers_of_every_version(session):
    a = audience(session)
    original = campaign(session, a, "orig", AS_OF - timedelta(days=8))
    people = {name: subscriber(session, a, f"{name}@x.org", "active")
              for name in ("silent", "machine", "human", "v2_opener", "unsub", "not_sent")}
    for name, sub in people.items():
        if name != "not_sent":
            event(session, sub, "send", AS_OF - timedelta(days=8), campaign_id=original)
    event(session, people["machine"], "open", AS_OF - timedelta(days=8), campaign_id=original, machine=True)
    event(session, people["human"], "open", AS_OF - timedelta(days=7), campaign_id=original)
    version2 = campaign(session, a, "v2", AS_OF - timedelta(days=1), kind="resend", parent_id=original, variant=2)
    event(session, people["v2_opener"], "open", AS_OF - timedelta(hours=5), campaign_id=version2)
    from mailseg.models import Subscriber

    session.get(Subscriber, people["unsub"]).status = "unsubscribed"
    session.flush()
    assert ids(session, resend.non_openers(a, original, (original,))) == {
        people["silent"], people["machine"], people["v2_opener"]}
    assert ids(session, resend.non_openers(a, original, (original, version2))) == {people["silent"], people["machine"]}


def test_resend_is_due_after_days_up_to_max_versions(session):
    a = audience(session)
    due_now = campaign(session, a, "due", AS_OF - timedelta(days=8), subject="News")
    campaign(session, a, "fresh", AS_OF - timedelta(days=3))
    campaign(session, a, "stale", AS_OF - timedelta(days=40))  # too late to resend
    maxed = campaign(session, a, "maxed", AS_OF - timedelta(days=30))
    for variant in (2, 3, 4):
        campaign(session, a, f"maxed-v{variant}", AS_OF - timedelta(days=30 - 7 * (variant - 1)), kind="resend",
                 parent_id=maxed, variant=variant)
    (only,) = resend.due(session, a, CONFIG, AS_OF)
    assert (only.original.id, only.variant, only.subject, only.key) == (due_now, 2, "Did you miss this? News",
                                                                       "resend:due:v2")
    from mailseg.models import Campaign

    assert resend.subject_for(CONFIG, Campaign(subject="News"), 9) == "Last chance: News"
    assert resend.due(session, a, CONFIG.replace(resend={"all_regular": False}), AS_OF) == []


def test_resend_switched_per_campaign_with_its_own_subjects(session):
    import pytest

    from mailseg.config import ConfigError

    a = audience(session)
    on = campaign(session, a, "on", AS_OF - timedelta(days=8), subject="News")
    off = campaign(session, a, "off", AS_OF - timedelta(days=8), subject="Other")
    resend.configure_resend(session, a, "on", enabled=True, subjects=["Second look: {subject}"])
    resend.configure_resend(session, a, "off", enabled=False, subjects=None)
    rule_off = CONFIG.replace(resend={"all_regular": False})
    (only,) = resend.due(session, a, rule_off, AS_OF)  # the rule is off; "on" is switched on by itself
    assert (only.original.id, only.subject) == (on, "Second look: News")
    assert [r.original.id for r in resend.due(session, a, CONFIG, AS_OF)] == [on]  # "off" stays off
    resend.configure_resend(session, a, "off", enabled=None, subjects=None)  # back to the rule
    assert sorted(r.original.id for r in resend.due(session, a, CONFIG, AS_OF)) == sorted([on, off])
    with pytest.raises(resend.CampaignNotFound):
        resend.configure_resend(session, a, "nope", enabled=True, subjects=None)
    with pytest.raises(ConfigError, match="resend.subjects"):
        resend.configure_resend(session, a, "on", enabled=True, subjects=[])


def test_offer_for_fresh_semi_active_to_active_moves_once_per_cooldown(session):
    a = audience(session)
    warm = subscriber(session, a, "warm@x.org", "active")
    moved(session, a, warm, AS_OF - timedelta(days=1))
    stale = subscriber(session, a, "stale@x.org", "active")
    moved(session, a, stale, AS_OF - timedelta(days=30))
    from_new = subscriber(session, a, "fromnew@x.org", "active")
    moved(session, a, from_new, AS_OF - timedelta(days=1), from_class="new")
    cooled = subscriber(session, a, "again@x.org", "semi_active")
    moved(session, a, cooled, AS_OF - timedelta(days=1))
    assert ids(session, offer.warmed_up(a, CONFIG, AS_OF)) == {warm}
    config = CONFIG.replace(offer={"campaign_id": "offer1"})
    (action,) = offer.record(session, a, config, AS_OF)
    assert action.recipients == 1 and action.key == "offer:2026-08-31"
    # the next day: recorded already, so nobody qualifies again inside the cooldown
    assert ids(session, offer.warmed_up(a, config, AS_OF + timedelta(days=1))) == set()
    assert ids(session, offer.warmed_up(a, config, AS_OF + timedelta(days=91))) == set()  # no longer a fresh move


def test_protected_value_segments_are_never_reengaged_nor_sunset(session):
    from mailseg.models import SubscriberValue

    a = audience(session)
    config = CONFIG.replace(sunset={"protect_segments": ["cant_lose_them", "profitable_loyal"]})
    plain, vip, gold, waiting_vip = (subscriber(session, a, f"{n}@x.org") for n in ("plain", "vip", "gold", "waitvip"))
    for sub_id in (plain, vip, gold):
        sends(session, sub_id, 6)
    for sub_id, segment, quadrant in ((vip, "cant_lose_them", None), (gold, "lost", "profitable_loyal"),
                                      (waiting_vip, "cant_lose_them", None), (plain, "lost", None)):
        session.add(SubscriberValue(subscriber_id=sub_id, audience_id=a, as_of=AS_OF, rfm_segment=segment,
                                    quadrant=quadrant))
    session.add(ReengagementState(subscriber_id=waiting_vip, audience_id=a, state="waiting", attempt=1,
                                  started_at=AS_OF - timedelta(days=40), last_sent_at=AS_OF - timedelta(days=30)))
    session.flush()
    assert ids(session, reengagement.entrants(a, config, AS_OF)) == {plain}
    assert ids(session, reengagement.sunset_due(a, config, AS_OF)) == set()
    assert ids(session, reengagement.entrants(a, CONFIG, AS_OF)) == {plain, vip, gold}
    assert ids(session, reengagement.sunset_due(a, CONFIG, AS_OF)) == {waiting_vip}


def test_preferred_value_segments_are_always_eligible_and_skipped_ones_get_no_offer(session):
    from mailseg.models import SubscriberValue

    a = audience(session)
    capped, champion = subscriber(session, a, "capped@x.org"), subscriber(session, a, "champ@x.org")
    for sub_id in (capped, champion):
        sends(session, sub_id, 3, last=AS_OF - timedelta(days=5))
    warm = subscriber(session, a, "warm@x.org", "active")
    moved(session, a, warm, AS_OF - timedelta(days=1))
    session.add_all([SubscriberValue(subscriber_id=champion, audience_id=a, as_of=AS_OF, rfm_segment="champions"),
                     SubscriberValue(subscriber_id=warm, audience_id=a, as_of=AS_OF, rfm_segment="champions")])
    session.flush()
    config = CONFIG.replace(frequency={"prefer_segments": ["champions"]}, offer={"skip_segments": ["champions"]})
    assert ids(session, frequency.eligible(a, config, AS_OF)) == {champion, warm}
    assert ids(session, frequency.eligible(a, CONFIG, AS_OF)) == {warm}
    assert ids(session, offer.warmed_up(a, CONFIG, AS_OF)) == {warm}
    assert ids(session, offer.warmed_up(a, config, AS_OF)) == set()
