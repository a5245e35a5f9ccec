"""Bootstrap uncertainty: refit the law on resampled runs, all resamples as one batch.

A resample is a vector of integer weights over the runs (how often each run was drawn), so all
resamples share the data arrays and differ only in their weights: resample k is row k of the
batch minimised by :func:`scalinglab.fit.lbfgs.minimize_batch`. Resampling whole groups
(``groups``, e.g. the model size N) draws groups with replacement and gives each run its group's
count: this respects that runs of one size share errors (a poorly tuned size shifts all its runs).

Each resample is warm-started from the full-data optimum (and from any other ``starts`` given;
the best is kept) and minimised to the same tight tolerance as the main fit: a warm start with
loose tolerances barely moves and gives intervals far too narrow (Besiroglu et al. 2024).
L-BFGS is preconditioned with the inverse Hessian of the full-data objective at its optimum:
a resample's optimum is near, and its curvature similar, so the first step is almost a Newton
step and each refit takes ~15 iterations instead of ~70, to the same optimum.

Work is split into fixed chunks of resamples (the split does not depend on the number of
workers), run in worker processes; results are therefore identical for any ``workers``.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from scalinglab.fit.engine import Problem, inverse_hessian
from scalinglab.fit.lbfgs import CONVERGED, MAXITER, STALLED, minimize_batch
from scalinglab.laws.base import FloatArray

CHUNK = 250  # resamples per task: big batches amortise the per-iteration overhead


@dataclass(frozen=True)
class BootstrapResult:
    x: FloatArray  # (K, F) optimum per resample, free internal coordinates (NaN if failed)
    f: FloatArray  # (K,)
    converged: NDArray[np.bool_]  # a usable optimum (includes at_limit)
    at_limit: NDArray[np.bool_]  # stopped at the iteration limit on a flat ridge (draw kept)
    weights_seed: int


def resample_weights(
    n: int, n_boot: int, *, seed: int, groups: NDArray[np.intp] | None = None
) -> FloatArray:
    """(n_boot, n) integer weights. ``groups`` (n,) labels runs that are resampled together."""
    rng = np.random.default_rng(seed)
    if groups is None:
        return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float)
    uniq, inv = np.unique(groups, return_inverse=True)
    G = uniq.size
    counts = rng.multinomial(G, np.full(G, 1.0 / G), size=n_boot)  # (K, G)
    return counts[:, inv].astype(float)


def _solve_chunk(
    problem: Problem, starts: FloatArray, W: FloatArray, h0: FloatArray | None
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_], NDArray[np.bool_]]:
    K, n_start = W.shape[0], starts.shape[0]
    lo, hi = problem.bounds()
    # row k * n_start + j: resample k from start j
    x0 = np.tile(starts, (K, 1))
    row_w = np.repeat(W, n_start, axis=0)
    # max_iter: preconditioned refits converge in tens of iterations; a resample still moving
    # after 500 is reported as not converged (its draw is dropped and counted) rather than
    # chased on a flat ridge
    res = minimize_batch(problem.batch_fun(row_w), x0, lower=lo, upper=hi, h0=h0, max_iter=500)
    f = np.where(np.isfinite(res.f), res.f, np.inf).reshape(K, n_start)
    # a refit still creeping along a flat ridge at the iteration limit keeps its draw: its
    # objective is as good as the ridge allows, and dropping such draws would hide exactly the
    # unidentified direction the interval should show (fit() reports how many there were)
    ok = ((res.status == CONVERGED) | (res.status == STALLED) | (res.status == MAXITER)).reshape(
        K, n_start
    )
    best = np.argmin(np.where(ok, f, np.inf), axis=1)
    idx = np.arange(K) * n_start + best
    x = res.x[idx]
    conv = ok[np.arange(K), best] & np.isfinite(f[np.arange(K), best])
    x[~conv] = np.nan
    at_limit = (res.status.reshape(K, n_start)[np.arange(K), best] == MAXITER) & conv
    return x, f[np.arange(K), best], conv, at_limit


def bootstrap(
    problem: Problem,
    starts: FloatArray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    groups: NDArray[np.intp] | None = None,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> BootstrapResult:
    """Refit on ``n_boot`` resamples from each row of ``starts`` (free internal coordinates)."""
    W = resample_weights(problem.y.size, n_boot, seed=seed, groups=groups)
    W = W * problem.weights[None, :]  # user weights multiply the resample counts
    h0 = inverse_hessian(problem, starts[0])
    chunks = [(i, min(i + CHUNK, n_boot)) for i in range(0, n_boot, CHUNK)]
    xs: list[FloatArray] = [np.empty(0)] * len(chunks)
    fs: list[FloatArray] = [np.empty(0)] * len(chunks)
    cs: list[NDArray[np.bool_]] = [np.empty(0, dtype=bool)] * len(chunks)
    ls: list[NDArray[np.bool_]] = [np.empty(0, dtype=bool)] * len(chunks)
    if workers <= 1 or len(chunks) == 1:
        for k, (a, b) in enumerate(chunks):
            xs[k], fs[k], cs[k], ls[k] = _solve_chunk(problem, starts, W[a:b], h0)
            if progress:
                progress(b - a)
    else:
        ctx = (
            multiprocessing.get_context("fork")
            if "fork" in multiprocessing.get_all_start_methods()
            else None
        )
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futs = {
                pool.submit(_solve_chunk, problem, starts, W[a:b], h0): k
                for k, (a, b) in enumerate(chunks)
            }
            for fut in cf.as_completed(futs):
                k = futs[fut]
                xs[k], fs[k], cs[k], ls[k] = fut.result()
                if progress:
                    a, b = chunks[k]
                    progress(b - a)
    return BootstrapResult(
        x=np.concatenate(xs),
        f=np.concatenate(fs),
        converged=np.concatenate(cs),
        at_limit=np.concatenate(ls),
        weights_seed=seed,
    )
