"""``--law auto`` as a stacked ensemble of the candidate laws, with a conformal interval.

Weights (stacking, Breiman 1996 "Stacked regressions"; Yao et al. 2018, arXiv 1704.02030, for
stacking predictive distributions). Every candidate is backtested at the same rolling origins
inside each group's fit portion (hold back its top 10%, 20%, 30% along the extrapolation axis,
fit the rest, point fits). The prediction of auto is the weighted mean of the candidates'
predictions in log space (a geometric mean; linear space where a target is not positive), and
the weights ``w`` on the simplex minimise the mean over the (group, origin) units of the log
RMSE of that mixture on the held-back runs: the scale-free score that chose single laws before,
now over mixtures (a unit whose curve has small errors weighs as much as one with large ones).
They are then shrunk toward equal weights, ``w = (1 - lam) w* + lam / K`` with
``lam = PRIOR_UNITS / (PRIOR_UNITS + units)``: with one curve (three origins) half the weight
is spread evenly, with 20 curves 5%. A candidate that could not be backtested at an origin
counts there as the worst candidate of that origin (its predictions are that candidate's), so
a many-parameter law is not favoured by being scored only on easy horizons. Auto predicts with
the stacked weights only when the mixture beats the best single candidate significantly (a
one-sided 5% test of the paired score differences, with the standard error taken over groups:
:func:`simplest`), else with that candidate alone.

What it buys, measured (bench/extrapolation.py): on chinchilla_epoch (one group, three
origins) the mixture of Chinchilla and Kaplan would lower the held-out RMSE(log) by 10%, but
three origins cannot show it, so auto is Chinchilla. On the 20 revisiting_lang curves the
nested evidence favours a mixture (M4 0.67, power law 0.14, BNSL 0.13) by 0.16 log units, a
standard error of 0.13 over the curves (1.2 SE; over the 60 correlated origins it would look
like 2 SE): not significant, so auto is M4, bragged (:mod:`scalinglab.trust.auto`), held-out
mean RMSE(log) 0.00722 against 0.00801 for M4's point fit. That mixture would score 0.0087 on
the held-out runs, and even weights fitted to the held-out truths themselves reach only 2%
below M4: the in-fit origins are a poor guide to those curves' far horizon, and mixing is not
where the gain is.

Interval (locally weighted split conformal, Lei et al. 2018, arXiv 1604.04173, section 5.2).
At each origin the mixture's error on a held-back run is divided by its unit
``u = sqrt((sigma (1 + d))^2 + b)``: ``sigma`` the RMS of the mixture's in-fit residuals of that
origin's fit (with ``n - p`` degrees of freedom, ``p`` the weighted count of free parameters),
``d`` how far beyond the fitted range the run lies in the law's variables (N or D, or x), in log
units per fitted log range, in the variable where it lies farthest (0 inside), and ``b`` the
weighted variance of the candidates' predictions around the mixture (the between-model part of
a model average's variance, Hoeting et al. 1999). Error
that grows with the distance of the extrapolation is thereby measured per unit of distance, so
scores from the short nested horizons transfer to the longer real one. The half-width at level
``l`` is ``s u`` with ``s`` the ceil((n+1) l)/n empirical quantile of those scores, pooled over
the groups (they are scale-free). No bootstrap is needed: the interval is from the nested
evidence alone. The held-out runs of a backtest never enter weights, scale or unit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

from scalinglab.laws.base import FloatArray

#: strength of the shrinkage toward equal weights, in (group, origin) units of evidence
PRIOR_UNITS = 3.0
#: fewest nested scores for a conformal scale of a group's own (else the pooled one)
MIN_SCORES = 5
#: one-sided 5% normal quantile: a mixture replaces the best single candidate only when it is
#: better by this many standard errors (:func:`simplest`)
Z_COMBINE = 1.645
_FLOOR = 1e-12  # mean squared log error floor: an exact fit is not infinitely good

BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class GroupEvidence:
    """One group's rolling-origin evidence, in the mixing space (log, or linear when a value
    is not positive). ``truth``/``axis``: the fit portion's runs; ``origins``: the held-back
    masks over them; ``nested[k, o]``: candidate ``k``'s predictions of every fit-portion run
    from its fit at origin ``o`` (NaN where it failed); ``final[k]``: its predictions of every
    run of the group (fit portion and held-out) from its fit on the whole fit portion;
    ``n_free[k]``: its free parameters; ``coords`` (n_fit, V): the fit portion's values of the
    candidates' variables (where the distance of an extrapolation is measured)."""

    key: str | None
    laws: tuple[str, ...]
    truth: FloatArray
    axis: FloatArray
    origins: tuple[BoolArray, ...]
    nested: FloatArray  # (K, O, n_fit)
    final: FloatArray  # (K, n_all)
    n_free: FloatArray  # (K,)
    coords: FloatArray  # (n_fit, V)


