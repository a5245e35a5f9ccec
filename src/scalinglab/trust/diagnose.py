"""Diagnostics: what in the runs (or the fit) should stop you trusting an extrapolation.

Each check returns :class:`Finding` objects; clean power-law data gives none. The scale axis is
``x`` for one-variable data, else C (6ND when absent), else N. "Better" is lower for losses and
errors and higher for accuracies (metric names ``acc*``/``*accuracy*``).

Checks (thresholds are module constants, chosen so that seeded clean power laws with 1% noise
stay quiet; see tests/trust/test_diagnose.py):

* ``too_few_scales`` / ``too_few_points``: fewer than 4 distinct scales, or fewer runs than
  3x the free parameters of the law.
* ``inverse_scaling``: the best value per scale gets *worse* with scale (Spearman rho of the
  per-scale best values against log scale beyond +-0.5 in the wrong direction, p < 0.05;
  McKenzie et al. 2023, "Inverse Scaling", arXiv:2306.09479).
* ``u_shape`` / ``inverted_u``: a quadratic in log scale beats a line (F-test p < 0.01) and its
  turning point lies inside the data with data on both sides (Wei et al. 2022, "Inverse scaling
  can become U-shaped", arXiv:2211.02011).
* ``break``: a kink in log-log at an interior scale (at least 3 scales each side), added to a
  power law with offset fitted by the engine, beats that law by an F-test (p < 0.001) and
  changes the local slope by more than 1.5x (Caballero et al. 2022 model such breaks).
* ``plateau``: the log-log slope over the top third of scales is under 10% of that over the
  bottom third: the irreducible loss is (nearly) reached and more scale buys little.
* ``emergence``: one step between adjacent scales makes more than half of the whole change of a
  downstream metric (Wei et al. 2022, "Emergent abilities", arXiv:2206.07682).
* ``unidentifiable``: the fit warns of a flat direction or of disagreeing starts, or a
  parameter's interval spans more than a factor of 10.
* ``extrapolation``: a requested prediction lies far beyond the largest run ("predicting 300x
  beyond the largest run"); beyond the span the data itself covers, more strongly.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalinglab.fit.result import FitResult
from scalinglab.laws.power_law import LAW as POWER_LAW
from scalinglab.trust.findings import Diagnosis, Finding
from scalinglab.units import training_flops

MIN_SCALES = 4
POINTS_PER_PARAM = 3
RHO_MIN, P_TREND = 0.5, 0.05
P_QUAD = 0.01
P_BREAK, SLOPE_RATIO = 1e-3, 1.5
PLATEAU_RATIO = 0.1
EMERGENCE_SHARE = 0.5
EXTRAPOLATION_FACTOR = 10.0


def scale_axis(frame: pd.DataFrame) -> tuple[str, np.ndarray] | None:
    if "x" in frame.columns:
        return "x", frame["x"].to_numpy(float)
    if "C" in frame.columns and frame["C"].notna().all():
        return "C", frame["C"].to_numpy(float)
    if {"N", "D"} <= set(frame.columns) and frame[["N", "D"]].notna().all().all():
        return "C", training_flops(frame["N"].to_numpy(float), frame["D"].to_numpy(float))
    if "N" in frame.columns and frame["N"].notna().all():
        return "N", frame["N"].to_numpy(float)
    return None


def higher_is_better(metric: str | None) -> bool:
    m = (metric or "").lower()
    return m.startswith("acc") or "accuracy" in m


def _per_scale(x: np.ndarray, y: np.ndarray, better_high: bool) -> tuple[np.ndarray, np.ndarray]:
    """Best value per distinct scale (scales binned to 1% in log to merge digitisation jitter)."""
    key = np.round(np.log10(x), 2)
    xs, best = [], []
    for k in np.unique(key):
        m = key == k
        xs.append(float(np.exp(np.mean(np.log(x[m])))))
        best.append(float(np.max(y[m]) if better_high else np.min(y[m])))
    return np.array(xs), np.array(best)


def _f_test(rss0: float, rss1: float, df0: int, df1: int) -> float:
    """p-value that the larger model (rss1, df1 residual dof) improves on the smaller."""
    from scipy import stats  # imported here: scipy.stats costs ~1 s at CLI start-up

    if rss1 <= 0 or df1 <= 0 or df0 <= df1:
        return 1.0 if rss1 >= rss0 else 0.0
    F = ((rss0 - rss1) / (df0 - df1)) / (rss1 / df1)
    return float(stats.f.sf(F, df0 - df1, df1)) if F > 0 else 1.0


@dataclass(frozen=True)
class _Trend:
    """The best value per scale of one table, the input of every trend check."""

    name: str  # the scale axis: x, C or N
    metric: str | None
    high: bool  # higher values are better (accuracies)
    xs: np.ndarray  # distinct scales, ascending
    best: np.ndarray  # best value per scale

    @property
    def label(self) -> str:
        return self.metric or "the metric"

    @property
    def u(self) -> np.ndarray:
        return np.asarray(np.log10(self.xs), dtype=float)


def diagnose_runs(
    frame: pd.DataFrame, *, metric: str | None = None, n_params: int | None = None
) -> list[Finding]:
    """Checks on the runs themselves (no fit needed). ``frame`` has ``y`` and a scale axis."""
    ax = scale_axis(frame)
    if ax is None:
        msg = "no scale axis (x, C, N and D) in the runs: trend checks skipped."
        return [Finding("no_scale_axis", "info", msg, {})]
    name, x = ax
    y = frame["y"].to_numpy(float)
    good = np.isfinite(x) & (x > 0) & np.isfinite(y)
    x, y = x[good], y[good]
    high = higher_is_better(metric)
    xs, best = _per_scale(x, y, high)
    t = _Trend(name, metric, high, xs, best)
    out = _count_checks(t, int(y.size), n_params)
    if xs.size < MIN_SCALES:
        return out
    out += _inverse_scaling(t)
    out += _u_shape(t)
    if not high and np.all(best > 0):  # breaks and plateaus of losses and errors
        non_monotone = any(f.kind in ("u_shape", "inverted_u") for f in out)
        if xs.size >= 8 and not non_monotone:
            out += _break(t)
        out += _plateau(t)
    out += _emergence(t)
    return out


def _count_checks(t: _Trend, runs: int, n_params: int | None) -> list[Finding]:
    """``too_few_scales`` and ``too_few_points``."""
    out: list[Finding] = []
    n_scales = t.xs.size
    if n_scales < MIN_SCALES:
        out.append(
            Finding(
                "too_few_scales",
                "warning",
                f"only {n_scales} distinct scales of {t.name}: trends and exponents are poorly determined; add runs at more sizes (at least {MIN_SCALES}).",
                {"scales": n_scales},
            )
        )
    if n_params is not None and runs < POINTS_PER_PARAM * n_params:
        out.append(
            Finding(
                "too_few_points",
                "warning",
                f"{runs} runs for {n_params} free parameters (fewer than {POINTS_PER_PARAM} per parameter): the fit will be loose.",
                {"runs": runs, "params": n_params},
            )
        )
    return out


def _inverse_scaling(t: _Trend) -> list[Finding]:
    """Spearman trend of the best value per scale in the wrong direction (McKenzie et al.
    2023)."""
    from scipy import stats

    sign = -1.0 if t.high else 1.0  # +: a higher value is worse
    rho, p = stats.spearmanr(t.u, t.best)
    if not (np.isfinite(rho) and sign * rho >= RHO_MIN and p < P_TREND):
        return []
    return [
        Finding(
            "inverse_scaling",
            "warning",
            f"{t.label} gets worse with scale ({t.name}): Spearman rho {rho:+.2f} of the best value per scale against log {t.name} (p = {p:.2g}). A scaling law fitted to it will extrapolate the wrong way.",
            {"rho": float(rho), "p": float(p)},
        )
    ]


def _u_shape(t: _Trend) -> list[Finding]:
    """A quadratic in log scale beats a line, its turning point is inside the data, and both
    ends are clearly worse (U) or better (inverted U) than it (Wei et al. 2022)."""
    n_scales, u = t.xs.size, t.u
    if n_scales < 5:
        return []
    v = np.log10(t.best) if np.all(t.best > 0) else t.best
    lin = np.polyfit(u, v, 1, full=True)
    quad = np.polyfit(u, v, 2, full=True)
    rss1 = float(lin[1][0]) if len(lin[1]) else 0.0
    rss2 = float(quad[1][0]) if len(quad[1]) else 0.0
    pq = _f_test(rss1, rss2, n_scales - 2, n_scales - 3)
    a2, a1, _ = quad[0]
    if a2 == 0 or pq >= P_QUAD:
        return []
    vertex = -a1 / (2 * a2)
    inside = np.sum(u < vertex) >= 2 and np.sum(u > vertex) >= 2
    fitted = np.polyval(quad[0], np.array([u[0], vertex, u[-1]]))
    sd = math.sqrt(rss2 / max(n_scales - 3, 1))
    sgn = float(np.sign(a2))
    rise = min((fitted[0] - fitted[1]) * sgn, (fitted[2] - fitted[1]) * sgn)
    if not (inside and rise > max(3 * sd, 0.1 * float(np.ptp(v)))):
        return []
    kind = "u_shape" if a2 > 0 else "inverted_u"
    good_mid = (a2 > 0) != t.high  # lowest value in the middle is best for losses
    where = "best" if good_mid else "worst"
    return [
        Finding(
            kind,
            "warning",
            f"{t.label} has a {'U' if a2 > 0 else 'inverted-U'} shape in log {t.name}, {where} near {t.name} = {10**vertex:.3g} (quadratic beats a line, p = {pq:.2g}): a monotone law cannot extrapolate it.",
            {"turning_point": float(10**vertex), "p": float(pq)},
        )
    ]


def _break(t: _Trend) -> list[Finding]:
    brk = _break_test(t.xs, t.best)
    if brk is None:
        return []
    b, s_left, s_right, ph = brk
    return [
        Finding(
            "break",
            "warning",
            f"the log-log slope changes from {s_left:.3g} to {s_right:.3g} near {t.name} = {b:.3g} (a kink beats a power law with offset, p = {ph:.2g}): a law fitted below the break will mispredict above it.",
            {"at": b, "slope_before": s_left, "slope_after": s_right, "p": ph},
        )
    ]


def _plateau(t: _Trend) -> list[Finding]:
    """The log-log slope over the top third of scales against that over the bottom third."""
    u, v = t.u, np.log10(t.best)
    k = max(3, t.xs.size // 3)
    s_lo = np.polyfit(u[:k], v[:k], 1)[0]
    s_hi = np.polyfit(u[-k:], v[-k:], 1)[0]
    if not (s_lo < 0 and abs(s_hi) < PLATEAU_RATIO * abs(s_lo)):
        return []
    return [
        Finding(
            "plateau",
            "warning",
            f"{t.label} has stopped improving: log-log slope {s_hi:.3g} over the top third of scales against {s_lo:.3g} over the bottom third. The irreducible level is (nearly) reached; more scale buys little.",
            {"slope_low": float(s_lo), "slope_high": float(s_hi)},
        )
    ]


def _emergence(t: _Trend) -> list[Finding]:
    """One step between adjacent scales of a downstream metric makes most of its change (Wei
    et al. 2022, "Emergent abilities")."""
    metric = t.metric
    if metric is None or not (t.high or metric.lower().startswith("err")):
        return []
    xs, best = t.xs, t.best
    steps = np.diff(best)
    total = abs(best[-1] - best[0])
    j = int(np.argmax(np.abs(steps)))
    share = abs(steps[j]) / np.sum(np.abs(steps)) if total > 0 else 0.0
    if not (total > 0 and share > EMERGENCE_SHARE and abs(steps[j]) > EMERGENCE_SHARE * total):
        return []
    return [
        Finding(
            "emergence",
            "warning",
            f"{metric}: one step between {t.name} = {xs[j]:.3g} and {xs[j + 1]:.3g} makes {share:.0%} of the whole change: an emergence-like jump that smooth laws fitted below it cannot anticipate.",
            {"from": float(xs[j]), "to": float(xs[j + 1])},
        )
    ]


def _break_test(xs: np.ndarray, best: np.ndarray) -> tuple[float, float, float, float] | None:
    """Null: a power law with offset (:mod:`scalinglab.laws.power_law`, fitted by the engine)
    through the per-scale values. Alternative: the null plus a kink in log-log at an interior
    scale (hinge on its residuals). Returns (break scale, slope before, slope after, p) when
    the kink is significant."""
    import warnings

    from scalinglab.errors import ScalinglabError
    from scalinglab.fit.api import fit

    frame = pd.DataFrame({"x": xs, "y": best})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            null = fit(frame, POWER_LAW, n_boot=0)
    except ScalinglabError:
        return None
    theta = POWER_LAW.to_internal(null.params)
    pred = POWER_LAW.predict(theta, {"x": xs})[0]
    u = np.log10(xs)
    r = np.log10(best) - np.log10(pred)
    n = u.size
    rss0 = float(np.sum(r**2))
    best_fit = (math.inf, math.nan, math.nan, math.nan)
    for b in u[3:-3]:
        X = np.column_stack([np.ones_like(u), u, np.maximum(u - b, 0.0)])
        coef, *_ = np.linalg.lstsq(X, r, rcond=None)
        rss = float(np.sum((X @ coef - r) ** 2))
        if rss < best_fit[0]:
            best_fit = (rss, float(b), float(coef[1]), float(coef[2]))
    rss1, b, tilt, kink = best_fit
    if not math.isfinite(rss1):
        return None
    p = _f_test(rss0, rss1, n - 3, n - 6)
    xb = 10**b
    # local log-log slope at the break: the null's own, d log L / d log x by a central
    # difference of the law (step 1e-4 in log x: error ~1e-8), plus the residual line's
    # slope before the kink; after it, plus the kink
    h = 1e-4
    ends = POWER_LAW.evaluate(theta[None, :], {"x": xb * np.exp(np.array([-h, h]))})[0][0]
    s_left = float(ends[1] - ends[0]) / (2 * h) + tilt
    s_right = s_left + kink
    ratio = max(abs(s_left), abs(s_right)) / max(min(abs(s_left), abs(s_right)), 1e-12)
    if p < P_BREAK and ratio > SLOPE_RATIO:
        return float(xb), s_left, s_right, float(p)
    return None


def diagnose_fit(result: FitResult) -> list[Finding]:
    out: list[Finding] = []
    for w in result.warnings:
        if "flat" in w or "identified" in w or "disagree" in w or "bound" in w:
            out.append(Finding("unidentifiable", "warning", w, {}))
    for name, (lo, hi) in result.intervals.items():
        v = result.params[name]
        if name in result.fixed or not (math.isfinite(lo) and math.isfinite(hi)):
            continue
        wide = (lo > 0 and hi / lo > 10) or (hi - lo > 2 * abs(v) + 1e-300 and not (lo > 0))
        if wide:
            out.append(
                Finding(
                    "unidentifiable",
                    "warning",
                    f"parameter {name} = {v:.4g} has a {round(100 * result.level)}% interval [{lo:.4g}, {hi:.4g}] spanning more than a factor of 10: the data do not pin it down.",
                    {"param": name, "low": lo, "high": hi},
                )
            )
    return out


def diagnose_extrapolation(result: FitResult, point: dict[str, float]) -> list[Finding]:
    """How far ``point`` (law variables -> values) lies beyond the fitted runs."""
    out: list[Finding] = []
    worst, factor, span = None, 1.0, 1.0
    for var, value in point.items():
        fitted = np.asarray(result.data.get(var) or [], dtype=float)
        if fitted.size == 0 or not (value > 0):
            continue
        f = value / fitted.max()
        if f > factor:
            worst, factor, span = var, f, fitted.max() / fitted.min()
    if worst is not None and factor > EXTRAPOLATION_FACTOR:
        beyond_span = factor > span
        sev_msg = " (further than the whole span the runs cover)" if beyond_span else ""
        out.append(
            Finding(
                "extrapolation",
                "warning",
                f"predicting {factor:.3g}x beyond the largest run in {worst}{sev_msg}: backtest the law over a comparable range before trusting the interval.",
                {"variable": worst, "factor": float(factor), "data_span": float(span)},
            )
        )
    return out


def default_law_outliers(frame: pd.DataFrame, seed: int = 0) -> list[Finding]:
    """Outlying runs against the default law of the table (power law or Chinchilla, see
    :func:`scalinglab.trust.select.default_law`), point fit only. A table the default law
    cannot be fitted to gets an ``info`` finding saying why no run was scored."""
    import warnings

    from scalinglab.errors import ScalinglabError
    from scalinglab.fit.api import fit
    from scalinglab.fit.residuals import MIN_RUNS
    from scalinglab.trust.outliers import outlier_findings
    from scalinglab.trust.select import default_law

    if len(frame) < MIN_RUNS:
        return []  # too few runs for a robust scale (and too_few_scales says so)
    name = default_law(frame)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fit(frame, name, n_boot=0, seed=seed)
    except ScalinglabError as exc:
        why = f"outlying runs not scored: the default law {name} could not be fitted ({exc})"
        return [Finding("outliers_not_scored", "info", why, {"law": name})]
    return [
        dataclasses.replace(
            f, message=f"{f.message} (against the default law {name}; name another with --law)"
        )
        for f in outlier_findings(result)
    ]


def diagnose(
    frame: pd.DataFrame,
    *,
    law: str | None = None,
    target: dict[str, float] | None = None,
    n_boot: int = 200,
    seed: int = 0,
) -> Diagnosis:
    """All checks for one selected table (with ``y``): the runs' trends, and with ``law`` the
    fit's identifiability and, with ``target`` (law variables -> values), the extrapolation."""
    import warnings

    from scalinglab.fit.api import fit
    from scalinglab.laws.registry import get_law
    from scalinglab.trust.outliers import outlier_findings

    metric = frame.attrs.get("metric")
    n_params = len(get_law(law).params) if law else None
    out = diagnose_runs(frame, metric=metric, n_params=n_params)
    if law is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fit(frame, law, n_boot=n_boot, seed=seed)
        out += diagnose_fit(result)
        out += outlier_findings(result)  # runs far off the law (robust z of the residuals)
        if target:
            out += diagnose_extrapolation(result, target)
    else:
        out += default_law_outliers(frame, seed)
    group = frame.attrs.get("group")
    return Diagnosis(tuple((None if group is None else str(group), f) for f in out))
