"""The named value segments: the RFM segment table, the quadrants, and what to do with each."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from sqlalchemy import case, literal

from ..models import PROSPECT
from ..words import N_

OTHER_SEGMENT = "other"
_RULE = re.compile(r"^([a-z][a-z0-9_]{0,39})((?:\s+[RFM][1-5](?:-[1-5])?){3})$")
_RANGE = re.compile(r"([RFM])([1-5])(?:-([1-5]))?")

# What the seeds recommend for each default segment (003) and quadrant (001); shown in the panel
# (message ids: translated there).
SEGMENT_ACTIONS = {
    "champions": N_("Premium: reward them, ask for reviews, show new products first."),
    "low_value_frequent": N_("Buy often but little: bundles and upsells to raise the basket."),
    "cant_lose_them": N_("Brought a lot, long ago: win them back now, personally."),
    "loyal": N_("Keep them close: loyalty programme, early access."),
    "at_risk": N_("Used to buy often: reach out before they are gone."),
    "new_customers": N_("First order just now: onboarding, a reason for the second order."),
    "promising": N_("Recent first buyers: build the habit with relevant offers."),
    "potential_loyalist": N_("Recent, a few orders: membership or loyalty offer."),
    "need_attention": N_("Frequent but small and fading: a limited-time offer on what they buy."),
    "about_to_sleep": N_("Slipping away: reminders and popular products."),
    "hibernating": N_("Long quiet: a reactivation offer, then mail them less."),
    "lost": N_("Gone: a last win-back attempt, otherwise let them go."),
    OTHER_SEGMENT: N_("No segment rule matched."),
}
QUADRANT_ACTIONS = {
    "profitable_loyal": N_("Gold fund: personal service, keep them delighted."),
    "profitable_disloyal": N_("Profitable but disloyal: a loyalty programme to bind them."),
    "unprofitable_loyal": N_("Loyal but unprofitable: help them grow (cross-sell, bigger baskets)."),
    "unprofitable_disloyal": N_("Neither: convert with an offer or let them go."),
}


@dataclass(frozen=True)
class SegmentRule:
    name: str
    r: tuple[int, int]
    f: tuple[int, int]
    m: tuple[int, int]

    def matches(self, r: int, f: int, m: int) -> bool:
        return all(low <= score <= high for score, (low, high) in ((r, self.r), (f, self.f), (m, self.m)))

    def describe(self) -> str:
        return " ".join(f"{letter}{low}" if low == high else f"{letter}{low}-{high}"
                        for letter, (low, high) in (("R", self.r), ("F", self.f), ("M", self.m)))


def parse_rfm_segments(lines: list[str]) -> list[SegmentRule]:
    """The rules of value.rfm_segments; a ValueError names the bad rule."""
    if not lines:
        raise ValueError("give at least one segment rule")
    rules, names = [], set()
    for line in lines:
        match = _RULE.match(line.strip())
        if not match:
            raise ValueError(f"{line!r}: expected \"name Rlo-hi Flo-hi Mlo-hi\" (lower-case name, scores 1-5)")
        name = match.group(1)
        if name in names or name in ("prospect", OTHER_SEGMENT):
            raise ValueError(f"{line!r}: the name {name!r} is {'used twice' if name in names else 'reserved'}")
        names.add(name)
        ranges: dict[str, tuple[int, int]] = {}
        for letter, low, high in _RANGE.findall(match.group(2)):
            low_i, high_i = int(low), int(high or low)
            if letter in ranges or high_i < low_i:
                raise ValueError(f"{line!r}: give R, F and M once each, each range low-high")
            ranges[letter] = (low_i, high_i)
        if set(ranges) != {"R", "F", "M"}:
            raise ValueError(f"{line!r}: give R, F and M once each")
        rules.append(SegmentRule(name, ranges["R"], ranges["F"], ranges["M"]))
    return rules


def segment_of(rules: list[SegmentRule], r: int, f: int, m: int) -> tuple[str, SegmentRule | None]:
    """The first rule matching the scores (Python side: explanations and the reference in tests)."""
    for rule in rules:
        if rule.matches(r, f, m):
            return rule.name, rule
    return OTHER_SEGMENT, None


def segment_codes(rules: list[SegmentRule], r: np.ndarray, f: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The same first-match rule over score arrays: per customer the index of its segment in
    segment_names(rules) (OTHER_SEGMENT's when no rule matches), -1 where the scores are NaN (no
    order in the lookback: a prospect)."""
    codes = np.full(len(r), -1, dtype=np.int64)
    open_ = ~np.isnan(r)
    codes[open_] = len(rules)
    for index, rule in enumerate(rules):
        hit = open_ & (r >= rule.r[0]) & (r <= rule.r[1]) & (f >= rule.f[0]) & (f <= rule.f[1]) \
            & (m >= rule.m[0]) & (m <= rule.m[1])
        codes[hit] = index
        open_ &= ~hit
    return codes


def segment_name(rules: list[SegmentRule], code):
    """SQL: the segment name of a code from segment_codes (prospect for -1)."""
    return case({index: literal(name) for index, name in enumerate(segment_names(rules))}, value=code,
                else_=literal(PROSPECT))


def segment_names(rules: list[SegmentRule]) -> list[str]:
    return [rule.name for rule in rules] + [OTHER_SEGMENT]


# Tag families mirrored on the platform: mailseg:rfm:<segment>, mailseg:abc:<class>, mailseg:value:<quadrant>.
TAG_FAMILIES = {"rfm": "rfm:", "abc": "abc:", "quadrant": "value:"}


def value_tag(prefix: str, family: str, name: str) -> str:
    """The tag of a value segment, e.g. value_tag("mailseg:", "rfm", "champions") == "mailseg:rfm:champions"."""
    return f"{prefix}{TAG_FAMILIES[family]}{name}"


def value_tags(prefix: str, families, rfm_segment: str | None, abc_class: str | None, quadrant: str | None) -> list[str]:
    """The value tags a subscriber belongs to (prospects have no RFM tag)."""
    names = {"rfm": rfm_segment if rfm_segment not in (None, "prospect") else None, "abc": abc_class,
             "quadrant": quadrant}
    return [value_tag(prefix, family, names[family]) for family in TAG_FAMILIES if family in families and names[family]]
