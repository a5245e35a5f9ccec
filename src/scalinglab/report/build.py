"""What a report shows, gathered before anything is drawn: the fit (made here when the report is
given runs), a default backtest of its law on those runs, and a compute plan when asked.

The default backtest holds out the top 20% of runs along the law's extrapolation axis
(:func:`scalinglab.report.analysis.default_holdout`: C for laws of N and D) and fits the same
law, objective and level on the rest, with a modest bootstrap (``n_boot``, default 100).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from scalinglab.data.datasets import dataset_names
from scalinglab.data.ingest import read_runs
from scalinglab.data.select import select_runs
from scalinglab.data.store import Store
from scalinglab.errors import DataError
from scalinglab.fit.api import fit
from scalinglab.fit.groups import fit_runs
from scalinglab.fit.records import Provenance
from scalinglab.fit.result import FitResult, FitSet, load_fits
from scalinglab.report.analysis import default_holdout
from scalinglab.trust.backtest import BacktestResult, backtest
from scalinglab.trust.select import default_law

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
    curves: pd.DataFrame | None = None  # loss curves to draw: run_id, step, y (a sweep's)


@dataclass(frozen=True)
class GroupInputs:
    """A report of separate fits, one per group (``fits``); ``runs``: the selected runs (None
    when only a fit set was given); ``plans``: group -> the plan's JSON-like mapping."""

    fits: FitSet
    runs: pd.DataFrame | None = None
    plans: Mapping[str, Mapping[str, Any]] | None = None


