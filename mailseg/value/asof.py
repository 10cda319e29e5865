"""One subscriber's value as of a past moment T (`mailseg explain --as-of T`), computed with the run's
own code rather than read from the stored (current) values.

The figures, scores and ABC position come from the value run's figures (figures.py) computed as of T
(the orders up to T summed: totals.totals_as_of); the lifetime value from the last good model
fitted as of T or earlier (the run's prediction code); the quadrant, which depends on the audience's
median CLV and the engagement class at T, from the value history (the last quadrant change recorded
at or before T). Costs one aggregate pass over the audience's orders.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import ValueConfig
from ..engagement.window import window_bounds
from ..models import PROSPECT, Subscriber, ValueChange
from .figures import ABC_CLASSES, Figures, abc_codes, customer_figures
from .model import LIFETIME_FIELDS, fitted_models, latest_model, model_inputs, model_parameters, predict
from .run import _drop_temporary


def value_as_of(session: Session, subscriber_id: int, settings: ValueConfig, as_of: datetime) -> dict:
    """The subscriber's value fields as of `as_of` (the names of SubscriberValue), plus "scores"
    (letter -> (score, figure, low, high)) and "model" (the parameters behind the CLV, or None)."""
    audience_id = session.scalar(select(Subscriber.audience_id).where(Subscriber.id == subscriber_id))
    window_start, as_of = window_bounds(as_of, settings.lookback_months)
    _drop_temporary(session)
    try:
        figures = customer_figures(session, audience_id, window_start, as_of, settings.margin_rate, kept=False)
        return _fields(session, audience_id, subscriber_id, settings, as_of, figures)
    finally:
        _drop_temporary(session)


def _fields(session: Session, audience_id: int, subscriber_id: int, settings: ValueConfig, as_of: datetime,
            figures: Figures) -> dict:
    out: dict = {"as_of": as_of, "frequency": 0, "monetary": Decimal("0"), "rfm_segment": PROSPECT, "scores": {},
                 "model": None, "quadrant": _quadrant_as_of(session, subscriber_id, as_of)}
    at = int(np.searchsorted(figures.ids, subscriber_id))
    if at == len(figures.ids) or figures.ids[at] != subscriber_id:
        return out
    totals = {name: values[at] for name, values in figures.totals.items()}
    cents = int(totals["monetary_cents"])
    out.update(frequency=int(totals["frequency"]), monetary=Decimal(cents).scaleb(-2), recency_days=None)
    if out["frequency"]:
        out["recency_days"] = int(totals["recency_days"])
        lookback = figures.in_lookback
        for letter, name, scale in (("R", "recency_days", 1), ("F", "frequency", 1), ("M", "monetary_cents", 100)):
            score = getattr(figures, f"{letter.lower()}_score")
            same = lookback & (score == score[at])
            out["scores"][letter] = (int(score[at]), totals[name] / scale,
                                     figures.totals[name][same].min() / scale, figures.totals[name][same].max() / scale)
        before = int(figures.cents_before[at])
        code = abc_codes(figures.cents_before[at:at + 1], figures.cents_total, settings.abc_a, settings.abc_b)[0]
        out["abc_class"] = ABC_CLASSES[code]
        if figures.cents_total:
            out["abc_share_before"] = before / figures.cents_total
            out["abc_share_after"] = (before + cents) / figures.cents_total
    x, t_x, T, spend, rate = model_inputs(as_of, settings, *(np.array([float(totals[name])]) for name in LIFETIME_FIELDS))
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
