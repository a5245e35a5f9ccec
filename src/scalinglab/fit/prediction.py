"""Predictions of a fit: the point value, the bootstrap draws' predictions and intervals.

Two intervals live here: ``"bootstrap"`` (parameter uncertainty: an interval for the mean) and
``"predictive"`` (bootstrap plus run noise: each draw's prediction is perturbed by a fitted
residual drawn at random, so the interval is for a new run). The default ``"calibrated"``
interval, which also scales the half-widths by a nested backtest's extrapolation factor, is a
trust step: :func:`scalinglab.trust.predict.predict`.

Random streams: the bootstrap draws from ``SeedSequence(seed)`` itself; the residual noise and
the nested calibration draw from its spawned children (:func:`stream`), so the three are
independent for one seed (numpy's ``SeedSequence.spawn``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from scalinglab.errors import ExtrapolationWarning, FitError
from scalinglab.fit.result import FitResult
from scalinglab.fit.variables import law_variables
from scalinglab.laws.base import FloatArray, Law

INTERVALS = ("calibrated", "predictive", "bootstrap")
STREAMS = ("calibration", "noise")


def stream(seed: int, name: str) -> np.random.SeedSequence:
    """The independent child stream ``name`` (one of :data:`STREAMS`) of ``seed``."""
    return np.random.SeedSequence(seed).spawn(len(STREAMS))[STREAMS.index(name)]


def objective_space(
    law: Law, space: str, theta: FloatArray, draws_theta: FloatArray, X: Mapping[str, FloatArray]
) -> tuple[FloatArray, FloatArray]:
    """Point prediction (m,) and draw predictions (K, m) in the objective's space."""

    def conv(th: FloatArray) -> FloatArray:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            f, _ = law.evaluate(np.atleast_2d(th), X)
            if law.space == space:
                return f
            return np.exp(f) if law.space == "log" else np.log(f)

    center = conv(theta[None, :])[0]
    draws = conv(draws_theta) if draws_theta.shape[0] else np.empty((0, center.size))
    return center, draws


def to_target(space: str, v: FloatArray) -> FloatArray:
    """Objective-space values back in the target's units."""
    return np.exp(v) if space == "log" else v


def predictive_draws(
    center: FloatArray, draws: FloatArray, residuals: FloatArray, seed: int
) -> FloatArray:
    """Bootstrap predictions (K, m) plus a randomly drawn fitted residual each (objective space),
    from the fit's ``"noise"`` stream."""
    if residuals.size == 0:
        return draws
    rng = np.random.default_rng(stream(seed, "noise"))
    pick = rng.integers(0, residuals.size, size=draws.shape[0])
    return np.asarray(draws + residuals[pick][:, None], dtype=float)


def central_interval(
    center: FloatArray, pred: FloatArray, level: float, scale: float
) -> tuple[FloatArray, FloatArray]:
    """Central interval of ``pred`` (K, m) at ``level``, its half-widths around ``center`` scaled."""
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(pred, [a, 1.0 - a], axis=0)
    lo = np.minimum(lo, center)
    hi = np.maximum(hi, center)
    return center - scale * (center - lo), center + scale * (hi - center)


def prediction_draws(
    result: FitResult, X: Mapping[str, FloatArray], *, noise: bool
) -> tuple[FloatArray, FloatArray]:
    """(center (m,), draws (K, m)) in the objective's space at the variables ``X``; with
    ``noise`` the draws carry run noise (:func:`predictive_draws`)."""
    law = result.law_obj()
    d = result.draws()
    dt = law.to_internal_array(d) if d.shape[0] else np.empty((0, len(law.params)))
    center, pred = objective_space(law, result.space, result.theta(), dt, X)
    if noise and pred.shape[0]:
        pred = predictive_draws(center, pred, result.residuals, result.seed)
    return center, pred


def points_frame(points: pd.DataFrame | Mapping[str, Sequence[float] | float]) -> pd.DataFrame:
    if isinstance(points, pd.DataFrame):
        return points.reset_index(drop=True).copy()
    return pd.DataFrame({k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in points.items()})


def extrapolation_ratio(result: FitResult, X: Mapping[str, FloatArray], m: int) -> FloatArray:
    """How many times beyond the fitted range of any variable each point lies: above the
    largest fitted value (ratio > 1) or below the smallest (smallest / value > 1); 1 inside."""
    ratio = np.ones(m)
    for var in result.law_obj().variables:
        fitted = np.asarray(result.data.get(var) or (), dtype=float)
        if var.startswith("_") or fitted.size == 0 or not np.min(fitted) > 0:
            continue  # group indices, or a variable that is 0 in some fitted run
        with np.errstate(invalid="ignore", divide="ignore"):
            above = X[var] / np.max(fitted)
            below = np.min(fitted) / X[var]
        r = np.maximum(above, below)
        ratio = np.maximum(ratio, np.where(np.isfinite(r), r, 1.0))
    return ratio


def predict(
    result: FitResult,
    points: pd.DataFrame | Mapping[str, Sequence[float] | float],
    *,
    level: float | None = None,
    interval: str = "predictive",
    scale: float = 1.0,
    rows: Sequence[bool] | np.ndarray | None = None,
) -> pd.DataFrame:
    """Predicted target at ``points`` with an interval at ``level`` (default: the fit's) and
    ``extrapolation`` (see :func:`extrapolation_ratio`). ``interval``: ``"predictive"`` or
    ``"bootstrap"``; ``scale`` multiplies the half-widths (the calibrated interval's factor).
    ``rows``: a boolean mask of the points to predict; the others only give context to laws
    whose variables depend on other rows (a loss curve's learning-rate sums need its earlier
    steps). One output row per selected point."""
    if interval not in ("predictive", "bootstrap"):
        raise FitError(f"interval {interval!r} is unknown here; use predictive or bootstrap.")
    lvl = result.level if level is None else level
    if not (isinstance(lvl, int | float) and 0.0 < lvl < 1.0):
        raise FitError(f"level must be between 0 and 1, got {lvl!r}.")
    law = result.law_obj()
    frame = points_frame(points)
    X = law_variables(frame, law, "points")
    if rows is not None:
        mask = np.asarray(rows, dtype=bool)
        if mask.shape != (len(frame),):
            raise FitError(f"rows must be a boolean mask of the {len(frame)} points.")
        X = {k: v[mask] for k, v in X.items()}
        frame = frame.loc[mask].reset_index(drop=True)
    center, pred = prediction_draws(result, X, noise=interval == "predictive")
    out = pd.DataFrame({v: X[v] for v in law.variables})
    out["value"] = to_target(result.space, center)
    if pred.shape[0] >= 2:
        lo, hi = central_interval(center, pred, lvl, scale)
        out["low"], out["high"] = to_target(result.space, lo), to_target(result.space, hi)
    else:
        out["low"], out["high"] = np.nan, np.nan  # no bootstrap: no interval
    ratio = extrapolation_ratio(result, X, len(frame))
    out["extrapolation"] = ratio
    if (ratio > 10).any():
        warnings.warn(
            f"predicting up to {float(ratio.max()):.3g}x outside the fitted range (beyond the "
            "largest or below the smallest fitted run); check the law with a backtest before "
            "trusting the interval.",
            ExtrapolationWarning,
            stacklevel=2,
        )
    return out
