"""Calibrated prediction intervals.

The plain bootstrap interval covers the uncertainty of the *parameters* only. A held-out run's
value also carries run-to-run noise, and an extrapolation carries the law's misfit, which grows
with distance. Checked on the bundled data, plain bootstrap 90% intervals cover far fewer than
90% of held-out runs. scalinglab's default prediction interval ("calibrated") therefore adds two
corrections, both estimated from the fitted runs alone:

1. **Run noise** (a predictive interval): each bootstrap prediction is perturbed by a fitted
   residual drawn at random (seeded), so the interval is for a new run, not for the mean.
2. **Extrapolation scale** (split-conformal, from a nested rolling-origin backtest): the fit
   is repeated on the fitted runs minus their top 10%, 20% and 30% along the extrapolation axis
   (C for laws of N and D, x for one-variable laws), the held-back runs are predicted with step
   1's interval, and for each the factor ``z`` by which the interval's half-width would have to
   grow to reach the truth is recorded. At level ``l`` the interval half-widths are multiplied by
   ``s = max(1, the ceil((n+1) l)/n empirical quantile of z)`` (Vovk et al. 2005; Lei et al.
   2018, split conformal). With fewer than 5 nested runs no scale is applied and the fit says so.

Only runs given to the fit are used: in a backtest the held-out runs never inform calibration.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.errors import ScalinglabError
from scalinglab.laws.base import FloatArray, Law

LEVELS = (0.5, 0.68, 0.8, 0.9, 0.95, 0.99)
# rolling origins of the nested backtest: hold back the top 10%, 20%, 30% along the axis
NESTED_FRACTIONS = (0.1, 0.2, 0.3)
MIN_NESTED = 5


def default_axis(law: Law, frame: pd.DataFrame) -> str | None:
    """The extrapolation axis of a law: x, else C for laws of N and D, else its first variable."""
    v = law.variables
    if "x" in v:
        return "x"
    if {"N", "D"} <= set(v):
        return "C"
    if "step" in frame.columns and law.prepare is not None:
        return "step"
    return v[0] if v and v[0] in frame.columns else None


def predictive_draws(
    center: FloatArray, draws: FloatArray, residuals: FloatArray, seed: int
) -> FloatArray:
    """Bootstrap predictions (K, m) plus a randomly drawn fitted residual each (objective space)."""
    if residuals.size == 0:
        return draws
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, residuals.size, size=draws.shape[0])
    return np.asarray(draws + residuals[pick][:, None], dtype=float)


def interval(
    center: FloatArray, pred: FloatArray, level: float, scale: float
) -> tuple[FloatArray, FloatArray]:
    """Central interval of ``pred`` (K, m) at ``level``, its half-widths around ``center`` scaled."""
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(pred, [a, 1.0 - a], axis=0)
    lo = np.minimum(lo, center)
    hi = np.maximum(hi, center)
    return center - scale * (center - lo), center + scale * (hi - center)


def scale_for(calibration: Mapping[str, Any] | None, level: float) -> float:
    """The extrapolation scale at ``level`` from a fit's stored nested-backtest scores."""
    if not calibration or not calibration.get("z"):
        return 1.0
    levels = np.array(calibration["levels"], dtype=float)
    j = int(np.argmin(np.abs(levels - level)))
    z = np.sort(np.asarray([row[j] for row in calibration["z"]], dtype=float))
    n = z.size
    if n < MIN_NESTED:
        return 1.0
    k = min(n, math.ceil((n + 1) * level)) - 1
    return float(max(1.0, z[k]))


def nested_scores(
    frame: pd.DataFrame,
    axis_values: FloatArray,
    refit: Callable[[pd.DataFrame], Any],
    predict_obj: Callable[[Any, np.ndarray], tuple[FloatArray, FloatArray]],
    truth_obj: FloatArray,
) -> list[list[float]]:
    """z-scores of held-back runs: for each origin in ``NESTED_FRACTIONS``, the top fraction of
    runs along the axis is predicted by a refit on the rest. ``predict_obj(fit, held_mask) ->
    (center (m,), predictive draws (K, m))`` in objective space; ``truth_obj`` the observed
    targets in objective space. One row of z per held-back run and origin, one column per level
    of ``LEVELS``."""
    n = axis_values.size
    order = np.argsort(axis_values, kind="stable")
    out: list[list[float]] = []
    seen: set[int] = set()
    for frac in NESTED_FRACTIONS:
        k = max(1, math.ceil(frac * n))
        held = axis_values >= axis_values[order[n - k]]
        key = int(held.sum())
        if held.all() or (~held).sum() < 2 or key in seen:
            continue
        seen.add(key)
        try:
            fitted = refit(frame.loc[~held])
        except ScalinglabError:
            continue  # too few runs left for this origin
        center, pred = predict_obj(fitted, held)
        if pred.shape[0] < 2:
            continue  # the refit has no usable bootstrap draws: no interval to score
        t = truth_obj[held]
        for i in range(t.size):
            zs = []
            for lvl in LEVELS:
                lo, hi = interval(center[i : i + 1], pred[:, i : i + 1], lvl, 1.0)
                dev = t[i] - center[i]
                half = (hi[0] - center[i]) if dev >= 0 else (center[i] - lo[0])
                zs.append(float(abs(dev) / half) if half > 0 else (0.0 if dev == 0 else 1e6))
            out.append(zs)
    return out
