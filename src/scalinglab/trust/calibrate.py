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

Calibration is its own step, :func:`calibrate`, applied to a fit by the CLI's ``fit`` and by
:func:`scalinglab.trust.predict.predict` when a fit has none; ``fit()`` never runs it. Its
nested refits draw from the fit seed's ``"calibration"`` stream, independent of the bootstrap.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd

from scalinglab.errors import FitError, ScalinglabError
from scalinglab.fit.api import fit_spec
from scalinglab.fit.prediction import central_interval, prediction_draws, stream
from scalinglab.fit.records import Calibration
from scalinglab.fit.result import FitResult
from scalinglab.fit.variables import law_variables
from scalinglab.laws.base import FloatArray, Law
from scalinglab.laws.registry import get_law
from scalinglab.trust.holdout import axis_values

LEVELS = (0.5, 0.68, 0.8, 0.9, 0.95, 0.99)
# rolling origins of the nested backtest: hold back the top 10%, 20%, 30% along the axis
NESTED_FRACTIONS = (0.1, 0.2, 0.3)
MIN_NESTED = 5
#: bootstrap resamples of each nested refit (enough for the interval quantiles it scores)
NESTED_BOOT = 100
METHOD = "bootstrap + run noise + nested split-conformal scale"


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


def scale_for(calibration: Calibration | None, level: float) -> float:
    """The extrapolation scale at ``level`` from a fit's nested-backtest scores: the
    ceil((n+1) level)/n empirical quantile of z, at least 1 (split conformal)."""
    if calibration is None or not calibration.z:
        return 1.0
    levels = np.array(calibration.levels, dtype=float)
    j = int(np.argmin(np.abs(levels - level)))
    z = np.sort(np.asarray([row[j] for row in calibration.z], dtype=float))
    n = z.size
    if n < MIN_NESTED:
        return 1.0
    k = min(n, math.ceil((n + 1) * level)) - 1
    return float(max(1.0, z[k]))


def z_scores(center: FloatArray, pred: FloatArray, truth: FloatArray) -> list[list[float]]:
    """For each point, per level of :data:`LEVELS`, the factor by which the interval's
    half-width on the truth's side must grow to reach the truth (0 when the truth is the
    centre, 1e6 when the interval has no width on that side)."""
    out = []
    for i in range(truth.size):
        zs = []
        for lvl in LEVELS:
            lo, hi = central_interval(center[i : i + 1], pred[:, i : i + 1], lvl, 1.0)
            dev = truth[i] - center[i]
            half = (hi[0] - center[i]) if dev >= 0 else (center[i] - lo[0])
            zs.append(float(abs(dev) / half) if half > 0 else (0.0 if dev == 0 else 1e6))
        out.append(zs)
    return out


def origins(axis: FloatArray) -> list[np.ndarray]:
    """Masks of the held-back runs: the top 10%, 20%, 30% along ``axis`` (duplicates and
    origins that leave fewer than 2 runs to fit dropped)."""
    n = axis.size
    order = np.argsort(axis, kind="stable")
    out: list[np.ndarray] = []
    seen: set[int] = set()
    for frac in NESTED_FRACTIONS:
        k = max(1, math.ceil(frac * n))
        held = axis >= axis[order[n - k]]
        key = int(held.sum())
        if held.all() or (~held).sum() < 2 or key in seen:
            continue
        seen.add(key)
        out.append(held)
    return out


def _runs_for(result: FitResult, runs: pd.DataFrame | None) -> pd.DataFrame:
    if runs is None:
        runs = result.frame()
    elif len(runs) != result.n_points:
        raise FitError(
            f"calibrate: the runs table has {len(runs)} rows but the fit was made on "
            f"{result.n_points}; pass the runs the fit was fitted on."
        )
    frame = runs.reset_index(drop=True).copy()
    frame["__w"] = np.asarray(result.data["weight"], dtype=float)
    if "y" not in frame.columns:
        frame["y"] = np.asarray(result.data["y"], dtype=float)
    return frame


def nested(result: FitResult, frame: pd.DataFrame, axis: str) -> list[list[float]]:
    """z-scores of the runs held back at each origin, predicted by a refit of the fit's own
    spec (fewer resamples, the calibration stream's seed) on the rest."""
    law = result.law_obj()
    X_all = law_variables(frame, law, "runs")
    ax = axis_values(frame.assign(**{axis: X_all[axis]}) if axis in X_all else frame, axis)
    seed = int(stream(result.seed, "calibration").generate_state(1)[0])
    spec = replace(result.spec, n_boot=min(result.spec.n_boot, NESTED_BOOT), seed=seed)
    y_all = np.asarray(result.data["y"], dtype=float)
    truth = np.log(y_all) if result.space == "log" else y_all
    out: list[list[float]] = []
    for held in origins(ax):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sub = fit_spec(frame.loc[~held], spec, weights="__w")
        except ScalinglabError:
            continue  # too few runs left for this origin
        lw = sub.law_obj()
        # variables from the whole table, then the held-back rows (a curve needs its past)
        X = {k: v[held] for k, v in law_variables(frame, lw, "runs").items()}
        center, pred = prediction_draws(sub, X, noise=True)
        if pred.shape[0] < 2:
            continue  # the refit has no usable bootstrap draws: no interval to score
        out += z_scores(center, pred, truth[held])
    return out


def calibrate(result: FitResult, runs: pd.DataFrame | None = None) -> FitResult:
    """``result`` with its :class:`Calibration`: the nested rolling-origin backtest on the runs
    it was fitted on (``runs``: that table; default the fit's stored columns, enough for every
    law whose variables are columns). A fit without bootstrap draws, or a law without an
    extrapolation axis, gets a calibration whose ``note`` says why no scale applies."""

    def done(note: str, z: list[list[float]] | None = None, axis: str | None = None) -> FitResult:
        rows = tuple(tuple(r) for r in (z or ()))
        return replace(result, calibration=Calibration(METHOD, LEVELS, rows, axis, note))

    if result.bootstrap.n == 0:
        return done("no bootstrap draws: no interval to calibrate")
    law = get_law(result.law)
    if runs is None and law.prepare is not None:
        return done(f"no nested calibration: law {law.name!r} needs the runs table")
    frame = _runs_for(result, runs)
    axis = default_axis(result.law_obj(), frame)
    if axis is None:
        return done("no extrapolation axis for this law: no nested calibration")
    try:
        z = nested(result, frame, axis)
    except ScalinglabError as exc:
        return done(f"no nested calibration: {exc}")
    note = (
        f"only {len(z)} nested runs: no extrapolation scale applied" if len(z) < MIN_NESTED else ""
    )
    return done(note, z, axis)
