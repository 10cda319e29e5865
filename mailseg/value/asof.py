"""One subscriber's value as of a past moment T (`mailseg explain --as-of T`), computed with the run's
own statements rather than read from the stored (current) values.

The figures, scores and ABC position come from the value run's totals and scores statements
(sql.py) evaluated as of T in the run's staging tables (sqlutil.stage); the lifetime value from
the last good model fitted as of T or earlier (the run's prediction code); the quadrant, which depends on
the audience's median CLV and the engagement class at T, from the value history (the last quadrant
change recorded at or before T). Costs one aggregate pass over the audience's orders.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import numpy as np
from sqlalchemy import BigInteger, func, literal, select
from sqlalchemy.orm import Session

from ..config import ValueConfig
from ..engagement.window import window_bounds
from ..models import PROSPECT, Subscriber, ValueChange
from .run import (SCORED, TOTALED, _drop_temporary, fitted_models, latest_model, model_inputs, model_parameters,
                  predict, stage_scores)
from .sql import abc_case


def value_as_of(session: Session, subscriber_id: int, settings: ValueConfig, as_of: datetime) -> dict:
    """The subscriber's value fields as of `as_of` (the names of SubscriberValue), plus "scores"
    (letter -> (score, figure, low, high)) and "model" (the parameters behind the CLV, or None)."""
    audience_id = session.scalar(select(Subscriber.audience_id).where(Subscriber.id == subscriber_id))
    window_start, as_of = window_bounds(as_of, settings.lookback_months)
    _drop_temporary(session)
    try:
        cents_total = stage_scores(session, audience_id, window_start, as_of, settings.margin_rate)
        return _fields(session, audience_id, subscriber_id, settings, as_of, cents_total)
    finally:
        _drop_temporary(session)


def _fields(session: Session, audience_id: int, subscriber_id: int, settings: ValueConfig, as_of: datetime,
            cents_total: int) -> dict:
    t, c = TOTALED.c, SCORED.c
    out: dict = {"as_of": as_of, "frequency": 0, "monetary": Decimal("0"), "rfm_segment": PROSPECT, "scores": {},
                 "model": None, "quadrant": _quadrant_as_of(session, subscriber_id, as_of)}
    totals = session.execute(select(t).where(t.subscriber_id == subscriber_id)).mappings().first()
    if totals is None:
        return out
    out.update(frequency=int(totals["frequency"]), monetary=Decimal(int(totals["monetary_cents"])).scaleb(-2),
               recency_days=totals["recency_days"])
    scores = session.execute(select(c).where(c.subscriber_id == subscriber_id)).mappings().first()
    if scores is not None:
        for letter, figure in (("R", t.recency_days), ("F", t.frequency), ("M", t.monetary_cents)):
            score = scores[f"{letter.lower()}_score"]
            low, high = session.execute(select(func.min(figure), func.max(figure))
                                        .select_from(TOTALED.join(SCORED, c.subscriber_id == t.subscriber_id))
                                        .where(c[f"{letter.lower()}_score"] == score)).one()
            value = {"R": totals["recency_days"], "F": totals["frequency"], "M": totals["monetary_cents"]}[letter]
            scale = 100 if letter == "M" else 1
            out["scores"][letter] = (score, value / scale, low / scale, high / scale)
        out["abc_class"] = session.scalar(select(abc_case(literal(scores["cents_before"], BigInteger),
                                                          literal(cents_total, BigInteger),
                                                          settings.abc_a, settings.abc_b)))
        if cents_total:
            out["abc_share_before"] = scores["cents_before"] / cents_total
            out["abc_share_after"] = (scores["cents_before"] + totals["monetary_cents"]) / cents_total
    x, t_x, T, spend, rate = model_inputs(as_of, settings, *(np.array([float(totals[name] or 0)]) for name in (
        "days", "first_day", "last_day", "total_amount", "total_margin", "first_day_amount")))
    out.update(repeat_days=int(x[0]), t_x_weeks=float(t_x[0]), t_weeks=float(T[0]), margin_rate=float(rate[0]))
    model = latest_model(session, audience_id, as_of=as_of)
    if model is not None:
        predicted = predict(*fitted_models(model), settings, as_of, x, t_x, T, spend, rate)
        out.update({name: float(values[0]) for name, values in predicted.items()})
        out["model"] = model_parameters(model)
    return out


def _quadrant_as_of(session: Session, subscriber_id: int, as_of: datetime) -> str | None:
    """The quadrant the value history holds for the subscriber at `as_of` (None before any)."""
    return session.scalar(select(ValueChange.to_value)
                          .where(ValueChange.subscriber_id == subscriber_id, ValueChange.family == "quadrant",
                                 ValueChange.changed_at <= as_of)
                          .order_by(ValueChange.changed_at.desc(), ValueChange.id.desc()).limit(1))
