"""The numbers behind every figure, shared by the matplotlib plots and the HTML report.

Nothing here draws: each function turns a :class:`FitResult` (and optionally runs) into tables
(``pandas.DataFrame``) that :mod:`scalinglab.report.plots` and :mod:`scalinglab.report.html`
render the same way.

* :func:`law_curves`: the fitted law along its main variable with an interval band. A law of N
  and D is drawn against N at fixed tokens-per-parameter ratios r = D/N (the runs are split into
  ratio bins; each bin gets the curve at its geometric-mean ratio), so each curve is a slice of
  the surface the runs of that bin lie near.
* :func:`isoflop`: Hoffmann et al. 2022 "approach 2" (section 3.2), computed by
  :func:`scalinglab.plan.isoflop.isoflop` (its budget grouping): runs grouped by compute
  budget, a parabola of loss against log N per budget, its minimum N*; then the power law
  N* = k C^a through the minima (a least-squares line in log-log). Known to be biased when the
  runs of a budget are not centred on the optimum.
* :func:`frontier`: the compute-optimal N*(C), D*(C) of a Chinchilla fit (Hoffmann et al. 2022,
  appendix D.2) for the point estimate and each bootstrap draw, with percentile bands.
* :func:`residuals`: observed minus fitted, in the objective's space (log for log-space fits).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalinglab.errors import DataError, FitError
from scalinglab.fit.result import FitResult, percentile_interval
from scalinglab.laws.base import FloatArray
from scalinglab.plan.compute_optimal import allocation_rows, closed_form_laws
from scalinglab.plan.isoflop import IsoflopResult
from scalinglab.plan.isoflop import isoflop as plan_isoflop
from scalinglab.trust.predict import predict
from scalinglab.units import training_flops

#: Number of tokens-per-parameter bins of a law of N and D in :func:`law_curves`.
RATIO_BINS = 4
#: Points along each drawn curve.
CURVE_POINTS = 120
UNITS = {"N": "parameters", "D": "tokens", "C": "FLOP", "step": "steps"}


def axis_label(var: str) -> str:
    return f"{var} ({UNITS[var]})" if var in UNITS else var


def x_label(result: FitResult | None, var: str) -> str:
    """The label of a law variable; ``x`` says which column it was (``--x``)."""
    if var == "x" and result is not None and result.provenance.x:
        return axis_label(str(result.provenance.x))
    return axis_label(var)


def target_label(result: FitResult | None) -> str:
    if result is None:
        return "loss"
    metric = result.provenance.metric or "y"
    unit = result.provenance.metric_unit
    return f"{metric} ({unit})" if unit else metric


def observed(result: FitResult) -> pd.DataFrame:
    """The runs the fit used: its variables, ``y`` and ``run_id`` (and a joint fit's groups)."""
    frame = result.frame()
    if "C" not in frame.columns and {"N", "D"} <= set(frame.columns):
        frame["C"] = training_flops(frame["N"].to_numpy(float), frame["D"].to_numpy(float))
    return frame


def quiet_predict(result: FitResult, points: pd.DataFrame, interval: str) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # extrapolation notes are for the user's own predict
        return predict(result, points, interval=interval)


def _log_span(values: FloatArray, pad: float = 0.0) -> FloatArray:
    lo, hi = float(np.min(values)), float(np.max(values))
    if hi <= lo:
        lo, hi = lo / 1.5, hi * 1.5
    return np.geomspace(lo / (1.0 + pad), hi * (1.0 + pad), CURVE_POINTS)


@dataclass(frozen=True)
class Curve:
    """One fitted curve: ``table`` has columns ``x``, ``value``, ``low``, ``high``; ``runs``
    the observed runs it is drawn against (columns ``x``, ``y``, ``run_id``)."""

    label: str
    table: pd.DataFrame
    runs: pd.DataFrame


@dataclass(frozen=True)
class Curves:
    x: str  # the variable on the horizontal axis
    curves: tuple[Curve, ...]
    interval: str
    level: float


def law_curves(result: FitResult, *, interval: str = "calibrated") -> Curves:
    """The fitted law against its main variable, with a band at the fit's level.

    Laws of N and D: against N, one curve per tokens-per-parameter bin (:data:`RATIO_BINS`
    quantile bins of D/N). Joint fits: one curve per group. One-variable laws: one curve. Other
    laws: the fitted values at the runs, sorted along the first variable.
    """
    obs = observed(result)
    variables = list(result.variables)
    base_vars = [v for v in variables if not v.startswith("_")]
    group_col = result.joint.group_by if result.joint else None
    if {"N", "D"} <= set(base_vars) and len(base_vars) == 2 and group_col is None:
        return _ratio_curves(result, obs, interval)
    x = base_vars[0] if base_vars else "x"
    parts: list[tuple[str, pd.DataFrame]]
    if group_col is not None:
        groups = result.joint.groups if result.joint else ()
        parts = [(f"{group_col} = {g}", obs[obs[group_col] == g]) for g in groups]
    else:
        parts = [(str(result.provenance.group or "fit"), obs)]
    curves = []
    for label, part in parts:
        if len(part) == 0:
            continue
        if len(base_vars) == 1:
            points = pd.DataFrame({x: _log_span(part[x].to_numpy(float))})
        else:  # several variables: no single line through the surface; the fitted values
            points = part.sort_values(x).reset_index(drop=True)
        if group_col is not None:
            points[group_col] = part[group_col].iloc[0]
        p = quiet_predict(result, points, interval)
        table = pd.DataFrame(
            {
                "x": points[x].to_numpy(float),
                "value": p["value"],
                "low": p["low"],
                "high": p["high"],
            }
        )
        runs = pd.DataFrame({"x": part[x], "y": part["y"], "run_id": _run_ids(part)})
        curves.append(Curve(label, table, runs.reset_index(drop=True)))
    return Curves(x=x, curves=tuple(curves), interval=interval, level=result.level)


def _run_ids(frame: pd.DataFrame) -> pd.Series:
    if "run_id" in frame.columns:
        return frame["run_id"].astype(str)
    return pd.Series([str(i) for i in range(len(frame))], index=frame.index)


def _ratio_curves(result: FitResult, obs: pd.DataFrame, interval: str) -> Curves:
    ratio = obs["D"].to_numpy(float) / obs["N"].to_numpy(float)
    k = min(RATIO_BINS, max(1, np.unique(np.round(np.log10(ratio), 3)).size))
    edges = np.quantile(np.log10(ratio), np.linspace(0.0, 1.0, k + 1))
    which = np.clip(np.searchsorted(edges, np.log10(ratio), side="right") - 1, 0, k - 1)
    curves = []
    for b in range(k):
        m = which == b
        if not m.any():
            continue
        r = float(10 ** np.mean(np.log10(ratio[m])))
        part = obs.loc[m]
        n_grid = _log_span(part["N"].to_numpy(float), pad=0.3)
        p = quiet_predict(result, pd.DataFrame({"N": n_grid, "D": r * n_grid}), interval)
        table = pd.DataFrame({"x": n_grid, "value": p["value"], "low": p["low"], "high": p["high"]})
        lo, hi = 10 ** edges[b], 10 ** edges[b + 1]
        label = f"D/N ≈ {r:.3g} (runs {lo:.3g}–{hi:.3g})"
        runs = pd.DataFrame({"x": part["N"], "y": part["y"], "run_id": _run_ids(part)})
        curves.append(Curve(label, table, runs.reset_index(drop=True)))
    return Curves(x="N", curves=tuple(curves), interval=interval, level=result.level)


def residuals(result: FitResult) -> pd.DataFrame:
    """Per run: each variable, ``y``, ``fitted`` and ``residual`` (log y - log fitted for a
    log-space objective, else y - fitted); ``attrs["space"]`` says which."""
    obs = observed(result)
    p = quiet_predict(result, obs, "bootstrap")
    space = result.space
    out = obs.copy()
    out["fitted"] = p["value"].to_numpy(float)
    y = out["y"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["residual"] = np.log(y) - np.log(out["fitted"]) if space == "log" else y - out["fitted"]
    out.attrs["space"] = space
    return out


def exponent_names(result: FitResult) -> list[str]:
    """Free dimensionless parameters (unit "1": the exponents), else every free parameter."""
    law = result.law_obj()
    free = [p for p in law.params if p.name not in result.fixed]
    names = [p.name for p in free if p.unit == "1"]
    return names or [p.name for p in free]


def bootstrap_draws(result: FitResult, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Bootstrap draws (one row per converged resample) of ``names`` (default: the exponents)."""
    chosen = list(names) if names is not None else exponent_names(result)
    unknown = [n for n in chosen if n not in result.params]
    if unknown:
        raise FitError(
            f"no parameter {', '.join(map(repr, unknown))} in this {result.law!r} fit; "
            f"its parameters are {', '.join(result.params)}."
        )
    draws = result.draws()
    cols = list(result.params)
    return pd.DataFrame({n: draws[:, cols.index(n)] for n in chosen})


# ----- IsoFLOP (approach 2) -----


@dataclass(frozen=True)
class Budget:
    """One IsoFLOP budget (see :class:`IsoFlop`)."""

    budget: int
    C: float
    n_runs: int
    N_opt: float
    loss_opt: float


@dataclass(frozen=True)
class IsoFlop:
    """The tables of :func:`scalinglab.plan.isoflop.isoflop` that the figures draw.

    ``runs``: N, y, C, budget (index into ``budgets``, -1 = in no budget); ``budgets``: one row
    per budget in increasing C with C (geometric mean), n_runs, N_opt and loss_opt (NaN when the
    parabola opens downwards); ``exponent`` and ``coefficient``: N* = coefficient * C^exponent
    (NaN with fewer than 2 minima); ``analysis``: the result they come from."""

    runs: pd.DataFrame
    budgets: pd.DataFrame
    exponent: float
    coefficient: float
    analysis: IsoflopResult

    def rows(self) -> list[Budget]:
        return [
            Budget(
                int(r["budget"]),
                float(r["C"]),
                int(r["n_runs"]),
                float(r["N_opt"]),
                float(r["loss_opt"]),
            )
            for r in self.budgets.to_dict("records")
        ]

    def parabola(self, budget: int, points: int) -> tuple[FloatArray, FloatArray] | None:
        """N and the fitted loss at ``points`` sizes spanning the budget's runs; None when its
        parabola could not be fitted."""
        b = self.analysis.budgets[budget]
        if not all(map(math.isfinite, b.parabola)):
            return None
        n_grid = np.geomspace(*b.N_range, points)
        return n_grid, b.loss_at(n_grid)


def _plottable(runs: pd.DataFrame, y: str) -> pd.DataFrame:
    """The runs a log-log figure can place (finite N > 0, C (or D) > 0 and target): the
    figures leave the others out, where :func:`scalinglab.plan.isoflop.isoflop` rejects them."""
    ok = np.ones(len(runs), dtype=bool)
    for col in ("N", "C" if "C" in runs.columns else "D", y):
        if col in runs.columns:
            v = pd.to_numeric(runs[col], errors="coerce").to_numpy(dtype=float)
            ok &= np.isfinite(v) if col == y else np.isfinite(v) & (v > 0)
    return runs.loc[ok]


def isoflop(runs: pd.DataFrame, *, y: str = "y") -> IsoFlop:
    """IsoFLOP analysis of ``runs`` (columns N and C, or N and D; and ``y``) by
    :func:`scalinglab.plan.isoflop.isoflop` with its budget grouping and no bootstrap; runs in
    no budget are shown but not used."""
    res = plan_isoflop(_plottable(runs, y), y=y, n_boot=0)
    budgets = pd.DataFrame(
        [
            {
                "budget": k,
                "C": b.compute,
                "n_runs": b.n_runs,
                "N_opt": b.N.value,
                "loss_opt": b.loss.value,
            }
            for k, b in enumerate(res.budgets)
        ],
        columns=["budget", "C", "n_runs", "N_opt", "loss_opt"],
    )
    table = res.runs[["N", "y", "C", "budget"]]
    exponent, coefficient = float(res.coef[0, 1]), float(math.exp(res.coef[0, 0]))
    return IsoFlop(table, budgets, exponent, coefficient, res)


# ----- compute-optimal frontier -----


def frontier(
    result: FitResult, compute: FloatArray | None = None, *, level: float | None = None
) -> pd.DataFrame:
    """N*(C) and D*(C) with percentile bands over the bootstrap draws, for a Chinchilla fit.

    ``compute`` (FLOP): default 60 points from the smallest fitted C to 1000x the largest.
    Columns: C, N, N_low, N_high, D, D_low, D_high (bands NaN without draws).
    """
    law = result.law_obj()
    if law.closed_form_allocation is None or result.joint:
        names = " or ".join(repr(n) for n in closed_form_laws())
        raise FitError(
            f"the compute-optimal frontier needs a (non-joint) {names} fit; this fit is "
            f"{result.law!r}{' (joint)' if result.joint else ''}."
        )
    p = result.params
    if compute is None:
        c_fit = observed(result)["C"].to_numpy(float)
        compute = np.geomspace(float(c_fit.min()), 1e3 * float(c_fit.max()), 60)
    cgrid = np.asarray(compute, dtype=float)
    lvl = result.level if level is None else level
    out = pd.DataFrame({"C": cgrid})
    n0, d0, _ = allocation_rows(law, np.array([[p[k] for k in law.param_names]]), cgrid[None, :])
    out["N"], out["D"] = n0[0], d0[0]
    d = result.draws()
    nd = dd = np.empty((0, cgrid.size))
    if d.shape[0]:
        nd, dd, _ = allocation_rows(law, d, cgrid[None, :])
        keep = ~np.isnan(nd[:, 0])  # drop draws without an interior optimum
        nd, dd = nd[keep], dd[keep]
    if nd.shape[0] >= 2:
        n_lo, n_hi = percentile_interval(nd, lvl)
        d_lo, d_hi = percentile_interval(dd, lvl)
    else:
        n_lo = n_hi = d_lo = d_hi = np.full(cgrid.size, np.nan)
    out["N_low"], out["N_high"], out["D_low"], out["D_high"] = n_lo, n_hi, d_lo, d_hi
    return out[["C", "N", "N_low", "N_high", "D", "D_low", "D_high"]]


# ----- backtest panel -----


def default_holdout(variables: Sequence[str]) -> str:
    """The default held-out runs of a report's backtest: the top 20% along the law's
    extrapolation axis (C for laws of N and D, else x, else the first variable)."""
    v = list(variables)
    if {"N", "D"} <= set(v):
        return "top 20% by C"
    if "x" in v:
        return "top 20% by x"
    return f"top 20% by {v[0]}"


@dataclass(frozen=True)
class BacktestPanel:
    """``fitted``: runs the backtest fitted on (x, y); ``held``: the held-out runs (x, truth,
    value, low, high, law), one row per run and law."""

    axis: str
    fitted: pd.DataFrame
    held: pd.DataFrame


def backtest_panel(predictions: pd.DataFrame, runs: pd.DataFrame, axis: str) -> BacktestPanel:
    """Join a backtest's ``predictions`` (run_id, law, truth, value, low, high) with the
    ``runs`` it was computed on (run_id, y and the ``axis`` column, or N and D for C)."""
    from scalinglab.trust.holdout import axis_values

    if "run_id" not in runs.columns:
        raise DataError("a backtest panel needs the runs' run_id column to place each prediction.")
    xs = axis_values(runs, axis)
    ids = runs["run_id"].astype(str)
    by_id = pd.Series(xs, index=ids.to_numpy())
    by_id = by_id[~by_id.index.duplicated()]
    held_ids = set(predictions["run_id"].astype(str)) if len(predictions) else set()
    is_held = ids.isin(held_ids).to_numpy()
    fitted = pd.DataFrame({"x": xs[~is_held], "y": runs["y"].to_numpy(float)[~is_held]})
    held = predictions.copy()
    if len(held):
        held["x"] = by_id.reindex(held["run_id"].astype(str)).to_numpy(float)
    else:
        held = pd.DataFrame(columns=["law", "run_id", "truth", "value", "low", "high", "x"])
    return BacktestPanel(axis=axis, fitted=fitted, held=held.reset_index(drop=True))
