"""Two-stage prediction: (N, D) -> loss -> downstream error or accuracy, uncertainty propagated.

Gadre et al. 2024 (arXiv:2403.08540, section 3) and Bhagia et al. 2024 (arXiv:2412.04403) predict a
downstream metric in two steps: a loss law gives the loss at the target scale, and a law of the
metric as a function of loss (fitted on observed losses) maps it to the metric. Both steps are
uncertain. Here bootstrap draw k of the loss fit (plus a fitted residual: the target run's own
loss scatters around the law, scaled by the loss fit's calibrated extrapolation factor) is fed
to draw k of the downstream fit (plus one of its residuals), and the interval is taken over the
resulting K values: the two stages' uncertainties compound, as they do in reality.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from scalinglab.errors import FitError
from scalinglab.fit.prediction import (
    central_interval,
    objective_space,
    points_frame,
    predictive_draws,
)
from scalinglab.fit.result import FitResult
from scalinglab.fit.variables import law_variables
from scalinglab.laws.base import FloatArray
from scalinglab.trust.calibrate import calibrate, scale_for


def _draws(result: FitResult, X: Mapping[str, FloatArray]) -> tuple[FloatArray, FloatArray, str]:
    law = result.law_obj()
    space = result.space
    center, pred = objective_space(
        law, space, result.theta(), law.to_internal_array(result.draws()), X
    )
    if pred.shape[0] < 2:
        raise FitError(
            f"two-stage prediction needs bootstrap draws; the {result.law} fit has none (refit with n_boot > 0)."
        )
    return center, pred, space


def _noisy(
    result: FitResult, center: FloatArray, pred: FloatArray, level: float, seed: int
) -> FloatArray:
    noisy = predictive_draws(center, pred, result.residuals, seed)
    return center + scale_for(result.calibration, level) * (noisy - center)


def predict_two_stage(
    loss_fit: FitResult,
    downstream_fit: FitResult,
    points: pd.DataFrame | Mapping[str, Sequence[float] | float],
    *,
    level: float | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Downstream metric at ``points`` (the loss law's variables) via the predicted loss.
    Columns: the variables, ``loss``/``loss_low``/``loss_high``, ``value``/``low``/``high``."""
    if downstream_fit.law_obj().variables != ("x",):
        raise FitError(
            f"the second stage must be a law of the loss (variable x), e.g. downstream_error; "
            f"got {downstream_fit.law!r} with variables {downstream_fit.law_obj().variables}."
        )
    lvl = loss_fit.level if level is None else level
    if not 0 < lvl < 1:
        raise FitError(f"level must be between 0 and 1, got {lvl!r}.")
    if loss_fit.calibration is None:
        loss_fit = calibrate(loss_fit)
    if downstream_fit.calibration is None:
        downstream_fit = calibrate(downstream_fit)
    frame = points_frame(points)
    law1 = loss_fit.law_obj()
    X1 = law_variables(frame, law1, "points")
    c1, p1, s1 = _draws(loss_fit, X1)
    loss_draws = _noisy(loss_fit, c1, p1, lvl, seed)
    to_nat1 = np.exp if s1 == "log" else (lambda v: v)
    L_center, L_draws = to_nat1(c1), to_nat1(loss_draws)
    law2 = downstream_fit.law_obj()
    d2 = law2.to_internal_array(downstream_fit.draws())
    K = min(L_draws.shape[0], d2.shape[0])
    if K < 2:
        raise FitError("two-stage prediction needs bootstrap draws in both fits.")
    space2 = downstream_fit.space
    center2, _ = objective_space(
        law2, space2, downstream_fit.theta(), np.empty((0, len(law2.params))), {"x": L_center}
    )
    vals = np.empty((K, L_center.size))
    for i in range(L_center.size):
        # draw k of stage 2 evaluated at stage-1 draw k's loss for this point
        Xk = {"x": L_draws[:K, i]}
        f, _ = law2.evaluate(d2[:K], Xk)  # (K, K): row = params draw, column = loss draw
        fk = np.diagonal(f).copy()
        if law2.space != space2:
            fk = np.exp(fk) if law2.space == "log" else np.log(fk)
        vals[:, i] = fk
    vals = _noisy(downstream_fit, center2, vals, lvl, seed + 1)
    lo, hi = central_interval(center2, vals, lvl, 1.0)
    back = np.exp if space2 == "log" else (lambda v: v)
    l_lo, l_hi = central_interval(c1, loss_draws, lvl, 1.0)
    out = pd.DataFrame({v: X1[v] for v in law1.variables if not v.startswith("_")})
    out["loss"], out["loss_low"], out["loss_high"] = L_center, to_nat1(l_lo), to_nat1(l_hi)
    out["value"], out["low"], out["high"] = back(center2), back(lo), back(hi)
    return out
