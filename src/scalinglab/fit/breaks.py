"""Multi-start search for the broken neural scaling laws (:mod:`scalinglab.laws.bnsl`,
:mod:`scalinglab.laws.bnsl2`; Caballero et al. 2022, arXiv:2210.14891, eq. 1).

Why not the engine's plain L-BFGS search: on the 20 learning curves of ``revisiting_lang``
(Alabdulmohsin et al. 2022) its 16 survivors crawl for 700-3,000 iterations each (3 s per
one-break curve, 5 s per two-break curve). Why not only a Levenberg-Marquardt polish of those
survivors (as M4 does): from the same points it ends in other, worse optima on 3 of the 20
curves (up to 2x in objective), because BNSL optima with sharp breaks (f_i at its lower bound)
differ by which gap between data points holds each break, and which gap a local solver settles
in depends on its path. So the search widens the set of places it looks at, cheaply:

1. L-BFGS with the engine's successive halving (the engine's screen), then ``_PRE_ITER``
   more iterations of its survivors: they have by then taken L-BFGS's path into their basin
   (on one curve only that basin held the best optimum; 12 iterations were too few);
2. Levenberg-Marquardt (:mod:`.lsq`, at most ``_LM_ITER`` iterations, futile rows pruned) from
   every grid start and from those survivors;
3. break restarts (:func:`scalinglab.laws._bnsl_common.break_seeds`): the best ``_SCAN_TOP``
   optima with their breaks moved to every data point and every gap, one at a time (and, with
   two breaks, in pairs), polished the same way;
4. L-BFGS from the best ``_FINISH_K`` rows (at most ``_FINISH_ITER`` iterations) resolves the
   few optima on which Levenberg-Marquardt still crawls (a sharp break makes its model poor;
   on one curve it stopped 1.3x above the optimum L-BFGS reached from its end point).

Measured on those 20 curves (``bench/curve_fit_speed.py --laws '' --bnsl bnsl,bnsl2``, same
starts, same run, 2 shared cores): the objective is no higher than the plain L-BFGS search's on
every curve (lower on 1 one-break curve and on 12 two-break curves, by up to 2.4x); BNSL 7.4x
faster (0.16-0.67 s per curve against 1.0-2.3 s), BNSL-2 5.7x (0.34-1.34 s against 2.3-3.3 s).
The result's rows are all rows searched (grid starts, survivors and restarts), so ``n_starts``
counts them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from scalinglab.fit.lbfgs import NEVER_FINITE, PRUNED, BatchResult, minimize_batch
from scalinglab.laws._bnsl_common import break_seeds
from scalinglab.laws.base import FloatArray, Law, column

if TYPE_CHECKING:
    from scalinglab.fit.engine import Problem

N_BREAKS = {"bnsl": 1, "bnsl2": 2}  # laws searched here, with their number of breaks
_PRE_ITER = 50
_LM_ITER = 300
_SCAN_TOP = 2
_FINISH_K = 4
_FINISH_ITER = 500


def applies(law: Law) -> bool:
    """Whether :func:`search` is the multi-start search of ``law``: a BNSL law with its own
    parameters (a joint fit's law keeps the name but not the parameter layout the restarts
    need, and keeps the plain L-BFGS search)."""
    n = N_BREAKS.get(law.name)
    if n is None:
        return False
    names = ["a", "b", "c0"] + [f"{k}{i}" for i in range(1, n + 1) for k in ("c", "d", "f")]
    return list(law.param_names) == names


def search(
    problem: Problem, starts: FloatArray, halving: Sequence[tuple[int, float]], min_keep: int
) -> BatchResult:
    """All rows searched from ``starts`` (S, F free internal coordinates), see the module
    docstring; ``halving`` ((iteration, fraction), ...) as in :func:`.lbfgs.minimize_batch`
    (empty: no first stage)."""
    lo, hi = problem.bounds()
    pre = np.empty((0, starts.shape[1]))
    first = problem.screen(starts, halving, min_keep)
    if first is not None:
        kept = first.x[~np.isin(first.status, (PRUNED, NEVER_FINITE))]
        fun, floor = problem.batch_fun(), problem.rounding_floor()
        pre = minimize_batch(fun, kept, lower=lo, upper=hi, max_iter=_PRE_ITER, f_floor=floor).x
    lm = _polish(problem, np.concatenate([starts, pre]))
    seeds = _restarts(problem, lm)
    res = _stack(lm, _polish(problem, seeds)) if seeds.size else lm
    return _finish(problem, res)


def _polish(problem: Problem, x0: FloatArray) -> BatchResult:
    return problem.levenberg_marquardt(x0, max_iter=_LM_ITER, futility=True)


def _ranked(res: BatchResult) -> FloatArray:
    """Objective per row for ranking: inf where pruned, never finite or not finite."""
    ok = np.isfinite(res.f) & ~np.isin(res.status, (PRUNED, NEVER_FINITE))
    out: FloatArray = np.where(ok, res.f, np.inf)
    return out


def _restarts(problem: Problem, res: BatchResult) -> FloatArray:
    """Break restarts (free coordinates, duplicates removed) from the best rows of ``res``."""
    f = _ranked(res)
    top = np.argsort(f, kind="stable")[:_SCAN_TOP]
    top = top[np.isfinite(f[top])]
    if top.size == 0:
        return np.empty((0, res.x.shape[1]))
    lx = np.log(np.asarray(column(problem.X, "x"), dtype=float)).ravel()
    full = break_seeds(problem.full_theta(res.x[top]), lx, N_BREAKS[problem.law.name])
    free = full[:, problem.free_index]
    lo, hi = problem.bounds()
    out: FloatArray = np.unique(np.clip(free, lo, hi), axis=0)
    return out


def _stack(a: BatchResult, b: BatchResult) -> BatchResult:
    return BatchResult(
        x=np.concatenate([a.x, b.x]),
        f=np.concatenate([a.f, b.f]),
        g=np.concatenate([a.g, b.g]),
        status=np.concatenate([a.status, b.status]),
        n_iter=np.concatenate([a.n_iter, b.n_iter]),
        n_eval=a.n_eval + b.n_eval,
    )


def _finish(problem: Problem, res: BatchResult) -> BatchResult:
    """L-BFGS from the best ``_FINISH_K`` rows; a row takes the finished point when it is no
    worse (L-BFGS only descends, so it is unless the row was already optimal)."""
    f = _ranked(res)
    top = np.argsort(f, kind="stable")[:_FINISH_K]
    top = top[np.isfinite(f[top])]
    if top.size == 0:
        return res
    lo, hi = problem.bounds()
    fin = minimize_batch(
        problem.batch_fun(),
        res.x[top],
        lower=lo,
        upper=hi,
        max_iter=_FINISH_ITER,
        f_floor=problem.rounding_floor(),
    )
    better = np.isfinite(fin.f) & (fin.f <= res.f[top])
    rows = top[better]
    x, fv, g = res.x.copy(), res.f.copy(), res.g.copy()
    status, n_iter = res.status.copy(), res.n_iter.copy()
    x[rows], fv[rows], g[rows] = fin.x[better], fin.f[better], fin.g[better]
    status[rows] = fin.status[better]
    n_iter[rows] += fin.n_iter[better]
    return BatchResult(x, fv, g, status, n_iter, res.n_eval + fin.n_eval)
