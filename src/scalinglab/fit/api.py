"""The public fitting API: ``fit(runs, law, ...) -> FitResult`` and ``predict(fit, points)``."""

from __future__ import annotations

import concurrent.futures as cf
import datetime as _dt
import logging
import math
import multiprocessing
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.errors import (
    ConvergenceWarning,
    DataError,
    ExtrapolationWarning,
    FitError,
    IdentifiabilityWarning,
    ScalinglabError,
)
from scalinglab.fit.bootstrap import bootstrap
from scalinglab.fit.engine import Problem, hessian, multistart
from scalinglab.fit.joint import joint_law
from scalinglab.fit.objectives import Objective
from scalinglab.fit.result import FitResult, SearchSummary, percentile_interval
from scalinglab.fit.variables import law_variables, plain
from scalinglab.laws.base import FloatArray, Law
from scalinglab.laws.registry import get_law

log = logging.getLogger(__name__)

_check_variables = law_variables  # the name used across the fit package


def _check_target(y: FloatArray, frame: pd.DataFrame, law: Law, obj: Objective, where: str) -> None:
    bad = ~np.isfinite(y)
    if obj.resolved_space(law) == "log":
        bad |= y <= 0
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(f"{i + 1} ({plain(y[i])})" for i in rows[:20])
        need = (
            "positive and finite (the objective is in log space)"
            if obj.resolved_space(law) == "log"
            else "finite"
        )
        raise DataError(
            f"{where}: the target must be {need}; bad at rows {shown}. Exclude those runs with "
            "--where, or fit in linear space (objective space='linear') if negative values are real."
        )


def _parse_fixed(law: Law, fix: Mapping[str, float] | None) -> dict[str, float]:
    fixed: dict[str, float] = {}
    for name, value in (fix or {}).items():
        if name not in law.param_names:
            raise FitError(
                f"--fix {name}=...: law {law.name!r} has no parameter {name!r}; "
                f"its parameters are {', '.join(law.param_names)}."
            )
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise FitError(f"--fix {name}={value!r}: the value must be a number.") from None
        p = law.param(name)
        if not math.isfinite(v) or (p.log and v <= 0):
            raise FitError(
                f"--fix {name}={value!r}: {name} must be a {'positive ' if p.log else ''}finite number."
            )
        fixed[name] = v
    if len(fixed) == len(law.params):
        raise FitError("every parameter is fixed: leave at least one free to fit.")
    return fixed


def _starts(
    law: Law, problem: Problem, grid: FloatArray | Mapping[str, Sequence[float]] | None
) -> FloatArray:
    free = problem.free_index
    if grid is None:
        full = law.start_grid(problem.X, problem.y)
    elif isinstance(grid, Mapping):
        unknown = set(grid) - set(law.param_names)
        if unknown:
            raise FitError(
                f"start grid names unknown parameters {sorted(unknown)}; law {law.name!r} has {', '.join(law.param_names)}."
            )
        base = law.start_grid(problem.X, problem.y)
        axes = []
        for i, p in enumerate(law.params):
            axes.append(
                np.asarray(grid[p.name], dtype=float) if p.name in grid else np.unique(base[:, i])
            )
        mesh = np.meshgrid(*axes, indexing="ij")
        full = np.stack([m.ravel() for m in mesh], axis=1)
    else:
        full = np.atleast_2d(np.asarray(grid, dtype=float))
        if full.shape[1] != len(law.params):
            raise FitError(
                f"start grid has {full.shape[1]} columns; law {law.name!r} has {len(law.params)} parameters ({', '.join(law.param_names)})."
            )
    starts = np.unique(full[:, free], axis=0)  # fixed parameters collapse duplicate starts
    if not np.all(np.isfinite(starts)):
        raise FitError("start grid contains NaN or infinite values.")
    return starts


