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


def _unique_rows(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct rows of the columns (in ascending order), how often each occurs and which one
    each row is: one lexsort and a comparison of neighbours (np.unique(axis=0) and a byte-wise
    np.unique over a void view both sort far more slowly at hundreds of thousands of customers)."""
    columns = [np.asarray(column, dtype=float) for column in columns]
    order = np.lexsort(columns[::-1])
    ordered = [column[order] for column in columns]
    starts = np.ones(len(order), dtype=bool)
    for column in ordered:
        starts[1:] &= column[1:] == column[:-1]
    starts[1:] = ~starts[1:]
    group = np.cumsum(starts) - 1
    inverse = np.empty(len(order), dtype=np.intp)
    inverse[order] = group
    first = np.flatnonzero(starts)
    counts = np.diff(np.append(first, len(order)))
    return np.column_stack([column[first] for column in ordered]), counts, inverse


class _BgNbdData:
    """The customers of a BG/NBD fit, prepared once so that each evaluation of the likelihood and its
    gradient costs a few vector operations: identical (x, t_x, T) weighted once, and every term that
    depends on x alone (Gamma, Beta and digamma functions), on T alone or on t_x alone computed on
    their few distinct values and gathered (purchase days make t_x and T multiples of 1/7)."""

    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
        keys, counts, _ = _unique_rows(x, t_x, T)
        # Weighted sums are (weight * terms).sum(), not np.dot: BLAS threads on a busy machine made
        # a dot of 40,000 numbers take 7 ms instead of 0.1 ms.
        self.weight = counts.astype(float)
        self.x = keys[:, 0]
        self.ux, self.ix = np.unique(self.x, return_inverse=True)
        self.ut, self.it = np.unique(keys[:, 1], return_inverse=True)
        self.uT, self.iT = np.unique(keys[:, 2], return_inverse=True)
        self.repeat = self.x > 0

    def evaluate(self, params, *, gradient: bool = True) -> tuple[float, np.ndarray | None]:
        """The log-likelihood (6) summed over customers, and its gradient in (r, alpha, a, b).
        Per customer: LL = A1 + log(exp(A2) + [x > 0] exp(A3)) with
        A1 = lnG(r+x) - lnG(r) + r ln(alpha), A2 = lnB(a, b+x) - lnB(a, b) - (r+x) ln(alpha+T),
        A3 = lnB(a+1, b+x-1) - lnB(a, b) - (r+x) ln(alpha+t_x); the gradient follows from
        d lnG(z)/dz = digamma(z) and d lnB(p, q)/dp = digamma(p) - digamma(p+q)."""
        r, alpha, a, b = params
        ux, ix, weight = self.ux, self.ix, self.weight
        beta_ab = special.betaln(a, b)
        rx = r + self.x
        log_T, log_t = np.log(alpha + self.uT), np.log(alpha + self.ut)
        a1 = (special.gammaln(r + ux) - special.gammaln(r))[ix] + r * np.log(alpha)
        a2 = (special.betaln(a, b + ux) - beta_ab)[ix] - rx * log_T[self.iT]
        with np.errstate(invalid="ignore", divide="ignore"):
            b3 = np.where(ux > 0, special.betaln(a + 1, b + ux - 1) - beta_ab, -np.inf)
        a3 = np.where(self.repeat, b3[ix] - rx * log_t[self.it], -np.inf)
        mixed = np.logaddexp(a2, a3)
        total = float((weight * (a1 + mixed)).sum())
        if not gradient:
            return total, None
        w2 = np.exp(a2 - mixed)
        w3 = 1.0 - w2
        psi = special.digamma
        d_r = (psi(r + ux) - psi(r))[ix] + np.log(alpha) - w2 * log_T[self.iT] - w3 * log_t[self.it]
        d_alpha = r / alpha - rx * (w2 / (alpha + self.uT)[self.iT] + w3 / (alpha + self.ut)[self.it])
        common_a, common_b = psi(a + b) - psi(a), psi(a + b) - psi(b)
        with np.errstate(invalid="ignore"):
            d_a2 = psi(a + b) - psi(a + b + ux)
            d_b2 = psi(b + ux) - psi(a + b + ux) + common_b
            d_a3 = np.where(ux > 0, psi(a + 1) - psi(a + b + ux) + common_a, 0.0)
            d_b3 = np.where(ux > 0, psi(np.maximum(b + ux - 1, 1e-300)) - psi(a + b + ux) + common_b, 0.0)
        d_a = w2 * d_a2[ix] + w3 * d_a3[ix]
        d_b = w2 * d_b2[ix] + w3 * d_b3[ix]
        return total, np.array([(weight * d).sum() for d in (d_r, d_alpha, d_a, d_b)])


def _maximise(evaluate, start: np.ndarray, what: str) -> np.ndarray:
    """Maximum likelihood over log-parameters (all parameters are positive). `evaluate(params)`
    gives (log-likelihood, gradient). L-BFGS-B with the analytic gradient; when it stops short,
    Nelder-Mead from where it stopped and L-BFGS-B again. A FitError when nothing converges to a
    finite optimum or the parameters run off to a boundary."""
    def objective(log_params):
        # The line search probes far-off points where exp() overflows and the terms become inf - inf:
        # such a point is answered as the worst possible below, so numpy's warnings about it are noise.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            params = np.exp(log_params)
            value, grad = evaluate(params)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return 1e300, np.zeros_like(log_params)
        return -value, -grad * params  # d/d(log p) = p d/dp

    def value_only(log_params):
        return objective(log_params)[0]

    options = {"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9}
    best = optimize.minimize(objective, start, jac=True, method="L-BFGS-B", options=options)
    if not best.success:
        simplex = optimize.minimize(value_only, best.x, method="Nelder-Mead",
                                    options={"maxiter": 4000, "xatol": 1e-8, "fatol": 1e-9})
        again = optimize.minimize(objective, simplex.x, jac=True, method="L-BFGS-B", options=options)
        best = min((best, simplex, again), key=lambda result: (not result.success, result.fun))
    if not best.success or not np.isfinite(best.fun) or best.fun >= 1e299:
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
    params = _maximise(data.evaluate, np.log([0.5, max(float(np.mean(T)), 1.0), 1.0, 1.0]), "BG/NBD")
    return BgNbd(*(float(v) for v in params), log_likelihood=data.evaluate(params, gradient=False)[0])


class _GammaGammaData:
    """Repeat customers of a Gamma-Gamma fit: x >= 1 repeat purchases of mean spend m > 0."""

    def __init__(self, x: np.ndarray, m: np.ndarray) -> None:
        self.x, self.m = x, m
        self.ux, self.ix = np.unique(x, return_inverse=True)
        self.log_m, self.log_x, self.mx = np.log(m), np.log(x), m * x

    def evaluate(self, params, *, gradient: bool = True) -> tuple[float, np.ndarray | None]:
        """Sum of lnG(px+q) - lnG(px) - lnG(q) + q ln(gamma) + (px-1) ln(m) + px ln(x) - (px+q) ln(gamma+mx)
        and its gradient in (p, q, gamma)."""
        p, q, gamma = params
        x, ix, ux = self.x, self.ix, self.ux
        px = p * x
        log_gm = np.log(gamma + self.mx)
        ll = ((special.gammaln(p * ux + q) - special.gammaln(p * ux))[ix] - special.gammaln(q) + q * np.log(gamma)
              + (px - 1) * self.log_m + px * self.log_x - (px + q) * log_gm)
        if not gradient:
            return float(ll.sum()), None
        psi = special.digamma
        psi_pxq = psi(p * ux + q)[ix]
        d_p = x * (psi_pxq - psi(p * ux)[ix] + self.log_m + self.log_x - log_gm)
        d_q = psi_pxq - psi(q) + np.log(gamma) - log_gm
        d_gamma = q / gamma - (px + q) / (gamma + self.mx)
        return float(ll.sum()), np.array([d_p.sum(), d_q.sum(), d_gamma.sum()])


def fit_gamma_gamma(x: np.ndarray, m: np.ndarray) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma over repeat customers: x >= 1 repeat purchases of mean m > 0."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    usable = (x >= 1) & (m > 0)
    if int(usable.sum()) < 2:
        raise FitError("fewer than two repeat customers with a positive spend")
    data = _GammaGammaData(x[usable], m[usable])
    params = _maximise(data.evaluate, np.log([1.0, 2.0, max(float(np.mean(m[usable])), 1.0)]), "Gamma-Gamma")
    if params[1] <= 1:
        raise FitError(f"the Gamma-Gamma fit gives q = {params[1]:.3f} <= 1: the spend has no finite mean")
    return GammaGamma(*(float(v) for v in params), log_likelihood=data.evaluate(params, gradient=False)[0])


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
    return _purchase_head(model, x) * _purchase_body(model, t, x, T) / _purchase_tail(model, x, t_x, T)


def _purchase_head(model: BgNbd, x: np.ndarray) -> np.ndarray:
    """(a + b + x - 1) / (a - 1): the factor of (10) that depends on x alone."""
    return (model.a + model.b + x - 1) / (model.a - 1)


def _purchase_body(model: BgNbd, t: float, x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """1 - ((alpha + T) / (alpha + T + t))^(r + x) 2F1(r + x, b + x; a + b + x - 1; t / (alpha + T + t)):
    the factor of (10) that depends on the horizon t, and on x and T alone, not on t_x."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    return 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp


def _purchase_tail(model: BgNbd, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x): the divisor of (10), the
    same for every horizon."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    repeat = (x > 0).astype(float)
    return 1 + repeat * (a / (b + x - 1 + (1 - repeat))) * ((alpha + T) / (alpha + t_x)) ** (r + x)


def expected_order_value(model: GammaGamma, x, m) -> np.ndarray:
    """E[M | x, m_x] = p (gamma + x m_x) / (p x + q - 1); the population mean p gamma / (q - 1) when x = 0."""
    x, m = np.asarray(x, dtype=float), np.nan_to_num(np.asarray(m, dtype=float))
    return model.p * (model.gamma + x * m) / (model.p * x + model.q - 1)


def clv(model: BgNbd, spend: GammaGamma, month_weeks: list[float], x, t_x, T, m, margin_rate,
        discount_rate_monthly: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(expected orders over the horizon, expected order value, CLV) where
    CLV = sum over months i = 1..H of (E[Y(t_i)] - E[Y(t_(i-1))]) x E[M] x margin / (1 + d)^i and
    month_weeks[i-1] = t_i, the weeks from as_of to the end of month i.

    E[Y(t)] = head(x) body(t, x, T) / tail(x, t_x, T) (expected_purchases), so the sum is head / tail
    times the discounted steps of the body. The body's twelve hyp2f1 evaluations, most of the
    predictions' time, depend on (x, T) alone: they are computed once per distinct pair (purchase
    days make T a whole number of days: 16,231 pairs for 498,649 customers in the benchmark) and
    gathered; head and tail once per customer: 0.13 s, where computing everything once per distinct
    (x, t_x, T) triple (395,620) took 0.88 s (docs/BENCHMARKS.md, issue 13)."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    value = expected_order_value(spend, x, m)
    pairs, _, inverse = _unique_rows(x, T)
    px, pT = pairs[:, 0], pairs[:, 1]
    steps = np.zeros(len(px))
    body = np.zeros_like(steps)
    for i, weeks in enumerate(month_weeks, start=1):
        upto = _purchase_body(model, weeks, px, pT)
        steps += (upto - body) / (1 + discount_rate_monthly) ** i
        body = upto
    per_customer = _purchase_head(model, x) / _purchase_tail(model, x, t_x, T)
    return (per_customer * body[inverse], value,
            per_customer * steps[inverse] * value * np.asarray(margin_rate, dtype=float))
