"""The comparison of a treatment and a control group: difference treatment - control with a 95%
interval, relative lift and p-value, or "not enough data yet" with the minimum detectable effect.

Proportions: Newcombe's hybrid score interval for the difference (statsmodels
confint_proportions_2indep, method "newcomb") and the score test (test_proportions_2indep).
Means (revenue per subscriber): Welch's t interval and test from the groups' sums, with the
Welch-Satterthwaite degrees of freedom (scipy's ttest_ind_from_stats gives the test).
The minimum detectable effect is the difference a two-sided test at alpha finds with 80% power at
the current group sizes (normal approximation).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

from scipy import stats as sps
from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

from .outcomes import GroupSums

ALPHA = 0.05
POWER = 0.80


@dataclass(frozen=True)
class Comparison:
    kind: str  # proportion | mean
    treated_n: int
    control_n: int
    treated_value: float | None  # rate or mean
    control_value: float | None
    enough: bool
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    lift: float | None = None  # diff / control value; None when the control value is 0
    p_value: float | None = None
    mde: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def significant(self) -> bool:
        return self.enough and self.ci_low is not None and (self.ci_low > 0 or self.ci_high < 0)


def _mean_var(g: GroupSums) -> tuple[float, float]:
    mean = g.total / g.n
    var = (g.total_sq - g.n * mean * mean) / (g.n - 1) if g.n > 1 else 0.0
    return mean, max(var, 0.0)


def _z() -> float:
    return float(sps.norm.ppf(1 - ALPHA / 2) + sps.norm.ppf(POWER))


def mde_proportion(t: GroupSums, c: GroupSums) -> float | None:
    if t.n == 0 or c.n == 0:
        return None
    rate = (t.total + c.total) / (t.n + c.n)
    rate = min(max(rate, 1.0 / (t.n + c.n)), 0.5)  # an unseen outcome still has a detectable size
    return _z() * math.sqrt(rate * (1 - rate) * (1 / t.n + 1 / c.n))


def mde_mean(t: GroupSums, c: GroupSums) -> float | None:
    if t.n < 2 or c.n < 2:
        return None
    (_, vt), (_, vc) = _mean_var(t), _mean_var(c)
    return _z() * math.sqrt(vt / t.n + vc / c.n)


def compare_proportions(t: GroupSums, c: GroupSums, min_group: int) -> Comparison:
    rates = (t.total / t.n if t.n else None, c.total / c.n if c.n else None)
    enough = t.n >= min_group and c.n >= min_group
    if not enough:
        return Comparison("proportion", t.n, c.n, *rates, enough=False, mde=mde_proportion(t, c))
    with warnings.catch_warnings():  # statsmodels also computes the ratio and odds ratio, dividing by a zero rate
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = confint_proportions_2indep(t.total, t.n, c.total, c.n, method="newcomb", compare="diff",
                                               alpha=ALPHA)
    diff = rates[0] - rates[1]
    p_value = _p_value_proportions(t, c)
    lift = diff / rates[1] if rates[1] else None
    return Comparison("proportion", t.n, c.n, *rates, enough=True, diff=diff, ci_low=float(low), ci_high=float(high),
                      lift=lift, p_value=p_value, mde=mde_proportion(t, c))


def _p_value_proportions(t: GroupSums, c: GroupSums) -> float | None:
    if t.total + c.total == 0 or t.total + c.total == t.n + c.n:
        return 1.0  # both groups all 0 (or all 1): no difference to test
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = test_proportions_2indep(t.total, t.n, c.total, c.n, method="score", compare="diff")
    p = float(result.pvalue)
    return None if math.isnan(p) else p


def welch(t: GroupSums, c: GroupSums, alpha: float = ALPHA) -> tuple[float, float, float, float | None]:
    """(diff, low, high, p) of the means by Welch's t."""
    (mt, vt), (mc, vc) = _mean_var(t), _mean_var(c)
    diff = mt - mc
    se2 = vt / t.n + vc / c.n
    if se2 == 0:
        return diff, diff, diff, (1.0 if diff == 0 else None)
    df = se2 ** 2 / ((vt / t.n) ** 2 / (t.n - 1) + (vc / c.n) ** 2 / (c.n - 1))
    half = float(sps.t.ppf(1 - alpha / 2, df)) * math.sqrt(se2)
    p = sps.ttest_ind_from_stats(mt, math.sqrt(vt), t.n, mc, math.sqrt(vc), c.n, equal_var=False).pvalue
    return diff, diff - half, diff + half, float(p)


def compare_means(t: GroupSums, c: GroupSums, min_group: int) -> Comparison:
    means = (t.total / t.n if t.n else None, c.total / c.n if c.n else None)
    enough = t.n >= max(min_group, 2) and c.n >= max(min_group, 2)
    if not enough:
        return Comparison("mean", t.n, c.n, *means, enough=False, mde=mde_mean(t, c))
    diff, low, high, p = welch(t, c)
    lift = diff / means[1] if means[1] else None
    return Comparison("mean", t.n, c.n, *means, enough=True, diff=diff, ci_low=low, ci_high=high, lift=lift,
                      p_value=p, mde=mde_mean(t, c))
