"""Validation of a fit's inputs and options, and its starting points.

Every check runs before any optimisation, and every message names the option or column, the
value seen and how to fix it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from scalinglab.errors import DataError, FitError
from scalinglab.fit.engine import Problem
from scalinglab.fit.objectives import Objective
from scalinglab.fit.variables import plain
from scalinglab.laws.base import FloatArray, Law

Grid = FloatArray | Mapping[str, Sequence[float]] | None


def columns_list(frame: pd.DataFrame) -> str:
    return ", ".join(map(str, frame.columns))


def check_options(*, level: float, n_boot: int, workers: int) -> None:
    if not (isinstance(level, int | float) and 0.0 < level < 1.0):
        raise FitError(f"level must be between 0 and 1 (e.g. 0.95), got {level!r}.")
    if n_boot < 0:
        raise FitError(f"bootstrap resamples must be >= 0, got {n_boot}.")
    if workers < 1:
        raise FitError(f"workers must be a positive number of processes, got {workers}.")


def target(frame: pd.DataFrame, y: str, law: Law, obj: Objective, where: str) -> FloatArray:
    """The target column, checked: finite, and positive for a log-space objective."""
    if y not in frame.columns:
        raise FitError(
            f"the runs table has no target column {y!r}; columns: {columns_list(frame)}."
        )
    yv = pd.to_numeric(frame[y], errors="coerce").to_numpy(dtype=float)
    log = obj.resolved_space(law) == "log"
    bad = ~np.isfinite(yv) | ((yv <= 0) if log else False)
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(f"{i + 1} ({plain(yv[i])})" for i in rows[:20])
        more = f" and {rows.size - 20} more" if rows.size > 20 else ""
        need = "positive and finite (the objective is in log space)" if log else "finite"
        raise DataError(
            f"{where}: the target must be {need}; bad at rows {shown}{more}. Exclude those runs "
            "with --where, or fit in linear space (objective space='linear') if negative values "
            "are real."
        )
    return yv


def weights_of(frame: pd.DataFrame, weights: str | Sequence[float] | None) -> FloatArray:
    """Per-run weights: a column name, a sequence (one per run) or None (all 1)."""
    n = len(frame)
    if weights is None:
        return np.ones(n)
    if isinstance(weights, str):
        if weights not in frame.columns:
            raise FitError(f"weights column {weights!r} not found; columns: {columns_list(frame)}.")
        w = pd.to_numeric(frame[weights], errors="coerce").to_numpy(dtype=float)
    else:
        w = np.asarray(weights, dtype=float)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise FitError(f"weights must be {n} finite non-negative numbers, one per run.")
    return w


def parse_fixed(law: Law, fix: Mapping[str, float] | None) -> dict[str, float]:
    """``--fix`` values, checked against the law's parameters and bounds."""
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
        lo = -math.inf if p.lower is None else p.lower
        hi = math.inf if p.upper is None else p.upper
        if not lo <= v <= hi:
            raise FitError(
                f"--fix {name}={plain(value)}: outside the law's bounds for {name} "
                f"[{lo:g}, {hi:g}] ({p.meaning})."
            )
        fixed[name] = v
    if fixed and len(fixed) == len(law.params):
        raise FitError("every parameter is fixed: leave at least one free to fit.")
    return fixed


def resample_groups(frame: pd.DataFrame, resample_by: str | None) -> NDArray[np.intp] | None:
    """Group index of each run for ``--resample-by`` (None: resample single runs)."""
    if resample_by is None:
        return None
    if resample_by not in frame.columns:
        raise FitError(
            f"--resample-by {resample_by!r}: no such column; columns: {columns_list(frame)}."
        )
    groups = pd.factorize(frame[resample_by].astype(str), sort=True)[0].astype(np.intp)
    if np.unique(groups).size < 2:
        raise FitError(
            f"--resample-by {resample_by!r}: needs at least 2 distinct values to resample."
        )
    return groups


def starts(law: Law, problem: Problem, grid: Grid) -> FloatArray:
    """The multi-start points (free internal coordinates), duplicates removed."""
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
        axes = [
            np.asarray(grid[p.name], dtype=float) if p.name in grid else np.unique(base[:, i])
            for i, p in enumerate(law.params)
        ]
        mesh = np.meshgrid(*axes, indexing="ij")
        full = np.stack([m.ravel() for m in mesh], axis=1)
    else:
        full = np.atleast_2d(np.asarray(grid, dtype=float))
        if full.shape[1] != len(law.params):
            raise FitError(
                f"start grid has {full.shape[1]} columns; law {law.name!r} has {len(law.params)} parameters ({', '.join(law.param_names)})."
            )
    out = np.unique(full[:, free], axis=0)  # fixed parameters collapse duplicate starts
    if not np.all(np.isfinite(out)):
        raise FitError("start grid contains NaN or infinite values.")
    return out
