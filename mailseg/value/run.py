"""A value run (`mailseg value`, the scheduled chain after classify): one recorded run per audience.

Order of a run, all in one transaction (a crash leaves the previous values and a failed run), every
step set-based (profile and figures: docs/BENCHMARKS.md, issue 13):
1. the kept order totals brought up to date (totals.py: the subscribers whose orders changed since
   the last run, or a first build), then "value totals" (sql.py): the lookback's orders aggregated
   beside them into a staging table (temporary; on Citus distributed, sqlutil.stage), one row per
   subscriber with an order up to as_of (prospects without orders get no row);
2. "value scores" (sql.py): RANK() scores and the ABC running sum over the customers only;
3. the BG/NBD and Gamma-Gamma fits on the totals read as numpy arrays (clv.py), vectorised
   predictions COPYed into a third staging table; too little data or no convergence: no new
   model, the stored predictions of the last good model stay, and the summary says why;
4. "value changed": every customer's new row (segment rules, ABC classes, quadrants) compared with
   the stored one in one join, then everyone else's stored row compared with the prospect row,
   keeping only the rows that differ;
5. history rows for the changed rows whose RFM segment, ABC class or quadrant moved, and the
   changed rows stored: an UPDATE of the stored ones, an INSERT of the new ones (a run without new
   orders writes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import (BigInteger, Column, Float, Integer, MetaData, Numeric, Table, case, cast, func, insert,
                        literal, null, or_, select, text, update)
from sqlalchemy.orm import Session

from ..config import ValueConfig
from ..engagement.window import months_before, window_bounds
from ..models import PROSPECT, Audience, SubscriberValue, UTCDateTime, ValueChange, ValueModel, utcnow
from ..models.audience import SUBSCRIBER_KEY
from ..progress import Progress
from ..runs import finish_run, recorded_run
from ..sqlutil import create_staging, drop_staging, sort_memory, stage, without_jit, written_rows
from . import clv
from .columns import read_columns, write_columns
from .segments import parse_rfm_segments, segment_case
from .sql import CLASSES, ENGAGEMENT_CLASS, SUBSCRIBERS, abc_case, customer_scores, customer_totals, quadrant_case
from .totals import MARKS, TOTALS_AS_OF, refresh_order_totals, totals_as_of

JOB = "value"
VALUE_STEPS = 6
TOTALS, SCORES, PREDICTIONS, CHANGED = "value_totals", "value_scores", "value_predictions", "value_changed"
VALUES = SubscriberValue.__table__
# Columns compared to decide whether a stored row changed (as_of and run_id follow the change).
VALUE_COLUMNS = ("frequency", "monetary", "recency_days", "r_score", "f_score", "m_score", "rfm_segment",
                 "abc_class", "abc_share_before", "repeat_days", "t_x_weeks", "t_weeks", "margin_rate",
                 "p_alive", "expected_orders", "expected_order_value", "clv", "quadrant")
FAMILY_COLUMNS = {"rfm": "rfm_segment", "abc": "abc_class", "quadrant": "quadrant"}


@dataclass
class ValueResult:
    run_id: int
    audience_id: int
    as_of: datetime
    window_start: datetime
    customers: int = 0
    segments: dict[str, int] = field(default_factory=dict)
    abc: dict[str, int] = field(default_factory=dict)
    quadrants: dict[str, int] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    # The model behind the CLV: fitted in this run, else the last good one (or None).
    model: dict[str, Any] | None = None
    model_fitted: bool = False
    # Why no model was fitted in this run (too little data, no convergence).
    model_reason: str | None = None
    profitable_clv: float | None = None
    rows_written: int = 0
    # The order totals' refresh: rebuilt from all orders or not, and the subscribers summed again.
    totals: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"customers": self.customers, "segments": self.segments, "abc": self.abc,
                "quadrants": self.quadrants, "changes": self.changes, "model": self.model,
                "model_fitted": self.model_fitted, "model_reason": self.model_reason,
                "profitable_clv": self.profitable_clv, "rows_written": self.rows_written, "totals": self.totals,
                "window_start": self.window_start.isoformat()}


def value_audience(session: Session, audience_id: int, settings: ValueConfig, *, as_of: datetime | None = None,
                   progress: Progress | None = None, rebuild_totals: bool = False) -> ValueResult:
    """Compute every subscriber's value as of `as_of` (default now) and record the run.
    `rebuild_totals` sums the order totals again from all the audience's orders (totals.py)."""
    window_start, as_of = window_bounds(as_of or utcnow(), settings.lookback_months)
    rules = parse_rfm_segments(settings.rfm_segments)
    with recorded_run(session, JOB, audience_id=audience_id, as_of=as_of) as run:
        result = ValueResult(run.id, audience_id, as_of, window_start)
        session.execute(select(Audience.id).where(Audience.id == audience_id).with_for_update())
        _drop_temporary(session)
        sort_memory(session)  # the per-day aggregate, the RANK() windows, the joins
        without_jit(session)  # compiling the wide CASE expressions cost more than it saved
        refresh = refresh_order_totals(session, audience_id, rebuild=rebuild_totals)
        result.totals = {"rebuilt": refresh.rebuilt, "subscribers": refresh.subscribers}
        cents_total = stage_scores(session, audience_id, window_start, as_of, settings.margin_rate, kept=True)
        _advance(progress)
        customer_clv = _fit_and_predict(session, audience_id, settings, as_of, run.id, result)
        _advance(progress)
        result.profitable_clv = _profitable_threshold(session, settings, result.model_fitted, customer_clv)
        _stage_changed(session, audience_id, rules, settings, result, int(cents_total))
        _advance(progress)
        result.changes = _write_history(session, audience_id, as_of, run.id)
        _advance(progress)
        result.rows_written = _store_values(session, audience_id, as_of, run.id)
        _advance(progress)
        _count(session, audience_id, result)
        _drop_temporary(session)
        _advance(progress)
        finish_run(session, run, result.summary())  # commits the work and the run's success together
    return result


