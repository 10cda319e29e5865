"""Preset segments: starting points from the source articles, installed with `segments add --preset NAME`
and shown in the panel's builder.

- loyalty-ladder (seed 000): prospect -> purchaser -> client -> supporter -> advocate, one step per
  customer (the highest that applies: each step excludes the next through segment.<name>). Partner is
  a business relationship mailseg cannot see in mail and orders, so it is left to the marketer.
- risk-group (seed 003): customers who once bought big (monetary score 4-5) but have not been mailed
  for 90 days.
- unreliable (seed 003): asked about a product (clicked a product link in 90 days) and never bought.
- mailed-5-opened-none: received at least 5 mailings in 180 days and opened none (a person's open).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PresetSegment:
    name: str
    description: str
    rule: dict[str, Any]


def _orders(op: str, value: int) -> dict:
    return {"event": "purchase", "count": {"op": op, "value": value}}


def loyalty_ladder(nps_survey: str | None = None, nps_kind: str = "scale") -> list[PresetSegment]:
    """The ladder's segments, lowest step first; advocate only with an NPS survey (latest answer 9-10)."""
    engaged = {"field": "engagement_class", "op": "in", "value": ["active", "semi_active"]}
    repeat = _orders(">=", 2)
    supporter: list[dict] = [repeat, engaged]
    steps = [
        PresetSegment("ladder-prospect", "Subscribed, no order yet",
                      {"all": [{"field": "status", "op": "=", "value": "subscribed"}, _orders("=", 0)]}),
        PresetSegment("ladder-purchaser", "Exactly one order", _orders("=", 1)),
        PresetSegment("ladder-client", "Repeat orders, does not read the mail (yet)", {"all": [repeat, {"not": engaged}]}),
    ]
    if nps_survey:
        promoter = ({"field": f"survey.{nps_survey}", "op": ">=", "value": 9} if nps_kind == "scale"
                    else {"field": f"survey.{nps_survey}", "op": "in", "value": ["9", "10"]})
        supporter.append({"not": {"field": "segment.ladder-advocate", "op": "is_member"}})
        advocate = PresetSegment("ladder-advocate", f"A supporter whose latest {nps_survey!r} answer is 9-10",
                                 {"all": [repeat, engaged, promoter]})
    steps.append(PresetSegment("ladder-supporter", "Repeat orders and reads the mail (active or semi-active)",
                               {"all": supporter}))
    if nps_survey:
        steps.append(advocate)
    return steps


def risk_group() -> list[PresetSegment]:
    return [PresetSegment("risk-group", "Bought big once (monetary score 4-5), not mailed for 90 days", {"all": [
        {"field": "m_score", "op": ">=", "value": 4},
        {"event": "send", "within_days": 90, "count": {"op": "=", "value": 0}},
        {"field": "status", "op": "=", "value": "subscribed"}]})]


def unreliable(url_contains: str = "/product") -> list[PresetSegment]:
    return [PresetSegment("unreliable", f"Clicked a link containing {url_contains!r} in 90 days, never bought", {"all": [
        {"event": "click", "url_contains": url_contains, "within_days": 90},
        _orders("=", 0)]})]


def mailed_5_opened_none() -> list[PresetSegment]:
    return [PresetSegment("mailed-5-opened-none", "At least 5 mailings in 180 days, no human open", {"all": [
        {"event": "send", "within_days": 180, "count": {"op": ">=", "value": 5}},
        {"event": "open", "within_days": 180, "count": {"op": "=", "value": 0}}]})]


PRESETS = {
    "loyalty-ladder": loyalty_ladder,
    "risk-group": risk_group,
    "unreliable": unreliable,
    "mailed-5-opened-none": mailed_5_opened_none,
}


def preset_segments(name: str, **options: Any) -> list[PresetSegment]:
    if name not in PRESETS:
        raise KeyError(f"no preset named {name!r} (presets: {', '.join(PRESETS)})")
    return PRESETS[name](**{k: v for k, v in options.items() if v is not None})


def install_order(segments: list[PresetSegment]) -> list[PresetSegment]:
    """The segments in an order where each one's references are installed before it."""
    from .grammar import referenced_segments

    names = {s.name for s in segments}
    done: list[PresetSegment] = []
    pending = list(segments)
    while pending:
        ready = [s for s in pending if referenced_segments(s.rule) & names <= {d.name for d in done}]
        done.extend(ready)
        pending = [s for s in pending if s not in ready]
    return done