def filled_nested(ev: GroupEvidence) -> tuple[FloatArray, BoolArray]:
    """``nested`` with each failed (candidate, origin) replaced by the predictions of the
    origin's worst candidate (largest held-back RMSE), and the mask of origins where some
    candidate was backtested."""
    out = np.array(ev.nested, dtype=float)
    usable = np.zeros(len(ev.origins), dtype=bool)
    for o, held in enumerate(ev.origins):
        ok = np.isfinite(out[:, o, :]).all(axis=1)
        if not ok.any():
            continue
        usable[o] = True
        err = out[:, o, held] - ev.truth[held]
        rmse = np.where(ok, np.sqrt(np.mean(err**2, axis=1)), -np.inf)
        out[~ok, o, :] = out[int(np.argmax(rmse)), o, :]
    return out, usable


def gram_units(ev: GroupEvidence) -> list[FloatArray]:
    """Per usable origin the (K, K) matrix ``G`` with ``w' G w`` the mixture's mean squared
    error on the held-back runs."""
    nested, usable = filled_nested(ev)
    units = []
    for o, held in enumerate(ev.origins):
        if usable[o]:
            e = nested[:, o, held] - ev.truth[held]  # (K, n_o)
            units.append(e @ e.T / held.sum())
    return units


def _objective(w: FloatArray, units: Sequence[FloatArray]) -> tuple[float, FloatArray]:
    f, g = 0.0, np.zeros_like(w)
    for G in units:
        mse = float(w @ G @ w) + _FLOOR
        f += 0.5 * math.log(mse)
        g += (G @ w) / mse
    return f / len(units), g / len(units)


