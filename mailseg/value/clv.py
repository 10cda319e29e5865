"""Customer lifetime value: the BG/NBD model of repeat purchasing and dropout and the Gamma-Gamma
model of spend, fitted by maximum likelihood, and the per-customer predictions.

Sources (the formulas below are theirs, equation numbers in brackets):
- Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to the
  Pareto/NBD model", Marketing Science 24(2): the likelihood (6), P(alive) (the note "Computing
  P(alive) using the BG/NBD model") and E[Y(t) | x, t_x, T] (10).
- Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer base analysis", and
  Fader & Hardie's note "The Gamma-Gamma model of monetary value" (2013): the likelihood and
  E[M | p, q, gamma, m_x, x].
Inputs per customer (mailseg/value/run.py computes them in SQL): x repeat purchase days, t_x and T in
weeks, the mean spend of the repeat days. Published check (tests/test_value_cdnow.py): on the CDNOW
sample, r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4; p = 6.25, q = 3.74, gamma = 15.44.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

WEEKS_PER_DAY = 1 / 7


class FitError(ValueError):
    """The model could not be fitted (too little data, no convergence); the message says why."""


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float
    log_likelihood: float


class _BgNbdData:
    """The customers of a BG/NBD fit, prepared once so that each likelihood evaluation costs a few
    vector operations: identical (x, t_x, T) weighted once, and every term that depends on x alone
    (Gamma and Beta functions), on T alone or on t_x alone computed on the few distinct values and
    gathered (purchase days make t_x and T multiples of 1/7: at most a few hundred distinct values)."""

    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
        keys, self.weight = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
        self.x = keys[:, 0]
        self.ux, self.ix = np.unique(self.x, return_inverse=True)
        self.ut, self.it = np.unique(keys[:, 1], return_inverse=True)
        self.uT, self.iT = np.unique(keys[:, 2], return_inverse=True)
        self.repeat = self.x > 0

    def log_likelihood(self, params) -> np.ndarray:
        """Per-customer log of (6): A1 + log(exp(A2) + [x > 0] exp(A3))."""
        r, alpha, a, b = params
        beta_ab = special.betaln(a, b)
        ux = self.ux
        a1 = (special.gammaln(r + ux) - special.gammaln(r))[self.ix] + r * np.log(alpha)
        rx = r + self.x
        a2 = (special.betaln(a, b + ux) - beta_ab)[self.ix] - rx * np.log(alpha + self.uT)[self.iT]
        with np.errstate(invalid="ignore", divide="ignore"):
            b3 = np.where(ux > 0, special.betaln(a + 1, b + ux - 1) - beta_ab, -np.inf)
        a3 = np.where(self.repeat, b3[self.ix] - rx * np.log(alpha + self.ut)[self.it], -np.inf)
        return a1 + np.logaddexp(a2, a3)

    def total(self, params) -> float:
        return float(np.dot(self.weight, self.log_likelihood(params)))


def _maximise(negative_ll, start: np.ndarray, what: str) -> np.ndarray:
    """Maximum likelihood over log-parameters (all parameters are positive): L-BFGS-B from the start,
    then Nelder-Mead from its end, then L-BFGS-B again when Nelder-Mead moved; a FitError when
    no method converges to a finite optimum."""
    def objective(log_params):
        value = negative_ll(np.exp(log_params))
        return value if np.isfinite(value) else 1e300

    results = [optimize.minimize(objective, start, method="L-BFGS-B")]
    results.append(optimize.minimize(objective, results[-1].x, method="Nelder-Mead",
                                     options={"maxiter": 4000, "xatol": 1e-7, "fatol": 1e-7}))
    if results[-1].fun < results[0].fun - 1e-9:
        results.append(optimize.minimize(objective, results[-1].x, method="L-BFGS-B"))
    best = min(results, key=lambda result: result.fun)
    if not any(result.success for result in results) or not np.isfinite(best.fun) or best.fun >= 1e299:
        raise FitError(f"the {what} fit did not converge ({best.message})")
    params = np.exp(best.x)
    if not np.all(np.isfinite(params)) or np.any(params > 1e8) or np.any(params < 1e-8):
        raise FitError(f"the {what} fit ran off to a boundary (parameters {np.round(params, 6).tolist()})")
    return params


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> BgNbd:
    """Maximum-likelihood BG/NBD over customers given by arrays x, t_x, T (weeks)."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if len(x) == 0:
        raise FitError("no customers")
    data = _BgNbdData(x, t_x, T)
    params = _maximise(lambda p: -data.total(p), np.log([0.5, max(float(np.mean(T)), 1.0), 1.0, 1.0]), "BG/NBD")
    return BgNbd(*(float(v) for v in params), log_likelihood=data.total(params))


