"""The public fitting API: ``fit(runs, law, ...) -> FitResult`` and its grouped forms.

``fit`` returns the fit and nothing more: prediction intervals are calibrated by a separate
trust step (:func:`scalinglab.trust.calibrate.calibrate`), which ``predict`` and the CLI apply,
so a fit never pays for a nested backtest nobody asked for.

A fit is a sequence of named steps: resolve the law (joint or data-specialised), build the
problem (variables, target, weights, fixed parameters), search from every start, diagnose the
optimum (bounds, flat directions, rival optima), bootstrap, and assemble the result.
"""

from __future__ import annotations

import datetime as _dt
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.errors import (
    ConvergenceWarning,
    FitError,
    IdentifiabilityWarning,
    OutlierWarning,
)
from scalinglab.fit import checks
from scalinglab.fit.bootstrap import bootstrap
from scalinglab.fit.engine import MultiStartResult, Problem, multistart
from scalinglab.fit.joint import joint_law
from scalinglab.fit.objectives import Objective
from scalinglab.fit.optimum import at_bounds, diagnose_optimum
from scalinglab.fit.records import (
    BootstrapSummary,
    FitSpec,
    JointSpec,
    Provenance,
    SearchSummary,
)
from scalinglab.fit.residuals import information_criteria, outlier_warning
from scalinglab.fit.result import FitResult, percentile_interval
from scalinglab.fit.variables import law_variables
from scalinglab.laws.base import FloatArray, Law
from scalinglab.laws.registry import get_law


@dataclass(frozen=True)
class Built:
    """A fit's problem and what went into it."""

    law: Law
    problem: Problem
    frame: pd.DataFrame
    fixed: dict[str, float]
    grid: checks.Grid


def provenance_of(runs: pd.DataFrame, given: Provenance | Mapping[str, Any] | None) -> Provenance:
    """Where the runs came from: ``given`` where it says, else the runs table's ``attrs``
    (set by :func:`scalinglab.data.select_runs` and :func:`scalinglab.data.group_runs`)."""
    a = runs.attrs
    base = Provenance.from_dict(
        {k: a.get(k) for k in ("source", "metric", "metric_unit", "where", "group", "x")}
    )
    if given is None:
        return base
    g = given.to_dict() if isinstance(given, Provenance) else dict(given)
    return Provenance.from_dict({**base.to_dict(), **{k: v for k, v in g.items() if v is not None}})


def _joint(runs: pd.DataFrame, group_by: str | None, shared: Sequence[str]) -> JointSpec | None:
    if not shared and group_by is None:
        return None
    if not (shared and group_by):
        raise FitError("a joint fit needs both --group-by COLUMN and --shared PARAM[,PARAM].")
    if group_by not in runs.columns:
        raise FitError(
            f"--group-by {group_by!r}: no such column; columns: {checks.columns_list(runs)}."
        )
    labels = tuple(sorted(runs[group_by].astype(str).unique()))
    return JointSpec(group_by, labels, tuple(shared))


def build(
    runs: pd.DataFrame, spec: FitSpec, y: str, weights: Any, grid: checks.Grid, where: str
) -> Built:
    """The law (joint or specialised to the data) and the optimisation problem."""
    base = get_law(spec.law)
    law = base
    if spec.joint is not None:
        j = spec.joint
        law = joint_law(base, j.group_by, j.groups, j.shared)
        if grid is None:
            grid = _joint_starts(runs, base, law, spec)
    if law.specialize is not None:
        law = law.specialize(runs)
    frame = runs.reset_index(drop=True).copy()
    X = law_variables(frame, law, where)
    yv = checks.target(frame, y, law, spec.objective, where)
    w = checks.weights_of(frame, weights)
    fixed = checks.parse_fixed(law, spec.fixed)
    n_free, n_eff = len(law.params) - len(fixed), int(np.count_nonzero(w))
    if n_eff < n_free:
        raise FitError(
            f"{where}: {n_eff} runs, fewer than the {n_free} free parameters of law {law.name!r}; "
            "add runs, relax --where, or --fix some parameters."
        )
    problem = Problem(law=law, X=X, y=yv, weights=w, objective=spec.objective, fixed=fixed)
    return Built(law, problem, frame, fixed, grid)