def fit(
    runs: pd.DataFrame,
    law: str | Law,
    *,
    y: str = "y",
    objective: Objective | None = None,
    weights: str | Sequence[float] | None = None,
    fix: Mapping[str, float] | None = None,
    grid: FloatArray | Mapping[str, Sequence[float]] | None = None,
    n_boot: int = 1000,
    resample_by: str | None = None,
    level: float = 0.95,
    seed: int = 0,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    selection: Mapping[str, Any] | None = None,
    calibrate: bool = True,
    group_by: str | None = None,
    shared: Sequence[str] = (),
) -> FitResult:
    """Fit ``law`` to ``runs`` (a table with the law's variables and a target column ``y``).

    ``weights``: a column name or per-run weights (multiply each run's loss). ``fix``: parameter
    values held fixed (natural units). ``grid``: starts (internal coordinates: log E for E...),
    as an array (S, P) or a mapping name -> values (product grid); ``None`` is the law's grid.
    ``n_boot``: bootstrap resamples (0 for none: intervals are then NaN). ``resample_by``: a
    column whose values are resampled whole (e.g. ``"N"``). ``workers``: processes for the
    bootstrap; results do not depend on it. ``progress`` is called with the number of
    resamples done. ``calibrate``: run the nested backtest that calibrates prediction
    intervals (:mod:`scalinglab.trust.calibrate`). ``group_by`` with ``shared``: one joint fit
    across the groups of that column with the ``shared`` parameters common to all groups and
    the others per group (:mod:`scalinglab.fit.joint`). The input table is copied, never
    modified.
    """
    law = get_law(law)
    base_name = law.name
    joint: dict[str, Any] | None = None
    if shared or group_by is not None:
        if not (shared and group_by):
            raise FitError("a joint fit needs both --group-by COLUMN and --shared PARAM[,PARAM].")
        if group_by not in runs.columns:
            raise FitError(
                f"--group-by {group_by!r}: no such column; columns: {', '.join(map(str, runs.columns))}."
            )
        labels = sorted(runs[group_by].astype(str).unique())
        joint = {"group_by": group_by, "groups": labels, "shared": list(shared)}
        base_law = law
        law = joint_law(law, group_by, labels, list(shared))
        if grid is None:
            grid = _joint_starts(
                runs, base_law, law, group_by, labels, list(shared), objective, fix
            )
    if law.specialize is not None:
        law = law.specialize(runs)
    obj = objective or Objective(kind=law.default_objective)
    sel = dict(selection or {})
    where = str(sel.get("source") or "runs")
    if not 0.0 < level < 1.0:
        raise FitError(f"level must be between 0 and 1 (e.g. 0.95), got {level!r}.")
    if n_boot < 0:
        raise FitError(f"bootstrap resamples must be >= 0, got {n_boot}.")
    frame = runs.reset_index(drop=True).copy()
    if y not in frame.columns:
        raise FitError(
            f"the runs table has no target column {y!r}; columns: {', '.join(map(str, frame.columns))}."
        )
    X = _check_variables(frame, law, where)
    yv = pd.to_numeric(frame[y], errors="coerce").to_numpy(dtype=float)
    _check_target(yv, frame, law, obj, where)
    if weights is None:
        w = np.ones(len(frame))
    elif isinstance(weights, str):
        if weights not in frame.columns:
            raise FitError(
                f"weights column {weights!r} not found; columns: {', '.join(map(str, frame.columns))}."
            )
        w = pd.to_numeric(frame[weights], errors="coerce").to_numpy(dtype=float)
    else:
        w = np.asarray(weights, dtype=float)
    if w.shape != yv.shape or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise FitError(f"weights must be {yv.size} finite non-negative numbers, one per run.")
    fixed = _parse_fixed(law, fix)
    n_free = len(law.params) - len(fixed)
    n_eff = int(np.count_nonzero(w))
    if n_eff < n_free:
        raise FitError(
            f"{where}: {n_eff} runs, fewer than the {n_free} free parameters of law {law.name!r}; "
            "add runs, relax --where, or --fix some parameters."
        )
    problem = Problem(law=law, X=X, y=yv, weights=w, objective=obj, fixed=fixed)
    starts = _starts(law, problem, grid)
    ms = multistart(problem, starts)
    if not math.isfinite(ms.f):
        raise FitError(
            f"law {law.name!r} could not be evaluated at any start on {where}; check the data's units and the start grid."
        )
    free_names = [law.params[i].name for i in problem.free_index]
    warn: list[str] = []

    # --- diagnostics of the optimum ---
    lo, hi = problem.bounds()
    for j, name in enumerate(free_names):
        for side, b in (("lower", lo[j]), ("upper", hi[j])):
            if math.isfinite(b) and abs(ms.x[j] - b) <= 1e-6 * (1.0 + abs(b)):
                warn.append(
                    f"parameter {name} sits at its {side} bound; the data do not pin it down: fix it (--fix {name}=...) or collect runs that vary it."
                )
    if np.any(ms.spread > 1e-4 * (1.0 + np.abs(ms.x))):
        worst = free_names[int(np.argmax(ms.spread))]
        warn.append(
            f"starts reaching the same objective disagree on {worst} (spread {float(np.max(ms.spread)):.3g} in internal units): the optimum is flat; treat {worst} with caution."
        )
    if ms.second_best is not None and ms.second_best <= ms.f * (1.0 + 1e-3) + 1e-300:
        warn.append(
            f"another optimum is within 0.1% of the best objective ({ms.second_best:.6g} vs {ms.f:.6g}): the fit may be ambiguous; compare the bootstrap intervals."
        )
    H = hessian(problem, ms.x)
    diag = np.sqrt(np.abs(np.diag(H))) if np.all(np.isfinite(H)) else np.zeros(0)
    if diag.size and np.all(diag > 0):
        # scale-free curvature: the Hessian in units of each parameter's own curvature
        ev, vec = np.linalg.eigh(H / np.outer(diag, diag))
        if ev[0] <= 1e-8 * ev[-1]:
            loads = np.abs(vec[:, 0])
            names = [free_names[i] for i in np.argsort(loads)[::-1][:2]]
            warn.append(
                f"the objective is flat along a direction mixing {' and '.join(names)}: these parameters are not separately identified by the data."
            )

    # --- bootstrap ---
    full = problem.full_theta(ms.x[None, :])[0]
    params = dict(zip(law.param_names, map(float, law.to_natural(full)), strict=True))
    groups = None
    if resample_by is not None:
        if resample_by not in frame.columns:
            raise FitError(
                f"--resample-by {resample_by!r}: no such column; columns: {', '.join(map(str, frame.columns))}."
            )
        groups = pd.factorize(frame[resample_by].astype(str), sort=True)[0].astype(np.intp)
        if np.unique(groups).size < 2:
            raise FitError(
                f"--resample-by {resample_by!r}: needs at least 2 distinct values to resample."
            )
    draws = np.empty((0, len(law.params)))
    n_conv = 0
    if n_boot > 0:
        bs = bootstrap(
            problem,
            ms.x[None, :],
            n_boot=n_boot,
            seed=seed,
            groups=groups,
            workers=workers,
            progress=progress,
        )
        n_conv = int(bs.converged.sum())
        theta_d = problem.full_theta(np.where(np.isfinite(bs.x), bs.x, 0.0))
        draws = law.to_natural(theta_d)
        draws[~bs.converged] = np.nan
        n_limit = int(bs.at_limit.sum())
        if n_limit:
            warn.append(
                f"{n_limit} of {n_boot} bootstrap refits were still moving along a flat ridge at the iteration limit; their draws are kept (the intervals show the ridge)."
            )
        if n_conv < 0.95 * n_boot:
            warn.append(
                f"only {n_conv} of {n_boot} bootstrap refits converged; intervals use those only."
            )
    ok = draws[np.all(np.isfinite(draws), axis=1)]
    intervals: dict[str, tuple[float, float]] = {}
    cov = corr = None
    if ok.shape[0] >= 2:
        lo_q, hi_q = percentile_interval(ok, level)
        intervals = {
            n: (float(a), float(b)) for n, a, b in zip(law.param_names, lo_q, hi_q, strict=True)
        }
        free_cols = ok[:, problem.free_index]
        c = np.cov(free_cols, rowvar=False).reshape(n_free, n_free)
        sd = np.sqrt(np.diag(c))
        with np.errstate(invalid="ignore", divide="ignore"):
            r = c / np.outer(sd, sd)
        cov, corr = c.tolist(), r.tolist()
    else:
        intervals = {n: (math.nan, math.nan) for n in law.param_names}  # n_boot=0: none asked
    for name, v in fixed.items():
        intervals[name] = (v, v)
    for msg in warn:
        cat = (
            IdentifiabilityWarning
            if ("bound" in msg or "flat" in msg or "identified" in msg)
            else ConvergenceWarning
        )
        warnings.warn(msg, cat, stacklevel=2)

    calibration = _calibration(
        frame,
        law,
        base_name,
        problem,
        ms.x,
        w,
        calibrate=calibrate and n_boot > 0,
        fit_kwargs=dict(
            y=y,
            objective=obj,
            fix=fixed,
            grid=None if joint else grid,
            group_by=group_by if joint else None,
            shared=list(shared) if joint else [],
            n_boot=min(n_boot, 100),
            resample_by=resample_by,
            level=level,
            seed=seed,
            workers=1,
            calibrate=False,
        ),
    )
    data: dict[str, list[Any]] = {}
    if "run_id" in frame.columns:
        data["run_id"] = frame["run_id"].astype(str).tolist()
    for var in law.variables:
        data[var] = X[var].tolist()
    data["y"] = yv.tolist()
    if joint is not None:
        data[joint["group_by"]] = frame[joint["group_by"]].astype(str).tolist()
    data["weight"] = w.tolist()
    return FitResult(
        law=base_name,
        law_version=law.version,
        citation=law.citation,
        formula=law.formula,
        params=params,
        fixed=fixed,
        intervals=intervals,
        level=level,
        objective=float(ms.f),
        objective_spec={
            "kind": obj.kind,
            "space": obj.resolved_space(law),
            "delta": obj.delta,
            "asymmetry": obj.asymmetry,
        },
        objective_text=obj.describe(law),
        n_points=len(frame),
        search=SearchSummary(
            starts=ms.n_starts,
            starts_converged=ms.n_converged,
            starts_pruned=ms.n_pruned,
            starts_at_best=ms.n_at_best,
            spread=dict(zip(free_names, map(float, ms.spread), strict=True)),
            second_best_objective=ms.second_best,
            evaluations=ms.n_eval,
        ),
        warnings=tuple(warn),
        variables=law.variables,
        data=data,
        selection=sel,
        bootstrap={
            "n": n_boot,
            "seed": seed,
            "resample_by": resample_by,
            "converged": n_conv,
            "draws": draws.tolist(),
        },
        covariance=cov,
        correlation=corr,
        calibration=calibration,
        joint=joint,
        seed=seed,
        created_at=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    )


