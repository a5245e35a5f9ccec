"""Many separate fits of one law as one batched problem.

A ``--group-by`` fit or a backtest of many small curves (the 20 learning curves of Alabdulmohsin
et al. 2022, thousands in a sweep) spends its time in per-iteration overhead, not arithmetic:
each curve has a few dozen points. Here the starts of every curve are rows of one batch for
:func:`scalinglab.fit.lsq.minimize_lsq`: each row carries its curve's points (shorter curves
padded with zero-weight copies of their last point), its curve's bounds (M4's bounds depend on
the data) and its curve's rounding floor; successive halving ranks each curve's starts among
themselves. The per-curve results are then split out and completed exactly as
:func:`scalinglab.fit.api.fit_spec` completes a single fit, so a batched fit equals the fit of
that curve alone (to rounding: padding changes the order of some floating-point sums).

Laws qualify when they use the Levenberg-Marquardt solver and accept per-row variables
(``Law.solver == "lm"`` and ``Law.paired_rows``); other laws, joint fits and curves whose
problems differ in shape are fitted one at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from scalinglab.errors import FitError, ScalinglabError
from scalinglab.fit import checks
from scalinglab.fit.api import Built, build, complete_fit, fit_spec, found, provenance_of
from scalinglab.fit.engine import (
    HALVING,
    MultiStartResult,
    Problem,
    merge,
    summarize,
    survivors,
)
from scalinglab.fit.lbfgs import BatchResult
from scalinglab.fit.lsq import minimize_lsq
from scalinglab.fit.records import FitSpec, Provenance
from scalinglab.fit.result import FitResult
from scalinglab.laws.base import FloatArray, Law
from scalinglab.laws.registry import get_law

MIN_KEEP = 16  # as :func:`scalinglab.fit.engine.multistart`
MAX_ITER = 3000

Outcome = FitResult | ScalinglabError


def batchable(law: Law, spec: FitSpec) -> bool:
    """Whether fits of ``spec`` can share one batch: a separate (not joint) fit of a law
    solved by Levenberg-Marquardt whose ``evaluate`` takes per-row variables."""
    return spec.joint is None and law.solver == "lm" and law.paired_rows


def fit_spec_many(
    tables: Sequence[pd.DataFrame],
    spec: FitSpec,
    *,
    y: str = "y",
    grid: checks.Grid = None,
    provenances: Sequence[Provenance | Mapping[str, Any] | None] | None = None,
) -> list[Outcome]:
    """``[fit_spec(t, spec, y=y, grid=grid, provenance=p) for t, p in ...]``, searched as one
    batch when the law allows (:func:`batchable`). A table whose fit fails gets its error
    (a :class:`ScalinglabError`) in its place; the others are unaffected. Bootstrap refits, if
    ``spec.n_boot`` > 0, run per table after the batched search."""
    law = get_law(spec.law)
    provs = list(provenances) if provenances is not None else [None] * len(tables)
    if len(provs) != len(tables):
        raise FitError(f"{len(tables)} tables but {len(provs)} provenances; give one per table.")
    if not batchable(law, spec):
        return [_one(t, spec, y, grid, p) for t, p in zip(tables, provs, strict=True)]
    out: list[Outcome | None] = [None] * len(tables)
    built: list[tuple[int, Built, Provenance, FloatArray]] = []
    for i, (table, given) in enumerate(zip(tables, provs, strict=True)):
        prov = provenance_of(table, given)
        try:
            b = build(table, spec, y, spec.weights, grid, prov.source or "runs")
            built.append((i, b, prov, checks.starts(b.law, b.problem, b.grid)))
        except ScalinglabError as exc:
            out[i] = exc
    for batch in _batches(built):
        for (i, b, prov, _), ms in zip(batch, _search_batch(batch), strict=True):
            try:
                out[i] = complete_fit(b, found(b, ms, prov.source or "runs"), spec, law, prov)
            except ScalinglabError as exc:
                out[i] = exc
    return [o for o in out if o is not None]


def _one(
    table: pd.DataFrame,
    spec: FitSpec,
    y: str,
    grid: checks.Grid,
    prov: Provenance | Mapping[str, Any] | None,
) -> Outcome:
    try:
        return fit_spec(table, spec, y=y, grid=grid, provenance=prov)
    except ScalinglabError as exc:
        return exc


_Item = tuple[int, Built, Provenance, FloatArray]


def _batches(built: list[_Item]) -> list[list[_Item]]:
    """Problems that can share a batch: the same free parameters and the same halving (a
    fit with at most ``4 * MIN_KEEP`` starts is not halved)."""
    keys: dict[tuple[Any, ...], list[_Item]] = {}
    for item in built:
        b, starts = item[1], item[3]
        key = (tuple(b.problem.free_index), starts.shape[0] > 4 * MIN_KEEP)
        keys.setdefault(key, []).append(item)
    return list(keys.values())


def _search_batch(batch: list[_Item]) -> list[MultiStartResult]:
    """Each problem's screen (:func:`scalinglab.fit.engine.screen`, per problem: it is a few
    L-BFGS iterations), then one :func:`minimize_lsq` over the survivors of every problem."""
    problems = [item[1].problem for item in batch]
    starts = [item[3] for item in batch]
    halve = HALVING if starts[0].shape[0] > 4 * MIN_KEEP else ()
    firsts = [p.screen(s, halve, MIN_KEEP) for p, s in zip(problems, starts, strict=True)]
    keep = [survivors(f, s.shape[0]) for f, s in zip(firsts, starts, strict=True)]
    x0 = [s if f is None else f.x[k] for s, f, k in zip(starts, firsts, keep, strict=True)]
    sizes = [k.size for k in keep]
    rows = np.repeat(np.arange(len(batch)), sizes)
    polished = _polish(problems, np.concatenate(x0), rows, sizes, futility=bool(halve))
    out = []
    for k, (first, kept) in enumerate(zip(firsts, keep, strict=True)):
        sl = rows == k
        part = BatchResult(
            x=polished.x[sl],
            f=polished.f[sl],
            g=polished.g[sl],
            status=polished.status[sl],
            n_iter=polished.n_iter[sl],
            n_eval=int(sizes[k] + 2 * polished.n_iter[sl].sum()),
        )
        out.append(summarize(merge(first, part, kept), starts[k].shape[0]))
    return out


def _polish(
    problems: Sequence[Problem],
    x0: FloatArray,
    rows: NDArray[np.intp],
    sizes: Sequence[int],
    *,
    futility: bool,
) -> BatchResult:
    """One Levenberg-Marquardt batch: row s starts at ``x0[s]`` on problem ``rows[s]``, with
    that problem's points (padded), bounds and rounding floor."""
    n = max(p.y.size for p in problems)
    stacked = Problem(
        law=problems[0].law,
        X={v: _pad(problems, rows, n, lambda p, v=v: p.X[v]) for v in problems[0].X},
        y=_pad(problems, rows, n, lambda p: p.y),
        weights=_pad(problems, rows, n, lambda p: p.weights, zero=True),
        objective=problems[0].objective,
        fixed=problems[0].fixed,
    )
    lo, hi = (
        np.concatenate(
            [np.tile(p.bounds()[k], (m, 1)) for p, m in zip(problems, sizes, strict=True)]
        )
        for k in (0, 1)
    )
    return minimize_lsq(
        stacked.batch_residuals(),
        x0,
        weights=stacked.weights,
        objective=stacked.objective,
        lower=lo,
        upper=hi,
        max_iter=MAX_ITER,
        groups=rows,
        futility=futility,
        f_floor=np.repeat([p.rounding_floor() for p in problems], sizes),
    )


def _pad(
    problems: Sequence[Problem], rows: Any, n: int, get: Any, *, zero: bool = False
) -> FloatArray:
    """(S, n) array whose row s holds its problem's values, padded to ``n`` with the last
    value (or with 0 when ``zero``: the weights of padding points)."""
    out = np.empty((rows.size, n))
    for k, p in enumerate(problems):
        v = np.asarray(get(p), dtype=float)
        padded = np.concatenate([v, np.full(n - v.size, 0.0 if zero else v[-1])])
        out[rows == k] = padded
    return out
