"""A value run (`mailseg value`, the scheduled chain after classify): one recorded run per audience.

Order of a run, all in one transaction (a crash leaves the previous values and a failed run):
1. "value staging" (sql.py): every subscriber's lookback figures, RFM scores, ABC position, and the
   purchase days behind the lifetime value, into a temporary table;
2. the BG/NBD and Gamma-Gamma fits on every subscriber with a counted order up to as_of (clv.py),
   their predictions into a second temporary table; too little data or no convergence: no new
   model, the stored predictions of the last good model stay, and the summary says why;
3. the segment rules, ABC classes and quadrants into the final staging table;
4. history rows for the subscribers whose RFM segment, ABC class or quadrant changed;
5. the current values, rewriting only the rows whose values changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import (Column, Float, Integer, MetaData, Numeric, String, Table, case, cast, func, insert, literal,
                        or_, select, text, true)
from sqlalchemy.orm import Session

from ..config import ValueConfig
from ..engagement.window import months_before, window_bounds
from ..models import PROSPECT, Audience, SubscriberValue, UTCDateTime, ValueChange, ValueModel, utcnow
from ..models.audience import SUBSCRIBER_KEY
from ..progress import Progress
from ..runs import finish_run, recorded_run
from ..sqlutil import CreateTemporaryTableAs, upsert, written_rows
from . import clv
from .columns import read_columns, write_columns
from .segments import parse_rfm_segments, segment_case
from .sql import abc_case, quadrant_case, staged_values

JOB = "value"
VALUE_STEPS = 6
STAGING, PREDICTIONS, FINAL = "value_staging", "value_predictions", "value_final"
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

    def summary(self) -> dict[str, Any]:
        return {"customers": self.customers, "segments": self.segments, "abc": self.abc,
                "quadrants": self.quadrants, "changes": self.changes, "model": self.model,
                "model_fitted": self.model_fitted, "model_reason": self.model_reason,
                "profitable_clv": self.profitable_clv, "rows_written": self.rows_written,
                "window_start": self.window_start.isoformat()}


def value_audience(session: Session, audience_id: int, settings: ValueConfig, *, as_of: datetime | None = None,
                   progress: Progress | None = None) -> ValueResult:
    """Compute every subscriber's value as of `as_of` (default now) and record the run."""
    window_start, as_of = window_bounds(as_of or utcnow(), settings.lookback_months)
    rules = parse_rfm_segments(settings.rfm_segments)
    with recorded_run(session, JOB, audience_id=audience_id, as_of=as_of) as run:
        result = ValueResult(run.id, audience_id, as_of, window_start)
        session.execute(select(Audience.id).where(Audience.id == audience_id).with_for_update())
        _drop_temporary(session)
        session.execute(CreateTemporaryTableAs(
            STAGING, staged_values(session, audience_id, window_start, as_of, settings.margin_rate)))
        _advance(progress)
        _fit_and_predict(session, audience_id, settings, as_of, run.id, result)
        _advance(progress)
        result.profitable_clv = _profitable_threshold(session, settings, result.model_fitted)
        session.execute(CreateTemporaryTableAs(FINAL, _final_values(rules, settings, result)))
        _advance(progress)
        result.changes = _write_history(session, audience_id, as_of, run.id)
        _advance(progress)
        result.rows_written = _store_values(session, audience_id, as_of, run.id)
        _advance(progress)
        _count(session, result)
        _drop_temporary(session)
        _advance(progress)
        finish_run(session, run, result.summary())  # commits the work and the run's success together
    return result


def value_all(session: Session, settings: ValueConfig, *, as_of: datetime | None = None) -> list[ValueResult]:
    """Every audience with one as_of."""
    as_of = as_of or utcnow()
    ids = list(session.scalars(select(Audience.id).order_by(Audience.id)))
    return [value_audience(session, audience_id, settings, as_of=as_of) for audience_id in ids]


def _advance(progress: Progress | None) -> None:
    if progress is not None:
        progress.advance(1)


def _drop_temporary(session: Session) -> None:
    for name in (FINAL, PREDICTIONS, STAGING):
        session.execute(text(f"DROP TABLE IF EXISTS {name}"))


_META = MetaData()
STAGED = Table(STAGING, _META, *(Column(name, Integer) for name in (
    "subscriber_id", "frequency", "monetary_cents", "recency_days", "is_customer", "days", "first_day", "last_day",
    "r_score", "f_score", "m_score", "cents_before", "cents_total")),
    Column("email", String), Column("engagement_class", String),
    *(Column(name, Float) for name in ("total_amount", "total_margin", "first_day_amount")))