def _fit_one(args: tuple[pd.DataFrame, dict[str, Any]]) -> FitResult:
    frame, kw = args
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # recorded in FitResult.warnings; re-emitted by caller
        return fit(frame, **kw)


def fit_groups(
    groups: Sequence[tuple[str | None, pd.DataFrame]],
    law: str | Law,
    *,
    workers: int = 1,
    **kwargs: Any,
) -> list[FitResult]:
    """Fit each (key, table) separately; groups run in parallel processes when ``workers`` > 1.
    Results are in the order given and do not depend on ``workers``."""
    law_name = get_law(law).name
    jobs = []
    for key, frame in groups:
        kw = dict(kwargs)
        sel = dict(kw.pop("selection", None) or {})
        sel["group"] = key
        kw.update(law=law_name, selection=sel, workers=1)
        jobs.append((frame, kw))
    if workers <= 1 or len(jobs) <= 1:
        return [fit(frame, **kw) for frame, kw in jobs]
    ctx = (
        multiprocessing.get_context("fork")
        if "fork" in multiprocessing.get_all_start_methods()
        else None
    )
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        results = list(pool.map(_fit_one, jobs))
    for r in results:
        for msg in r.warnings:
            warnings.warn(f"[{r.selection.get('group')}] {msg}", ConvergenceWarning, stacklevel=2)
    return results


