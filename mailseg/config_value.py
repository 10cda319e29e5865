"""The config section of value segmentation (mailseg/value/): RFM, ABC, lifetime value and the
quadrants. Part of mailseg.config.Config."""

from __future__ import annotations

from dataclasses import dataclass

from .configbase import ConfigError, setting

# The default RFM segment table (issue 13): the first rule matching (R, F, M) names the customer.
# "name Rlo-hi Flo-hi Mlo-hi", inclusive ranges of the 1-5 scores; together they cover all 125 cells.
DEFAULT_RFM_SEGMENTS = [
    "champions R4-5 F4-5 M4-5", "low_value_frequent R4-5 F4-5 M1-2", "cant_lose_them R1 F4-5 M4-5",
    "loyal R3-5 F3-5 M3-5", "at_risk R1-2 F3-5 M1-5", "new_customers R5 F1 M1-5", "promising R4 F1 M1-5",
    "potential_loyalist R3-5 F1-3 M1-5", "need_attention R3 F4-5 M1-2", "about_to_sleep R2 F1-2 M1-5",
    "hibernating R1 F2 M1-5", "lost R1 F1 M1-5",
]
VALUE_SYNC_FAMILIES = ("rfm", "abc", "quadrant")


def _check_rfm_segments(value: list[str]) -> None:
    from .value.segments import parse_rfm_segments

    parse_rfm_segments(value)


def _check_value_sync(value: list[str]) -> None:
    unknown = [name for name in value if name not in VALUE_SYNC_FAMILIES]
    if unknown:
        raise ValueError(f"unknown value famil{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)} "
                         f"(expected any of {', '.join(VALUE_SYNC_FAMILIES)})")


def _check_profitable_clv(value: str) -> None:
    if value != "median":
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"expected \"median\" or a number, got {value!r}") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError(f"expected a finite number, got {value!r}")


@dataclass(frozen=True)
class ValueConfig:
    """Value segmentation (mailseg/value/): RFM, ABC, lifetime value and the quadrants."""

    # Calendar months before as_of whose counted orders make RFM and ABC (the engagement window's arithmetic).
    lookback_months: int = setting(12, min=1, max=60)
    # Contribution per amount for orders without a margin.
    margin_rate: float = setting(1.0, min=0, max=1)
    # ABC: A while the revenue before the customer is under abc_a of the total, B under abc_b, else C.
    abc_a: float = setting(0.80, min=0.01, max=1)
    abc_b: float = setting(0.95, min=0.01, max=1)
    horizon_months: int = setting(12, min=1, max=120)
    discount_rate_monthly: float = setting(0.01, min=0, max=1)
    # Fewer repeat customers than this: no model is fitted, no CLV is computed (the run says why).
    min_repeat_customers: int = setting(30, min=2, max=1_000_000)
    # "median" (of the audience's customers with a CLV) or a number: the CLV from which a customer is profitable.
    profitable_clv: str = setting("median", check=_check_profitable_clv)
    rfm_segments: list[str] = setting(DEFAULT_RFM_SEGMENTS, check=_check_rfm_segments)
    # Families mirrored as tags by sync: rfm (mailseg:rfm:<segment>), abc (mailseg:abc:A), quadrant
    # (mailseg:value:<quadrant>).
    sync: list[str] = setting(list(VALUE_SYNC_FAMILIES), check=_check_value_sync)

    def __post_init__(self) -> None:
        if self.abc_b < self.abc_a:
            raise ConfigError(f"value.abc_b: must be at least value.abc_a ({self.abc_a}), got {self.abc_b}")
