"""Uplift outcomes and the cohort list against plain Python references: experiments.outcomes.measure
gives, per metric and group, the n, sum and sum of squares a per-exposure loop in Python gives, on a
cohort of several exposure moments (a subscriber exposed at more than one), events of every type on
both sides of each window and on its bounds, the resend's campaign family, cancelled orders and the
class history; the verdicts' cohort list is kept as exposures are recorded."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from mailseg.config import EngagementConfig
from mailseg.experiments import exposures
from mailseg.experiments.outcomes import CohortKey, MetricSpec, measure
from mailseg.experiments.uplift import cohort_keys
from mailseg.models import Exposure, Subscriber

from .factories import make_audience, make_event, make_exposures, make_subscriber, moved, sent_campaign, utc

MONDAY = utc(2026, 8, 3, 10)
MOMENTS = (MONDAY, MONDAY + timedelta(days=2, hours=3), MONDAY + timedelta(days=5))
WEEK, MONTH = timedelta(days=7), timedelta(days=30)
SPECS = [MetricSpec(m, WEEK, False) for m in ("open", "click", "purchase", "revenue", "unsubscribe")] + [
    MetricSpec("open_cumulative", MONTH, True), MetricSpec("click_cumulative", MONTH, True),
    MetricSpec("reactivation", MONTH, False)]
TYPES = ("send", "open", "click", "bounce", "unsubscribe", "complaint", "purchase")
STATUSES = (None, "paid", "cancelled", "refunded")


@dataclass
class Row:
    subscriber: int
    at: datetime
    kind: str  # event type, or the class moved to
    machine: bool = False
    amount: float = 0.0
    status: str | None = None
    campaign: int | None = None


def _cohort(session, rng: random.Random):
    """Three moments of one resend cohort (each with its own campaign and a version of it); 40
    subscribers with random events and class changes around the moments."""
    audience = make_audience(session)
    subscribers = [make_subscriber(session, audience, f"s{i}@x.org").id for i in range(40)]
    parents, exposed = {}, []
    for index, moment in enumerate(MOMENTS):
        original = sent_campaign(session, audience.id, f"c{index}", moment - timedelta(days=3))
        parents[sent_campaign(session, audience.id, f"c{index}-v2", moment, parent_id=original, variant=2,
                              kind="resend")] = original
        parents[original] = None
        chosen = rng.sample(subscribers, 25)
        for held, group in ((False, chosen[:20]), (True, chosen[20:])):
            make_exposures(session, audience.id, "resend", f"resend:c{index}:v2", moment, group, held=held,
                           variant=2, campaign_id=original)
            exposed += [(sid, held, moment, original) for sid in group]
    rows = []
    for sid in subscribers:
        for _ in range(rng.randint(0, 14)):
            moment = rng.choice(MOMENTS)  # some rows exactly on a window's bounds
            at = rng.choice([moment, moment + WEEK, moment + MONTH, moment + timedelta(hours=rng.uniform(-72, 900))])
            kind = rng.choice(TYPES)
            row = Row(sid, at, kind, machine=rng.random() < 0.3, campaign=rng.choice([None, *parents]))
            if kind == "purchase":
                row.amount, row.status = round(rng.uniform(1, 90), 2), rng.choice(STATUSES)
            make_event(session, sid, kind, at, machine=row.machine, amount=row.amount if kind == "purchase" else None,
                       campaign_id=row.campaign, order_status=row.status)
            rows.append(row)
        for _ in range(rng.randint(0, 3)):
            to_class = rng.choice(("active", "semi_active", "inactive", "new"))
            at = rng.choice(MOMENTS) + timedelta(hours=rng.uniform(-72, 900))
            moved(session, audience.id, sid, at, from_class="inactive", to_class=to_class)
            rows.append(Row(sid, at, "class:" + to_class))
    session.commit()
    return CohortKey(audience.id, "resend", MONDAY.date(), 2, ""), exposed, rows, parents


def _counts(metric: str, row: Row) -> bool:
    """The outcome rules, written out: human opens and clicks, orders not cancelled or refunded,
    unsubscribes and complaints, moves to active or semi_active."""
    return {"open": row.kind == "open" and not row.machine, "click": row.kind == "click" and not row.machine,
            "purchase": row.kind == "purchase" and row.status not in ("cancelled", "refunded"),
            "revenue": row.kind == "purchase" and row.status not in ("cancelled", "refunded"),
            "unsubscribe": row.kind in ("unsubscribe", "complaint"),
            "reactivation": row.kind in ("class:active", "class:semi_active")}[metric]


def _reference(exposed, rows: list[Row], parents: dict) -> dict[str, dict[bool, tuple[int, float, float]]]:
    out = {spec.metric: {True: (0, 0.0, 0.0), False: (0, 0.0, 0.0)} for spec in SPECS}
    for sid, held, moment, campaign in exposed:
        for spec in SPECS:
            hits = [r for r in rows if r.subscriber == sid and moment < r.at <= moment + spec.horizon
                    and _counts(spec.base, r)
                    and (not spec.family or campaign in (r.campaign, parents.get(r.campaign)))]
            value = sum(r.amount for r in hits) if spec.base == "revenue" else float(bool(hits))
            n, total, total_sq = out[spec.metric][held]
            out[spec.metric][held] = (n + 1, total + value, total_sq + value * value)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_measure_equals_a_python_reference(session, seed):
    key, exposed, rows, parents = _cohort(session, random.Random(seed))
    measured = measure(session, key, SPECS, EngagementConfig())
    expected = _reference(exposed, rows, parents)
    for spec in SPECS:
        for held in (True, False):
            got = measured[spec.metric][held]
            # abs 0.01: the sums of amounts keep their Numeric(12, 2) type, so SQLite reads them in cents
            assert (got.n, got.total, got.total_sq) == pytest.approx(expected[spec.metric][held], abs=0.01), \
                (spec.metric, held)


def test_the_cohort_list_is_kept_as_exposures_are_recorded(session, config):
    """One row per cohort with the largest share recorded; an empty group lists no cohort."""
    audience = make_audience(session)
    for i in range(30):
        make_subscriber(session, audience, f"c{i}@x.org")
    everyone = select(Subscriber.id.label("id")).where(Subscriber.audience_id == audience.id)
    nobody = everyone.where(Subscriber.email == "nobody")
    for share, key, at in ((0.1, "offer:a", MONDAY), (0.3, "offer:b", MONDAY + timedelta(days=1)),
                           (0.2, "offer:c", MONDAY + timedelta(days=2)), (0.2, "offer:d", MONDAY + WEEK)):
        settings = config.replace(holdout={"offer_share": share})
        exposures.record(session, audience.id, settings, "offer", key, everyone, held=False, as_of=at)
    exposures.record(session, audience.id, config, "offer", "offer:e", nobody, held=False, as_of=MONDAY + 2 * WEEK)
    session.commit()
    listed = [(key.cohort, key.variant, key.salt, share) for key, share in cohort_keys(session, audience.id)]
    grouped = session.execute(select(Exposure.cohort, Exposure.variant, Exposure.salt, func.max(Exposure.share))
                              .group_by(Exposure.cohort, Exposure.variant, Exposure.salt)
                              .order_by(Exposure.cohort)).all()
    assert listed == [tuple(row) for row in grouped] == [(MONDAY.date(), 0, config.holdout.offer_salt, 0.3),
                                                         ((MONDAY + WEEK).date(), 0, config.holdout.offer_salt, 0.2)]
