"""The lifetime-value model of a value run: the BG/NBD and Gamma-Gamma inputs from the per-customer
totals, both fits and the predictions (pure numpy and scipy: the run computes them in a worker thread
while the database works, run.py), and the stored models."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import ValueConfig
from ..engagement.window import months_before
from ..models import ValueModel
from . import clv

LIFETIME_FIELDS = ("days", "first_day", "last_day", "total_amount", "total_margin", "first_day_amount")


@dataclass
class Modelled:
    """A run's model inputs per customer, the fit (None: too little data, or no convergence, and why)
    and the predictions (p_alive NaN everywhere without a fit)."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    rate: np.ndarray
    repeat: int
    fit: tuple[clv.BgNbd, clv.GammaGamma] | None = None
    reason: str | None = None
    predictions: dict[str, np.ndarray] = field(default_factory=dict)


def fit_and_predict(settings: ValueConfig, as_of: datetime, totals: dict[str, np.ndarray]) -> Modelled:
    """Fit both models on every customer with a counted order up to as_of (the totals' arrays) and
    predict, or say why not."""
    x, t_x, T, spend, rate = model_inputs(as_of, settings, *(totals[name] for name in LIFETIME_FIELDS))
    modelled = Modelled(x, t_x, T, rate, int(np.sum(x > 0)), predictions={"p_alive": np.full(len(x), np.nan)})
    if not len(x):
        modelled.reason = "no orders"
    elif modelled.repeat < settings.min_repeat_customers:
        modelled.reason = (f"too little data: {modelled.repeat} repeat customer(s), value.min_repeat_customers "
                           f"is {settings.min_repeat_customers}")
    else:
        try:
            modelled.fit = clv.fit_bgnbd(x, t_x, T), clv.fit_gamma_gamma(x, spend)
        except clv.FitError as exc:
            modelled.reason = str(exc)
    if modelled.fit is not None:
        modelled.predictions = predict(*modelled.fit, settings, as_of, x, t_x, T, spend, rate)
    return modelled


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
    return {"p_alive": clv.p_alive(bgnbd, x, t_x, T), "expected_orders": expected,
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