def search(b: Built, where: str) -> MultiStartResult:
    return found(b, multistart(b.problem, checks.starts(b.law, b.problem, b.grid)), where)


def found(b: Built, ms: MultiStartResult, where: str) -> MultiStartResult:
    """``ms``, checked: some start gave a finite objective."""
    if not math.isfinite(ms.f):
        raise FitError(
            f"law {b.law.name!r} could not be evaluated at any start on {where}; check the "
            "data's units and the start grid."
        )
    return ms


def _bootstrap(
    b: Built,
    ms: MultiStartResult,
    spec: FitSpec,
    workers: int,
    progress: Callable[[int], None] | None,
) -> tuple[BootstrapSummary, list[str]]:
    """Refit resamples; draws (n_boot, P) in natural units, NaN rows for failed refits."""
    groups = checks.resample_groups(b.frame, spec.resample_by)
    P = len(b.law.params)
    if spec.n_boot == 0:
        return BootstrapSummary(0, spec.seed, spec.resample_by, 0, 0, np.empty((0, P))), []
    bs = bootstrap(
        b.problem,
        ms.x[None, :],
        n_boot=spec.n_boot,
        seed=spec.seed,
        groups=groups,
        workers=workers,
        progress=progress,
    )
    theta = b.problem.full_theta(np.where(np.isfinite(bs.x), bs.x, 0.0))
    draws = b.law.to_natural(theta)
    # kept: converged and stalled refits, and those still moving along a flat ridge at the
    # iteration limit (their spread is the ridge); dropped: refits never finite
    draws[bs.never_finite] = np.nan
    n_conv = int((bs.converged | bs.stalled).sum())
    n_limit, n_lost = int(bs.at_limit.sum()), int(bs.never_finite.sum())
    warn = []
    if n_limit:
        warn.append(
            f"{n_limit} of {spec.n_boot} bootstrap refits were still moving along a flat ridge at the iteration limit; their draws are kept (the intervals show the ridge)."
        )
    if n_conv + n_limit < 0.95 * spec.n_boot:
        warn.append(
            f"only {n_conv + n_limit} of {spec.n_boot} bootstrap refits gave a usable optimum "
            f"({n_lost} never finite); intervals use those only."
        )
    return BootstrapSummary(spec.n_boot, spec.seed, spec.resample_by, n_conv, n_limit, draws), warn


def _intervals(
    law: Law, bs: BootstrapSummary, free: np.ndarray, level: float, fixed: Mapping[str, float]
) -> tuple[dict[str, tuple[float, float]], FloatArray | None, FloatArray | None]:
    """Percentile intervals of every parameter, and covariance/correlation of the free ones."""
    ok = bs.usable(len(law.params))
    cov = corr = None
    if ok.shape[0] >= 2:
        lo_q, hi_q = percentile_interval(ok, level)
        intervals = {
            n: (float(a), float(c)) for n, a, c in zip(law.param_names, lo_q, hi_q, strict=True)
        }
        F = free.size
        cov = np.cov(ok[:, free], rowvar=False).reshape(F, F)
        sd = np.sqrt(np.diag(cov))
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = cov / np.outer(sd, sd)
    else:
        intervals = {n: (math.nan, math.nan) for n in law.param_names}  # no bootstrap asked
    for name, v in fixed.items():
        intervals[name] = (v, v)
    return intervals, cov, corr


def residuals_of(problem: Problem, x_free: FloatArray) -> FloatArray:
    """Observed minus fitted target in the objective's space, runs with positive weight."""
    law, obj = problem.law, problem.objective
    theta = problem.full_theta(x_free[None, :])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        f, _ = law.evaluate(theta, problem.X)
    space = obj.resolved_space(law)
    pred = f[0] if law.space == space else (np.exp(f[0]) if law.space == "log" else np.log(f[0]))
    y_t = np.log(problem.y) if space == "log" else problem.y
    return np.asarray((y_t - pred)[problem.weights > 0], dtype=float)


