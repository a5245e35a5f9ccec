"""M4 learning curve: (L - L_inf) / (L_0 - L)^alpha = beta x^c, with L_inf < L < L_0.

Source: Alabdulmohsin, Neyshabur and Zhai 2022, "Revisiting Neural Scaling Laws in Language and
Vision", arXiv:2209.06640, section 3, eq. (4) (estimator "M4"). L_inf is the limit of the metric
with infinite data and L_0 its value at the start (random guessing); the normalised excess
loss on the left follows a power law in x. The paper's convention (and its released code) is a
metric where lower is better, c < 0 and alpha >= 0: L falls from L_0 to L_inf as x grows.

| name   | meaning                                        | unit                      | internal      |
|--------|------------------------------------------------|---------------------------|---------------|
| L_inf  | limit of the metric as x -> infinity           | target                    | log L_inf     |
| G      | gap L_0 - L_inf (L_0 = L_inf + G, the x -> 0 limit) | target               | log G         |
| alpha  | exponent of the normalising term (L_0 - L)     | 1                         | alpha         |
| beta   | scale of the power law                         | target^(1-alpha) * x^-c   | log beta      |
| c      | exponent of x (negative: decreasing curve)     | 1                         | c             |

Parametrising the gap G > 0 instead of L_0 keeps L_0 > L_inf without a coupled constraint.
The law is implicit in L. With s = (L - L_inf)/G in (0, 1) the equation reads
``log s - alpha log(1 - s) = log beta + c log x + (alpha - 1) log G =: r``; in z = logit(s)
the left side, h(z) = -softplus(-z) + alpha softplus(z), increases strictly from -inf to +inf
(for alpha > 0), so there is exactly one root. It is found for every (start, point) at once by
Newton's method on z inside a bracket derived from softplus bounds (bisection where a Newton
step leaves the bracket); h is convex for alpha >= 1 and concave below, so starting at the
matching end of the bracket makes the Newton iterates monotone. The Jacobian follows from the
implicit function theorem: dz/dtheta = (dr/dtheta - dh/dtheta) / h'(z).

Computed as log L = LSE(log L_inf, log G + log s). Target must be positive. With c > 0 the
same formula describes an increasing curve from L_inf (x -> 0) to L_0 (x -> infinity); the
paper instead fits a "lower is better" metric (an error, not an accuracy). With alpha = 0 the
law is the power law with offset L = L_inf + beta x^c, capped at L_0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from scalinglab.laws.base import FloatArray, Law, Param, column, log_sum_exp

# z = logit(s) is kept within +-_Z_MAX: s = 1 - 1e-35 is already L_0 in float64. Only alpha ~ 0
# (no root beyond the bracket) ever reaches it.
_Z_MAX = 80.0
_NEWTON_ITERS = 60
_LOG2 = float(np.log(2.0))


def _softplus(z: FloatArray) -> FloatArray:
    return np.logaddexp(0.0, z)


def _sigmoid(z: FloatArray) -> FloatArray:
    # 1 / (1 + exp(-z)) without overflow for large |z|
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _inverse_ramp(v: FloatArray, alpha: FloatArray) -> FloatArray:
    """Inverse of m(z) = min(z, 0) + alpha max(z, 0) (alpha > 0), capped at +-_Z_MAX."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = np.where(alpha > 0, v / alpha, _Z_MAX)
    return np.clip(np.where(v < 0, v, pos), -_Z_MAX, _Z_MAX)


def solve_logit(r: FloatArray, alpha: FloatArray) -> FloatArray:
    """The root z of -softplus(-z) + alpha softplus(z) = r, elementwise (broadcast).

    Bracket: -softplus(-z) lies in [min(z,0) - log 2, min(z,0)] and alpha softplus(z) in
    [alpha max(z,0), alpha max(z,0) + alpha log 2], so the root satisfies
    m(z) in [r - alpha log 2, r + log 2] with m the ramp of :func:`_inverse_ramp`.
    """
    r, alpha = np.broadcast_arrays(r, alpha)
    lo = _inverse_ramp(r - alpha * _LOG2, alpha)
    hi = _inverse_ramp(r + _LOG2, alpha)
    # convex h (alpha >= 1): Newton from the right decreases monotonically to the root;
    # concave h (alpha < 1): Newton from the left increases monotonically to it
    z = np.where(alpha >= 1.0, hi, lo)
    for _ in range(_NEWTON_ITERS):
        # one exp and one log1p per iteration: softplus(+-z) = max(+-z, 0) + log1p(exp(-|z|))
        e = np.exp(-np.abs(z))
        l1p = np.log1p(e)
        pos = z >= 0
        sp_pos = np.where(pos, z, 0.0) + l1p  # softplus(z)
        sp_neg = np.where(pos, 0.0, -z) + l1p  # softplus(-z)
        sig = np.where(pos, 1.0, e) / (1.0 + e)  # sigmoid(z)
        h = alpha * sp_pos - sp_neg - r
        above = h > 0
        hi = np.where(above, np.minimum(hi, z), hi)
        lo = np.where(above, lo, np.maximum(lo, z))
        z_new = z - h / ((1.0 - sig) + alpha * sig)
        outside = ~((z_new >= lo) & (z_new <= hi))  # also catches NaN
        z_new = np.where(outside, 0.5 * (lo + hi), z_new)
        done = np.abs(z_new - z) <= 1e-15 * (1.0 + np.abs(z))
        z = z_new
        if done.all():
            break
    return np.asarray(z, dtype=float)


