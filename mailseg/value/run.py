"""A value run (`mailseg value`, the scheduled chain after classify): one recorded run per audience.

Order of a run, all in one transaction (a crash leaves the previous values and a failed run); what
touches every subscriber is set-based SQL or numpy over packed columns (profile and figures:
docs/BENCHMARKS.md, issue 13):
1. the kept order totals brought up to date (totals.py: the lookback figures slid to the run's
   window, the subscribers whose orders changed since the last run summed again, or a first build),
   then read into numpy (figures.py), one entry per subscriber with an order up to as_of (prospects
   without orders have none); as of a moment before a kept order, summed as of it instead;
2. in a worker thread, the BG/NBD and Gamma-Gamma fits and the predictions on the lifetime totals
   (model.py, clv.py); too little data or no convergence: no new model, the stored predictions of the
   last good model stay, and the summary says why. Meanwhile the RFM scores and ABC positions are
   computed (figures.py; the database sorts the customers by email for the ABC ties; as of a past
   moment it aggregates the lookback's orders first), prospect rows are stored for the subscribers
   never valued, and the lapsed customers' rows staged as changed;
3. all of it COPYed into one staging table (temporary; on Citus distributed, sqlutil.create_staging);
4. "value changed": every customer's new row (segment rules, ABC classes, quadrants) compared with
   the stored one in one join, keeping only the rows that differ;
5. history rows for the changed rows whose RFM segment, ABC class or quadrant moved, and the
   changed rows stored: an UPDATE of the stored ones, an INSERT of the new ones (a run without new
   orders writes nothing).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import (BigInteger, Column, Float, Integer, MetaData, Numeric, Table, case, cast, column, func,
                        insert, literal, null, or_, select, table, update)
from sqlalchemy.orm import Session

from ..config import ValueConfig
from ..engagement.window import window_bounds
from ..models import PROSPECT, Audience, SubscriberValue, UTCDateTime, ValueChange, ValueModel, utcnow
from ..models.audience import SUBSCRIBER_KEY
from ..progress import Progress
from ..runs import finish_run, recorded_run
from ..sqlutil import analyze_written, create_staging, drop_staging, sort_memory, stage, without_jit, written_rows
from .columns import write_columns
from .figures import ABC_CLASSES, Figures, abc_codes, add_lookback, read_lifetime, score_totals
from .model import Modelled, fit_and_predict, latest_model, model_parameters
from .segments import parse_rfm_segments, segment_codes, segment_name
from .sql import CLASSES, ENGAGEMENT_CLASS, SUBSCRIBERS, quadrant_case
from .totals import MARKS, TOTALS_AS_OF, refresh_order_totals

JOB = "value"
VALUE_STEPS = 6
COMPUTED, CHANGED, NEW_PROSPECTS = "value_computed", "value_changed", "value_new_prospects"
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
        sort_memory(session)  # the order totals' per-day window, the email sort, the hash joins
        without_jit(session)  # compiling the wide CASE expressions cost more than it saved
        refresh = refresh_order_totals(session, audience_id, window_start, as_of, rebuild=rebuild_totals)
        result.totals = {"rebuilt": refresh.rebuilt, "subscribers": refresh.subscribers, "lookback": refresh.lookback}
        totals = read_lifetime(session, audience_id, as_of, settings.margin_rate, kept=refresh.covers)
        _advance(progress)
        # The models need only the lifetime totals: they are fitted and predict (numpy and scipy, which
        # release the GIL) while the database sorts the customers by email for the ABC ties and writes
        # the rows of everyone who is not a customer (and, as of a past moment, first aggregates the
        # lookback's orders).
        with ThreadPoolExecutor(max_workers=1) as pool:
            modelling = pool.submit(fit_and_predict, settings, as_of, dict(totals.values))
            if not totals.has_lookback:
                add_lookback(session, totals, audience_id, window_start, as_of)
            figures = score_totals(session, audience_id, totals)
            prospects = _store_others(session, audience_id, totals.source, refresh.summed_again, as_of, run.id)
            modelled = modelling.result()
        customer_clv = _stage_computed(session, audience_id, settings, rules, as_of, run.id, result, figures, modelled)
        _advance(progress)
        result.profitable_clv = _profitable_threshold(session, settings, result.model_fitted, customer_clv)
        _stage_customers(session, rules, result)
        _advance(progress)
        result.changes = _write_history(session, audience_id, as_of, run.id)
        _advance(progress)
        updated, inserted = _store_values(session, audience_id, as_of, run.id)
        result.rows_written = prospects + updated + inserted
        # the next run joins the stored rows: planned with stale counts after a first run (1,000,000 rows
        # taken for 730,000), the joins hashed them instead of the smaller computed table
        analyze_written(session, {VALUES.name: prospects + inserted})
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
    drop_staging(session, CHANGED, COMPUTED, NEW_PROSPECTS, TOTALS_AS_OF.name, MARKS)


_META = MetaData()
# Every customer's figures, scores, model inputs and predictions, COPYed from numpy. The float columns
# hold NaN where numpy has no value (a score outside the lookback, no fit): read them with _number().
COMPUTED_TABLE = Table(COMPUTED, _META, Column("subscriber_id", SUBSCRIBER_KEY),
                       Column("frequency", Integer),
                       Column("monetary_cents", BigInteger), Column("repeat_days", Integer),
                       # the RFM segment and ABC class as codes (segments.segment_codes, figures.abc_codes)
                       Column("segment", Integer), Column("abc", Integer),
                       *(Column(name, Float) for name in (
                           "recency_days", "r_score", "f_score", "m_score", "abc_share_before", "t_x_weeks", "t_weeks",
                           "margin_rate", "p_alive", "expected_orders", "expected_order_value", "clv")))
OLD = {family: f"old_{column}" for family, column in FAMILY_COLUMNS.items()}
CHANGED_TABLE = Table(CHANGED, _META, Column("subscriber_id", SUBSCRIBER_KEY),
                      *(Column(name, VALUES.c[name].type) for name in VALUE_COLUMNS),
                      *(Column(OLD[family], VALUES.c[column].type) for family, column in FAMILY_COLUMNS.items()))


def _stage_computed(session: Session, audience_id: int, settings: ValueConfig, rules, as_of: datetime, run_id: int,
                    result: ValueResult, figures: Figures, modelled: Modelled) -> np.ndarray | None:
    """Store a new model, or keep the last good one and say why; stage the figures, scores, segments,
    ABC classes, model inputs and predictions. Returns the customers' CLVs when fitted."""
    totals, lookback = figures.totals, figures.in_lookback
    with np.errstate(invalid="ignore", divide="ignore"):
        share = figures.cents_before / float(figures.cents_total) if figures.cents_total else \
            np.full(len(figures.ids), np.nan)
    columns = {"subscriber_id": figures.ids, "frequency": totals["frequency"].astype(np.int32),
               "monetary_cents": totals["monetary_cents"].astype(np.int64),
               "segment": segment_codes(rules, figures.r_score, figures.f_score, figures.m_score).astype(np.int32),
               "abc": abc_codes(figures.cents_before, figures.cents_total, settings.abc_a, settings.abc_b)
               .astype(np.int32),
               "recency_days": totals["recency_days"], "r_score": figures.r_score,
               "f_score": figures.f_score, "m_score": figures.m_score, "abc_share_before": share}
    create_staging(session, COMPUTED_TABLE, key="subscriber_id")
    result.model_reason = modelled.reason
    if modelled.fit is None:
        result.model = _last_model(session, audience_id)
    else:
        bgnbd, gg = modelled.fit
        model = ValueModel(audience_id=audience_id, run_id=run_id, as_of=as_of, customers=len(modelled.x),
                           repeat_customers=modelled.repeat, bgnbd_r=bgnbd.r, bgnbd_alpha=bgnbd.alpha,
                           bgnbd_a=bgnbd.a, bgnbd_b=bgnbd.b, bgnbd_log_likelihood=bgnbd.log_likelihood,
                           gg_p=gg.p, gg_q=gg.q, gg_gamma=gg.gamma, gg_log_likelihood=gg.log_likelihood)
        session.add(model)
        session.flush()
        result.model_fitted = True
        result.model = model_parameters(model)
    if not len(figures.ids):
        return None
    columns.update({"repeat_days": modelled.x.astype(np.int32), "t_x_weeks": modelled.t_x, "t_weeks": modelled.T,
                    "margin_rate": modelled.rate, **modelled.predictions})
    write_columns(session, COMPUTED, columns)
    return modelled.predictions["clv"][lookback] if modelled.fit is not None else None


