"""Calibration: over 40 seeds of a small sandbox audience with a known true effect, the 95% intervals
of the uplift report contain the true difference in at least 90% of the experiments, and at zero
effect there is no systematic lift.

Each seed is a fresh sandbox list of 200 alike members (one propensity, no Apple Mail, no scanners,
no fatigue or drift), split by the offer policy's holdout hash (share 0.5, a salt per seed). Both
groups get two regular mails after the exposure; the treated group also gets the policy's mail: a
repeat of earlier content, opened with chance e (the model's resend_open). The outcome is the human
open rate within the 14-day horizon. Each regular mail is opened with chance p = 0.3, independently,
so the true difference is [1 - (1-p)^2 (1-e)] - [1 - (1-p)^2] = e (1-p)^2.

It runs on SQLite only: it checks a statistical property of the whole loop (80 experiments, a few
minutes of CPU on PostgreSQL), while every SQL piece under it (assignment, exposures, outcomes,
frozen verdicts, the sandbox) is tested on both databases by the other experiment tests.
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

SEEDS = range(40)
MEMBERS = 200
P_OPEN = 0.3
T0 = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)  # a Monday: the exposures' cohort


def model(config, seed: int, effect: float):
    return config.replace(
        platform={"kind": "sandbox"}, holdout={"offer_share": 0.5, "offer_salt": f"calibration-{seed}"},
        uplift={"min_group_size": 10},
        sandbox={"seed": seed, "propensity_sigma": 0.0, "apple_mpp_share": 0.0, "scanner_share": 0.0,
                 "active_share": 0.0, "semi_active_share": 1.0, "open_semi_active": P_OPEN,
                 "click_semi_active": 0.0, "fatigue_per_mail": 0.0, "unsubscribe": 0.0, "unsubscribe_fatigue": 0.0,
                 "hard_bounce": 0.0, "wake_per_week": 0.0, "fade_per_week": 0.0, "resend_open": effect})


def send(platform, list_id: str, template: str, segment: str | None = None) -> None:
    campaign = platform.create_campaign(list_id, segment, title="mail", subject="mail", from_name="Shop",
                                        reply_to="shop@example.com")
    platform.copy_content(template, campaign)
    platform.send_campaign(campaign)


# Experiments follow each other further apart than the engagement window (6 months), so each pull reads
# the four campaigns of its own experiment only.
SPACING = timedelta(weeks=27)
LIST_ID = "calibration"


class Calibration:
    """One sandbox list of alike members and its audience, reused by every experiment in turn (the
    model has no memory: no fatigue, no drift, opens change nobody's state)."""

    def __init__(self, database, session, config) -> None:
        self.database, self.session, self.config, self.runs = database, session, config, 0
        cfg = model(config, 0, 0.0)
        with database.transaction() as s:
            world.ensure_list(s, LIST_ID, clock=T0 - timedelta(days=8))
            world.add_members(s, LIST_ID, [world.NewMember(f"m{i}@cal.example", T0 - timedelta(days=100))
                                           for i in range(MEMBERS)], cfg.sandbox)
        self.audience = Audience(name=LIST_ID, provider="sandbox", provider_list_id=LIST_ID)
        session.add(self.audience)
        session.commit()

    def clock(self, cfg, moment: datetime) -> None:
        with self.database.transaction() as s:
            world.set_clock(s, LIST_ID, moment, cfg.sandbox)

    def experiment(self, seed: int, effect: float) -> dict:
        cfg, session, audience = model(self.config, seed, effect), self.session, self.audience
        start = T0 + SPACING * self.runs
        self.runs += 1
        with self.database.transaction() as s:
            earlier, *regular = (world.add_template(s, LIST_ID, title=f"t{i}", subject="s",
                                                    html=f"<p>{effect}-{seed}-{i}</p>") for i in range(3))
        platform = platform_factory(cfg)()
        self.clock(cfg, start - timedelta(days=7))
        send(platform, LIST_ID, earlier)  # the content the policy's mail repeats, a week before
        self.clock(cfg, start)
        if self.runs == 1:  # the members come in with the first pull; nobody joins or leaves later
            pull_audience(session, audience, cfg, platform, as_of=start)
        key = f"offer:{effect}:{seed}"
        treated, held = exposures.split(cfg, "offer", select(Subscriber.id).where(Subscriber.audience_id == audience.id))
        for group, is_held in ((treated, False), (held, True)):
            exposures.record(session, audience.id, cfg, "offer", key, group, held=is_held, as_of=start)
        session.commit()
        emails = session.scalars(select(Subscriber.email).where(Subscriber.id.in_(treated))).all()
        segment = platform.ensure_static_segment(LIST_ID, key).id
        for offset in range(0, len(emails), platform.max_batch):
            platform.update_segment(LIST_ID, segment, add=emails[offset:offset + platform.max_batch], remove=[])
        send(platform, LIST_ID, earlier, segment)  # the policy's mail, to the treated only
        for day, template in enumerate(regular, start=1):
            self.clock(cfg, start + timedelta(days=day))
            send(platform, LIST_ID, template)  # everyone's regular mail
        self.clock(cfg, start + timedelta(days=22))
        pull_audience(session, audience, cfg, platform, as_of=start + timedelta(days=22))
        freeze_due(session, audience.id, cfg, start + timedelta(days=22))
        verdict = session.scalar(select(Verdict).where(Verdict.audience_id == audience.id, Verdict.metric == "open",
                                                       Verdict.salt == f"calibration-{seed}",
                                                       Verdict.cohort == start.date()))
        return verdict.result


@pytest.fixture
def sqlite_database(tmp_path, sqlite_template):
    import shutil

    from mailseg.db import Database

    path = tmp_path / "calibration.sqlite3"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    yield db
    db.dispose()


@pytest.mark.parametrize("effect", [0.0, 0.15])
def test_intervals_cover_the_true_effect(sqlite_database, effect):
    from mailseg.config import Config

    from .conftest import NO_HOLDOUTS

    config = Config().replace(database={"url": sqlite_database.url}, holdout=NO_HOLDOUTS)
    session = sqlite_database.session()
    calibration = Calibration(sqlite_database, session, config)
    truth = effect * (1 - P_OPEN) ** 2
    results = [calibration.experiment(seed, effect) for seed in SEEDS]
    assert all(r["enough"] for r in results)
    covered = sum(r["ci_low"] <= truth <= r["ci_high"] for r in results)
    assert covered >= 36, f"effect {effect}: {covered} of 40 intervals contain the true difference {truth:.4f}"
    diffs = [r["diff"] for r in results]
    standard_error = statistics.stdev(diffs) / len(diffs) ** 0.5
    assert abs(statistics.mean(diffs) - truth) < 3 * standard_error  # no systematic lift (or loss)
    if effect == 0:
        assert sum(r["ci_low"] > 0 for r in results) <= 4  # "wins" at zero effect: about 1 in 40 expected
    session.close()
