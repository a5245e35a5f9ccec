"""Batched, box-constrained L-BFGS: many independent minimisations advanced in lock-step.

Why not a loop over ``scipy.optimize.minimize``: a multi-start fit of a scaling law runs
thousands of small problems (5 parameters, a few hundred points); per-iteration Python overhead
in scipy dominates, and the objective is cheap to evaluate for all starts at once with numpy.
Here every start is one row of ``x`` (S, P); the objective is called once per iteration on the
rows still running (and again, on a shrinking subset, for backtracking).

Algorithm (Nocedal & Wright 2006, algorithm 7.4 and 7.5): two-loop recursion over the last
``memory`` pairs, Armijo backtracking from the unit step (the first step is scaled to
1/|g| as in scipy), curvature pairs kept only when s.y > 0. Bounds are handled by projection:
components at a bound whose gradient points outward are frozen for the step, and the trial
point is clipped into the box (a projected quasi-Newton step; exact for interior optima, the
case that matters, and it stops correctly on a bound).

Convergence is judged with *absolute* and *relative-to-f* tolerances, never relative to
max(|f|, 1) as scipy's ``ftol`` is: a scaling-law objective is often ~1e-3, and scipy's default
then stops early (Besiroglu et al. 2024). A row stops when

* the projected gradient's largest component is <= ``gtol``, or
* ``f`` fell by no more than ``ftol * |f|`` over ``patience`` consecutive iterations, or
* no step along the quasi-Newton or the steepest-descent direction decreases ``f`` (the
  optimum is resolved to machine precision).

Pruning (optional, for multi-start): a row that is far above the best value found so far *and*
whose recent rate of decrease could not close that gap within ``prune_horizon`` iterations is
stopped (status ``PRUNED``). This is what removes starts stuck on the plateaus of degenerate
regions (a term of the law vanishing), which otherwise dominate the cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from scalinglab.laws.base import FloatArray

BatchFun = Callable[[FloatArray, NDArray[np.intp]], tuple[FloatArray, FloatArray]]

RUNNING, CONVERGED, STALLED, MAXITER, PRUNED = 0, 1, 2, 3, 4
STATUS_NAMES = {CONVERGED: "converged", STALLED: "stalled", MAXITER: "max_iter", PRUNED: "pruned"}


@dataclass(frozen=True)
class BatchResult:
    x: FloatArray  # (S, P) final points
    f: FloatArray  # (S,)
    g: FloatArray  # (S, P) final gradient
    status: NDArray[np.int8]  # (S,), see the constants above
    n_iter: NDArray[np.int64]  # (S,)
    n_eval: int  # total row-evaluations of the objective

    @property
    def converged(self) -> NDArray[np.bool_]:
        return np.asarray((self.status == CONVERGED) | (self.status == STALLED), dtype=bool)


def projected_gradient(x: FloatArray, g: FloatArray, lo: FloatArray, hi: FloatArray) -> FloatArray:
    pg = g.copy()
    pg[(x <= lo) & (g > 0)] = 0.0
    pg[(x >= hi) & (g < 0)] = 0.0
    return pg


def minimize_batch(
    fun: BatchFun,
    x0: FloatArray,
    *,
    lower: FloatArray | None = None,
    upper: FloatArray | None = None,
    gtol: float = 1e-12,
    ftol: float = 1e-14,
    patience: int = 3,
    max_iter: int = 2000,
    memory: int = 10,
    prune: bool = False,
    prune_after: int = 8,
    prune_margin: float = 0.02,
    prune_horizon: float = 1e6,
    join_xtol: float = 1e-7,
    halving: tuple[tuple[int, float], ...] = (),
    min_keep: int = 16,
    h0: FloatArray | None = None,
) -> BatchResult:
    """Minimise S independent problems. ``h0`` (P, P), optional: a positive-definite initial
    inverse Hessian shared by all rows (a preconditioner, e.g. the inverse Hessian of the
    full-data fit when refitting bootstrap resamples from its optimum); without it the
    initial matrix is the usual scaled identity. ``fun(x_rows, row_ids)`` returns (f, g) for the rows
    ``row_ids`` of the batch evaluated at ``x_rows``; ``f`` may be ``inf`` outside the domain."""
    x = np.array(x0, dtype=float, copy=True)
    S, P = x.shape
    lo = np.full(P, -np.inf) if lower is None else np.asarray(lower, dtype=float)
    hi = np.full(P, np.inf) if upper is None else np.asarray(upper, dtype=float)
    x = np.clip(x, lo, hi)
    rows_all = np.arange(S)
    f, g = fun(x, rows_all)
    g = np.where(np.isfinite(g), g, 0.0)
    n_eval = S

    status = np.zeros(S, dtype=np.int8)
    status[~np.isfinite(f)] = STALLED  # a start where the law cannot be evaluated
    n_iter = np.zeros(S, dtype=np.int64)
    m = memory
    s_hist = np.zeros((S, m, P))
    y_hist = np.zeros((S, m, P))
    rho_hist = np.zeros((S, m))
    n_hist = np.zeros(S, dtype=np.int64)  # number of pairs stored per row (ring buffer)
    gamma = np.ones(S)
    quiet = np.zeros(S, dtype=np.int64)  # consecutive iterations with negligible decrease
    f_hist: list[FloatArray] = []  # f of all rows at recent iterations, for pruning

    for it in range(max_iter):
        act = np.flatnonzero(status == RUNNING)
        if act.size == 0:
            break
        xa, ga, fa = x[act], g[act], f[act]
        pg = projected_gradient(xa, ga, lo, hi)
        done = np.max(np.abs(pg), axis=1) <= gtol
        status[act[done]] = CONVERGED
        keep = ~done
        act, xa, ga, fa, pg = act[keep], xa[keep], ga[keep], fa[keep], pg[keep]
        if act.size == 0:
            break

        d = _two_loop(pg, s_hist[act], y_hist[act], rho_hist[act], n_hist[act], gamma[act], m, h0)
        frozen = pg == 0.0
        d[frozen] = 0.0
        slope = np.einsum("ij,ij->i", ga, d)
        bad = ~(slope < 0)  # not a descent direction: restart from steepest descent
        if bad.any():
            d[bad] = -pg[bad]
            slope[bad] = -np.einsum("ij,ij->i", pg[bad], pg[bad])
            n_hist[act[bad]] = 0
        first = (n_hist[act] == 0) & (h0 is None)
        t = np.ones(act.size)
        # scipy's first step: unit step scaled to 1/|d| (at most 1)
        t[first] = np.minimum(1.0, 1.0 / np.maximum(np.linalg.norm(d[first], axis=1), 1e-300))

        x_new = np.empty_like(xa)
        f_new = np.full(act.size, np.inf)
        g_new = np.empty_like(ga)
        pending = np.arange(act.size)
        for _ in range(60):
            trial = np.clip(xa[pending] + t[pending, None] * d[pending], lo, hi)
            ft, gt = fun(trial, act[pending])
            n_eval += pending.size
            # Armijo with the projected step (exact step, so it holds after clipping)
            dec = np.einsum("ij,ij->i", ga[pending], trial - xa[pending])
            ok = np.isfinite(ft) & (ft <= fa[pending] + 1e-4 * np.minimum(dec, 0.0))
            ok &= ft <= fa[pending]
            sel = pending[ok]
            x_new[sel], f_new[sel], g_new[sel] = trial[ok], ft[ok], gt[ok]
            pending = pending[~ok]
            if pending.size == 0:
                break
            t[pending] *= 0.5
            # a step too small to change x is a failed search
            tiny = np.all(
                np.abs(t[pending, None] * d[pending]) <= 1e-16 * (1 + np.abs(xa[pending])), axis=1
            )
            if tiny.any():
                pending = pending[~tiny]
            if pending.size == 0:
                break
        failed = ~np.isfinite(f_new)
        if failed.any():
            rows = act[failed]
            # failed along the quasi-Newton direction: retry once from steepest descent;
            # failed from steepest descent: f cannot be lowered in floating point.
            was_sd = n_hist[rows] == 0
            status[rows[was_sd]] = STALLED
            n_hist[rows] = 0
        okm = ~failed
        rows = act[okm]
        if rows.size:
            s = x_new[okm] - xa[okm]
            yv = g_new[okm] - ga[okm]
            sy = np.einsum("ij,ij->i", s, yv)
            yy = np.einsum("ij,ij->i", yv, yv)
            good = sy > 1e-12 * np.sqrt(np.einsum("ij,ij->i", s, s) * yy)
            gr = rows[good]
            slot = n_hist[gr] % m
            s_hist[gr, slot] = s[good]
            y_hist[gr, slot] = yv[good]
            rho_hist[gr, slot] = 1.0 / sy[good]
            gamma[gr] = sy[good] / yy[good]
            n_hist[gr] += 1
            small = (fa[okm] - f_new[okm]) <= ftol * np.abs(f_new[okm])
            quiet[rows] = np.where(small, quiet[rows] + 1, 0)
            x[rows], f[rows], g[rows] = x_new[okm], f_new[okm], g_new[okm]
            n_iter[rows] += 1
            status[rows[quiet[rows] >= patience]] = CONVERGED
        n_iter[act[failed]] += 1

        for at, frac in halving:
            if it + 1 == at:
                run = np.flatnonzero(status == RUNNING)
                keep_n = max(min_keep, int(np.ceil(frac * run.size)))
                if run.size > keep_n:
                    order = np.argsort(f[run], kind="stable")
                    status[run[order[keep_n:]]] = PRUNED
        if prune:
            f_hist.append(f.copy())
            running = status == RUNNING
            if it >= prune_after and len(f_hist) > 5 and running.any():
                fin = np.isfinite(f)
                ib = int(np.argmin(np.where(fin, f, np.inf)))
                best = f[ib]
                rate = np.maximum((f_hist[-6] - f) / 5.0, 0.0)
                # cannot win: clearly worse than the best, and hardly moving (a plateau or a
                # worse local minimum): at its recent rate it would not close the gap
                gap = f - best - prune_margin * abs(best)
                hopeless = running & (gap > 0) & (prune_horizon * rate < gap)
                status[hopeless] = PRUNED
                # joined: a row that reached the best row's point and value has converged to
                # the same optimum; following it further only repeats the best row's work.
                near = np.all(np.abs(x - x[ib]) <= join_xtol * (1.0 + np.abs(x[ib])), axis=1)
                joined = running & near & (np.abs(f - best) <= 1e-12 * abs(best))
                joined[ib] = False
                status[joined] = CONVERGED
                f_hist = f_hist[-6:]

    status[status == RUNNING] = MAXITER
    return BatchResult(x=x, f=f, g=g, status=status, n_iter=n_iter, n_eval=n_eval)


def _two_loop(
    g: FloatArray,
    s_hist: FloatArray,
    y_hist: FloatArray,
    rho_hist: FloatArray,
    n_hist: NDArray[np.int64],
    gamma: FloatArray,
    m: int,
    h0: FloatArray | None = None,
) -> FloatArray:
    """Vectorised L-BFGS two-loop recursion: returns -H g for each row."""
    A, _ = g.shape
    q = g.copy()
    k_max = int(min(m, n_hist.max(initial=0)))
    if k_max == 0:
        return -q if h0 is None else -(q @ h0)
    alphas = np.zeros((A, k_max))
    newest = (n_hist - 1) % m
    idx = np.arange(A)
    for k in range(k_max):  # newest to oldest
        slot = (newest - k) % m
        valid = k < n_hist
        sk, yk = s_hist[idx, slot], y_hist[idx, slot]
        a = np.where(valid, rho_hist[idx, slot] * np.einsum("ij,ij->i", sk, q), 0.0)
        alphas[:, k] = a
        q -= a[:, None] * yk
    if h0 is None:
        r = np.where(n_hist > 0, gamma, 1.0)[:, None] * q
    else:
        r = q @ h0
    for k in reversed(range(k_max)):  # oldest to newest
        slot = (newest - k) % m
        valid = k < n_hist
        sk, yk = s_hist[idx, slot], y_hist[idx, slot]
        b = np.where(valid, rho_hist[idx, slot] * np.einsum("ij,ij->i", yk, r), 0.0)
        r += (alphas[:, k] - b)[:, None] * sk
    return -r