def value_all(session: Session, settings: ValueConfig, *, as_of: datetime | None = None,
              rebuild_totals: bool = False) -> list[ValueResult]:
    """Every audience with one as_of."""
    as_of = as_of or utcnow()
    ids = list(session.scalars(select(Audience.id).order_by(Audience.id)))
    return [value_audience(session, audience_id, settings, as_of=as_of, rebuild_totals=rebuild_totals)
            for audience_id in ids]


def _advance(progress: Progress | None) -> None:
    if progress is not None:
        progress.advance(1)


def _drop_temporary(session: Session) -> None:
    drop_staging(session, CHANGED, PREDICTIONS, SCORES, TOTALS, TOTALS_AS_OF.name, MARKS)


_META = MetaData()
TOTALED = Table(TOTALS, _META, Column("subscriber_id", SUBSCRIBER_KEY), *(Column(name, Integer) for name in (
    "frequency", "monetary_cents", "recency_days", "days", "first_day", "last_day")),
    *(Column(name, Float) for name in ("total_amount", "total_margin", "first_day_amount")))
SCORED = Table(SCORES, _META, Column("subscriber_id", SUBSCRIBER_KEY), *(Column(name, Integer) for name in (
    "r_score", "f_score", "m_score", "cents_before")))
PREDICTED = Table(PREDICTIONS, _META, Column("subscriber_id", SUBSCRIBER_KEY), Column("repeat_days", Integer),
                  *(Column(name, Float) for name in ("t_x_weeks", "t_weeks", "margin_rate", "p_alive",
                                                     "expected_orders", "expected_order_value", "clv")))
OLD = {family: f"old_{column}" for family, column in FAMILY_COLUMNS.items()}
CHANGED_TABLE = Table(CHANGED, _META, *(Column(name) for name in ("subscriber_id",) + VALUE_COLUMNS),
                      *(Column(name) for name in OLD.values()))


