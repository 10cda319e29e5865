"""Calibration: over 40 experiments (40 seeds of the holdout split) with a known true effect, the 95%
intervals of the uplift report contain the true difference in at least 90% of them, and at zero
effect there is no systematic lift. Runs on SQLite and PostgreSQL.

The 40 experiments run side by side on one sandbox list of 40 blocks of 200 alike members (one
propensity, no Apple Mail, no scanners, no fatigue or drift): experiment i is block i, split by the
offer policy's holdout hash with its own salt (share 0.5, salt "calibration-i"), recorded as its own
cohort and judged by its own frozen verdict. Every member's reactions are independent draws of the
behaviour model, and the blocks share no member, so the 40 experiments are independent, as 40
sequential runs would be, at the cost of one: four mails, one pull, one verdict pass.

All get two regular mails after the exposure; the treated also get the policy's mail: a repeat of
earlier content, opened with chance e (the model's resend_open). The outcome is the human open rate
within the 14-day horizon. Each regular mail is opened with chance p = 0.3, independently, so the true
difference is [1 - (1-p)^2 (1-e)] - [1 - (1-p)^2] = e (1-p)^2.
"""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from mailseg.experiments import exposures
from mailseg.experiments.uplift import freeze_due
from mailseg.models import Audience, Subscriber, Verdict
from mailseg.providers import platform_factory
from mailseg.sandbox import world
from mailseg.sync.pull import pull_audience


EXPERIMENTS = 40
MEMBERS = 200  # per experiment
P_OPEN = 0.3
T0 = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)  # a Monday: the exposures' cohort
LIST_ID = "calibration"


def model(config, effect: float, experiment: int = 0):
    return config.replace(
        platform={"kind": "sandbox"}, holdout={"offer_share": 0.5, "offer_salt": f"calibration-{experiment}"},
        uplift={"min_group_size": 10},
        sandbox={"seed": 2026 + int(effect * 100), "propensity_sigma": 0.0, "apple_mpp_share": 0.0,
                 "scanner_share": 0.0, "active_share": 0.0, "semi_active_share": 1.0, "open_semi_active": P_OPEN,
                 "click_semi_active": 0.0, "fatigue_per_mail": 0.0, "unsubscribe": 0.0, "unsubscribe_fatigue": 0.0,
                 "hard_bounce": 0.0, "wake_per_week": 0.0, "fade_per_week": 0.0, "resend_open": effect})


def send(platform, template: str, segment: str | None = None) -> None:
    campaign = platform.create_campaign(LIST_ID, segment, title="mail", subject="mail", from_name="Shop",
                                        reply_to="shop@example.com")
    platform.copy_content(template, campaign)
    platform.send_campaign(campaign)


def run_experiments(database, config, effect: float) -> list[dict]:
    """The 40 experiments at once; each one's frozen verdict on the open rate."""
    cfg = model(config, effect)
    with database.transaction() as s:
        world.ensure_list(s, LIST_ID, clock=T0 - timedelta(days=8))
        world.add_members(s, LIST_ID, [world.NewMember(f"m{i:05d}@cal.example", T0 - timedelta(days=100))
                                       for i in range(EXPERIMENTS * MEMBERS)], cfg.sandbox)
        earlier, *regular = (world.add_template(s, LIST_ID, title=f"t{i}", subject="s", html=f"<p>{effect}-{i}</p>")
                             for i in range(3))

    def clock(moment: datetime) -> None:
        with database.transaction() as s:
            world.set_clock(s, LIST_ID, moment, cfg.sandbox)

    platform = platform_factory(cfg)()
    with database.session() as session:
        audience = Audience(name=LIST_ID, provider="sandbox", provider_list_id=LIST_ID)
        session.add(audience)
        session.commit()
        clock(T0 - timedelta(days=7))
        send(platform, earlier)  # the content the policy's mail repeats, a week before
        clock(T0)
        pull_audience(session, audience, cfg, platform, as_of=T0)
        ids = session.scalars(select(Subscriber.id).where(Subscriber.audience_id == audience.id)
                              .order_by(Subscriber.email)).all()
        treated_emails = []
        for experiment in range(EXPERIMENTS):
            block = ids[experiment * MEMBERS:(experiment + 1) * MEMBERS]
            own = model(config, effect, experiment)
            treated, held = exposures.split(own, "offer", select(Subscriber.id).where(Subscriber.id.in_(block)))
            for group, is_held in ((treated, False), (held, True)):
                exposures.record(session, audience.id, own, "offer", f"offer:{experiment}", group, held=is_held,
                                 as_of=T0)
            treated_emails += session.scalars(select(Subscriber.email).where(Subscriber.id.in_(treated))).all()
        session.commit()
        segment = platform.ensure_static_segment(LIST_ID, "treated").id
        for offset in range(0, len(treated_emails), platform.max_batch):
            platform.update_segment(LIST_ID, segment, add=treated_emails[offset:offset + platform.max_batch],
                                    remove=[])
        send(platform, earlier, segment)  # the policy's mail, to the treated only
        for day, template in enumerate(regular, start=1):
            clock(T0 + timedelta(days=day))
            send(platform, template)  # everyone's regular mail
        end = T0 + timedelta(days=22)
        clock(end)
        pull_audience(session, audience, cfg, platform, as_of=end)
        freeze_due(session, audience.id, cfg, end)
        verdicts = {v.salt: v.result for v in session.scalars(select(Verdict).where(
            Verdict.audience_id == audience.id, Verdict.metric == "open", Verdict.cohort == T0.date()))}
    assert len(verdicts) == EXPERIMENTS
    return [verdicts[f"calibration-{experiment}"] for experiment in range(EXPERIMENTS)]


@pytest.mark.parametrize("effect", [0.0, 0.15])
def test_intervals_cover_the_true_effect(database, config, effect):
    truth = effect * (1 - P_OPEN) ** 2
    results = run_experiments(database, config, effect)
    assert all(r["enough"] for r in results)
    covered = sum(r["ci_low"] <= truth <= r["ci_high"] for r in results)
    assert covered >= 36, f"effect {effect}: {covered} of 40 intervals contain the true difference {truth:.4f}"
    diffs = [r["diff"] for r in results]
    standard_error = statistics.stdev(diffs) / len(diffs) ** 0.5
    assert abs(statistics.mean(diffs) - truth) < 3 * standard_error  # no systematic lift (or loss)
    if effect == 0:
        assert sum(r["ci_low"] > 0 for r in results) <= 4  # "wins" at zero effect: about 1 in 40 expected