PREDICTED = Table(PREDICTIONS, _META, Column("subscriber_id", SUBSCRIBER_KEY), Column("repeat_days", Integer),
                  *(Column(name, Float) for name in ("t_x_weeks", "t_weeks", "margin_rate", "p_alive",
                                                     "expected_orders", "expected_order_value", "clv")),
                  prefixes=["TEMPORARY"])
FINAL_TABLE = Table(FINAL, _META, *(Column(name) for name in ("subscriber_id",) + VALUE_COLUMNS))


def _fit_and_predict(session: Session, audience_id: int, settings: ValueConfig, as_of: datetime, run_id: int,
                     result: ValueResult) -> None:
    """Fit both models on every subscriber with a counted order up to as_of; store the fit and the
    predictions, or keep the last good model and say why."""
    # The figures as floats; the subscriber keys (63-bit: a float would round them) read on their own,
    # in the same order.
    customers = select(STAGED.c.subscriber_id).where(STAGED.c.days >= 1).order_by(STAGED.c.subscriber_id)
    data = read_columns(session, customers.add_columns(
        STAGED.c.days, STAGED.c.first_day, STAGED.c.last_day, STAGED.c.total_amount, STAGED.c.total_margin,
        STAGED.c.first_day_amount))
    PREDICTED.create(session.connection())
    if not len(data):
        result.model_reason = "no orders"
        result.model = _last_model(session, audience_id)
        return
    ids = np.fromiter(session.scalars(customers), dtype=np.int64, count=len(data))
    days, first, last = data[:, 1], data[:, 2], data[:, 3]
    total, margin, first_amount = data[:, 4], data[:, 5], data[:, 6]
    as_of_day = (as_of.date() - datetime(1970, 1, 1).date()).days
    x, t_x, T = days - 1, (last - first) / 7, (as_of_day - first) / 7
    with np.errstate(invalid="ignore", divide="ignore"):
        spend = np.where(x > 0, (total - first_amount) / np.maximum(x, 1), np.nan)
        rate = np.where(total > 0, margin / np.where(total > 0, total, 1), settings.margin_rate)
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
    if fit is not None:
        bgnbd, gg = fit
        weeks = [(months_before(as_of, -i) - as_of).total_seconds() / 604800 for i in range(1, settings.horizon_months + 1)]
        expected, order_value, value = clv.clv(bgnbd, gg, weeks, x, t_x, T, spend, rate, settings.discount_rate_monthly)
        predictions = {"p_alive": clv.p_alive(bgnbd, x, t_x, T), "expected_orders": expected,
                       "expected_order_value": order_value, "clv": value}
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
    columns = {"subscriber_id": ids, "repeat_days": x.astype(np.int64), "t_x_weeks": t_x, "t_weeks": T,
               "margin_rate": rate, **predictions}
    write_columns(session, PREDICTIONS, columns)


def model_parameters(model: ValueModel) -> dict[str, Any]:
    """The fitted parameters as `mailseg export value-model` shows them."""
    return {"bgnbd": {"r": model.bgnbd_r, "alpha": model.bgnbd_alpha, "a": model.bgnbd_a, "b": model.bgnbd_b,
                      "log_likelihood": model.bgnbd_log_likelihood},
            "gamma_gamma": {"p": model.gg_p, "q": model.gg_q, "gamma": model.gg_gamma,
                            "log_likelihood": model.gg_log_likelihood},
            "customers": model.customers, "repeat_customers": model.repeat_customers,
            "as_of": model.as_of.isoformat(), "run_id": model.run_id}


def latest_model(session: Session, audience_id: int) -> ValueModel | None:
    return session.scalars(select(ValueModel).where(ValueModel.audience_id == audience_id)
                           .order_by(ValueModel.as_of.desc(), ValueModel.id.desc()).limit(1)).first()


def _last_model(session: Session, audience_id: int) -> dict[str, Any] | None:
    model = latest_model(session, audience_id)
    return model_parameters(model) if model is not None else None


def _prediction_source(fitted: bool):
    """This run's predictions, or (no new model) the stored ones of the last good model."""
    if fitted:
        return PREDICTED.c
    return VALUES.c


