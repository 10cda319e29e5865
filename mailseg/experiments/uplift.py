"""Uplift verdicts: for every cohort (policy, week of exposure, resend version, salt) whose horizon has
passed, each metric's comparison is computed ONCE and stored (experiment_verdicts); later data never
changes it, and nothing is shown for a cohort before its horizon (no peeking). The report pools the
frozen cohorts of the same experiment (same salt and version) by adding their groups' sums.

A cohort closes at its week's end (Monday + 7 days, 00:00 UTC) plus the policy's horizon
(uplift.<policy>_horizon_days): every exposure of the week then had its full horizon.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..config import Config
from ..models import ExperimentCohort, Exposure, Verdict, utcnow
from .outcomes import PROPORTIONS, REVENUE, CohortKey, GroupSums, MetricSpec, measure
from .stats import Comparison, compare_means, compare_proportions, mde_proportion

COMMON = ("open", "click", "purchase", REVENUE, "unsubscribe")
METRICS = {"cap": ("reactivation",) + COMMON, "reengagement": ("reactivation",) + COMMON, "resend": COMMON,
           "offer": COMMON, "plan": COMMON}
# The metric a policy is judged on, and the harm shown beside it.
BENEFIT = {"cap": "reactivation", "reengagement": "reactivation", "resend": "open", "offer": "purchase",
           "plan": "click"}
HARM = "unsubscribe"
CUMULATIVE = ("open_cumulative", "click_cumulative")  # resend versions 2..n, on version 2's cohort
COHORTS = ExperimentCohort.__table__


def horizon_days(config: Config, policy: str) -> int:
    return getattr(config.uplift, f"{policy}_horizon_days")


def metric_specs(config: Config, policy: str, variant: int) -> list[MetricSpec]:
    base = timedelta(days=horizon_days(config, policy))
    specs = [MetricSpec(m, base, policy == "resend" and m in ("open", "click")) for m in METRICS[policy]]
    if policy == "resend" and variant == 2:
        # versions 2..n: the later versions go out after_days apart, so the horizon stretches to the last one's
        longer = base + timedelta(days=config.resend.after_days * max(0, config.resend.max_versions - 2))
        specs += [MetricSpec(m, longer, True) for m in CUMULATIVE]
    return specs


def closes_at(cohort: date, spec: MetricSpec) -> datetime:
    return datetime.combine(cohort + timedelta(days=7), time(0), tzinfo=timezone.utc) + spec.horizon


def compare(metric: str, groups: dict[bool, GroupSums], min_group: int) -> Comparison:
    treated, control = groups[False], groups[True]
    if metric == REVENUE:
        return compare_means(treated, control, min_group)
    return compare_proportions(treated, control, min_group)


def cohort_keys(session: Session, audience_id: int, policy: str | None = None) -> list[tuple[CohortKey, float]]:
    """The audience's cohorts and their share, from experiment_cohorts (one row per cohort, written
    with its exposures): the cost follows the number of cohorts, not of exposures."""
    stmt = (select(COHORTS.c.policy, COHORTS.c.cohort, COHORTS.c.variant, COHORTS.c.salt, COHORTS.c.share)
            .where(COHORTS.c.audience_id == audience_id)
            .order_by(COHORTS.c.policy, COHORTS.c.cohort, COHORTS.c.variant, COHORTS.c.salt))
    if policy is not None:
        stmt = stmt.where(COHORTS.c.policy == policy)
    return [(CohortKey(audience_id, p, c, v, s), share) for p, c, v, s, share in session.execute(stmt)]


def freeze_due(session: Session, audience_id: int, config: Config, as_of: datetime | None = None) -> int:
    """Compute and store the verdicts of every metric whose cohort closed by as_of and has none yet:
    a cohort with nothing due (still open, or judged) costs no statement."""
    as_of = as_of or utcnow()
    done = {(v.policy, v.cohort, v.variant, v.salt, v.metric) for v in session.execute(
        select(Verdict.policy, Verdict.cohort, Verdict.variant, Verdict.salt, Verdict.metric)
        .where(Verdict.audience_id == audience_id))}
    written = 0
    for key, share in cohort_keys(session, audience_id):
        due = [spec for spec in metric_specs(config, key.policy, key.variant)
               if closes_at(key.cohort, spec) <= as_of
               and (key.policy, key.cohort, key.variant, key.salt, spec.metric) not in done]
        if not due:
            continue
        measured = measure(session, key, due, config.engagement)
        for spec in due:
            groups = measured[spec.metric]
            result = compare(spec.base, groups, config.uplift.min_group_size)
            session.add(Verdict(audience_id=audience_id, policy=key.policy, cohort=key.cohort, variant=key.variant,
                                salt=key.salt, share=share, horizon_days=spec.horizon.days, metric=spec.metric,
                                groups={"treated": groups[False].as_dict(), "control": groups[True].as_dict()},
                                result=result.as_dict(), closed_at=closes_at(key.cohort, spec), computed_at=utcnow()))
            written += 1
    session.commit()
    return written


# --- the report -------------------------------------------------------------------------------

@dataclass
class CohortVerdict:
    cohort: date
    variant: int
    metric: str
    closed_at: datetime
    comparison: Comparison


@dataclass
class OpenCohort:
    cohort: date
    variant: int
    treated: int
    held_out: int
    closes_at: datetime
    mde: float | None  # on the benefit metric, at the current sizes


@dataclass
class Pooled:
    salt: str
    variant: int
    metric: str
    cohorts: int
    comparison: Comparison


@dataclass
class PolicyUplift:
    policy: str
    share: float
    salt: str
    benefit: str
    pooled: list[Pooled] = field(default_factory=list)
    cohorts: list[CohortVerdict] = field(default_factory=list)
    open: list[OpenCohort] = field(default_factory=list)

    def pooled_metric(self, metric: str, variant: int | None = None) -> Pooled | None:
        return next((p for p in self.pooled if p.metric == metric and p.salt == self.salt
                     and (variant is None or p.variant == variant)), None)


def uplift_report(session: Session, audience_id: int, config: Config, *, policy: str | None = None,
                  as_of: datetime | None = None) -> list[PolicyUplift]:
    """Frozen verdicts per cohort, pooled per experiment, and the cohorts still running."""
    as_of = as_of or utcnow()
    policies = [policy] if policy else list(METRICS)
    out = []
    for name in policies:
        report = PolicyUplift(name, getattr(config.holdout, f"{name}_share"), getattr(config.holdout, f"{name}_salt"),
                              BENEFIT[name])
        verdicts = session.scalars(select(Verdict).where(Verdict.audience_id == audience_id, Verdict.policy == name)
                                   .order_by(Verdict.cohort, Verdict.variant, Verdict.id)).all()
        pools: dict[tuple[str, int, str], tuple[GroupSums, GroupSums, int]] = {}
        for v in verdicts:
            report.cohorts.append(CohortVerdict(v.cohort, v.variant, v.metric, v.closed_at, Comparison(**v.result)))
            t, c, n = pools.get((v.salt, v.variant, v.metric), (GroupSums(), GroupSums(), 0))
            t.add(**_sums(v.groups["treated"]))
            c.add(**_sums(v.groups["control"]))
            pools[(v.salt, v.variant, v.metric)] = (t, c, n + 1)
        for (salt, variant, metric), (t, c, n) in sorted(pools.items()):
            base = metric.removesuffix("_cumulative")
            report.pooled.append(Pooled(salt, variant, metric, n, compare(base, {False: t, True: c},
                                                                          config.uplift.min_group_size)))
        report.open = _open_cohorts(session, audience_id, config, name, verdicts, as_of)
        out.append(report)
    return out


def _sums(data: dict) -> dict:
    return {"n": data["n"], "total": data["sum"], "total_sq": data["sum_sq"]}


def _open_cohorts(session: Session, audience_id: int, config: Config, policy: str, verdicts,
                  as_of: datetime) -> list[OpenCohort]:
    judged = {(v.cohort, v.variant, v.salt) for v in verdicts if v.metric == BENEFIT[policy]}
    out = []
    for key, _ in cohort_keys(session, audience_id, policy):
        if (key.cohort, key.variant, key.salt) in judged:
            continue
        sizes = dict(session.execute(select(Exposure.held_out, func.count()).where(
            Exposure.audience_id == audience_id, Exposure.policy == policy, Exposure.cohort == key.cohort,
            Exposure.variant == key.variant, Exposure.salt == key.salt).group_by(Exposure.held_out)).all())
        treated, held = sizes.get(False, 0), sizes.get(True, 0)
        spec = next(s for s in metric_specs(config, policy, key.variant) if s.metric == BENEFIT[policy])
        # at a 50% outcome rate (the largest variance): no outcome is looked at before the horizon
        mde = mde_proportion(GroupSums(treated, treated / 2, treated / 2), GroupSums(held, held / 2, held / 2))
        out.append(OpenCohort(key.cohort, key.variant, treated, held, closes_at(key.cohort, spec), mde))
    return out


__all__ = ["PROPORTIONS", "PolicyUplift", "freeze_due", "uplift_report"]
