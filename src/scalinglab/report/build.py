"""What a report shows, gathered before anything is drawn: the fit (made here when the report is
given runs), a default backtest of its law on those runs, and a compute plan when asked.

The default backtest holds out the top 20% of runs along the law's extrapolation axis
(:func:`scalinglab.report.analysis.default_holdout`: C for laws of N and D) and fits the same
law, objective and level on the rest, with a modest bootstrap (``n_boot``, default 100).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from scalinglab.fit.api import fit
from scalinglab.fit.objectives import Objective
from scalinglab.fit.result import FitResult
from scalinglab.report.analysis import default_holdout
from scalinglab.trust.backtest import BacktestResult, backtest

#: Bootstrap resamples of a fit made for a report, and of its backtest.
REPORT_BOOTSTRAP = 200
BACKTEST_BOOTSTRAP = 100


@dataclass(frozen=True)
class ReportInputs:
    """Everything one report shows. ``runs``: the selected runs (None when only a fit was
    given); ``backtest`` with the ``holdout`` spec it used; ``plan``: a JSON-like mapping."""

    result: FitResult
    runs: pd.DataFrame | None = None
    backtest: BacktestResult | None = None
    holdout: str | None = None
    plan: Mapping[str, Any] | None = None


def fit_for_report(
    runs: pd.DataFrame,
    law: str,
    *,
    n_boot: int = REPORT_BOOTSTRAP,
    seed: int = 0,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    selection: Mapping[str, Any] | None = None,
) -> FitResult:
    """Fit ``law`` to the selected ``runs`` with the default objective; warnings are recorded
    in the result (and shown by the report), not emitted."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(
            runs,
            law,
            n_boot=n_boot,
            seed=seed,
            workers=workers,
            progress=progress,
            selection=selection,
        )


def backtest_for_report(
    result: FitResult,
    runs: pd.DataFrame,
    *,
    holdout: str | None = None,
    n_boot: int = BACKTEST_BOOTSTRAP,
    seed: int = 0,
    workers: int = 1,
) -> tuple[BacktestResult, str]:
    """Backtest the fit's law on ``runs`` (same objective and level); returns the result and
    the holdout spec used (``holdout`` or :func:`default_holdout`)."""
    spec = holdout or default_holdout(result.variables)
    o = result.objective_spec
    objective = Objective(
        kind=o.get("kind", "huber"),
        space=o.get("space"),
        delta=float(o.get("delta", 1e-3)),
        asymmetry=float(o.get("asymmetry", 1.0)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = backtest(
            runs,
            [result.law],
            spec,
            level=result.level,
            n_boot=n_boot,
            seed=seed,
            workers=workers,
            objective=objective,
        )
    return bt, spec


def plan_for_report(result: FitResult, compute: float) -> dict[str, Any]:
    """The plan at ``compute`` FLOP as a JSON-like mapping: :func:`scalinglab.plan.plan` when
    that module offers it, else the compute-optimal allocation
    (:func:`scalinglab.plan.compute_optimal`)."""
    import scalinglab.plan as planning

    full = getattr(planning, "plan", None)
    if callable(full):
        made = full(result, compute=compute)
        as_dict = getattr(made, "as_dict", None)
        if callable(as_dict):
            out: dict[str, Any] = dict(as_dict())
            return out
    return dict(planning.compute_optimal(result, compute).as_dict())
