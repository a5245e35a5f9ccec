"""Batched, box-constrained L-BFGS: many independent minimisations advanced in lock-step.

Why not a loop over ``scipy.optimize.minimize``: a multi-start fit runs thousands of small
problems (5 parameters, a few hundred points), where scipy's per-iteration Python overhead
dominates. Here every start is one row of ``x`` (S, P); the objective is called once per
iteration on the rows still running (and on a shrinking subset for backtracking).

Algorithm (Nocedal & Wright 2006, algorithms 7.4 and 7.5): two-loop recursion over the last
``memory`` pairs, Armijo backtracking from the unit step (the first step is scaled to
1/|d| as in scipy), curvature pairs kept only when s.y > 0. Bounds are handled by a projected
quasi-Newton step (Bertsekas 1982): coordinates on a bound (or a hair inside it) whose
gradient points outward are held on that bound for the step, the direction is computed over
the other coordinates from the curvature pairs restricted to them, and the trial point is
clipped into the box. On rotated quadratics (condition numbers to 1e8, optima on bounds) it
reaches the exact optimum and active set, where scipy's L-BFGS-B sometimes stops short.

Stopping. The tolerances are *relative to |f|*, never to max(|f|, 1) as scipy's ``ftol`` is:
a scaling-law objective is often ~1e-3, and scipy's default then stops early (Besiroglu et al.
2024, arXiv:2404.10102). Each row ends with one status:

* ``CONVERGED``: one of four tests held. (a) The projected gradient's largest component is
  <= ``gtol * |f|`` (the gradient is in units of f per unit of the coordinates, which for
  scaling laws are logs and exponents, of order one, so ``gtol`` is the relative change of f
  that a unit step would make to first order). (b) ``f`` fell by no more than ``ftol * |f|`` on
  each of ``patience`` consecutive iterations. (c) The line search failed along the
  quasi-Newton direction and then along steepest descent, where the quasi-Newton model had
  predicted a decrease -g.d/2 <= ``_RESOLVED * |f|`` (1e-12): f cannot resolve what is left
  (the usual end at machine precision). The prediction itself is noisy at that level: on
  bootstrap refits of Chinchilla-like data, rows that ended with predicted gains of 1e-14 to
  3e-13 |f| could not be improved by a restart nor by scipy by more than 7e-15 |f|.
  (d) ``f <= f_floor``, an absolute level given by the caller below which f is rounding noise
  (for a fit: every residual within a few ulps of its target, see
  :meth:`scalinglab.fit.engine.Problem.rounding_floor`); a fit to noise-free data ends so.
* ``STALLED``: both line searches failed and the model predicted more than ``_RESOLVED * |f|``
  (or there was no model yet). As (a)-(c) are relative to f, a problem whose optimal value is
  exactly 0 (Rosenbrock) ends ``STALLED`` at its optimum unless ``f_floor`` is given.
* ``MAXITER``: still running after ``max_iter`` iterations. ``PRUNED``: stopped by successive
  halving (below). ``NEVER_FINITE``: ``f`` not finite at the (clipped) start; never ran.

Successive halving (Jamieson & Talwalkar 2016, arXiv:1502.07943), for multi-start: after each
iteration count ``at`` in ``halving`` only the best ``frac`` of the still-running rows (ranked
by ``f``, never fewer than ``min_keep``) carries on; the rest end ``PRUNED``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from scalinglab.laws.base import FloatArray

BatchFun = Callable[[FloatArray, NDArray[np.intp]], tuple[FloatArray, FloatArray]]

RUNNING, CONVERGED, STALLED, MAXITER, PRUNED, NEVER_FINITE = 0, 1, 2, 3, 4, 5
STATUS_NAMES = {
    CONVERGED: "converged",
    STALLED: "stalled",
    MAXITER: "max_iter",
    PRUNED: "pruned",
    NEVER_FINITE: "never_finite",
}
_ARMIJO = 1e-4  # sufficient-decrease constant (Nocedal & Wright 2006, eq. 3.4)
_MAX_HALVINGS = 60  # backtracking steps before a line search is declared failed
_RESOLVED = 1e-12  # test (c): a predicted relative gain below this is resolved (see above)
# a coordinate this close to a bound, relative to the step the model asks of it, is held there
_NEAR = 1e-3


@dataclass(frozen=True)
class BatchResult:
    x: FloatArray  # (S, P) final points
    f: FloatArray  # (S,) final objective (inf where never finite)
    g: FloatArray  # (S, P) final gradient
    status: NDArray[np.int8]  # (S,), one of the constants above
    n_iter: NDArray[np.int64]  # (S,)
    n_eval: int  # total row-evaluations of the objective

    @property
    def converged(self) -> NDArray[np.bool_]:
        """Rows that met one of the convergence tests (a)-(d) of the module docstring; not the
        ``STALLED``, ``MAXITER``, ``PRUNED`` or ``NEVER_FINITE`` ones."""
        return np.asarray(self.status == CONVERGED, dtype=bool)

    @property
    def stalled(self) -> NDArray[np.bool_]:
        return np.asarray(self.status == STALLED, dtype=bool)

    @property
    def never_finite(self) -> NDArray[np.bool_]:
        return np.asarray(self.status == NEVER_FINITE, dtype=bool)

    @property
    def at_optimum(self) -> NDArray[np.bool_]:
        """Rows that stopped because f could not be lowered further: converged or stalled."""
        return np.asarray((self.status == CONVERGED) | (self.status == STALLED), dtype=bool)

    def counts(self) -> dict[str, int]:
        """Rows per final status, keyed by :data:`STATUS_NAMES` (every name present)."""
        return {name: int(np.sum(self.status == code)) for code, name in STATUS_NAMES.items()}


@dataclass
class _State:
    """Mutable per-row state of :func:`minimize_batch` (S rows, P coordinates, memory m)."""

    x: FloatArray  # (S, P)
    f: FloatArray  # (S,)
    g: FloatArray  # (S, P)
    status: NDArray[np.int8]  # (S,)
    n_iter: NDArray[np.int64]  # (S,)
    s_hist: FloatArray  # (S, m, P) steps, a ring buffer
    y_hist: FloatArray  # (S, m, P) gradient changes
    rho_hist: FloatArray  # (S, m) 1 / s.y
    n_hist: NDArray[np.int64]  # (S,) pairs stored; 0 means steepest descent next
    gamma: FloatArray  # (S,) scale of the initial inverse Hessian, s.y / y.y
    quiet: NDArray[np.int64]  # (S,) consecutive iterations with negligible decrease
    model_gain: FloatArray  # (S,) decrease the last quasi-Newton model predicted, -g.d / 2
    n_eval: int


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
    gtol: float = 1e-9,
    ftol: float = 1e-14,
    patience: int = 3,
    max_iter: int = 2000,
    memory: int = 10,
    halving: tuple[tuple[int, float], ...] = (),
    min_keep: int = 16,
    h0: FloatArray | None = None,
    f_floor: float | FloatArray = -np.inf,
) -> BatchResult:
    """Minimise S independent problems, one per row of ``x0`` (S, P).

    ``fun(x_rows, row_ids)`` returns (f, g) for the rows ``row_ids`` of the batch evaluated at
    ``x_rows``; ``f`` may be ``inf`` outside the domain. ``lower``/``upper`` (P,): the box
    (``None``: unbounded); starts outside it are clipped into it. ``gtol`` and ``ftol`` are
    relative to |f| (see the module docstring). ``h0`` (P, P), optional: a positive-definite
    initial inverse Hessian shared by all rows (a preconditioner, e.g. the inverse Hessian of
    the full-data fit when refitting bootstrap resamples from its optimum); without it the
    initial matrix is the usual scaled identity. ``halving``: ((iteration, fraction kept), ...)
    for successive halving, at least ``min_keep`` rows kept. ``f_floor`` (scalar or (S,), units
    of f): a row whose f is at or below it has converged (test (d)); the default never is."""
    P = x0.shape[1]
    lo = np.full(P, -np.inf) if lower is None else np.asarray(lower, dtype=float)
    hi = np.full(P, np.inf) if upper is None else np.asarray(upper, dtype=float)
    st = _init_state(fun, x0, lo, hi, memory)
    floor = np.broadcast_to(np.asarray(f_floor, dtype=float), st.f.shape)
    for it in range(max_iter):
        act = _gradient_test(st, lo, hi, gtol, floor)
        if act.size == 0:
            break
        xa, fa, ga = st.x[act], st.f[act], st.g[act]
        d = _direction(st, act, xa, ga, lo, hi, memory, h0)
        t = _initial_step(st.n_hist[act], d, h0)
        x_new, f_new, g_new = _line_search(fun, st, act, xa, fa, ga, d, t, lo, hi)
        _accept(st, act, xa, fa, ga, x_new, f_new, g_new, ftol, patience)
        for at, frac in halving:
            if it + 1 == at:
                _halve(st, frac, min_keep)
    st.status[st.status == RUNNING] = MAXITER
    return BatchResult(x=st.x, f=st.f, g=st.g, status=st.status, n_iter=st.n_iter, n_eval=st.n_eval)


def _init_state(fun: BatchFun, x0: FloatArray, lo: FloatArray, hi: FloatArray, m: int) -> _State:
    """Clip the starts into the box and evaluate them; a start whose ``f`` is not finite is
    ``NEVER_FINITE`` and never runs (its gradient is set to 0)."""
    x = np.clip(np.array(x0, dtype=float, copy=True), lo, hi)
    S, P = x.shape
    f, g = fun(x, np.arange(S))
    g = np.where(np.isfinite(g), g, 0.0)
    status = np.zeros(S, dtype=np.int8)
    status[~np.isfinite(f)] = NEVER_FINITE
    return _State(
        x=x,
        f=f,
        g=g,
        status=status,
        n_iter=np.zeros(S, dtype=np.int64),
        s_hist=np.zeros((S, m, P)),
        y_hist=np.zeros((S, m, P)),
        rho_hist=np.zeros((S, m)),
        n_hist=np.zeros(S, dtype=np.int64),
        gamma=np.ones(S),
        quiet=np.zeros(S, dtype=np.int64),
        model_gain=np.full(S, np.inf),
        n_eval=S,
    )


def _gradient_test(
    st: _State, lo: FloatArray, hi: FloatArray, gtol: float, floor: FloatArray
) -> NDArray[np.intp]:
    """Mark running rows whose largest projected-gradient component is <= ``gtol * |f|``, or
    whose f is <= ``floor``, as ``CONVERGED``; return the rows still running."""
    act = np.flatnonzero(st.status == RUNNING)
    if act.size == 0:
        return act
    pg = projected_gradient(st.x[act], st.g[act], lo, hi)
    done = (np.max(np.abs(pg), axis=1) <= gtol * np.abs(st.f[act])) | (st.f[act] <= floor[act])
    st.status[act[done]] = CONVERGED
    still: NDArray[np.intp] = act[~done]
    return still


def _direction(
    st: _State,
    act: NDArray[np.intp],
    xa: FloatArray,
    ga: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    m: int,
    h0: FloatArray | None,
) -> FloatArray:
    """Projected quasi-Newton direction (Bertsekas 1982, SIAM J. Control Optim. 20(2)). A
    coordinate on a bound, gradient pointing out, is held (d = 0); so is one within ``_NEAR``
    of the model's step from a bound it would cross, d reaching the bound at the unit step
    (else a coordinate a hair inside its bound cuts every step to nothing: a false stop). The
    rest get -H g, from pairs restricted to them where a coordinate is held (with those fixed,
    the restricted y is exactly the change of the reduced gradient). Not a descent direction:
    steepest descent over the free coordinates, history dropped."""
    free = ~(((xa <= lo) & (ga > 0)) | ((xa >= hi) & (ga < 0)) | (ga == 0.0))
    d = _free_direction(st, act, ga, free, m, h0)
    near_lo = free & (ga > 0) & (d < 0) & (xa - lo <= -_NEAR * d)
    near_hi = free & (ga < 0) & (d > 0) & (hi - xa <= _NEAR * d)
    near = near_lo | near_hi
    rows = near.any(axis=1)
    if rows.any():
        free &= ~near
        d[rows] = _free_direction(st, act[rows], ga[rows], free[rows], m, h0)
        d[near_lo] = (lo - xa)[near_lo]
        d[near_hi] = (hi - xa)[near_hi]
    slope = np.einsum("ij,ij->i", ga, d)
    bad = ~(slope < 0)
    # the model's predicted decrease, kept for the stall test (steepest descent has no model)
    model = ~bad & ((st.n_hist[act] > 0) | (h0 is not None))
    st.model_gain[act[model]] = -0.5 * slope[model]
    if bad.any():
        d[bad] = np.where(free[bad], -ga[bad], 0.0)
        st.n_hist[act[bad]] = 0
    return d


def _free_direction(
    st: _State,
    act: NDArray[np.intp],
    ga: FloatArray,
    free: NDArray[np.bool_],
    m: int,
    h0: FloatArray | None,
) -> FloatArray:
    """-H g over the ``free`` coordinates, 0 elsewhere (see :func:`_direction`)."""
    gf = np.where(free, ga, 0.0)
    held = ~free.all(axis=1)
    hist = (st.s_hist[act], st.y_hist[act], st.rho_hist[act], st.n_hist[act], st.gamma[act])
    d = _two_loop(gf, *hist, m, h0)
    if held.any():
        mask = free[held][:, None, :]
        s_r, y_r = hist[0][held] * mask, hist[1][held] * mask
        rho_r, gamma_r = _restricted_scaling(s_r, y_r, hist[3][held], hist[4][held], m)
        d[held] = _two_loop(gf[held], s_r, y_r, rho_r, hist[3][held], gamma_r, m, h0)
    d[~free] = 0.0
    return d


def _restricted_scaling(
    s: FloatArray, y: FloatArray, n_hist: NDArray[np.int64], gamma: FloatArray, m: int
) -> tuple[FloatArray, FloatArray]:
    """1/(s.y) of restricted pairs (0, i.e. unused, where the curvature is no longer safely
    positive) and the scale s.y/y.y of the newest usable one (the old scale if none)."""
    sy = np.einsum("akp,akp->ak", s, y)
    yy = np.einsum("akp,akp->ak", y, y)
    ok = sy > 1e-12 * np.sqrt(np.einsum("akp,akp->ak", s, s) * yy)
    rho = np.where(ok, 1.0 / np.where(ok, sy, 1.0), 0.0)
    gamma = gamma.copy()
    newest = (n_hist - 1) % m
    found = np.zeros(s.shape[0], dtype=bool)
    idx = np.arange(s.shape[0])
    for k in range(int(min(m, n_hist.max(initial=0)))):
        slot = (newest - k) % m
        use = ~found & (k < n_hist) & ok[idx, slot]
        gamma[use] = sy[idx[use], slot[use]] / yy[idx[use], slot[use]]
        found |= use
    return rho, gamma


def _initial_step(n_hist: NDArray[np.int64], d: FloatArray, h0: FloatArray | None) -> FloatArray:
    """Unit step, except on steepest descent without a preconditioner: 1/|d| (at most 1), as
    scipy's L-BFGS-B takes its first step."""
    t = np.ones(d.shape[0])
    first = (n_hist == 0) & (h0 is None)
    t[first] = np.minimum(1.0, 1.0 / np.maximum(np.linalg.norm(d[first], axis=1), 1e-300))
    return t


