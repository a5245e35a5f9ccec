"""Statistics of a fit's residuals: information criteria, and runs far outside the rest.

Runs far off the law are scored by the modified z-score of Iglewicz and Hoaglin (1993, "How to
Detect and Handle Outliers", ASQC Basic References in Quality Control vol. 16, section 3.3):

    z_i = 0.6745 (r_i - median(r)) / MAD,   MAD = median(|r_i - median(r)|),

where 0.6745 is the 0.75 quantile of the standard normal, so that z has unit scale for normal
residuals; they recommend labelling |z| > 3.5 as a potential outlier. The median and MAD are not
pulled by the outliers themselves, unlike the mean and standard deviation.

This module holds the score and the warning :func:`scalinglab.fit.fit` attaches to a fit; the
trust layer's :mod:`scalinglab.trust.outliers` builds the named table and the ``diagnose``
findings on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from scalinglab.errors import DataError
from scalinglab.laws.base import FloatArray

#: 0.75 quantile of the standard normal (Iglewicz and Hoaglin 1993).
MAD_SCALE = 0.6745
#: |z| above which a run is flagged (Iglewicz and Hoaglin 1993's recommendation).
Z_THRESHOLD = 3.5
#: 0.9 quantile of the standard normal: the 0.8 quantile of |N(0, 1)|.
Q80_SCALE = 1.2816
#: fewer fitted runs than this and the median absolute deviation is too rough to flag a run.
MIN_RUNS = 8
#: a deviation below this (objective space: log units or the target's) is rounding, not a run
#: off the law: noise-free fits leave residuals of ~1e-16 whose MAD would make any ulp "far".
DEVIATION_FLOOR = 1e-9


def robust_z(values: Sequence[float] | FloatArray) -> FloatArray:
    """Modified z-scores 0.6745 (x - median) / MAD of ``values`` (unitless).

    When the MAD is 0 (more than half the values equal the median), values at the median score
    0 and every other value +-inf: any departure is infinitely far on that scale.
    """
    x = np.asarray(values, dtype=float)
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise DataError(
            f"robust z-score: values at positions {bad[:10].tolist()} are not finite "
            f"({float(x[bad[0]])!r} first); drop or fix those runs before scoring them."
        )
    if x.size == 0:
        return x
    dev = x - np.median(x)
    mad = float(np.median(np.abs(dev)))
    if mad == 0.0:
        return np.where(dev == 0, 0.0, np.copysign(np.inf, dev))
    return np.asarray(MAD_SCALE * dev / mad, dtype=float)


def outlier_scores(residuals: Sequence[float] | FloatArray) -> FloatArray:
    """Robust z-scores of fitted residuals, with the scale floored for small samples.

    The MAD scale of :func:`robust_z` is itself noisy with few runs (its relative standard
    error is about 1.17 / sqrt(n) for normal data, Rousseeuw and Croux 1993, JASA 88:1273,
    table 1 efficiency 37%), and a robust fit (Huber) pulls half the residuals towards zero:
    with 16 runs of 1% Gaussian noise one table in three got a run flagged. So the scale is the
    larger of MAD / 0.6745 and the 80% quantile of |r - median| / 1.2816 (the normal's 0.9
    quantile: the same estimator one step further into the tails, still unaffected by up to
    20% outlying runs).
    """
    r = np.asarray(residuals, dtype=float)
    z = robust_z(r)
    if r.size < 2:
        return z
    dev = r - np.median(r)
    mad_scale = float(np.median(np.abs(dev))) / MAD_SCALE
    scale = max(mad_scale, float(np.quantile(np.abs(dev), 0.8)) / Q80_SCALE)
    if scale == 0.0:
        return z
    return np.asarray(dev / scale, dtype=float)


def flagged(residuals: FloatArray, threshold: float = Z_THRESHOLD) -> np.ndarray:
    """Positions of the residuals with |:func:`outlier_scores`| > ``threshold`` whose deviation
    from the median also exceeds :data:`DEVIATION_FLOOR`; none with fewer than
    :data:`MIN_RUNS`."""
    r = np.asarray(residuals, dtype=float)
    if r.size < MIN_RUNS or not np.all(np.isfinite(r)):
        return np.zeros(0, dtype=np.intp)
    z = outlier_scores(r)
    far = (np.abs(z) > threshold) & (np.abs(r - np.median(r)) > DEVIATION_FLOOR)
    return np.flatnonzero(far)


def outlier_warning(residuals: FloatArray, run_ids: Sequence[str], space: str) -> list[str]:
    """The fit's warning naming the runs far off the law (at most 10 named), or none."""
    idx = flagged(residuals)
    if idx.size == 0:
        return []
    z = outlier_scores(residuals)
    order = idx[np.argsort(-np.abs(z[idx]), kind="stable")]
    named = ", ".join(f"{run_ids[i]} (z = {z[i]:.3g})" for i in order[:10])
    more = f" and {order.size - 10} more" if order.size > 10 else ""
    return [
        f"{order.size} run(s) lie far off the fitted law (robust z of the {space}-space residual "
        f"beyond {Z_THRESHOLD:g}, Iglewicz and Hoaglin 1993): {named}{more}. Check them "
        "(diverged, under-trained, mis-recorded) and exclude them with --where if they do not "
        "belong; `scalinglab diagnose --law` lists them."
    ]


def information_criteria(residuals: FloatArray, k: int) -> tuple[float, float]:
    """AIC and BIC of a Gaussian model of the objective-space residuals with ``k`` free
    parameters: n ln(RSS/n) + 2k and n ln(RSS/n) + k ln n (Akaike 1974; Schwarz 1978; the
    least-squares form in Burnham and Anderson 2002, section 2.2). A Huber fit's are the same
    approximation; compare them only between fits of the same runs."""
    n = residuals.size
    rss = float(np.sum(residuals**2))
    if n == 0 or not rss > 0:
        return math.nan, math.nan
    base = n * math.log(rss / n)
    return base + 2 * k, base + k * math.log(n)


__all__ = (
    "MAD_SCALE",
    "Z_THRESHOLD",
    "flagged",
    "information_criteria",
    "outlier_scores",
    "outlier_warning",
    "robust_z",
)