def _evaluate(
    theta: FloatArray, X: Mapping[str, FloatArray]
) -> tuple[FloatArray, list[FloatArray]]:
    lx = np.log(column(X, "x"))
    l_inf, l_g, alpha, l_beta, c = (theta[:, i : i + 1] for i in range(5))
    r = l_beta + c * lx + (alpha - 1.0) * l_g  # (S, n)
    z = solve_logit(r, np.broadcast_to(alpha, r.shape))
    one_minus_s = _sigmoid(-z)
    log_s = -_softplus(-z)
    f, (w0, w1) = log_sum_exp([np.broadcast_to(l_inf, r.shape), l_g + log_s])
    # implicit function theorem on h(z; alpha) = r(theta): dz = (dr - dh) / h'(z)
    inv_dh = 1.0 / (one_minus_s + alpha * _sigmoid(z))
    u = w1 * one_minus_s * inv_dh  # d f / d r
    J = [
        w0,
        w1 + u * (alpha - 1.0),
        u * (l_g - _softplus(z)),
        u,
        u * lx,
    ]
    return f, J


# alpha: the paper reports values from ~0 to a few; c: exponents of learning curves.
_ALPHA_GRID = (0.25, 1.0, 3.0)
_C_GRID = (-0.15, -0.4, -0.8)


def _data_grid(X: Mapping[str, FloatArray], y: FloatArray) -> Mapping[str, Sequence[float]]:
    # L_inf below the smallest observation and L_0 = L_inf + G above the largest (the paper's
    # own initialisation: err_inf ~ min observed, err_0 ~ max observed). For each exponent c,
    # the beta that puts the curve through the middle of the data with s = 1/2, alpha = 1
    # (r = 0): log beta = -c * mean(log x).
    ymin, ymax = float(np.min(y)), float(np.max(y))
    lx = np.log(column(X, "x"))
    lx_mid = float(np.mean(lx))
    l_inf = [float(np.log(ymin * f)) for f in (0.3, 0.8, 0.97)]
    gaps = [float(np.log(max(ymax * f - 0.8 * ymin, 1e-3 * ymax))) for f in (1.02, 1.5, 4.0)]
    l_beta = [-c * lx_mid for c in _C_GRID]
    return {"L_inf": l_inf, "G": gaps, "beta": l_beta}


LAW = Law(
    name="m4",
    version="1",
    title="M4 learning-curve estimator (Alabdulmohsin et al. 2022)",
    formula="(L - L_inf) / (L_0 - L)^alpha = beta x^c, L_0 = L_inf + G",
    citation=(
        "Alabdulmohsin, Neyshabur and Zhai 2022, Revisiting Neural Scaling Laws in Language and "
        "Vision, arXiv:2209.06640, section 3, eq. 4"
    ),
    variables=("x",),
    params=(
        Param(
            "L_inf",
            "limit of the metric with infinite x",
            "target unit",
            log=True,
            lower=0.0,
            grid=(-2.0, -1.0, 0.0),
        ),
        Param(
            "G",
            "gap L_0 - L_inf between the x -> 0 value and the limit",
            "target unit",
            log=True,
            lower=0.0,
            grid=(-1.0, 0.0, 1.0),
        ),
        Param("alpha", "exponent of (L_0 - L)", "1", lower=0.0, upper=20.0, grid=_ALPHA_GRID),
        Param(
            "beta",
            "scale of the power law",
            "target unit^(1-alpha) * x^(-c)",
            log=True,
            lower=0.0,
            grid=(0.0, 3.0, 6.0),
        ),
        Param("c", "exponent of x (negative for a decreasing curve)", "1", grid=_C_GRID),
    ),
    evaluate=_evaluate,
    data_grid=_data_grid,
    notes=(
        "The target should be a metric where lower is better (loss, error), as in the paper; "
        "then c < 0. L_0 is reported as L_inf + G. The prediction solves the implicit equation "
        "per point (Newton on logit((L - L_inf)/G))."
    ),
)
