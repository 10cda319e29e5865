"""The interval arithmetic: Newcombe's hybrid score interval against Newcombe's own published values
(Statistics in Medicine 1998, table II, method 10) and statsmodels; Welch from group sums against
statsmodels on the raw values; "not enough data yet" and the detectable effect."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats import proportion
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from mailseg.experiments.outcomes import GroupSums
from mailseg.experiments.stats import compare_means, compare_proportions


def prop(n: int, x: int) -> GroupSums:
    return GroupSums(n, x, x)


@pytest.mark.parametrize("t, c, low, high", [
    ((70, 56), (80, 48), 0.0524, 0.3339),
    ((10, 9), (10, 3), 0.1705, 0.8090),
    ((7, 6), (7, 2), 0.0582, 0.8062),
    ((56, 5), (29, 0), -0.0381, 0.1926),
    ((10, 0), (20, 0), -0.1611, 0.2775),  # zero cells: the hybrid score interval stays informative
    ((10, 0), (10, 0), -0.2775, 0.2775),
    ((10, 10), (20, 0), 0.6791, 1.0),
])
def test_newcombe_interval_matches_the_published_table(t, c, low, high):
    result = compare_proportions(prop(*t), prop(*c), min_group=2)
    assert result.ci_low == pytest.approx(low, abs=5e-4) and result.ci_high == pytest.approx(high, abs=5e-4)
    assert result.diff == pytest.approx(t[1] / t[0] - c[1] / c[0])


def test_proportion_p_value_and_lift():
    result = compare_proportions(prop(2000, 260), prop(220, 20), min_group=30)
    expected = proportion.test_proportions_2indep(260, 2000, 20, 220, method="score", compare="diff").pvalue
    assert result.p_value == pytest.approx(expected)
    assert result.lift == pytest.approx((0.13 - 20 / 220) / (20 / 220))


def test_welch_from_sums_matches_statsmodels_on_the_raw_values():
    rng = np.random.default_rng(3)
    treated = np.where(rng.random(400) < 0.1, rng.lognormal(4, 0.5, 400), 0.0)
    control = np.where(rng.random(150) < 0.05, rng.lognormal(4, 0.5, 150), 0.0)
    sums = lambda v: GroupSums(len(v), float(v.sum()), float((v * v).sum()))  # noqa: E731
    result = compare_means(sums(treated), sums(control), min_group=30)
    reference = CompareMeans(DescrStatsW(treated), DescrStatsW(control))
    low, high = reference.tconfint_diff(alpha=0.05, usevar="unequal")
    assert (result.ci_low, result.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert result.p_value == pytest.approx(reference.ttest_ind(usevar="unequal")[1])
    assert result.diff == pytest.approx(treated.mean() - control.mean())


def test_too_small_groups_get_no_verdict_but_a_detectable_effect():
    result = compare_proportions(prop(200, 30), prop(12, 1), min_group=30)
    assert not result.enough and result.diff is None and result.ci_low is None
    assert 0.05 < result.mde < 0.5  # 12 held out: only large effects are detectable
    bigger = compare_proportions(prop(20_000, 3000), prop(2000, 250), min_group=30)
    assert bigger.mde < 0.03
