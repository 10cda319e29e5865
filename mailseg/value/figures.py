"""A value computation's per-customer figures as numpy arrays: the two "value totals" statements
(sql.py) read in packed transfers and matched by key, then the RFM scores and the ABC position
computed here.

Computing the scores here rather than with three RANK() windows and a running sum in SQL spares the
database four sorts of every customer (1.8 s of a 500,000-customer run, docs/BENCHMARKS.md, issue 13):
the arrays are read anyway for the lifetime-value models, and the rules are exact on integers:
- with n customers (a counted order in the lookback), score = 1 + floor(5 (rank - 1) / n), where rank
  is SQL's RANK() (1-based, ties share the lowest rank): ascending by frequency (F) and by monetary in
  whole cents (M), descending by recency_days (R: the most recent get 5);
- ABC: the cents of the customers before this one in descending monetary order, ties by email in
  byte order (SQLite's BINARY, PostgreSQL's "C"), as integers; A when they are below abc_a x the
  total, B below abc_b x the total, else C (abc_codes);
- the RFM segment: the first rule of value.rfm_segments that the scores match (segments.segment_codes).
The run COPYs segments and ABC classes as integer codes, so the statement that compares new rows with
stored ones evaluates no rules (its time did not measurably change: 1.2-1.4 s at 500,000 customers
either way; the rules have one home here, the numpy form).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

import numpy as np
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from .columns import read_columns, read_ordered_keys
from .model import LIFETIME_FIELDS
from .sql import SUBSCRIBERS, lifetime_totals, lookback_totals
from .totals import totals_as_of

@dataclass
class Totals:
    """Per subscriber with a counted order up to as_of, in ascending key order: the lifetime fields
    (model.LIFETIME_FIELDS) and the lookback's frequency, monetary_cents (0 outside the lookback) and
    recency_days (NaN outside it); `source` the order totals they were read from."""

    source: Table
    ids: np.ndarray
    values: dict[str, np.ndarray]
    # whether `source` holds the lookback figures (the kept order totals, slid to the run's window)
    kept: bool = False

    @property
    def has_lookback(self) -> bool:
        """Whether the lookback figures are in (read with the kept totals, or added by add_lookback)."""
        return "frequency" in self.values


@dataclass
class Figures:
    """The totals with the RFM scores and ABC position (NaN for those without an order in the lookback:
    prospects with a lifetime value)."""

    ids: np.ndarray
    totals: dict[str, np.ndarray]
    r_score: np.ndarray
    f_score: np.ndarray
    m_score: np.ndarray
    cents_before: np.ndarray
    cents_total: int

    @property
    def in_lookback(self) -> np.ndarray:
        return self.totals["frequency"] > 0


LOOKBACK_FIELDS = ("frequency", "monetary_cents", "recency_days")


def customer_figures(session: Session, audience_id: int, window_start: datetime, as_of: datetime,
                     margin_rate: float, *, kept: bool) -> Figures:
    """The figures as of `as_of`: the lifetime totals (read_lifetime), the lookback's where they are
    not kept (add_lookback), then the scores (score_totals)."""
    totals = read_lifetime(session, audience_id, as_of, margin_rate, kept=kept)
    if not totals.has_lookback:
        add_lookback(session, totals, audience_id, window_start, as_of)
    return score_totals(session, audience_id, totals)


def read_lifetime(session: Session, audience_id: int, as_of: datetime, margin_rate: float, *, kept: bool) -> Totals:
    """The lifetime fields of every customer: from the kept order totals when `kept` (refreshed for
    this window by the caller and holding no order after as_of), with their kept lookback figures;
    else summed as of as_of (totals.totals_as_of), without them."""
    source = totals_as_of(session, audience_id, as_of, kept=kept)
    fields = LIFETIME_FIELDS + (LOOKBACK_FIELDS if kept else ())
    ids, data = read_columns(session, lifetime_totals(session, source, audience_id, margin_rate,
                                                      lookback_as_of=as_of if kept else None))
    values = {name: data[:, n] for n, name in enumerate(fields)}
    if kept:
        values["recency_days"][values["frequency"] == 0] = np.nan  # read as 0 where NULL
    return Totals(source, ids, values, kept)


def add_lookback(session: Session, totals: Totals, audience_id: int, window_start: datetime, as_of: datetime) -> None:
    """The lookback's frequency, monetary_cents and recency_days added to the totals, matched by key."""
    ids = totals.ids
    lookback_ids, lookback = read_columns(session, lookback_totals(session, totals.source, audience_id, window_start,
                                                                   as_of))
    at = np.searchsorted(ids, lookback_ids)  # every lookback customer is in the totals it was joined to
    for n, name in enumerate(LOOKBACK_FIELDS):
        totals.values[name] = np.full(len(ids), np.nan if name == "recency_days" else 0.0)
        totals.values[name][at] = lookback[:, n]