def _gg_log_likelihood(params, x, m, log_m, log_x, mx):
    p, q, gamma = params
    px = p * x
    return (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(gamma)
            + (px - 1) * log_m + px * log_x - (px + q) * np.log(gamma + mx))


def fit_gamma_gamma(x: np.ndarray, m: np.ndarray) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma over repeat customers: x >= 1 repeat purchases of mean m > 0."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    usable = (x >= 1) & (m > 0)
    x, m = x[usable], m[usable]
    if len(x) < 2:
        raise FitError("fewer than two repeat customers with a positive spend")
    terms = (x, m, np.log(m), np.log(x), m * x)
    params = _maximise(lambda p: -np.sum(_gg_log_likelihood(p, *terms)),
                       np.log([1.0, 2.0, max(float(np.mean(m)), 1.0)]), "Gamma-Gamma")
    if params[1] <= 1:
        raise FitError(f"the Gamma-Gamma fit gives q = {params[1]:.3f} <= 1: the spend has no finite mean")
    return GammaGamma(*(float(v) for v in params), log_likelihood=float(np.sum(_gg_log_likelihood(params, *terms))))


def p_alive(model: BgNbd, x, t_x, T) -> np.ndarray:
    """P(still active | x, t_x, T) = 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x))."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    odds = np.zeros_like(x)
    repeat = x > 0
    odds[repeat] = np.exp(np.log(a) - np.log(b + x[repeat] - 1)
                          + (r + x[repeat]) * (np.log(alpha + T[repeat]) - np.log(alpha + t_x[repeat])))
    return 1.0 / (1.0 + odds)


def expected_purchases(model: BgNbd, t: float, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T] (10): purchases expected in the next t weeks."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if t <= 0:
        return np.zeros_like(x)
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    head = (a + b + x - 1) / (a - 1)
    body = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp
    repeat = (x > 0).astype(float)
    tail = 1 + repeat * (a / (b + x - 1 + (1 - repeat))) * ((alpha + T) / (alpha + t_x)) ** (r + x)
    return head * body / tail


def expected_order_value(model: GammaGamma, x, m) -> np.ndarray:
    """E[M | x, m_x] = p (gamma + x m_x) / (p x + q - 1); the population mean p gamma / (q - 1) when x = 0."""
    x, m = np.asarray(x, dtype=float), np.nan_to_num(np.asarray(m, dtype=float))
    return model.p * (model.gamma + x * m) / (model.p * x + model.q - 1)


def clv(model: BgNbd, spend: GammaGamma, month_weeks: list[float], x, t_x, T, m, margin_rate,
        discount_rate_monthly: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(expected orders over the horizon, expected order value, CLV) where
    CLV = sum over months i = 1..H of (E[Y(t_i)] - E[Y(t_(i-1))]) x E[M] x margin / (1 + d)^i and
    month_weeks[i-1] = t_i, the weeks from as_of to the end of month i."""
    value = expected_order_value(spend, x, m)
    total = np.zeros(len(np.atleast_1d(x)))
    before = np.zeros_like(total)
    for i, weeks in enumerate(month_weeks, start=1):
        upto = expected_purchases(model, weeks, x, t_x, T)
        total += (upto - before) / (1 + discount_rate_monthly) ** i
        before = upto
    return before, value, total * value * np.asarray(margin_rate, dtype=float)