def stage_scores(session: Session, audience_id: int, window_start: datetime, as_of: datetime,
                 margin_rate: float, *, kept: bool = False) -> int:
    """The staging tables of totals and scores of a value computation as of `as_of` (the run's and
    explain's; on Citus distributed: the aggregates run on each shard, sqlutil.stage), from the kept
    order totals when `kept` (refreshed by the caller) allows (totals.totals_as_of); returns the
    customers' revenue in cents, the ABC total."""
    totals = totals_as_of(session, audience_id, as_of, kept=kept)
    stage(session, TOTALS, customer_totals(session, totals, audience_id, window_start, as_of, margin_rate),
          key="subscriber_id")
    customers, cents_total = session.execute(
        select(func.count(), func.coalesce(func.sum(TOTALED.c.monetary_cents), 0))
        .where(TOTALED.c.frequency > 0)).one()
    stage(session, SCORES, customer_scores(TOTALED, customers), key="subscriber_id")
    return int(cents_total)


def _fit_and_predict(session: Session, audience_id: int, settings: ValueConfig, as_of: datetime, run_id: int,
                     result: ValueResult) -> np.ndarray | None:
    """Fit both models on every subscriber with a counted order up to as_of; store the fit and the
    predictions, or keep the last good model and say why. Returns the customers' CLVs when fitted."""
    t = TOTALED.c
    # In subscriber order (the same order every run: the same sums, the same fit): the keys, and the
    # figures as floats.
    ids, data = read_columns(session, select(t.subscriber_id, t.days, t.first_day, t.last_day, t.total_amount,
                                             t.total_margin, t.first_day_amount, t.frequency)
                             .order_by(t.subscriber_id))
    create_staging(session, PREDICTED, key="subscriber_id")
    if not len(data):
        result.model_reason = "no orders"
        result.model = _last_model(session, audience_id)
        return None
    days, first, last = data[:, 0], data[:, 1], data[:, 2]
    total, margin, first_amount, frequency = data[:, 3], data[:, 4], data[:, 5], data[:, 6]
    x, t_x, T, spend, rate = model_inputs(as_of, settings, days, first, last, total, margin, first_amount)
    repeat = int(np.sum(x > 0))
    fit = None
    if repeat < settings.min_repeat_customers:
        result.model_reason = (f"too little data: {repeat} repeat customer(s), value.min_repeat_customers "
                               f"is {settings.min_repeat_customers}")
    else:
        try:
            fit = clv.fit_bgnbd(x, t_x, T), clv.fit_gamma_gamma(x, spend)
        except clv.FitError as exc:
            result.model_reason = str(exc)
    predictions: dict[str, np.ndarray] = {"p_alive": np.full(len(x), np.nan)}
    customer_clv = None
    if fit is not None:
        bgnbd, gg = fit
        predictions = predict(bgnbd, gg, settings, as_of, x, t_x, T, spend, rate)
        customer_clv = predictions["clv"][frequency > 0]
        model = ValueModel(audience_id=audience_id, run_id=run_id, as_of=as_of, customers=len(x), repeat_customers=repeat,
                           bgnbd_r=bgnbd.r, bgnbd_alpha=bgnbd.alpha, bgnbd_a=bgnbd.a, bgnbd_b=bgnbd.b,
                           bgnbd_log_likelihood=bgnbd.log_likelihood, gg_p=gg.p, gg_q=gg.q, gg_gamma=gg.gamma,
                           gg_log_likelihood=gg.log_likelihood)
        session.add(model)
        session.flush()
        result.model_fitted = True
        result.model = model_parameters(model)
    else:
        result.model = _last_model(session, audience_id)
    columns = {"subscriber_id": ids, "repeat_days": x.astype(np.int32), "t_x_weeks": t_x, "t_weeks": T,
               "margin_rate": rate, **predictions}
    write_columns(session, PREDICTIONS, columns)
    return customer_clv