def score_totals(session: Session, audience_id: int, totals: Totals) -> Figures:
    """The RFM scores and ABC positions of the customers with an order in the lookback."""
    values, ids = totals.values, totals.ids
    frequency = values["frequency"].astype(np.int64)
    cents = values["monetary_cents"].astype(np.int64)
    lookback = frequency > 0
    n = int(lookback.sum())
    scores = {name: np.full(len(ids), np.nan) for name in ("r", "f", "m", "before")}
    if n:
        scores["r"][lookback] = rank_scores(-values["recency_days"][lookback], n)
        scores["f"][lookback] = rank_scores(frequency[lookback], n)
        scores["m"][lookback] = rank_scores(cents[lookback], n)
        email_order = _email_positions(session, totals, audience_id, lookback)
        scores["before"][lookback] = cents_before(cents[lookback], email_order)
    return Figures(ids, values, scores["r"], scores["f"], scores["m"], scores["before"], int(cents[lookback].sum()))


def rank_scores(values: np.ndarray, customers: int) -> np.ndarray:
    """1 + floor(5 (RANK() - 1) / customers), RANK() ascending by `values`: one more than the number
    of values strictly below."""
    rank = np.searchsorted(np.sort(values, kind="stable"), values, side="left") + 1
    return 1 + (5 * (rank - 1)) // customers


def cents_before(cents: np.ndarray, email_order: np.ndarray) -> np.ndarray:
    """Per customer, the sum of the cents of the customers before it in descending cents order, ties
    by email (email_order: each customer's position among them in email order)."""
    order = np.lexsort((email_order, -cents))
    ordered = cents[order]
    before = np.empty(len(cents), dtype=np.int64)
    before[order] = np.cumsum(ordered) - ordered
    return before


ABC_CLASSES = ("A", "B", "C")


def abc_codes(cents_before: np.ndarray, cents_total: int, abc_a: float, abc_b: float) -> np.ndarray:
    """Per customer 0 (A) when S_before < abc_a x S, 1 (B) when S_before < abc_b x S, else 2 (C); -1
    where cents_before is NaN (no order in the lookback). Exact integer arithmetic: the shares as
    fractions of at most 10,000, the cents as int64."""
    codes = np.full(len(cents_before), -1, dtype=np.int64)
    known = ~np.isnan(cents_before)
    before = cents_before[known].astype(np.int64)
    classes = np.full(len(before), 2, dtype=np.int64)
    for code, share in ((1, abc_b), (0, abc_a)):
        fraction = Fraction(share).limit_denominator(10_000)
        classes[before * fraction.denominator < cents_total * fraction.numerator] = code
    codes[known] = classes
    return codes


def _email_positions(session: Session, totals: Totals, audience_id: int, lookback: np.ndarray) -> np.ndarray:
    """The position of each customer with an order in the lookback (`lookback`: a mask over the
    totals' ids) in email order among them. The database sorts only them where the kept totals say
    who they are (a quarter fewer than all customers in the benchmark), else all the totals' customers."""
    source = totals.source
    in_totals = select(source.c.subscriber_id).where(source.c.audience_id == audience_id)
    if totals.kept:
        in_totals = in_totals.where(source.c.lookback_orders > 0)
    ordered = read_ordered_keys(session, SUBSCRIBERS.c.id, SUBSCRIBERS.c.email, SUBSCRIBERS.c.id.in_(in_totals))
    positions = np.full(len(totals.ids), -1, dtype=np.int64)
    positions[np.searchsorted(totals.ids, ordered)] = np.arange(len(ordered))
    return positions[lookback]