def stack(units: Sequence[FloatArray], k: int, prior: FloatArray | None = None) -> FloatArray:
    """Weights on the simplex minimising the mean log RMSE of the mixture over ``units``
    (several starts: the centre and every vertex; SLSQP), shrunk toward ``prior`` (default
    equal weights) by ``PRIOR_UNITS / (PRIOR_UNITS + len(units))``."""
    base = np.full(k, 1.0 / k) if prior is None else np.asarray(prior, dtype=float)
    if not units:
        return base
    starts = [np.full(k, 1.0 / k), *np.eye(k)]
    best_w, best_f = starts[0], math.inf
    for x0 in starts:
        r = minimize(
            _objective,
            x0,
            args=(units,),
            jac=True,
            method="SLSQP",
            bounds=[(0.0, 1.0)] * k,
            constraints=[
                {"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: 1 + 0 * w}
            ],
            options={"ftol": 1e-10, "maxiter": 200},
        )
        w = np.clip(r.x, 0.0, None)
        w = w / w.sum()
        f = _objective(w, units)[0]
        if f < best_f - 1e-12:
            best_w, best_f = w, f
    lam = PRIOR_UNITS / (PRIOR_UNITS + len(units))
    return np.asarray((1.0 - lam) * best_w + lam * base, dtype=float)


def ensemble_weights(
    groups: Sequence[GroupEvidence], scope: str = "pooled"
) -> dict[str | None, FloatArray]:
    """The weights of each group's candidates (its ``laws`` order). ``"pooled"``: one set for
    all groups, stacked on every group's origins; ``"group"``: each group stacked on its own
    origins, shrunk toward the pooled weights (toward equal weights with one group)."""
    laws = groups[0].laws
    pooled_units = [u for ev in groups for u in gram_units(ev)]
    pooled = stack(pooled_units, len(laws))
    if scope == "pooled" or len(groups) == 1:
        return {ev.key: pooled for ev in groups}
    return {ev.key: stack(gram_units(ev), len(laws), prior=pooled) for ev in groups}


def unit_scores(units: Sequence[FloatArray], w: FloatArray) -> FloatArray:
    """The log RMSE of the mixture ``w`` in each unit."""
    return np.array([0.5 * math.log(float(w @ G @ w) + _FLOOR) for G in units])


def clustered_mean_se(groups: Sequence[FloatArray], *, by_group: bool) -> tuple[float, float, int]:
    """Mean, standard error and number of units of paired differences, ``groups`` holding each
    group's differences (one per unit, e.g. per rolling origin). ``by_group``: each group's
    mean is one unit (the origins of one curve share most of their runs, so their differences
    are not independent: a cluster-robust standard error); else every difference is a unit.
    The standard error is infinite with fewer than 2 units."""
    kept = [np.asarray(g, dtype=float) for g in groups if len(g)]
    units = np.array([g.mean() for g in kept]) if by_group else np.concatenate([*kept, []])
    if units.size < 2:
        return (float(units.mean()) if units.size else math.nan), math.inf, int(units.size)
    return float(units.mean()), float(units.std(ddof=1) / math.sqrt(units.size)), int(units.size)


def simplest(clusters: Sequence[Sequence[FloatArray]], w: FloatArray) -> FloatArray:
    """``w``, or the single candidate with the best mean score, unless the mixture beats that
    candidate significantly: a one-sided test at 5% (``Z_COMBINE``) of their paired score
    differences, a Diebold and Mariano (1995) test of equal predictive accuracy. ``clusters``
    holds each group's units, and the standard error is taken over the groups' mean
    differences (:func:`clustered_mean_se`; over the units when there is one group). A
    mixture must earn its complexity: with two or three origins of one curve it rarely does,
    and across curves it must win on most of them, not on a few origins."""
    k = w.size
    units = [u for c in clusters for u in c]
    if not units or k == 1:
        return w
    singles = np.array([unit_scores(units, np.eye(k)[i]) for i in range(k)])
    best = int(np.argmin(singles.mean(axis=1)))
    diffs = [unit_scores(c, w) - unit_scores(c, np.eye(k)[best]) for c in clusters if len(c)]
    mean, se, _ = clustered_mean_se(diffs, by_group=len(diffs) > 1)
    return w if mean + Z_COMBINE * se < 0 else np.eye(k)[best]


def point_weights(
    groups: Sequence[GroupEvidence], stacked: dict[str | None, FloatArray], scope: str = "pooled"
) -> dict[str | None, FloatArray]:
    """The weights of auto's prediction: the stacked weights, or one candidate by
    :func:`simplest`, judged on the units the weights were learned from."""
    if scope == "pooled" or len(groups) == 1:
        w = simplest([gram_units(ev) for ev in groups], stacked[groups[0].key])
        return {ev.key: w for ev in groups}
    return {ev.key: simplest([gram_units(ev)], stacked[ev.key]) for ev in groups}


def distance(points: FloatArray, fitted: FloatArray) -> FloatArray:
    """How far beyond the fitted range each point lies, in units of the fitted range, in the
    variable where it lies farthest: ``points`` (m, V) and ``fitted`` (n, V) hold the law's
    variables (a 1-d array is one variable); log values where a variable is positive; 0 inside
    the range of every variable."""
    pts, fit = np.atleast_2d(points.T).T, np.atleast_2d(fitted.T).T
    out = np.zeros(pts.shape[0])
    for j in range(pts.shape[1]):
        a, f = pts[:, j], fit[:, j]
        if np.all(a > 0) and np.all(f > 0):
            a, f = np.log(a), np.log(f)
        lo, hi = float(np.min(f)), float(np.max(f))
        span = hi - lo if hi > lo else 1.0
        out = np.maximum(out, np.maximum(0.0, np.maximum(a - hi, lo - a)) / span)
    return out


def unit_sigma(center: FloatArray, truth: FloatArray, p: float) -> float:
    """RMS of in-fit residuals with ``n - p`` degrees of freedom (at least 1)."""
    r = center - truth
    return float(np.sqrt(np.sum(r**2) / max(r.size - p, 1.0)))


def unit(
    sigma: float, d: FloatArray, w: FloatArray, v: FloatArray, preds: FloatArray
) -> FloatArray:
    """The interval's unit at points with distances ``d`` and candidate predictions ``preds``
    (K, m), for the prediction of weights ``w``: run noise growing with the distance, and the
    spread of the candidates around the prediction under the stacked weights ``v`` (the
    between-model part of a model average's variance, Hoeting et al. 1999, eq. 2; kept when
    the prediction is one law, whose choice is as uncertain as the weights say)."""
    center = mix(w, preds)
    ok = (v > 0) & np.isfinite(preds).all(axis=1)
    vv = v[ok] / v[ok].sum() if ok.any() else v[ok]
    between = vv @ (preds[ok] - center) ** 2
    return np.asarray(np.sqrt((sigma * (1.0 + d)) ** 2 + between), dtype=float)


def nested_scores(ev: GroupEvidence, w: FloatArray, v: FloatArray) -> FloatArray:
    """The conformal scores |error| / unit of the prediction of weights ``w`` (spread under
    ``v``, see :func:`unit`) on every held-back run of every usable origin."""
    nested, usable = filled_nested(ev)
    p = float(w @ ev.n_free)
    out: list[float] = []
    for o, held in enumerate(ev.origins):
        if not usable[o]:
            continue
        center = w @ nested[:, o, :]
        sigma = unit_sigma(center[~held], ev.truth[~held], p)
        u = unit(sigma, distance(ev.coords[held], ev.coords[~held]), w, v, nested[:, o, held])
        err = np.abs(center[held] - ev.truth[held])
        out += [
            float(e / s) if s > 0 else (0.0 if e == 0 else 1e6) for e, s in zip(err, u, strict=True)
        ]
    return np.asarray(out, dtype=float)


def conformal_scale(scores: FloatArray, level: float) -> float:
    """The ceil((n+1) level)/n empirical quantile of ``scores`` (split conformal); NaN with no
    scores, the largest score when there are too few for the level."""
    z = np.sort(scores[np.isfinite(scores)])
    if z.size == 0:
        return math.nan
    k = min(z.size, math.ceil((z.size + 1) * level)) - 1
    return float(z[k])


def group_weights_final(ev: GroupEvidence, w: FloatArray) -> FloatArray:
    """``w`` renormalised over the candidates whose final fit predicts every run (all zero
    when none does)."""
    ok = np.isfinite(ev.final).all(axis=1)
    w = np.where(ok, w, 0.0)
    total = w.sum()
    if total > 0:
        return np.asarray(w / total, dtype=float)
    if ok.any():  # candidates fitted but all had weight 0: equal weights among them
        return np.asarray(ok / ok.sum(), dtype=float)
    return np.asarray(w, dtype=float)


def mix(w: FloatArray, pred: FloatArray) -> FloatArray:
    """``w @ pred`` over the candidates with weight (a zero-weight candidate's NaN ignored)."""
    used = w > 0
    return np.asarray(w[used] @ pred[used], dtype=float)


def mixture_interval(
    ev: GroupEvidence,
    w: FloatArray,
    v: FloatArray,
    held: BoolArray,
    coords_all: FloatArray,
    scale: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(centre, low, high) in the mixing space at the group's held-out runs ``held`` (a mask
    over all its runs): the final fits mixed with ``w``, the half-width ``scale`` units
    (spread under ``v``)."""
    center_all = mix(w, ev.final)
    sigma = unit_sigma(center_all[~held], ev.truth, float(w @ ev.n_free))
    u = unit(sigma, distance(coords_all[held], ev.coords), w, v, ev.final[:, held])
    c = center_all[held]
    return c, c - scale * u, c + scale * u