def _last_model(session: Session, audience_id: int) -> dict[str, Any] | None:
    model = latest_model(session, audience_id)
    return model_parameters(model) if model is not None else None


def _number(column, type_=None):
    """A float column of the computed table as read: NaN (numpy's missing value) as NULL, cast to type_."""
    value = func.nullif(column, literal(float("nan"), Float))
    return cast(value, type_) if type_ is not None else value


def _predictions(fitted: bool) -> dict:
    """This run's predictions, or (no new model) the stored ones of the last good model."""
    names = ("p_alive", "expected_orders", "expected_order_value", "clv")
    return {name: _number(COMPUTED_TABLE.c[name]) if fitted else VALUES.c[name] for name in names}


def _profitable_threshold(session: Session, settings: ValueConfig, fitted: bool,
                          customer_clv: np.ndarray | None) -> float | None:
    """value.profitable_clv, or the median CLV of the audience's customers that have one."""
    if settings.profitable_clv != "median":
        return float(settings.profitable_clv)
    if fitted:
        values = customer_clv[~np.isnan(customer_clv)] if customer_clv is not None else np.zeros(0)
    else:
        values = np.array(session.scalars(
            select(VALUES.c.clv)
            .select_from(COMPUTED_TABLE.join(VALUES, VALUES.c.subscriber_id == COMPUTED_TABLE.c.subscriber_id))
            .where(COMPUTED_TABLE.c.frequency > 0, VALUES.c.clv.is_not(None))).all(), dtype=float)
    return float(np.median(values)) if len(values) else None