def model_inputs(as_of: datetime, settings: ValueConfig, days, first, last, total, margin, first_amount):
    """(x, t_x, T, spend, margin rate) from the per-subscriber totals (arrays): x repeat purchase days,
    t_x and T in weeks from the first purchase day, the mean spend of the repeat days (NaN without)."""
    as_of_day = (as_of.date() - datetime(1970, 1, 1).date()).days
    x, t_x, T = days - 1, (last - first) / 7, (as_of_day - first) / 7
    with np.errstate(invalid="ignore", divide="ignore"):
        spend = np.where(x > 0, (total - first_amount) / np.maximum(x, 1), np.nan)
        rate = np.where(total > 0, margin / np.where(total > 0, total, 1), settings.margin_rate)
    return x, t_x, T, spend, rate


def predict(bgnbd: clv.BgNbd, gg: clv.GammaGamma, settings: ValueConfig, as_of: datetime, x, t_x, T, spend,
            rate) -> dict[str, np.ndarray]:
    """p_alive, expected orders over the horizon, expected order value and CLV, vectorised."""
    weeks = [(months_before(as_of, -i) - as_of).total_seconds() / 604800 for i in range(1, settings.horizon_months + 1)]
    expected, order_value, value = clv.clv(bgnbd, gg, weeks, x, t_x, T, spend, rate, settings.discount_rate_monthly)
    return {"p_alive": clv.p_alive_distinct(bgnbd, x, t_x, T), "expected_orders": expected,
            "expected_order_value": order_value, "clv": value}


def fitted_models(model: ValueModel) -> tuple[clv.BgNbd, clv.GammaGamma]:
    return (clv.BgNbd(model.bgnbd_r, model.bgnbd_alpha, model.bgnbd_a, model.bgnbd_b, model.bgnbd_log_likelihood),
            clv.GammaGamma(model.gg_p, model.gg_q, model.gg_gamma, model.gg_log_likelihood))


def model_parameters(model: ValueModel) -> dict[str, Any]:
    """The fitted parameters as `mailseg export value-model` shows them."""
    return {"bgnbd": {"r": model.bgnbd_r, "alpha": model.bgnbd_alpha, "a": model.bgnbd_a, "b": model.bgnbd_b,
                      "log_likelihood": model.bgnbd_log_likelihood},
            "gamma_gamma": {"p": model.gg_p, "q": model.gg_q, "gamma": model.gg_gamma,
                            "log_likelihood": model.gg_log_likelihood},
            "customers": model.customers, "repeat_customers": model.repeat_customers,
            "as_of": model.as_of.isoformat(), "run_id": model.run_id}


def latest_model(session: Session, audience_id: int, *, as_of: datetime | None = None) -> ValueModel | None:
    """The last good model (of those fitted as of `as_of` or earlier, when given)."""
    stmt = select(ValueModel).where(ValueModel.audience_id == audience_id)
    if as_of is not None:
        stmt = stmt.where(ValueModel.as_of <= as_of)
    return session.scalars(stmt.order_by(ValueModel.as_of.desc(), ValueModel.id.desc()).limit(1)).first()


def _last_model(session: Session, audience_id: int) -> dict[str, Any] | None:
    model = latest_model(session, audience_id)
    return model_parameters(model) if model is not None else None


def _prediction_source(fitted: bool):
    """This run's predictions, or (no new model) the stored ones of the last good model."""
    return PREDICTED.c if fitted else VALUES.c


def _profitable_threshold(session: Session, settings: ValueConfig, fitted: bool,
                          customer_clv: np.ndarray | None) -> float | None:
    """value.profitable_clv, or the median CLV of the audience's customers that have one."""
    if settings.profitable_clv != "median":
        return float(settings.profitable_clv)
    if fitted:
        values = customer_clv[~np.isnan(customer_clv)] if customer_clv is not None else np.zeros(0)
    else:
        values = np.array(session.scalars(
            select(VALUES.c.clv).select_from(TOTALED.join(VALUES, VALUES.c.subscriber_id == TOTALED.c.subscriber_id))
            .where(TOTALED.c.frequency > 0, VALUES.c.clv.is_not(None))).all(), dtype=float)
    return float(np.median(values)) if len(values) else None