def _objective_space_predictions(
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


def _back(space: str, v: FloatArray) -> FloatArray:
    return np.exp(v) if space == "log" else v


INTERVALS = ("calibrated", "predictive", "bootstrap")


def predict(
    result: FitResult,
    points: pd.DataFrame | Mapping[str, Sequence[float] | float],
    *,
    level: float | None = None,
    interval: str = "calibrated",
    rows: Sequence[bool] | np.ndarray | None = None,
) -> pd.DataFrame:
    """Predicted target at ``points`` (a table with the law's variables) with an interval at
    ``level`` (default: the fit's), and ``extrapolation``: how many times beyond the largest
    fitted value of any variable the point lies (1 = inside the data).

    ``interval``: ``"calibrated"`` (default; bootstrap + run noise + the nested-backtest
    extrapolation scale, see :mod:`scalinglab.trust.calibrate`), ``"predictive"`` (bootstrap +
    run noise) or ``"bootstrap"`` (parameter uncertainty only: an interval for the mean).
    ``rows``: a boolean mask of the points to predict; the others only give context to laws
    whose variables depend on other rows (a loss curve's learning-rate sums need the run's
    earlier steps). The output has one row per selected point.
    """
    from scalinglab.trust import calibrate as cal

    if interval not in INTERVALS:
        raise FitError(f"interval {interval!r} is unknown; use one of {', '.join(INTERVALS)}.")
    law = result.law_obj()
    if isinstance(points, pd.DataFrame):
        frame = points.reset_index(drop=True).copy()
    else:
        frame = pd.DataFrame(
            {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in points.items()}
        )
    X = _check_variables(frame, law, "points")
    if rows is not None:
        mask = np.asarray(rows, dtype=bool)
        if mask.shape != (len(frame),):
            raise FitError(f"rows must be a boolean mask of the {len(frame)} points.")
        X = {k: v[mask] for k, v in X.items()}
        frame = frame.loc[mask].reset_index(drop=True)
    lvl = result.level if level is None else level
    if not 0.0 < lvl < 1.0:
        raise FitError(f"level must be between 0 and 1, got {lvl!r}.")
    space = str(result.objective_spec.get("space", law.space))
    draws = result.draws()
    draws_theta = law.to_internal_array(draws) if draws.shape[0] else np.empty((0, len(law.params)))
    center, pred = _objective_space_predictions(law, space, result.theta(), draws_theta, X)
    out = pd.DataFrame({v: X[v] for v in law.variables})
    out["value"] = _back(space, center)
    calib = result.calibration or {}
    if pred.shape[0] >= 2:
        if interval != "bootstrap":
            res = np.asarray(calib.get("residuals") or [], dtype=float)
            pred = cal.predictive_draws(center, pred, res, result.seed)
        scale = cal.scale_for(calib, lvl) if interval == "calibrated" else 1.0
        lo, hi = cal.interval(center, pred, lvl, scale)
        out["low"], out["high"] = _back(space, lo), _back(space, hi)
    else:
        out["low"], out["high"] = np.nan, np.nan
    ratio = np.ones(len(frame))
    for var in law.variables:
        fitted = np.asarray(result.data.get(var) or [], dtype=float)
        if var.startswith("_") or fitted.size == 0 or not np.max(fitted) > 0:
            continue  # group indices, or a variable that is 0 in every fitted run
        with np.errstate(invalid="ignore", divide="ignore"):
            r = X[var] / np.max(fitted)
        ratio = np.maximum(ratio, np.where(np.isfinite(r), r, 1.0))
    out["extrapolation"] = ratio
    if (ratio > 10).any():
        warnings.warn(
            f"predicting up to {float(ratio.max()):.3g}x beyond the largest fitted run; "
            "check the law with a backtest before trusting the interval.",
            ExtrapolationWarning,
            stacklevel=2,
        )
    return out


def _calibration(
    frame: pd.DataFrame,
    law: Law,
    base_name: str,
    problem: Problem,
    x_free: FloatArray,
    w: FloatArray,
    *,
    calibrate: bool,
    fit_kwargs: dict[str, Any],
) -> dict[str, Any]:
    """Residuals of the fit (objective space) and, when asked and possible, the nested-backtest
    z-scores that calibrate prediction intervals (:mod:`scalinglab.trust.calibrate`)."""
    from scalinglab.trust import calibrate as cal
    from scalinglab.trust.holdout import axis_values

    theta = problem.full_theta(x_free[None, :])
    obj = problem.objective
    space = obj.resolved_space(law)
    center, _ = _objective_space_predictions(
        law, space, theta[0], np.empty((0, theta.shape[1])), problem.X
    )
    y_t = np.log(problem.y) if space == "log" else problem.y
    residuals = (y_t - center)[w > 0]
    out: dict[str, Any] = {
        "method": "bootstrap + run noise + nested split-conformal scale",
        "residuals": residuals.tolist(),
        "levels": list(cal.LEVELS),
        "z": [],
        "axis": None,
        "note": "",
    }
    if not calibrate:
        out["note"] = "no nested calibration was run"
        return out
    axis = cal.default_axis(law, frame)
    if axis is None:
        out["note"] = "no extrapolation axis for this law: no nested calibration"
        return out
    try:
        ax = axis_values(frame.assign(x=problem.X["x"]) if "x" in problem.X else frame, axis)
    except ScalinglabError as exc:
        out["note"] = f"no nested calibration: {exc}"
        return out
    work = frame.assign(__w=w)

    def refit(sub: pd.DataFrame) -> FitResult:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # a joint law is rebuilt from its base law for the subset's own groups
            return fit(
                sub, base_name if fit_kwargs.get("shared") else law, weights="__w", **fit_kwargs
            )

    def predict_obj(res: FitResult, held: np.ndarray) -> tuple[FloatArray, FloatArray]:
        lw = res.law_obj()
        # variables from the whole table, then the held-back rows (a curve needs its past)
        Xr = {k: v[held] for k, v in _check_variables(work, lw, "runs").items()}
        d = res.draws()
        dt = lw.to_internal_array(d)
        c, p = _objective_space_predictions(lw, space, res.theta(), dt, Xr)
        res_r = np.asarray((res.calibration or {}).get("residuals") or [], dtype=float)
        return c, cal.predictive_draws(c, p, res_r, res.seed)

    try:
        out["z"] = cal.nested_scores(work, ax, refit, predict_obj, y_t)
        out["axis"] = axis
    except ScalinglabError as exc:
        out["note"] = f"no nested calibration: {exc}"
    if out["z"] and len(out["z"]) < cal.MIN_NESTED:
        out["note"] = f"only {len(out['z'])} nested runs: no extrapolation scale applied"
    return out


def _joint_starts(
    runs: pd.DataFrame,
    base: Law,
    joint: Law,
    group_by: str,
    labels: list[str],
    shared: list[str],
    objective: Objective | None,
    fix: Mapping[str, float] | None,
) -> FloatArray:
    """Starts of a joint fit (internal coordinates of the joint law): each group fitted alone;
    per-group parameters from their own fit, shared ones from each group's fit in turn and from
    their mean."""
    alone: dict[str, FloatArray] = {}
    keys = runs[group_by].astype(str)
    for g in labels:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            base_fix = {k: v for k, v in (fix or {}).items() if k in base.param_names}
            r = fit(
                runs.loc[keys == g],
                base,
                objective=objective,
                fix=base_fix,
                n_boot=0,
                calibrate=False,
            )
        alone[g] = r.theta()
    idx = {p.name: i for i, p in enumerate(base.params)}
    candidates = [alone[g] for g in labels] + [np.mean([alone[g] for g in labels], axis=0)]
    rows = []
    for cand in candidates:
        row = []
        for p in joint.params:
            if p.name in idx:  # shared
                row.append(cand[idx[p.name]])
            else:
                name, label = p.name[:-1].split("[", 1)
                row.append(alone[label][idx[name]])
        rows.append(row)
    return np.array(rows, dtype=float)