def _changed_customers(rules, result: ValueResult):
    """Named statement "value changed" (customers): the row each subscriber with a counted order up
    to as_of will have (the computed figures, scores, segment and ABC codes, predictions; the quadrant
    from the engagement class), kept only where it differs from the stored row, with the stored RFM
    segment, ABC class and quadrant beside it. Everyone else is _store_others'."""
    t, v = COMPUTED_TABLE.c, VALUES.c
    p = _predictions(result.model_fitted)
    new = {
        "frequency": t.frequency,
        "monetary": cast(t.monetary_cents, Numeric(14, 2)) / 100,
        "recency_days": _number(t.recency_days, Integer),
        "r_score": _number(t.r_score, Integer), "f_score": _number(t.f_score, Integer),
        "m_score": _number(t.m_score, Integer),
        "rfm_segment": segment_name(rules, t.segment),
        "abc_class": case({code: literal(name) for code, name in enumerate(ABC_CLASSES)}, value=t.abc),
        "abc_share_before": _number(t.abc_share_before),
        "repeat_days": t.repeat_days, "t_x_weeks": t.t_x_weeks, "t_weeks": t.t_weeks, "margin_rate": t.margin_rate,
        **p,
        "quadrant": quadrant_case(t.frequency, ENGAGEMENT_CLASS, p["clv"], result.profitable_clv),
    }
    joined = (COMPUTED_TABLE.outerjoin(VALUES, v.subscriber_id == t.subscriber_id)
              .outerjoin(CLASSES, CLASSES.c.subscriber_id == t.subscriber_id))
    return (select(t.subscriber_id.label("subscriber_id"), *(new[name].label(name) for name in VALUE_COLUMNS),
                   *(v[column].label(OLD[family]) for family, column in FAMILY_COLUMNS.items()))
            .select_from(joined).where(or_(v.subscriber_id.is_(None), _differs(new))))


# The row of a subscriber without a counted order up to as_of: a prospect, no figures, no predictions.
PROSPECT_ROW = {name: null() for name in VALUE_COLUMNS} | {"frequency": literal(0), "monetary": literal(0),
                                                           "rfm_segment": literal(PROSPECT)}


def _new_prospects(session: Session, audience_id: int, customers: Table, as_of: datetime, run_id: int) -> int:
    """Named statements "new prospects": the subscribers of the audience without a stored row and
    without a counted order up to as_of (not in `customers`, the order totals the run read: a NOT
    EXISTS on the subscriber key through the totals' key index; on Citus a join per shard, where a
    NOT IN's list was pulled to the coordinator and the rows repartitioned), stored as prospect rows.
    Their keys are staged first: an INSERT into the stored rows reading their own table planned a
    nested loop over it when its statistics took it for empty (a first run after a TRUNCATE), and
    rescanned the rows it was inserting (minutes at 500,000). They need no history (a subscriber
    never valued enters the RFM history only as a customer) and only the customers' keys: the run
    stores them while the models are fitted, half the rows of a first run. Returns how many."""
    stage(session, NEW_PROSPECTS, select(SUBSCRIBERS.c.id.label("subscriber_id"))
          .where(SUBSCRIBERS.c.audience_id == audience_id, ~_in_table(customers, SUBSCRIBERS.c.id),
                 ~_in_table(VALUES, SUBSCRIBERS.c.id)),
          key="subscriber_id")
    keys = table(NEW_PROSPECTS, column("subscriber_id"))
    rows = select(keys.c.subscriber_id, literal(audience_id), literal(as_of, UTCDateTime), literal(run_id),
                  *(PROSPECT_ROW[name] for name in VALUE_COLUMNS))
    return written_rows(session, insert(VALUES).from_select(STORED_COLUMNS, rows))