def fit_for_report(
    runs: pd.DataFrame,
    law: str,
    *,
    n_boot: int = REPORT_BOOTSTRAP,
    seed: int = 0,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    provenance: Provenance | None = None,
    group_by: str | None = None,
    shared: Sequence[str] = (),
) -> FitResult | FitSet:
    """Fit ``law`` to the selected ``runs`` with the default objective; warnings are recorded
    in the result (and shown by the report), not emitted. With ``group_by``: one fit per group
    (a :class:`FitSet`), or with ``shared`` one joint fit
    (:func:`scalinglab.fit.groups.fit_runs`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if group_by is None and not shared:
            return fit(
                runs, law, n_boot=n_boot, seed=seed, workers=workers, progress=progress,
                provenance=provenance,
            )  # fmt: skip
        return fit_runs(
            runs, law, group_by=group_by, shared=shared, n_boot=n_boot, seed=seed,
            workers=workers, progress=progress, provenance=provenance,
        )  # fmt: skip


def backtest_for_report(
    result: FitResult,
    runs: pd.DataFrame,
    *,
    holdout: str | None = None,
    n_boot: int = BACKTEST_BOOTSTRAP,
    seed: int = 0,
    workers: int = 1,
) -> tuple[BacktestResult, str]:
    """Backtest the fit on ``runs`` (its full spec, same level); returns the result and
    the holdout spec used (``holdout`` or :func:`default_holdout`)."""
    spec = holdout or default_holdout(result.variables)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the fit's own spec: objective, fixed parameters, weights and joint layout
        bt = backtest(
            runs, [result], spec, level=result.level, n_boot=n_boot, seed=seed, workers=workers
        )
    return bt, spec


def plan_for_report(
    result: FitResult,
    compute: float | None,
    *,
    target_loss: float | None = None,
    inference_tokens: float = 0.0,
    unique_tokens: float | None = None,
) -> dict[str, Any]:
    """The plan (:func:`scalinglab.plan.plan`) as a JSON-like mapping: at ``compute`` FLOP
    and/or for ``target_loss`` (the fit's metric unit), inference-aware when
    ``inference_tokens`` > 0 (tokens served over the model's life), data-constrained when
    ``unique_tokens`` is given; every plan computed is in its ``plans``."""
    from scalinglab.plan import plan

    made = plan(
        result,
        compute=compute,
        target_loss=target_loss,
        inference_tokens=inference_tokens,
        unique_tokens=unique_tokens,
    )
    return dict(made.as_dict())


def is_fit_file(ref: str) -> bool:
    """True when ``ref`` is an existing JSON file holding a saved fit or fit set (not runs)."""
    p = Path(ref)
    if not (p.is_file() and p.suffix.lower() == ".json"):
        return False
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return False
    return isinstance(raw, dict) and (raw.get("kind") in ("fit", "fit_set") or "params" in raw)


def is_runs(ref: str) -> bool:
    """True when ``ref`` names runs: a bundled dataset or an existing file that is not a fit."""
    return ref in dataset_names() or (Path(ref).is_file() and not is_fit_file(ref))


def load_fit_ref(ref: str, store: str | None) -> FitResult | FitSet:
    """A fit or fit set from a JSON file, or a fit from the store (by id or unique prefix)."""
    p = Path(ref)
    if p.suffix.lower() == ".json" or p.exists():
        return load_fits(p)
    with Store.open(store, read_only=True) as st:
        text = st.load_fit(ref)
    return load_fits(f"store fit {ref}", text=text)


def gather(
    source: str,
    *,
    law: str | None = None,
    data: str | None = None,
    mapping: Mapping[str, str] | None = None,
    metric: str | None = None,
    where: str | None = None,
    x: str | None = None,
    bootstrap: int = REPORT_BOOTSTRAP,
    backtest_bootstrap: int = BACKTEST_BOOTSTRAP,
    holdout: str | None = None,
    no_backtest: bool = False,
    compute: float | None = None,
    seed: int = 0,
    workers: int = 1,
    store: str | None = None,
    progress: Callable[[int], None] | None = None,
    curves: str | None = None,
    target_loss: float | None = None,
    inference_tokens: float = 0.0,
    unique_tokens: float | None = None,
    group_by: str | None = None,
    shared: Sequence[str] = (),
) -> ReportInputs | GroupInputs:
    """Everything a report of ``source`` shows. ``source`` is runs (a file or bundled dataset:
    ``law``, default :func:`scalinglab.trust.select.default_law`, is fitted to them) or a fit
    (a JSON file or store id; ``data`` then gives the runs to backtest it on). The plan is made
    when ``compute`` or ``target_loss`` is given (:func:`plan_for_report`).

    ``group_by`` (runs only): one fit per group, giving :class:`GroupInputs` (no backtest); with
    ``shared`` parameters, one joint fit (:func:`scalinglab.fit.groups.fit_runs`). A saved fit
    set (``fit --group-by``) as ``source`` also gives :class:`GroupInputs`."""

    def runs_of(ref: str) -> pd.DataFrame:
        return select_runs(
            read_runs(ref, mapping=dict(mapping or {})), metric=metric, where=where, x=x
        )

    runs: pd.DataFrame | None = None
    if is_runs(source):
        if data is not None:
            raise DataError(
                f"--data {data!r} goes with a fit; {source!r} is already runs (use --where to select)."
            )
        runs = runs_of(source)
        result = fit_for_report(
            runs, law or default_law(runs), n_boot=bootstrap, seed=seed, workers=workers,
            progress=progress, group_by=group_by, shared=shared,
        )  # fmt: skip
    else:
        for name, value in (("--law", law), ("--group-by", group_by)):
            if value is not None:
                raise DataError(
                    f"{name} {value!r} applies when the report fits runs; {source!r} is already a fit."
                )
        result = load_fit_ref(source, store)
        # the fit's own selection of its runs, unless the options say otherwise
        p = (result.fits[0] if isinstance(result, FitSet) else result).provenance
        metric, where, x = metric or p.metric, where or p.where, x or p.x
        runs = runs_of(data) if data is not None else None

    def plan_of(r: FitResult) -> dict[str, Any] | None:
        if compute is None and target_loss is None:
            return None
        return plan_for_report(
            r, compute, target_loss=target_loss, inference_tokens=inference_tokens,
            unique_tokens=unique_tokens,
        )  # fmt: skip

    if isinstance(result, FitSet):
        plans = {str(r.provenance.group): plan_of(r) for r in result}
        kept = {g: pl for g, pl in plans.items() if pl is not None}
        return GroupInputs(result, runs, kept or None)
    bt = spec = None
    if runs is not None and not no_backtest:
        bt, spec = backtest_for_report(
            result, runs, holdout=holdout, n_boot=backtest_bootstrap, seed=seed, workers=workers
        )
    return ReportInputs(
        result=result, runs=runs, backtest=bt, holdout=spec, plan=plan_of(result),
        curves=None if curves is None else curves_of(curves, mapping),
    )  # fmt: skip


def curves_of(ref: str, mapping: Mapping[str, str] | None) -> pd.DataFrame:
    """Loss curves from runs with a ``step`` column (``sweep export --curves``), one row per
    run and step: run_id, step, y (and N when given); the held-out loss where there is one."""
    table = read_runs(ref, mapping=dict(mapping or {}))
    metric = "val_loss" if "val_loss" in table.attrs.get("metrics", []) else None
    runs = select_runs(table, metric=metric)
    if "step" not in runs.columns:
        raise DataError(
            f"--curves {ref!r}: no 'step' column; export a sweep's curves with "
            "`scalinglab sweep export SWEEP.toml curves.csv --curves`."
        )
    cols = [c for c in ("run_id", "step", "y", "N") if c in runs.columns]
    return runs[cols].dropna(subset=["step", "y"]).reset_index(drop=True)
