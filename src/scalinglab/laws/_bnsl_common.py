"""Shared construction of the broken neural scaling laws (:mod:`.bnsl`, :mod:`.bnsl2`).

Caballero, Gupta, Rish and Krueger 2022, "Broken Neural Scaling Laws", arXiv:2210.14891, eq. (1):

    y = a + b x^(-c0) prod_{i=1..n} (1 + (x / d_i)^(1 / f_i))^(-c_i f_i)

A sum of a limit ``a`` and a smoothly broken power law: n + 1 power-law segments (straight lines
on a log-log plot) with slopes -c0, -(c0 + c1), ..., joined at the breaks x = d_i; f_i sets how
sharp break i is (smaller is sharper).

With u_i = (log x - log d_i) / f_i and softplus(u) = log(1 + e^u), the power-law part is

    log(b x^-c0 prod_i ...) = log b - c0 log x - sum_i c_i f_i softplus(u_i)

so log y = LSE(log a, that), computed without ever forming the product. Derivatives of
t = c_i f_i softplus(u_i) (sigma the logistic function):
    dt/dc_i = f_i softplus(u_i); dt/dlog d_i = -c_i sigma(u_i);
    dt/dlog f_i = c_i f_i (softplus(u_i) - u_i sigma(u_i)).

Not a law module (the registry skips names starting with ``_``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from scalinglab.laws.base import (
    DataGrid,
    Evaluate,
    FloatArray,
    Law,
    Param,
    column,
    log_sum_exp,
)

CITATION = (
    "Caballero, Gupta, Rish and Krueger 2022, Broken Neural Scaling Laws, arXiv:2210.14891, eq. 1"
)


def _softplus_sigmoid(u: FloatArray) -> tuple[FloatArray, FloatArray]:
    """softplus(u) = log(1 + e^u) and sigmoid(u), stable for any u."""
    e = np.exp(-np.abs(u))
    pos = u >= 0
    sp = np.where(pos, u, 0.0) + np.log1p(e)
    sig = np.where(pos, 1.0, e) / (1.0 + e)
    return sp, sig


def make_evaluate(n_breaks: int) -> Evaluate:
    """``evaluate`` for n breaks; parameter order a, b, c0, (c_i, d_i, f_i) for i = 1..n."""

    def evaluate(
        theta: FloatArray, X: Mapping[str, FloatArray]
    ) -> tuple[FloatArray, list[FloatArray]]:
        lx = np.log(column(X, "x"))
        la, lb, c0 = (theta[:, i : i + 1] for i in range(3))
        t = lb - c0 * lx  # (S, n): log of the power-law part, breaks added below
        per_break: list[tuple[FloatArray, FloatArray, FloatArray]] = []
        for i in range(n_breaks):
            ci, ldi, lfi = (theta[:, 3 + 3 * i + k : 4 + 3 * i + k] for k in range(3))
            fi = np.exp(lfi)
            u = (lx - ldi) / fi
            sp, sig = _softplus_sigmoid(u)
            t = t - ci * fi * sp
            per_break.append((-fi * sp, ci * sig, -ci * fi * (sp - u * sig)))
        f, (w0, w1) = log_sum_exp([np.broadcast_to(la, t.shape), t])
        J: list[FloatArray] = [w0, w1, -w1 * lx]
        for d_ci, d_ldi, d_lfi in per_break:
            J.extend((w1 * d_ci, w1 * d_ldi, w1 * d_lfi))
        return f, J

    return evaluate


# Starting values. c0: the first segment's exponent (0: a plateau before the first break);
# c_i: the change of exponent at break i (negative: the curve flattens, positive: it steepens);
# f_i: sharpness (log f = -1.5: f ~ 0.2, sharp; 0: f = 1, gradual).
_C0_GRID = (0.0, 0.5)
_CI_GRID = (-0.3, 0.5, 1.5)
_LOG_F_GRID = {1: (-1.5, 0.0), 2: (-0.7,)}
_F_LOWER = 1e-3  # lower bound of every f_i: the sharpest break
_LOG_F_MODERATE = -0.7  # a moderate break (f ~ 0.5) for the restarts of :func:`break_seeds`
_PLACES = 40  # most break places tried one break at a time by :func:`break_seeds`
_PAIR_PLACES = 12  # most break places paired by :func:`break_seeds` (66 pairs)


def _make_data_grid(n_breaks: int) -> DataGrid:
    """Adapt the grids of a, b and the break positions d_i to the data.

    a: fractions of the smallest observation; b: for each c0 of the grid, the b that makes
    b x^-c0 pass through the first observation (by x); d_i: quantiles of log x (one break: the
    quartiles and the median; two breaks: d_1 in the lower and d_2 in the upper part).
    """

    def data_grid(X: Mapping[str, FloatArray], y: FloatArray) -> Mapping[str, Sequence[float]]:
        lx = np.log(column(X, "x"))
        first = int(np.argmin(lx))
        lx0, y0 = float(lx[first]), float(y[first])
        grid: dict[str, Sequence[float]] = {
            "a": [float(np.log(float(np.min(y)) * f)) for f in (0.05, 0.7)],
            "b": [float(np.log(y0)) + c0 * lx0 for c0 in _C0_GRID],
        }
        if n_breaks == 1:
            grid["d1"] = [float(q) for q in np.quantile(lx, (0.25, 0.5, 0.75))]
        else:
            grid["d1"] = [float(q) for q in np.quantile(lx, (0.15, 0.4))]
            grid["d2"] = [float(q) for q in np.quantile(lx, (0.6, 0.85))]
        return grid

    return data_grid


def make_law(name: str, n_breaks: int) -> Law:
    """The BNSL with ``n_breaks`` breaks (1 or 2)."""
    params = [
        Param("a", "limit as x -> infinity", "target unit", log=True, lower=0.0, grid=(-3.0, 0.0)),
        Param(
            "b",
            "scale of the first power-law segment",
            "target unit * x^c0",
            log=True,
            lower=0.0,
            grid=(0.0, 5.0),
        ),
        Param("c0", "exponent of the first segment", "1", lower=-5.0, upper=10.0, grid=_C0_GRID),
    ]
    for i in range(1, n_breaks + 1):
        params += [
            Param(
                f"c{i}",
                f"change of exponent at break {i} (segment {i + 1} has exponent c0 + ... + c{i})",
                "1",
                lower=-10.0,
                upper=20.0,
                grid=_CI_GRID,
            ),
            Param(
                f"d{i}",
                f"position of break {i}",
                "x unit",
                log=True,
                lower=0.0,
                grid=(0.0, 10.0),
            ),
            Param(
                f"f{i}",
                f"sharpness of break {i} (smaller is sharper)",
                "1",
                log=True,
                lower=_F_LOWER,
                upper=100.0,
                grid=_LOG_F_GRID[n_breaks],
            ),
        ]
    factors = " * ".join(f"(1 + (x/d{i})^(1/f{i}))^(-c{i} f{i})" for i in range(1, n_breaks + 1))
    return Law(
        name=name,
        version="1",
        title=f"Broken neural scaling law, {n_breaks} break{'s' if n_breaks > 1 else ''} "
        "(Caballero et al. 2022)",
        formula=f"y = a + b x^(-c0) * {factors}",
        citation=CITATION,
        variables=("x",),
        params=tuple(params),
        evaluate=make_evaluate(n_breaks),
        data_grid=_make_data_grid(n_breaks),
        notes=(
            "Caballero et al. fit it by a brute-force grid search followed by least squares on "
            "log(y + 1) (their released code); here the default Huber objective on log y. "
            "Breaks outside the range of x are not identified by the data: expect wide "
            "intervals for their d and f, and check the fit with a backtest."
        ),
        auto_candidate=True,
        paired_rows=True,
    )


def break_seeds(points: FloatArray, lx: FloatArray, n_breaks: int) -> FloatArray:
    """Restarts that move the breaks of good optima to data-driven places (internal
    coordinates, rows of ``points`` (K, P) in the parameter order of :func:`make_law`).

    Why: with a sharp break (f_i at its lower bound) the objective is nearly flat in log d_i
    between two data points and jumps where the transition crosses one, so optima differ by
    which gap (or which point) holds each break, and a local solver never moves a break across
    a point. For each point and each break i: d_i at every log x of the data and every
    midpoint between neighbours (at most ``_PLACES`` of those places, at quantiles), with f_i
    sharp (its lower bound) or moderate (log f = -0.7; only moderate with two breaks); with two
    breaks also every pair (d_1 < d_2) of ``_PAIR_PLACES`` of those places, both sharp.
    ``lx`` (n,): log x of the data. Returns (M, P) restarts."""
    lf_sharp = float(np.log(_F_LOWER))
    # with two breaks the pairs below are sharp; single moves sharp too cost 2x and found
    # nothing more on revisiting_lang (one break: both were needed)
    single_log_f = (lf_sharp, _LOG_F_MODERATE) if n_breaks == 1 else (_LOG_F_MODERATE,)
    lx = np.sort(np.asarray(lx, dtype=float))
    places = np.unique(np.concatenate([lx, 0.5 * (lx[1:] + lx[:-1])]))
    pair_places = _at_most(places, _PAIR_PLACES)
    places = _at_most(places, _PLACES)
    seeds: list[FloatArray] = []
    for x in np.atleast_2d(points):
        for i in range(n_breaks):
            jd, jf = 4 + 3 * i, 5 + 3 * i
            for q in places:
                for lf in single_log_f:
                    z = x.copy()
                    z[jd], z[jf] = q, lf
                    seeds.append(z)
        if n_breaks == 2:
            ia, ib = np.triu_indices(pair_places.size, k=1)
            z = np.repeat(x[None, :], ia.size, axis=0)
            z[:, 4], z[:, 7] = pair_places[ia], pair_places[ib]
            z[:, 5] = z[:, 8] = lf_sharp
            seeds.extend(z)
    return np.array(seeds).reshape(-1, np.atleast_2d(points).shape[1])


def _at_most(values: FloatArray, k: int) -> FloatArray:
    """``values`` (sorted), or ``k`` of their quantiles when there are more."""
    if values.size <= k:
        return values
    out: FloatArray = np.quantile(values, np.linspace(0.0, 1.0, k))
    return out