def _line_search(
    fun: BatchFun,
    st: _State,
    act: NDArray[np.intp],
    xa: FloatArray,
    fa: FloatArray,
    ga: FloatArray,
    d: FloatArray,
    t: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Armijo backtracking (halving ``t``) along the clipped path x + t d: accepted points,
    values, gradients; ``f_new`` is ``inf`` where the search failed (step too small, or
    ``_MAX_HALVINGS`` halvings)."""
    x_new = np.empty_like(xa)
    f_new = np.full(act.size, np.inf)
    g_new = np.empty_like(ga)
    pending = np.arange(act.size)
    for _ in range(_MAX_HALVINGS):
        trial = np.clip(xa[pending] + t[pending, None] * d[pending], lo, hi)
        ft, gt = fun(trial, act[pending])
        st.n_eval += pending.size
        # Armijo with the projected step (exact step, so it holds after clipping)
        dec = np.einsum("ij,ij->i", ga[pending], trial - xa[pending])
        ok = np.isfinite(ft) & (ft <= fa[pending] + _ARMIJO * np.minimum(dec, 0.0))
        ok &= ft <= fa[pending]
        sel = pending[ok]
        x_new[sel], f_new[sel], g_new[sel] = trial[ok], ft[ok], gt[ok]
        pending = pending[~ok]
        t[pending] *= 0.5
        # a step too small to change x is a failed search
        step = np.abs(t[pending, None] * d[pending])
        tiny = np.all(step <= 1e-16 * (1 + np.abs(xa[pending])), axis=1)
        pending = pending[~tiny]
        if pending.size == 0:
            break
    return x_new, f_new, g_new


def _accept(
    st: _State,
    act: NDArray[np.intp],
    xa: FloatArray,
    fa: FloatArray,
    ga: FloatArray,
    x_new: FloatArray,
    f_new: FloatArray,
    g_new: FloatArray,
    ftol: float,
    patience: int,
) -> None:
    """Take the accepted steps, store curvature pairs, apply test (b). A failed search along
    the quasi-Newton direction is retried from steepest descent (history dropped); one failed
    from steepest descent ends the row: ``CONVERGED`` by test (c), else ``STALLED``."""
    failed = ~np.isfinite(f_new)
    if failed.any():
        rows = act[failed]
        end = rows[st.n_hist[rows] == 0]
        resolved = st.model_gain[end] <= _RESOLVED * np.abs(st.f[end])
        st.status[end] = np.where(resolved, CONVERGED, STALLED)
        st.n_hist[rows] = 0
        st.n_iter[rows] += 1
    okm = ~failed
    rows = act[okm]
    if rows.size == 0:
        return
    _store_pairs(st, rows, x_new[okm] - xa[okm], g_new[okm] - ga[okm])
    small = (fa[okm] - f_new[okm]) <= ftol * np.abs(f_new[okm])
    st.quiet[rows] = np.where(small, st.quiet[rows] + 1, 0)
    st.x[rows], st.f[rows], st.g[rows] = x_new[okm], f_new[okm], g_new[okm]
    st.n_iter[rows] += 1
    st.status[rows[st.quiet[rows] >= patience]] = CONVERGED


def _store_pairs(st: _State, rows: NDArray[np.intp], s: FloatArray, yv: FloatArray) -> None:
    """Append (s, y) to each row's ring buffer when the curvature s.y is safely positive
    (relative to |s||y|), which keeps the implied inverse Hessian positive definite."""
    m = st.s_hist.shape[1]
    sy = np.einsum("ij,ij->i", s, yv)
    yy = np.einsum("ij,ij->i", yv, yv)
    good = sy > 1e-12 * np.sqrt(np.einsum("ij,ij->i", s, s) * yy)
    gr = rows[good]
    slot = st.n_hist[gr] % m
    st.s_hist[gr, slot] = s[good]
    st.y_hist[gr, slot] = yv[good]
    st.rho_hist[gr, slot] = 1.0 / sy[good]
    st.gamma[gr] = sy[good] / yy[good]
    st.n_hist[gr] += 1


def _halve(st: _State, frac: float, min_keep: int) -> None:
    """Successive halving: keep the best ``frac`` of the running rows (at least ``min_keep``),
    ranked by f with ties in row order; the others end ``PRUNED``."""
    run = np.flatnonzero(st.status == RUNNING)
    keep_n = max(min_keep, int(np.ceil(frac * run.size)))
    if run.size > keep_n:
        order = np.argsort(st.f[run], kind="stable")
        st.status[run[order[keep_n:]]] = PRUNED


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
    """Vectorised L-BFGS two-loop recursion (Nocedal & Wright 2006, algorithm 7.4): returns
    -H g for each row, H the inverse-Hessian approximation from that row's stored pairs."""
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