def _changed_customers(session: Session, rules, settings: ValueConfig, result: ValueResult, cents_total: int):
    """Named statement "value changed" (customers): the row each subscriber with a counted order up
    to as_of will have (segment rules, ABC classes and quadrants applied to the totals, scores and
    predictions), kept only where it differs from the stored row, with the stored RFM segment, ABC
    class and quadrant beside it. Everyone else is _changed_others'."""
    t, c, v = TOTALED.c, SCORED.c, VALUES.c
    p = _prediction_source(result.model_fitted)
    share = cast(c.cents_before, Float) / literal(float(cents_total), Float) if cents_total else cast(null(), Float)
    new = {
        "frequency": t.frequency,
        "monetary": cast(t.monetary_cents, Numeric(14, 2)) / 100,
        "recency_days": t.recency_days,
        "r_score": c.r_score, "f_score": c.f_score, "m_score": c.m_score,
        "rfm_segment": case((c.subscriber_id.is_not(None), segment_case(rules, c.r_score, c.f_score, c.m_score)),
                            else_=literal(PROSPECT)),
        "abc_class": abc_case(c.cents_before, literal(cents_total, BigInteger), settings.abc_a, settings.abc_b),
        "abc_share_before": share,
        "repeat_days": PREDICTED.c.repeat_days, "t_x_weeks": PREDICTED.c.t_x_weeks, "t_weeks": PREDICTED.c.t_weeks,
        "margin_rate": PREDICTED.c.margin_rate,
        "p_alive": p.p_alive, "expected_orders": p.expected_orders, "expected_order_value": p.expected_order_value,
        "clv": p.clv,
        "quadrant": quadrant_case(t.frequency, ENGAGEMENT_CLASS, p.clv, result.profitable_clv),
    }
    joined = (TOTALED.outerjoin(SCORED, c.subscriber_id == t.subscriber_id)
              .outerjoin(PREDICTED, PREDICTED.c.subscriber_id == t.subscriber_id)
              .outerjoin(VALUES, v.subscriber_id == t.subscriber_id)
              .outerjoin(CLASSES, CLASSES.c.subscriber_id == t.subscriber_id))
    return (select(t.subscriber_id.label("subscriber_id"), *(new[name].label(name) for name in VALUE_COLUMNS),
                   *(v[column].label(OLD[family]) for family, column in FAMILY_COLUMNS.items()))
            .select_from(joined).where(_differs(new)))


# The row of a subscriber without a counted order up to as_of: a prospect, no figures, no predictions.
PROSPECT_ROW = {name: null() for name in VALUE_COLUMNS} | {"frequency": literal(0), "monetary": literal(0),
                                                           "rfm_segment": literal(PROSPECT)}


def _changed_others(audience_id: int):
    """Named statement "value changed" (others): the subscribers of the audience without a counted
    order up to as_of (not in the totals) whose stored row is missing or is not the prospect row,
    with their stored RFM segment, ABC class and quadrant. Most of an audience has no order and a
    stored prospect row: the statement reads their keys and rows, never the totals' joins."""
    v = VALUES.c
    customers = select(TOTALED.c.subscriber_id)
    return (select(SUBSCRIBERS.c.id.label("subscriber_id"), *(PROSPECT_ROW[name].label(name) for name in VALUE_COLUMNS),
                   *(v[column].label(OLD[family]) for family, column in FAMILY_COLUMNS.items()))
            .select_from(SUBSCRIBERS.outerjoin(VALUES, v.subscriber_id == SUBSCRIBERS.c.id))
            .where(SUBSCRIBERS.c.audience_id == audience_id, SUBSCRIBERS.c.id.not_in(customers),
                   _differs(PROSPECT_ROW)))


