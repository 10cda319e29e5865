"""Verdicts: nothing before a cohort's horizon, computed once when it closes (later data never changes
it), outcomes counted by the counted-event rule, and the stable holdout assignment in SQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import func, literal, select
from statsmodels.stats.proportion import confint_proportions_2indep

from mailseg.experiments.assignment import bucket, bucket_reference, held_out_reference
from mailseg.experiments.uplift import freeze_due, uplift_report
from mailseg.models import Subscriber, Verdict

from .factories import make_audience, make_event, make_exposures, make_subscriber, sent_campaign, utc

EXPOSED = utc(2026, 8, 3, 10)  # a Monday: the cohort is the week of 2026-08-03
CLOSES = utc(2026, 8, 10) + timedelta(days=14)  # week's end + the offer's 14-day horizon


def offer_cohort(session):
    """40 treated, 40 held out: 20 vs 8 human openers (plus machine opens that must not count),
    10 vs 2 buyers of 30.00 each."""
    audience = make_audience(session)
    treated = [make_subscriber(session, audience, f"t{i}@x.org").id for i in range(40)]
    held = [make_subscriber(session, audience, f"h{i}@x.org").id for i in range(40)]
    make_exposures(session, audience.id, "offer", "offer:2026-08-03", EXPOSED, treated, held=False)
    make_exposures(session, audience.id, "offer", "offer:2026-08-03", EXPOSED, held, held=True)
    for sid in treated[:20] + held[:8]:
        make_event(session, sid, "open", EXPOSED + timedelta(days=2))
    for sid in held[20:]:
        make_event(session, sid, "open", EXPOSED + timedelta(days=1), machine=True)  # Apple's proxy: not a reader
    make_event(session, treated[30], "open", EXPOSED - timedelta(days=1))  # before the exposure
    make_event(session, treated[31], "open", EXPOSED + timedelta(days=15))  # after the horizon
    for sid in treated[:10] + held[:2]:
        make_event(session, sid, "purchase", EXPOSED + timedelta(days=3), amount=30)
    session.commit()
    return audience.id, treated, held


def test_no_verdict_before_the_horizon_then_once(session, config):
    audience_id, treated, held = offer_cohort(session)
    assert freeze_due(session, audience_id, config, CLOSES - timedelta(hours=1)) == 0
    (offer,) = uplift_report(session, audience_id, config, policy="offer", as_of=CLOSES - timedelta(hours=1))
    assert offer.pooled == [] and [(o.treated, o.held_out) for o in offer.open] == [(40, 40)]

    assert freeze_due(session, audience_id, config, CLOSES) == 5  # open, click, purchase, revenue, unsubscribe
    (offer,) = uplift_report(session, audience_id, config, policy="offer", as_of=CLOSES)
    opens = offer.pooled_metric("open").comparison
    low, high = confint_proportions_2indep(20, 40, 8, 40, method="newcomb", compare="diff")
    assert (opens.diff, opens.ci_low, opens.ci_high) == (pytest.approx(0.3), pytest.approx(low), pytest.approx(high))
    revenue = offer.pooled_metric("revenue").comparison
    assert revenue.diff == pytest.approx(10 * 30 / 40 - 2 * 30 / 40)
    assert offer.open == []

    # late data inside the window arrives: the cohort's verdict stays as it was taken
    for sid in held[8:30]:
        make_event(session, sid, "open", EXPOSED + timedelta(days=3))
    session.commit()
    assert freeze_due(session, audience_id, config, CLOSES + timedelta(days=30)) == 0
    (again,) = uplift_report(session, audience_id, config, policy="offer")
    assert again.pooled_metric("open").comparison == opens
    assert session.scalar(select(func.count()).select_from(Verdict)) == 5


def test_cohorts_of_the_same_experiment_pool(session, config):
    audience_id, treated, held = offer_cohort(session)
    later = EXPOSED + timedelta(weeks=1)
    make_exposures(session, audience_id, "offer", "offer:2026-08-10", later, treated[:20], held=False)
    make_exposures(session, audience_id, "offer", "offer:2026-08-10", later, held[:20], held=True)
    session.commit()
    freeze_due(session, audience_id, config, CLOSES + timedelta(weeks=1))
    (offer,) = uplift_report(session, audience_id, config, policy="offer")
    pooled = offer.pooled_metric("open")
    assert pooled.cohorts == 2 and pooled.comparison.treated_n == 60 and pooled.comparison.control_n == 60


def test_resend_outcomes_count_the_campaign_family_in_each_moments_window(session, config):
    """A resend cohort of two runs (two moments, two campaigns): an exposure's opens count on its own
    campaign and versions only, in its own moment's window (no other exposure's campaign or window)."""
    audience = make_audience(session)
    first, second = EXPOSED, EXPOSED + timedelta(days=2)
    spring = sent_campaign(session, audience.id, "spring", first - timedelta(days=3))
    spring_v2 = sent_campaign(session, audience.id, "spring-v2", first, parent_id=spring, variant=2, kind="resend")
    summer = sent_campaign(session, audience.id, "summer", second - timedelta(days=3))
    a = [make_subscriber(session, audience, f"a{i}@x.org").id for i in range(6)]
    b = [make_subscriber(session, audience, f"b{i}@x.org").id for i in range(4)]
    make_exposures(session, audience.id, "resend", "resend:spring:v2", first, a[:3], held=False, variant=2,
                   campaign_id=spring)
    make_exposures(session, audience.id, "resend", "resend:spring:v2", first, a[3:], held=True, variant=2,
                   campaign_id=spring)
    make_exposures(session, audience.id, "resend", "resend:summer:v2", second, b[:2], held=False, variant=2,
                   campaign_id=summer)
    make_exposures(session, audience.id, "resend", "resend:summer:v2", second, b[2:], held=True, variant=2,
                   campaign_id=summer)
    make_event(session, a[0], "open", first + timedelta(days=1), campaign_id=spring_v2)  # a version: counts
    make_event(session, a[1], "open", first + timedelta(days=1), campaign_id=spring)  # the original: counts
    make_event(session, a[2], "open", first + timedelta(days=1), campaign_id=summer)  # another exposure's
    make_event(session, a[3], "open", first + timedelta(days=8), campaign_id=spring)  # after the first window
    make_event(session, b[0], "open", first + timedelta(days=8), campaign_id=summer)  # inside the second's window
    make_event(session, b[2], "purchase", second + timedelta(days=1), amount=12.5)  # any campaign's order counts
    session.commit()
    assert freeze_due(session, audience.id, config, utc(2026, 8, 10) + timedelta(days=7)) == 5
    groups = dict(session.execute(select(Verdict.metric, Verdict.groups)).all())
    assert groups["open"]["treated"] == {"n": 5, "sum": 3.0, "sum_sq": 3.0}
    assert groups["open"]["control"] == {"n": 5, "sum": 0.0, "sum_sq": 0.0}
    assert groups["revenue"]["control"] == {"n": 5, "sum": 12.5, "sum_sq": 12.5 ** 2}
    assert groups["purchase"]["treated"]["sum"] == 0


def test_assignment_in_sql_is_the_reference_and_stable(session, config):
    audience = make_audience(session)
    session.add_all(Subscriber(audience_id=audience.id, email=f"s{i}@x.org", subscribed_at=EXPOSED) for i in range(2000))
    session.flush()
    ids = list(session.scalars(select(Subscriber.id)))
    session.commit()
    in_sql = dict(session.execute(select(Subscriber.id, bucket("resend", "spring", Subscriber.id))).all())
    assert in_sql == {sid: bucket_reference("resend", "spring", sid) for sid in ids}
    held = sum(held_out_reference("resend", "spring", 0.1, sid) for sid in ids)
    assert 200 - 4 * 13.4 < held < 200 + 4 * 13.4  # binomial(2000, 0.1): mean 200, sd 13.4
    resalted = sum(held_out_reference("resend", "autumn", 0.1, sid) != held_out_reference("resend", "spring", 0.1, sid)
                   for sid in ids)
    assert resalted > 200  # a new salt draws a new split (independent: about 18% change group)
    # another process computes the same groups (no per-process hash seed involved)
    code = ("from mailseg.experiments.assignment import held_out_reference as h; "
            f"print(sum(h('resend', 'spring', 0.1, i) for i in {ids!r}))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == \
        str(held)
    assert session.scalar(select(bucket("cap", "", literal(2**31 + 5)))) == bucket_reference("cap", "", 2**31 + 5)


def test_uplift_command_in_words_and_json(cli, session, config):
    import json

    audience_id, treated, held = offer_cohort(session)
    table = cli("uplift", "--policy", "offer")
    assert table.exit_code == 0, table.output
    assert "offer: purchases: not enough data yet" not in table.output  # 40 per group is enough here
    assert "+20.0 points purchases (95% CI" in table.output and "40 treated vs 40 held out" in table.output
    assert "unsubscribes and complaints" in table.output  # the harm beside the benefit
    data = json.loads(cli("uplift", "--policy", "offer", "--format", "json").output)
    (offer,) = data
    purchases = next(p for p in offer["pooled"] if p["metric"] == "purchase")
    assert purchases["comparison"]["diff"] == pytest.approx(0.2) and purchases["cohorts"] == 1
    assert cli("uplift", "--policy", "nothing").exit_code == 2
