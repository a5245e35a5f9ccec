"""Fits of many groups: separate fits per group (in parallel processes), and the one entry point
that chooses between a single fit, a fit per group and a joint fit with shared parameters."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from scalinglab.data.select import group_runs
from scalinglab.errors import ConvergenceWarning, FitError, ScalinglabError
from scalinglab.fit import checks
from scalinglab.fit.api import fit, make_spec
from scalinglab.fit.many import batchable, fit_spec_many
from scalinglab.fit.records import Provenance
from scalinglab.fit.result import FitResult, FitSet
from scalinglab.laws.base import Law
from scalinglab.laws.registry import get_law


def _fit_one(args: tuple[pd.DataFrame, dict[str, Any]]) -> FitResult | str:
    frame, kw = args
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # recorded in FitResult.warnings; re-emitted by caller
        try:
            return fit(frame, **kw)
        except ScalinglabError as exc:
            return str(exc)


def pool_context() -> Any:
    """Fork where the platform has it (workers inherit the loaded laws), else the default."""
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return None


def run_jobs(fn: Any, jobs: list[Any], workers: int) -> list[Any]:
    """``[fn(j) for j in jobs]``, in processes when ``workers`` > 1 (same results, same order)."""
    if workers > 1 and len(jobs) > 1:
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=pool_context()) as pool:
            return list(pool.map(fn, jobs))
    return [fn(j) for j in jobs]


# fit() options a batched search passes on (anything else: one fit per group)
_BATCH_OPTIONS = frozenset(
    {"y", "objective", "weights", "fix", "grid", "n_boot", "resample_by", "level", "seed"}
)


def _batched(
    law: Law,
    frames: list[pd.DataFrame],
    provs: list[dict[str, Any]],
    workers: int,
    kwargs: dict[str, Any],
) -> list[FitResult | str] | None:
    """The groups' fits searched as one batch (:mod:`scalinglab.fit.many`), or ``None`` when
    the law or options do not allow it, or when bootstrap refits are to run in parallel
    processes (those stay one process per group)."""
    weights = kwargs.get("weights")
    n_boot = int(kwargs.get("n_boot", 1000))
    if set(kwargs) - _BATCH_OPTIONS or not (weights is None or isinstance(weights, str)):
        return None
    if workers > 1 and n_boot > 0:
        return None
    opts = {k: v for k, v in kwargs.items() if k not in ("y", "grid")}
    try:
        checks.check_options(level=opts.get("level", 0.95), n_boot=n_boot, workers=workers)
        spec = make_spec(law, **opts)
    except ScalinglabError:
        return None  # each group's fit reports it, as without batching
    if not batchable(law, spec):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # recorded in FitResult.warnings; re-emitted by caller
        out = fit_spec_many(
            frames, spec, y=kwargs.get("y", "y"), grid=kwargs.get("grid"), provenances=provs
        )
    return [str(o) if isinstance(o, ScalinglabError) else o for o in out]


def fit_groups(
    groups: Sequence[tuple[str | None, pd.DataFrame]],
    law: str | Law,
    *,
    workers: int = 1,
    group_by: str = "group",
    progress: Callable[[int], None] | None = None,
    **kwargs: Any,
) -> FitSet:
    """Fit each (key, table) separately: searched as one batch when the law allows
    (:mod:`scalinglab.fit.many`), else in parallel processes when ``workers`` > 1.
    Results are in the order given and do not depend on ``workers``. A group whose fit fails
    does not discard the others: the error names the failed groups and keeps nothing only when
    every group failed (then the first group's message is raised)."""
    lw = get_law(law)
    base = kwargs.pop("provenance", None)
    base_d = base.to_dict() if isinstance(base, Provenance) else dict(base or {})
    provs = [{**base_d, "group": key} for key, _ in groups]
    batched = _batched(lw, [frame for _, frame in groups], provs, workers, kwargs)
    if batched is not None:
        results = batched
    else:
        jobs = [
            (frame, dict(kwargs, law=lw.name, workers=1, provenance=prov))
            for (_, frame), prov in zip(groups, provs, strict=True)
        ]
        results = run_jobs(_fit_one, jobs, workers)
    if progress:
        progress(len(groups))
    failed = [(k, r) for (k, _), r in zip(groups, results, strict=True) if isinstance(r, str)]
    done = [r for r in results if isinstance(r, FitResult)]
    if not done:
        raise FitError(f"every group failed; first, group {failed[0][0]}: {failed[0][1]}")
    for key, msg in failed:
        warnings.warn(f"[{key}] fit failed: {msg}", ConvergenceWarning, stacklevel=2)
    for r in done:
        for msg in r.warnings:
            warnings.warn(f"[{r.provenance.group}] {msg}", ConvergenceWarning, stacklevel=2)
    return FitSet(tuple(done), group_by, tuple((str(k), m) for k, m in failed))


def fit_runs(
    runs: pd.DataFrame,
    law: str | Law,
    *,
    group_by: str | None = None,
    shared: Sequence[str] = (),
    workers: int = 1,
    **kwargs: Any,
) -> FitResult | FitSet:
    """The fit a user asks for: one fit; with ``group_by`` one fit per group (a :class:`FitSet`);
    with ``group_by`` and ``shared`` one joint fit whose ``shared`` parameters are common to the
    groups. ``kwargs`` go to :func:`scalinglab.fit.fit`."""
    if shared and not group_by:
        raise FitError("--shared needs --group-by COLUMN (the groups that share them).")
    if group_by is None or shared:
        return fit(runs, law, group_by=group_by, shared=shared, workers=workers, **kwargs)
    parts = [(key, part) for key, part in group_runs(runs, group_by)]
    return fit_groups(parts, law, workers=workers, group_by=group_by, **kwargs)