def _from_clause(fitted: bool):
    joined = STAGED.outerjoin(PREDICTED, PREDICTED.c.subscriber_id == STAGED.c.subscriber_id)
    if not fitted:
        joined = joined.outerjoin(VALUES, VALUES.c.subscriber_id == STAGED.c.subscriber_id)
    return joined


def _profitable_threshold(session: Session, settings: ValueConfig, fitted: bool) -> float | None:
    """value.profitable_clv, or the median CLV of the audience's customers that have one."""
    if settings.profitable_clv != "median":
        return float(settings.profitable_clv)
    source = _prediction_source(fitted)
    values = session.scalars(select(source.clv).select_from(_from_clause(fitted))
                             .where(STAGED.c.is_customer == 1, source.clv.is_not(None))).all()
    return float(np.median(values)) if values else None


def _final_values(rules, settings: ValueConfig, result: ValueResult):
    """Named statement "value final": the row each subscriber will have, segment rules applied."""
    s, p = STAGED.c, _prediction_source(result.model_fitted)
    segment = segment_case(rules, s.r_score, s.f_score, s.m_score)
    share = cast(s.cents_before, Float) / func.nullif(s.cents_total, 0)
    return (select(s.subscriber_id, s.frequency, (cast(s.monetary_cents, Numeric(14, 2)) / 100).label("monetary"),
                   s.recency_days, s.r_score, s.f_score, s.m_score,
                   case((s.is_customer == 1, segment), else_=literal(PROSPECT)).label("rfm_segment"),
                   abc_case(s.cents_before, s.cents_total, settings.abc_a, settings.abc_b).label("abc_class"),
                   share.label("abc_share_before"),
                   PREDICTED.c.repeat_days, PREDICTED.c.t_x_weeks, PREDICTED.c.t_weeks, PREDICTED.c.margin_rate,
                   p.p_alive, p.expected_orders, p.expected_order_value, p.clv,
                   quadrant_case(s.frequency, s.engagement_class, p.clv, result.profitable_clv).label("quadrant"))
            .select_from(_from_clause(result.model_fitted)))


def _write_history(session: Session, audience_id: int, as_of: datetime, run_id: int) -> dict[str, int]:
    """Named statements "value history": one row per subscriber and family whose value changed. A
    subscriber never valued before enters the RFM history only when they are a customer."""
    f = FINAL_TABLE.c
    changes: dict[str, int] = {}
    joined = FINAL_TABLE.outerjoin(VALUES, VALUES.c.subscriber_id == f.subscriber_id)
    for family, column in FAMILY_COLUMNS.items():
        old, new = VALUES.c[column], f[column]
        stored = func.coalesce(old, literal(PROSPECT)) if family == "rfm" else old
        rows = (select(literal(audience_id), f.subscriber_id, literal(family), old, new,
                       literal(as_of, UTCDateTime), literal(run_id))
                .select_from(joined).where(stored.is_distinct_from(new)))
        columns = ["audience_id", "subscriber_id", "family", "from_value", "to_value", "changed_at", "run_id"]
        changes[family] = written_rows(session, insert(ValueChange.__table__).from_select(columns, rows))
    return changes


def _store_values(session: Session, audience_id: int, as_of: datetime, run_id: int) -> int:
    """Named statement "store values": upsert every subscriber's row, touching only changed rows."""
    f = FINAL_TABLE.c
    rows = select(f.subscriber_id, literal(audience_id), literal(as_of, UTCDateTime), literal(run_id),
                  *(f[name] for name in VALUE_COLUMNS)).where(true())
    columns = ["subscriber_id", "audience_id", "as_of", "run_id", *VALUE_COLUMNS]
    stmt = upsert(session, VALUES).from_select(columns, rows)
    changed = or_(*(VALUES.c[name].is_distinct_from(stmt.excluded[name]) for name in VALUE_COLUMNS))
    stmt = stmt.on_conflict_do_update(
        index_elements=["subscriber_id"],
        set_={name: stmt.excluded[name] for name in ("as_of", "run_id", *VALUE_COLUMNS)}, where=changed)
    return written_rows(session, stmt)


def _count(session: Session, result: ValueResult) -> None:
    f = FINAL_TABLE.c
    for column, target in ((f.rfm_segment, result.segments), (f.abc_class, result.abc), (f.quadrant, result.quadrants)):
        target.update((name, count) for name, count in session.execute(
            select(column, func.count()).where(column.is_not(None)).group_by(column).order_by(column)).all())
    result.customers = sum(n for name, n in result.segments.items() if name != PROSPECT)