def _in_table(rows: Table, key):
    """EXISTS: `key` is a subscriber key of the table `rows`."""
    return select(rows.c.subscriber_id).where(rows.c.subscriber_id == key).exists()


def _changed_lapsed(audience_id: int, customers: Table, lapsing: Table | None):
    """Named statement "value changed" (lapsed): the stored rows that are not the prospect row of the
    subscribers without a counted order up to as_of any more (their orders cancelled), as prospect
    rows with their stored RFM segment, ABC class and quadrant beside them. One pass over the stored
    rows, or only over those of `lapsing`, the subscribers the kept totals may have lost since the
    last run (TotalsRefresh.summed_again)."""
    v = VALUES.c
    prospect = [PROSPECT_ROW[name].label(name) for name in VALUE_COLUMNS]
    lapsed = (select(v.subscriber_id, *prospect, *(v[column] for column in FAMILY_COLUMNS.values()))
              .where(v.audience_id == audience_id, ~_in_table(customers, v.subscriber_id), _differs(PROSPECT_ROW)))
    if lapsing is not None:
        lapsed = lapsed.where(_in_table(lapsing, v.subscriber_id))
    return lapsed


def _differs(new: dict):
    """The stored row differs from `new` in a compared column."""
    return or_(*(VALUES.c[name].is_distinct_from(new[name]) for name in VALUE_COLUMNS))


CHANGED_COLUMNS = ["subscriber_id", *VALUE_COLUMNS, *OLD.values()]
STORED_COLUMNS = ["subscriber_id", "audience_id", "as_of", "run_id", *VALUE_COLUMNS]


def _store_others(session: Session, audience_id: int, customers: Table, lapsing: Table | None, as_of: datetime,
                  run_id: int) -> int:
    """The subscribers who are not customers: prospect rows stored for those never valued (when the
    audience has more subscribers than stored rows: rows are only ever written for its subscribers,
    one each), the changed rows of the lapsed staged in the changed table (created here). Returns
    the rows stored."""
    create_staging(session, CHANGED_TABLE, key="subscriber_id")
    session.execute(insert(CHANGED_TABLE).from_select(CHANGED_COLUMNS, _changed_lapsed(audience_id, customers, lapsing)))
    subscribers = session.scalar(select(func.count()).where(SUBSCRIBERS.c.audience_id == audience_id))
    stored = session.scalar(select(func.count()).select_from(VALUES).where(VALUES.c.audience_id == audience_id))
    return _new_prospects(session, audience_id, customers, as_of, run_id) if subscribers != stored else 0


def _stage_customers(session: Session, rules, result: ValueResult) -> None:
    """The customers' changed rows added to the staging table."""
    session.execute(insert(CHANGED_TABLE).from_select(CHANGED_COLUMNS, _changed_customers(rules, result)))


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


def _store_values(session: Session, audience_id: int, as_of: datetime, run_id: int) -> tuple[int, int]:
    """Named statements "store values": the changed rows (the only ones in the changed table) in two
    statements: an UPDATE ... FROM of the stored rows that changed, a plain INSERT ... SELECT of the
    rows never stored (no stored row: no stored RFM segment beside the row, a column that is never
    NULL). An upsert (INSERT ... ON CONFLICT DO UPDATE) checks the primary key before every insert:
    1.4 x the plain INSERT on a first run, which writes a row per customer (docs/BENCHMARKS.md,
    issue 13). The audience row is locked for the run, so no other run stores rows in between.
    Returns (rows updated, rows inserted)."""
    f = CHANGED_TABLE.c
    stored = f[OLD["rfm"]].is_not(None)
    updated = session.execute(
        update(VALUES).where(VALUES.c.subscriber_id == f.subscriber_id, stored)
        .values(as_of=literal(as_of, UTCDateTime), run_id=literal(run_id), **{name: f[name] for name in VALUE_COLUMNS})
        .execution_options(preserve_rowcount=True)).rowcount or 0
    rows = select(f.subscriber_id, literal(audience_id), literal(as_of, UTCDateTime), literal(run_id),
                  *(f[name] for name in VALUE_COLUMNS)).where(~stored)
    return updated, written_rows(session, insert(VALUES).from_select(STORED_COLUMNS, rows))


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