def _differs(new: dict):
    """The stored row is missing or differs from `new` in a compared column."""
    v = VALUES.c
    return or_(v.subscriber_id.is_(None), *(v[name].is_distinct_from(new[name]) for name in VALUE_COLUMNS))


def _stage_changed(session: Session, audience_id: int, rules, settings: ValueConfig, result: ValueResult,
                   cents_total: int) -> None:
    """The changed rows of the customers, then of everyone else, in one staging table."""
    stage(session, CHANGED, _changed_customers(session, rules, settings, result, cents_total), key="subscriber_id")
    columns = ["subscriber_id", *VALUE_COLUMNS, *OLD.values()]
    session.execute(insert(CHANGED_TABLE).from_select(columns, _changed_others(audience_id)))


def _write_history(session: Session, audience_id: int, as_of: datetime, run_id: int) -> dict[str, int]:
    """Named statements "value history": one row per changed subscriber and family whose value
    moved. A subscriber never valued before enters the RFM history only when they are a customer."""
    f = CHANGED_TABLE.c
    changes: dict[str, int] = {}
    for family, column in FAMILY_COLUMNS.items():
        old, new = f[OLD[family]], f[column]
        stored = func.coalesce(old, literal(PROSPECT)) if family == "rfm" else old
        rows = (select(literal(audience_id), f.subscriber_id, literal(family), old, new,
                       literal(as_of, UTCDateTime), literal(run_id))
                .where(stored.is_distinct_from(new)))
        columns = ["audience_id", "subscriber_id", "family", "from_value", "to_value", "changed_at", "run_id"]
        changes[family] = written_rows(session, insert(ValueChange.__table__).from_select(columns, rows))
    return changes


def _store_values(session: Session, audience_id: int, as_of: datetime, run_id: int) -> int:
    """Named statements "store values": the changed rows (the only ones in the changed table) in two
    statements: an UPDATE ... FROM of the stored rows that changed, a plain INSERT ... SELECT of the
    rows never stored (no stored row: no stored RFM segment beside the row, a column that is never
    NULL). An upsert (INSERT ... ON CONFLICT DO UPDATE) checks the primary key before every insert:
    1.4 x the plain INSERT on a first run, which writes a row per subscriber (docs/BENCHMARKS.md,
    issue 13). The audience row is locked for the run, so no other run stores rows in between."""
    f = CHANGED_TABLE.c
    stored = f[OLD["rfm"]].is_not(None)
    updated = session.execute(
        update(VALUES).where(VALUES.c.subscriber_id == f.subscriber_id, stored)
        .values(as_of=literal(as_of, UTCDateTime), run_id=literal(run_id), **{name: f[name] for name in VALUE_COLUMNS})
        .execution_options(preserve_rowcount=True)).rowcount or 0
    rows = select(f.subscriber_id, literal(audience_id), literal(as_of, UTCDateTime), literal(run_id),
                  *(f[name] for name in VALUE_COLUMNS)).where(~stored)
    columns = ["subscriber_id", "audience_id", "as_of", "run_id", *VALUE_COLUMNS]
    return updated + written_rows(session, insert(VALUES).from_select(columns, rows))


def _count(session: Session, audience_id: int, result: ValueResult) -> None:
    """The summary's counts from the stored values, in one pass."""
    v = VALUES.c
    for segment, abc, quadrant, count in session.execute(
            select(v.rfm_segment, v.abc_class, v.quadrant, func.count()).where(v.audience_id == audience_id)
            .group_by(v.rfm_segment, v.abc_class, v.quadrant)).all():
        for name, target in ((segment, result.segments), (abc, result.abc), (quadrant, result.quadrants)):
            if name is not None:
                target[name] = target.get(name, 0) + count
    for target in (result.segments, result.abc, result.quadrants):
        ordered = dict(sorted(target.items()))
        target.clear()
        target.update(ordered)
    result.customers = sum(n for name, n in result.segments.items() if name != PROSPECT)