def _outliers(b: Built, res: FloatArray, spec: FitSpec) -> list[str]:
    """The warning naming runs whose residual is far outside the rest (robust z)."""
    fitted = b.frame.loc[b.problem.weights > 0]
    ids = (
        fitted["run_id"].astype(str).tolist()
        if "run_id" in fitted.columns
        else [f"row {i}" for i in range(len(fitted))]
    )
    return outlier_warning(res, ids, spec.objective.resolved_space(b.law))


def _data(b: Built, spec: FitSpec) -> dict[str, list[Any]]:
    data: dict[str, list[Any]] = {}
    if "run_id" in b.frame.columns:
        data["run_id"] = b.frame["run_id"].astype(str).tolist()
    for var in b.law.variables:
        data[var] = b.problem.X[var].tolist()
    data["y"] = b.problem.y.tolist()
    if spec.joint is not None:
        data[spec.joint.group_by] = b.frame[spec.joint.group_by].astype(str).tolist()
    data["weight"] = b.problem.weights.tolist()
    return data


def fit(
    runs: pd.DataFrame,
    law: str | Law,
    *,
    y: str = "y",
    objective: Objective | None = None,
    weights: str | Sequence[float] | None = None,
    fix: Mapping[str, float] | None = None,
    grid: checks.Grid = None,
    n_boot: int = 1000,
    resample_by: str | None = None,
    level: float = 0.95,
    seed: int = 0,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    provenance: Provenance | Mapping[str, Any] | None = None,
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
    resamples done. ``provenance``: where the runs came from (default: the table's ``attrs``).
    ``group_by`` with ``shared``: one joint fit across the groups of that column with the
    ``shared`` parameters common to all groups and the others per group
    (:mod:`scalinglab.fit.joint`). The input table is copied, never modified.
    """
    lw = get_law(law)
    checks.check_options(level=level, n_boot=n_boot, workers=workers)
    spec = make_spec(
        lw,
        objective=objective,
        weights=weights,
        fix=fix,
        n_boot=n_boot,
        resample_by=resample_by,
        level=level,
        seed=seed,
        joint=_joint(runs, group_by, shared),
    )
    return fit_spec(
        runs,
        spec,
        y=y,
        weights=weights,
        grid=grid,
        workers=workers,
        progress=progress,
        provenance=provenance,
        law=lw,
    )


def make_spec(
    law: Law,
    *,
    objective: Objective | None = None,
    weights: str | Sequence[float] | None = None,
    fix: Mapping[str, float] | None = None,
    n_boot: int = 1000,
    resample_by: str | None = None,
    level: float = 0.95,
    seed: int = 0,
    joint: JointSpec | None = None,
) -> FitSpec:
    """The :class:`FitSpec` of :func:`fit`'s options (a weights column is kept by name; per-run
    weights given as numbers are not part of the spec)."""
    return FitSpec(
        law=law.name,
        objective=objective or Objective(kind=law.default_objective),
        fixed=dict(fix or {}),
        weights=weights if isinstance(weights, str) else None,
        n_boot=n_boot,
        resample_by=resample_by,
        level=level,
        seed=seed,
        joint=joint,
    )


def fit_spec(
    runs: pd.DataFrame,
    spec: FitSpec,
    *,
    y: str = "y",
    weights: str | Sequence[float] | None = None,
    grid: checks.Grid = None,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    provenance: Provenance | Mapping[str, Any] | None = None,
    law: Law | None = None,
) -> FitResult:
    """Fit ``spec`` (a :class:`FitSpec`, e.g. ``other_fit.spec``) to ``runs``: the same law,
    objective, fixed parameters, weights column, bootstrap and joint layout. A joint spec's
    groups are those of ``runs``. ``weights`` overrides the spec's weights column."""
    if spec.joint is not None:
        spec = _respec_joint(runs, spec)
    if law is None or law.name != spec.law:
        law = get_law(spec.law)
    prov = provenance_of(runs, provenance)
    where = prov.source or "runs"
    b = build(runs, spec, y, weights if weights is not None else spec.weights, grid, where)
    return complete_fit(b, search(b, where), spec, law, prov, workers=workers, progress=progress)


def complete_fit(
    b: Built,
    ms: MultiStartResult,
    spec: FitSpec,
    law: Law,
    prov: Provenance,
    *,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> FitResult:
    """The fit from its problem ``b`` and search ``ms``: diagnostics (emitted as warnings),
    bootstrap, intervals and the assembled :class:`FitResult` (``law``: the registry law)."""
    names = [b.law.params[i].name for i in b.problem.free_index]
    warn = diagnose_optimum(b.problem, ms, names)
    bs, boot_warn = _bootstrap(b, ms, spec, workers, progress)
    warn += boot_warn
    intervals, cov, corr = _intervals(b.law, bs, b.problem.free_index, spec.level, b.fixed)
    for msg in warn:
        ident = "bound" in msg or "flat" in msg or "identified" in msg
        warnings.warn(msg, IdentifiabilityWarning if ident else ConvergenceWarning, stacklevel=4)
    res = residuals_of(b.problem, ms.x)
    far = _outliers(b, res, spec)
    for msg in far:
        warnings.warn(msg, OutlierWarning, stacklevel=4)
    warn += far
    full = b.problem.full_theta(ms.x[None, :])[0]
    aic, bic = information_criteria(res, len(names))
    return FitResult(
        law=law.name,
        law_version=b.law.version,
        citation=b.law.citation,
        formula=b.law.formula,
        params=dict(zip(b.law.param_names, map(float, b.law.to_natural(full)), strict=True)),
        intervals=intervals,
        objective=float(ms.f),
        objective_text=spec.objective.describe(b.law),
        n_points=len(b.frame),
        search=SearchSummary(
            starts=ms.n_starts,
            starts_converged=ms.n_converged,
            starts_pruned=ms.n_pruned,
            starts_at_best=ms.n_at_best,
            spread=dict(zip(names, map(float, ms.spread), strict=True)),
            second_best_objective=ms.second_best,
            evaluations=ms.n_eval,
            starts_stalled=ms.n_stalled,
            starts_failed=ms.n_never_finite,
            starts_max_iter=ms.n_max_iter,
        ),
        warnings=tuple(warn),
        at_bound=at_bounds(b.problem, ms.x, names),
        variables=b.law.variables,
        data=_data(b, spec),
        spec=spec,
        provenance=prov,
        bootstrap=bs,
        residuals=res,
        aic=aic,
        bic=bic,
        covariance=cov,
        correlation=corr,
        created_at=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    )


def _respec_joint(runs: pd.DataFrame, spec: FitSpec) -> FitSpec:
    """A joint spec refitted on other runs takes those runs' groups."""
    from dataclasses import replace

    j = spec.joint
    assert j is not None
    return replace(spec, joint=_joint(runs, j.group_by, j.shared))


def _joint_starts(runs: pd.DataFrame, base: Law, joint: Law, spec: FitSpec) -> FloatArray:
    """Starts of a joint fit (internal coordinates of the joint law): each group fitted alone;
    per-group parameters from their own fit, shared ones from each group's fit in turn and from
    their mean."""
    j = spec.joint
    assert j is not None
    alone: dict[str, FloatArray] = {}
    keys = runs[j.group_by].astype(str)
    base_fix = {k: v for k, v in spec.fixed.items() if k in base.param_names}
    for g in j.groups:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = fit(runs.loc[keys == g], base, objective=spec.objective, fix=base_fix, n_boot=0)
        alone[g] = r.theta()
    idx = {p.name: i for i, p in enumerate(base.params)}
    candidates = [alone[g] for g in j.groups] + [np.mean([alone[g] for g in j.groups], axis=0)]
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
