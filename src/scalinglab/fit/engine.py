"""Multi-start fitting engine.

Design (why it is fast and why it still finds the optimum of the exhaustive search):

1. All starts of the grid are one batch for :func:`scalinglab.fit.lbfgs.minimize_batch`: numpy
   evaluates the law for every start at once, in row chunks sized to stay in cache.
2. Successive halving prunes starts that cannot win: after 1, 3, 6 and 12 iterations only the
   best quarter of the still-running starts (ranked by objective) carries on, never fewer than
   ``min_keep``. On the Chinchilla data ~90% of grid starts slide onto plateaus where a term of
   the law vanishes (objective ~0.011 and ~0.021, Besiroglu et al. 2024); those rank last early.
3. The survivors run to a tight, scale-aware convergence (see :mod:`.lbfgs`), so the reported
   optimum is resolved to machine precision, not stopped by a tolerance relative to max(|f|, 1).
4. Laws with ``solver="lm"`` (M4, the power law with offset) screen their starts with the same
   L-BFGS halving (:func:`screen`), then polish the survivors with Levenberg-Marquardt
   (:mod:`.lsq`), which follows the long flat ridges of their optima in tens to hundreds of
   iterations where L-BFGS took thousands.
5. The BNSL laws have their own search (:mod:`.breaks`): from the same survivors alone,
   Levenberg-Marquardt ended in worse optima on 3 of the 20 curves of ``revisiting_lang`` (by
   up to 2x in objective); the search adds Levenberg-Marquardt from every grid start and
   restarts with the breaks moved between data points. ``method="lbfgs"`` forces the plain
   L-BFGS search (the reference the benchmark and tests compare with).

The survivors also tell how well the optimum is identified: how many reached the best value,
how far apart in parameter space those were, and the gap to the best *other* optimum.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from scalinglab.fit import breaks
from scalinglab.fit.lbfgs import NEVER_FINITE, PRUNED, BatchResult, minimize_batch
from scalinglab.fit.lsq import ResidualFun, minimize_lsq
from scalinglab.fit.objectives import (
    Objective,
    rho_psi,
    to_objective_space,
    transform_target,
    value_and_grad,
)
from scalinglab.laws.base import FloatArray, Law

# elements per evaluation chunk: ~256 KiB of float64 per temporary keeps numpy in cache
_CHUNK_ELEMENTS = 32_768
HALVING: tuple[tuple[int, float], ...] = ((1, 0.25), (3, 0.25), (6, 0.25), (12, 0.25))
# two optima are "the same" when their objectives agree to this relative tolerance
SAME_OPTIMUM_RTOL = 1e-9
# a residual within this many ulps of its target is rounding: with 1 ulp, noise-free Chinchilla
# data already stop below the floor (f ~ 1e-31 against 9e-31); 4 leaves a margin
_FLOOR_ULPS = 4.0


@dataclass(frozen=True)
class Problem:
    """A law, its data and objective, with some parameters possibly fixed."""

    law: Law
    X: Mapping[str, FloatArray]
    y: FloatArray
    weights: FloatArray
    objective: Objective
    fixed: Mapping[str, float]

    @property
    def free_index(self) -> NDArray[np.intp]:
        return np.array(
            [i for i, p in enumerate(self.law.params) if p.name not in self.fixed], dtype=np.intp
        )

    def full_theta(self, free: FloatArray) -> FloatArray:
        """Internal (S, P) parameters from free ones (S, F), fixed values inserted."""
        law = self.law
        out = np.empty((free.shape[0], len(law.params)))
        out[:, self.free_index] = free
        for i, p in enumerate(law.params):
            if p.name in self.fixed:
                v = float(self.fixed[p.name])
                out[:, i] = np.log(v) if p.log else v
        return out

    def batch_fun(self, row_weights: FloatArray | None = None):  # type: ignore[no-untyped-def]
        """Objective for :func:`minimize_batch` over free parameters. ``row_weights`` (S, n)
        gives each batch row its own weights (bootstrap resamples)."""
        law, obj = self.law, self.objective
        y_t = transform_target(self.y, law, obj)
        free = self.free_index
        n = y_t.size
        chunk = max(1, _CHUNK_ELEMENTS // max(n, 1))

        def fun(x: FloatArray, rows: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
            S = x.shape[0]
            fval = np.empty(S)
            grad = np.empty((S, free.size))
            for i in range(0, S, chunk):
                sl = slice(i, i + chunk)
                theta = self.full_theta(x[sl])
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    f, J = law.evaluate(theta, self.X)
                    f, J = to_objective_space(f, J, law, obj)
                    w = self.weights if row_weights is None else row_weights[rows[sl]]
                    fv, g = value_and_grad(f, J, y_t, w, obj)
                fval[sl] = fv
                grad[sl] = g[:, free]
            return fval, grad

        return fun

    def batch_residuals(self) -> ResidualFun:
        """Residuals (prediction - target, objective space) and their Jacobian (A, n, F) over
        free parameters, for :func:`scalinglab.fit.lsq.minimize_lsq`. ``X``, ``y`` may be
        (S, n) (one curve per batch row, the law ``paired_rows``); rows are then selected."""
        law, obj = self.law, self.objective
        y_t = transform_target(self.y, law, obj)
        free = self.free_index.tolist()
        paired = y_t.ndim == 2

        def fun(x: FloatArray, rows: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
            X = {k: v[rows] for k, v in self.X.items()} if paired else self.X
            yt = y_t[rows] if paired else y_t
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                f, J = law.evaluate(self.full_theta(x), X)
                f, J = to_objective_space(f, J, law, obj)
                r = f - yt
            Jf = np.stack([np.broadcast_to(J[i], r.shape) for i in free], axis=-1)
            return r, Jf

        return fun

    def rounding_floor(self, row_weights: FloatArray | None = None) -> float | FloatArray:
        """The objective when every residual is ``_FLOOR_ULPS`` units in the last place of its
        (transformed) target: below it the misfit is rounding, not signal, and the fit is exact
        (:func:`minimize_batch`'s ``f_floor``). A float, or (S,) with ``row_weights`` (S, n)."""
        y_t = transform_target(self.y, self.law, self.objective)
        r = _FLOOR_ULPS * np.finfo(float).eps * np.maximum(1.0, np.abs(y_t))
        phi = np.maximum(rho_psi(r, self.objective)[0], rho_psi(-r, self.objective)[0])
        if row_weights is None:
            return float(self.weights @ phi)
        floor: FloatArray = row_weights @ phi
        return floor

    def bounds(self) -> tuple[FloatArray, FloatArray]:
        lo, hi = self.law.bounds()
        return lo[self.free_index], hi[self.free_index]

    def screen(
        self, starts: FloatArray, halving: Sequence[tuple[int, float]], min_keep: int
    ) -> BatchResult | None:
        """The first stage of a Levenberg-Marquardt fit: L-BFGS through the successive-halving
        schedule only (``None`` without halving). Early Gauss-Newton objective values rank starts
        poorly (a start bound for the best optimum may first cross a region of high misfit), while
        L-BFGS's early ranking is the one the engine has always pruned by; the survivors are then
        polished by :func:`scalinglab.fit.lsq.minimize_lsq`, which follows the flat ridges that
        L-BFGS crawls along in thousands of iterations."""
        if not halving:
            return None
        lo, hi = self.bounds()
        return minimize_batch(
            self.batch_fun(),
            starts,
            lower=lo,
            upper=hi,
            halving=tuple(halving),
            min_keep=min_keep,
            max_iter=max(at for at, _ in halving),
            f_floor=self.rounding_floor(),
        )

    def levenberg_marquardt(self, x0: FloatArray, *, max_iter: int, futility: bool) -> BatchResult:
        """Levenberg-Marquardt (:func:`.lsq.minimize_lsq`) from every row of ``x0`` (free
        internal coordinates), within the law's bounds, stopping at the rounding floor."""
        lo, hi = self.bounds()
        return minimize_lsq(
            self.batch_residuals(),
            x0,
            weights=self.weights,
            objective=self.objective,
            lower=lo,
            upper=hi,
            max_iter=max_iter,
            futility=futility,
            f_floor=self.rounding_floor(),
        )


@dataclass(frozen=True)
class MultiStartResult:
    """The best optimum of a multi-start search and what the starts did.

    Every start ends in exactly one of: ``n_converged`` (a convergence test of
    :mod:`.lbfgs` held), ``n_stalled`` (no step lowered f in floating point while the
    quasi-Newton model still promised a gain), ``n_max_iter`` (still moving at the iteration limit), ``n_pruned`` (dropped by
    successive halving) and ``n_never_finite`` (objective not finite at the start); these sum
    to ``n_starts``. The best point, ``n_at_best``, ``spread``, ``second_best`` and the
    survivors are taken over converged and stalled starts (when there are none, the best
    finite value of any start is reported)."""

    x: FloatArray  # best point, free internal coordinates (F,)
    f: float
    n_starts: int
    n_converged: int
    n_pruned: int
    n_at_best: int
    spread: FloatArray  # (F,) max |difference| among survivors at the best value, internal
    second_best: float | None  # best objective among survivors at a different optimum
    survivors_x: FloatArray  # (K, F) distinct optima of the survivors, best first
    survivors_f: FloatArray  # (K,)
    n_eval: int
    n_stalled: int
    n_max_iter: int
    n_never_finite: int


def multistart(
    problem: Problem,
    starts: FloatArray,
    *,
    halving: Sequence[tuple[int, float]] = HALVING,
    min_keep: int = 16,
    max_iter: int = 3000,
    method: Literal["auto", "lbfgs"] = "auto",
) -> MultiStartResult:
    """Minimise from every start (rows of ``starts``, free internal coordinates). Successive
    halving is used only with more than ``4 * min_keep`` starts. ``method``: ``"auto"`` uses
    the law's own search (the Levenberg-Marquardt polish, or :mod:`.breaks` for BNSL);
    ``"lbfgs"`` the plain L-BFGS search for every law."""
    lo, hi = problem.bounds()
    halve = tuple(halving) if starts.shape[0] > 4 * min_keep else ()
    if method == "auto" and breaks.applies(problem.law):
        res = breaks.search(problem, starts, halve, min_keep)
        return summarize(res, res.x.shape[0])
    if method == "lbfgs" or problem.law.solver != "lm":
        res = minimize_batch(
            problem.batch_fun(),
            starts,
            lower=lo,
            upper=hi,
            halving=halve,
            min_keep=min_keep,
            max_iter=max_iter,
            f_floor=problem.rounding_floor(),
        )
        return summarize(res, starts.shape[0])
    first = problem.screen(starts, halve, min_keep)
    rows = survivors(first, starts.shape[0])
    x0 = starts if first is None else first.x[rows]
    polished = problem.levenberg_marquardt(x0, max_iter=max_iter, futility=first is not None)
    return summarize(merge(first, polished, rows), starts.shape[0])


def survivors(first: BatchResult | None, n_starts: int) -> NDArray[np.intp]:
    """Rows of a screen that go on to the polish: neither pruned nor never finite."""
    if first is None:
        return np.arange(n_starts)
    out: NDArray[np.intp] = np.flatnonzero(~np.isin(first.status, (PRUNED, NEVER_FINITE)))
    return out


def merge(first: BatchResult | None, polished: BatchResult, rows: NDArray[np.intp]) -> BatchResult:
    """The screen's rows with the polished ones (``rows``) replaced: statuses and points from
    the polish, iterations and evaluations of both stages added."""
    if first is None:
        return polished
    x, f, g = first.x.copy(), first.f.copy(), first.g.copy()
    status, n_iter = first.status.copy(), first.n_iter.copy()
    x[rows], f[rows], g[rows], status[rows] = polished.x, polished.f, polished.g, polished.status
    n_iter[rows] += polished.n_iter
    return BatchResult(x, f, g, status, n_iter, first.n_eval + polished.n_eval)


def summarize(res: BatchResult, n_starts: int) -> MultiStartResult:
    """The best optimum of one problem's batch of starts ``res`` and what the starts did."""
    f = np.where(np.isfinite(res.f), res.f, np.inf)
    done = res.at_optimum
    best = _best_row(f, done)
    fb = float(f[best])
    tol = SAME_OPTIMUM_RTOL * max(abs(fb), 1e-300)
    at_best = done & (f <= fb + tol)
    spread = np.ptp(res.x[at_best], axis=0) if at_best.any() else np.zeros(res.x.shape[1])
    others = done & ~at_best & np.isfinite(f)
    second = float(np.min(f[others])) if others.any() else None
    keep = _distinct_optima(f, np.flatnonzero(done & np.isfinite(f)))
    n = res.counts()
    return MultiStartResult(
        x=res.x[best].copy(),
        f=fb,
        n_starts=n_starts,
        n_converged=n["converged"],
        n_pruned=n["pruned"],
        n_at_best=int(at_best.sum()),
        spread=spread,
        second_best=second,
        survivors_x=res.x[keep].copy() if keep else res.x[[best]].copy(),
        survivors_f=f[keep].copy() if keep else f[[best]].copy(),
        n_eval=res.n_eval,
        n_stalled=n["stalled"],
        n_max_iter=n["max_iter"],
        n_never_finite=n["never_finite"],
    )


def _best_row(f: FloatArray, done: NDArray[np.bool_]) -> int:
    """The lowest finite objective among ``done`` rows, else among all rows (0 if none is
    finite)."""
    if not np.isfinite(f).any():
        return 0
    cand = np.flatnonzero(done & np.isfinite(f))
    pool = cand if cand.size else np.flatnonzero(np.isfinite(f))
    return int(pool[np.argmin(f[pool])])


def _distinct_optima(f: FloatArray, rows: NDArray[np.intp]) -> list[int]:
    """``rows`` with distinct objective values (to ``SAME_OPTIMUM_RTOL``), best first."""
    order = rows[np.argsort(f[rows], kind="stable")]
    keep: list[int] = []
    for i in order:
        if all(abs(f[i] - f[j]) > SAME_OPTIMUM_RTOL * max(abs(f[j]), 1e-300) for j in keep):
            keep.append(int(i))
    return keep


def hessian(problem: Problem, x: FloatArray, *, rel_step: float = 1e-5) -> FloatArray:
    """Hessian of the objective at free internal point ``x`` by central differences of the
    analytic gradient (2F gradient evaluations, done as one batch), symmetrised."""
    F = x.size
    h = rel_step * np.maximum(1.0, np.abs(x))
    pts = np.repeat(x[None, :], 2 * F, axis=0)
    for i in range(F):
        pts[2 * i, i] += h[i]
        pts[2 * i + 1, i] -= h[i]
    _, g = problem.batch_fun()(pts, np.arange(2 * F))
    H = np.empty((F, F))
    for i in range(F):
        H[i] = (g[2 * i] - g[2 * i + 1]) / (2 * h[i])
    return 0.5 * (H + H.T)


def inverse_hessian(problem: Problem, x: FloatArray) -> FloatArray | None:
    """A positive-definite inverse of the Hessian at ``x`` (eigenvalues floored at 1e-6 of the
    largest), for preconditioning refits near ``x``; ``None`` when it is not usable."""
    H = hessian(problem, x)
    if not np.all(np.isfinite(H)):
        return None
    ev, V = np.linalg.eigh(H)
    if ev[-1] <= 0:
        return None
    # a floor of 1e-6 (not machine precision) keeps steps along near-flat directions sane:
    # on a joint fit with a flat direction it cut the evaluations per refit 3x (1e-12 -> 1e-6)
    inv: FloatArray = (V / np.maximum(ev, 1e-6 * ev[-1])) @ V.T
    return inv
