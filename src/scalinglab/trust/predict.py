"""``predict``: predictions of a fit (or of each fit of a fit set) with calibrated intervals.

The default interval is ``"calibrated"``: bootstrap + run noise, its half-widths scaled by the
fit's nested-backtest extrapolation factor (:mod:`scalinglab.trust.calibrate`). A fit that
carries no calibration is calibrated here first, from the runs it stores; calibrate it once
with :func:`scalinglab.trust.calibrate.calibrate` to predict many times cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from scalinglab.data.select import group_runs
from scalinglab.errors import FitError
from scalinglab.fit import prediction as fp
from scalinglab.fit.result import FitResult, FitSet
from scalinglab.trust.calibrate import calibrate, scale_for

INTERVALS = fp.INTERVALS


def predict(
    result: FitResult | FitSet,
    points: pd.DataFrame | Mapping[str, Sequence[float] | float],
    *,
    level: float | None = None,
    interval: str = "calibrated",
    rows: Sequence[bool] | np.ndarray | None = None,
) -> pd.DataFrame:
    """Predicted target at ``points`` (a table with the law's variables) with an interval at
    ``level`` (default: the fit's) and ``extrapolation`` (how far outside the fitted range).

    ``interval``: ``"calibrated"`` (default), ``"predictive"`` (bootstrap + run noise) or
    ``"bootstrap"`` (parameter uncertainty only: an interval for the mean). ``rows``: a boolean
    mask of the points to predict; the others only give context to laws whose variables depend
    on other rows. A :class:`FitSet` predicts each point with its group's fit when the points
    have the group column, else every point with every group's fit (a ``group`` column says
    which)."""
    if interval not in INTERVALS:
        raise FitError(f"interval {interval!r} is unknown; use one of {', '.join(INTERVALS)}.")
    if isinstance(result, FitSet):
        return _predict_set(result, points, level=level, interval=interval)
    if interval != "calibrated":
        return fp.predict(result, points, level=level, interval=interval, rows=rows)
    if result.calibration is None:
        result = calibrate(result)
    lvl = result.level if level is None else level
    if not (isinstance(lvl, int | float) and 0.0 < lvl < 1.0):
        raise FitError(f"level must be between 0 and 1, got {lvl!r}.")
    scale = scale_for(result.calibration, lvl)
    return fp.predict(result, points, level=lvl, interval="predictive", scale=scale, rows=rows)


def _predict_set(
    fits: FitSet,
    points: pd.DataFrame | Mapping[str, Sequence[float] | float],
    *,
    level: float | None,
    interval: str,
) -> pd.DataFrame:
    frame = fp.points_frame(points)
    cols = [c.strip() for c in fits.group_by.split(",")]
    parts: list[pd.DataFrame] = []
    if all(c in frame.columns for c in cols):
        for key, part in group_runs(frame, cols):  # the same keys as the fits' groups
            pred = predict(fits.get(key), part, level=level, interval=interval)
            parts.append(pred.assign(group=key))
    else:
        for f in fits:
            part = predict(f, frame, level=level, interval=interval)
            parts.append(part.assign(group=f.provenance.group))
    return pd.concat(parts, ignore_index=True)
