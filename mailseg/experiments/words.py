"""The figures of a verdict, ready for words: differences in percentage points (proportions) or in
amount per subscriber (revenue). The CLI and the panel word them (the panel through its catalogue)."""

from __future__ import annotations

from dataclasses import dataclass

from .stats import Comparison
from .uplift import PolicyUplift

POLICY_NAMES = {"cap": "frequency cap", "reengagement": "re-engagement", "resend": "resend to non-openers",
                "offer": "offer", "plan": "campaign plans"}
METRIC_NAMES = {"reactivation": "reactivation", "open": "human opens", "click": "human clicks",
                "purchase": "purchases", "revenue": "revenue per subscriber", "unsubscribe": "unsubscribes and complaints",
                "open_cumulative": "human opens, versions 2..n together",
                "click_cumulative": "human clicks, versions 2..n together"}


@dataclass(frozen=True)
class Figures:
    metric: str
    points: bool  # a difference of proportions, in percentage points
    diff: float | None
    low: float | None
    high: float | None
    lift: float | None
    p_value: float | None
    treated: int
    held_out: int
    enough: bool
    mde: float | None
    verdict: str  # better | worse | unclear | waiting

    def signed(self, value: float | None) -> str:
        if value is None:
            return "?"
        return f"{value * 100:+.1f}" if self.points else f"{value:+.2f}"

    def sentence(self, policy: str) -> str:
        """English, for the command line: 're-engagement: +4.1 points reactivation (95% CI +1.2 to +7.0), ...'."""
        name, metric = POLICY_NAMES[policy], METRIC_NAMES[self.metric]
        if not self.enough:
            mde = f"; detectable now: {self.signed(self.mde).lstrip('+')}{' points' if self.points else ''}" \
                if self.mde is not None else ""
            return f"{name}: {metric}: not enough data yet ({self.treated:,} treated vs {self.held_out:,} held out{mde})"
        unit = " points" if self.points else ""
        return (f"{name}: {self.signed(self.diff)}{unit} {metric} (95% CI {self.signed(self.low)} to "
                f"{self.signed(self.high)}), {self.treated:,} treated vs {self.held_out:,} held out")


def figures(metric: str, comparison: Comparison) -> Figures:
    c = comparison
    if not c.enough:
        verdict = "waiting"
    elif c.ci_low > 0:
        verdict = "better"
    elif c.ci_high < 0:
        verdict = "worse"
    else:
        verdict = "unclear"
    return Figures(metric, c.kind == "proportion", c.diff, c.ci_low, c.ci_high, c.lift, c.p_value, c.treated_n,
                   c.control_n, c.enough, c.mde, verdict)


def headline(report: PolicyUplift) -> tuple[Figures | None, Figures | None]:
    """(benefit, harm) of the current experiment pooled over its frozen cohorts (version 2 for resends)."""
    variant = 2 if report.policy == "resend" else 0
    benefit = report.pooled_metric(report.benefit, variant)
    harm = report.pooled_metric("unsubscribe", variant)
    return (figures(benefit.metric, benefit.comparison) if benefit else None,
            figures(harm.metric, harm.comparison) if harm else None)
