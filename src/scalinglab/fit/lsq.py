"""Batched, box-constrained Levenberg-Marquardt for sums of per-residual losses.

Why: the one-variable curve laws (M4, BNSL, the power law with offset) are fitted to a few
dozen points, and their optima often lie on long, flat, ill-conditioned ridges (M4: alpha large
with L_0 large and beta small). L-BFGS, which sees only gradients, needs thousands of iterations
to follow such a ridge; a Gauss-Newton model, built from the law's analytic Jacobian, sees the
ridge's curvature at once and follows it in tens. Every row of ``x`` (S, P) is one problem (a
start, a curve, a resample), advanced in lock-step as in :mod:`.lbfgs`.

Objective per row: ``F(x) = sum_i w_i rho(r_i(x))`` with ``rho`` the loss of
:func:`scalinglab.fit.objectives.rho_psi` (least squares or Huber, possibly asymmetric). The
model at x is the quadratic q(s) = F + g.s + s'Hs/2 with g = J' (w psi(r)) and the
iteratively-reweighted Gauss-Newton matrix H = J' diag(w psi(r)/r) J (for Huber the weight
psi(r)/r = min(1, delta/|r|) makes q a majorant of the linearised loss: Huber 1981, section
7.8; Holland and Welsch 1977). Step (Marquardt 1963; More 1978 for the scaling):
(H + lambda D) s = -g with D = diag(H) (floored), then s is projected into the box. The
damping follows Nielsen (1999, IMM-REP-1999-05, eq. 2.21): on a step whose gain ratio
rho = (F(x) - F(x + s)) / (q(0) - q(s)) exceeds 1e-4, accept and lambda *= max(1/3,
1 - (2 rho - 1)^3); else reject and lambda *= nu, nu *= 2.

Bounds: a coordinate on a bound whose gradient points outward is held there for the step
(its row and column of the system are dropped: Bertsekas 1982's projected Newton); the trial
point is clipped into the box and the gain ratio uses the model's gain of the clipped step.
Bounds may differ per row (``lower``/``upper`` of shape (S, P)): each curve of a batch keeps its
own data-dependent bounds.

Stopping uses the tests and statuses of :mod:`.lbfgs`, all relative to |F|: CONVERGED when the
projected gradient is <= ``gtol`` |F|, when F fell by <= ``ftol`` |F| on ``patience``
consecutive accepted steps, when F <= ``f_floor``, or when lambda overflowed (no step, however
short, lowers F) where the model's gain at the point was <= 1e-12 |F| (resolved); STALLED when
lambda overflowed where the model still promised more; MAXITER, PRUNED (successive halving),
NEVER_FINITE as there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from scalinglab.fit.lbfgs import (
    CONVERGED,
    MAXITER,
    NEVER_FINITE,
    PRUNED,
    RUNNING,
    STALLED,
    BatchResult,
)
from scalinglab.fit.objectives import Objective, rho_psi
from scalinglab.laws.base import FloatArray

# fun(x_rows (A, P), row ids (A,)) -> (residuals (A, n), Jacobian (A, n, P)), objective space
ResidualFun = Callable[[FloatArray, NDArray[np.intp]], tuple[FloatArray, FloatArray]]

_GAIN = 1e-4  # least gain ratio for a step to be accepted (Nielsen 1999)
_LAMBDA0 = 1e-3  # initial damping, relative to diag(H)
_LAMBDA_MAX = 1e16  # beyond this no step changes x in floating point: the row has ended
_RESOLVED = 1e-12  # a predicted relative gain below this is resolved (as in .lbfgs)
_D_FLOOR = 1e-12  # diag(H) floored at this fraction of its largest entry
_FUTILITY_EVERY = 25  # iterations between futility checks after successive halving
_SAME = 1e-9  # relative gap under which two objective values count as the same optimum
_NU0 = 2.0
_NU_GROWTH = 2.0
_LAMBDA_RESOLVED = 1.0
_H_FD = 0.1  # finite-difference step (along v) for the geodesic acceleration
_ACC_MAX = 0.75  # largest 2|a|/|v| for which the acceleration is used (Transtrum, Sethna 2012)


@dataclass
class _State:
    """Per-row state: point, objective, its gradient and Gauss-Newton matrix, damping."""

    x: FloatArray  # (S, P)
    f: FloatArray  # (S,)
    g: FloatArray  # (S, P)
    H: FloatArray  # (S, P, P)
    r: FloatArray  # (S, n) residuals at x (0 where the weight is 0)
    J: FloatArray  # (S, n, P) their Jacobian
    wc: FloatArray  # (S, n) weight times psi(r)/r: the Gauss-Newton weights
    lam: FloatArray  # (S,)
    nu: FloatArray  # (S,)
    first_gain: FloatArray  # (S,) model gain of the first trial from the current point
    quiet: NDArray[np.int64]  # (S,) consecutive accepted steps with negligible decrease
    status: NDArray[np.int8]
    n_iter: NDArray[np.int64]
    n_eval: int


def _model(
    r: FloatArray, J: FloatArray, w: FloatArray, obj: Objective
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """F (A,), gradient g (A, P) and reweighted Gauss-Newton matrix H (A, P, P) from
    residuals r (A, n), Jacobian J (A, n, P) and weights w (A, n). Rows with a non-finite
    residual or Jacobian entry at a positive weight get F = inf."""
    use = w > 0
    bad = ~(
        np.all(np.isfinite(r) | ~use, axis=1)
        & np.all(np.isfinite(J) | ~use[..., None], axis=(1, 2))
    )
    r = np.where(use, r, 0.0)
    J = np.where(use[..., None], J, 0.0)
    rho, psi = rho_psi(r, obj)
    # psi(r)/r; at r = 0 the larger one-sided curvature (1, or the asymmetry factor)
    c = _curvature(r, obj)
    f = np.sum(w * rho, axis=1)
    g = np.matmul(np.swapaxes(J, 1, 2), (w * psi)[..., None])[..., 0]
    wc = w * c
    H = np.matmul(np.swapaxes(J, 1, 2), J * wc[..., None])
    f = np.where(bad | ~np.isfinite(f), np.inf, f)
    g[bad] = 0.0
    H[bad] = 0.0
    return f, g, H, r, J, wc


def _curvature(r: FloatArray, obj: Objective) -> FloatArray:
    """rho''(r): 1 in least squares and inside Huber's delta, 0 outside it (times the
    asymmetry factor on over-predictions)."""
    c = np.ones_like(r) if obj.kind == "lsq" else (np.abs(r) <= obj.delta).astype(float)
    if obj.asymmetry != 1.0:
        c = c * np.where(r > 0, obj.asymmetry, 1.0)
    return c


def minimize_lsq(
    fun: ResidualFun,
    x0: FloatArray,
    *,
    weights: FloatArray,
    objective: Objective,
    lower: FloatArray | None = None,
    upper: FloatArray | None = None,
    gtol: float = 1e-9,
    ftol: float = 1e-14,
    patience: int = 3,
    max_iter: int = 500,
    halving: tuple[tuple[int, float], ...] = (),
    min_keep: int = 16,
    groups: NDArray[np.intp] | None = None,
    futility: bool = False,
    f_floor: float | FloatArray = -np.inf,
) -> BatchResult:
    """Minimise ``sum_i w_i rho(r_i)`` for S independent rows of ``x0`` (S, P).

    ``fun(x_rows, row_ids)``: residuals (prediction - target, in the objective's space) and
    their Jacobian (A, n, P) for the given rows. ``weights``: (n,) or (S, n), non-negative; a
    zero weight drops the point (its residual may then be NaN: padding of short curves).
    ``objective``: its kind, delta and asymmetry give rho (its space is the caller's business).
    ``lower``/``upper``: (P,) or (S, P) box in the coordinates of x (``None``: unbounded).
    ``halving``/``min_keep``: successive halving as in :func:`.lbfgs.minimize_batch`, applied
    within each group of ``groups`` (S,) (``None``: one group), so that a batch of several
    curves halves each curve's starts as a fit of that curve alone would. ``futility``: every
    ``_FUTILITY_EVERY`` iterations after the halving, prune rows that cannot catch up with the
    best optimum of their group (:func:`_prune_futile`). ``f_floor``: scalar or (S,), see
    :mod:`.lbfgs`. Returns the same :class:`BatchResult` as L-BFGS."""
    S, P = x0.shape
    lo = np.broadcast_to(np.full(P, -np.inf) if lower is None else lower, (S, P)).astype(float)
    hi = np.broadcast_to(np.full(P, np.inf) if upper is None else upper, (S, P)).astype(float)
    W = np.broadcast_to(np.asarray(weights, dtype=float), (S, np.shape(weights)[-1]))
    floor = np.broadcast_to(np.asarray(f_floor, dtype=float), (S,))
    grp = np.zeros(S, dtype=np.intp) if groups is None else np.asarray(groups, dtype=np.intp)
    x = np.clip(np.array(x0, dtype=float), lo, hi)
    r, J = fun(x, np.arange(S))
    f, g, H, r, J, wc = _model(r, J, W, objective)
    st = _State(
        x=x,
        f=f,
        g=g,
        H=H,
        r=r,
        J=J,
        wc=wc,
        lam=np.full(S, _LAMBDA0),
        nu=np.full(S, 2.0),
        first_gain=np.full(S, np.nan),
        quiet=np.zeros(S, dtype=np.int64),
        status=np.where(np.isfinite(f), RUNNING, NEVER_FINITE).astype(np.int8),
        n_iter=np.zeros(S, dtype=np.int64),
        n_eval=S,
    )
    members = [np.flatnonzero(grp == k) for k in np.unique(grp)]
    last_halving = max((at for at, _ in halving), default=0)
    f_check = st.f.copy()
    for it in range(max_iter):
        act = _gradient_test(st, lo, hi, gtol, floor)
        if act.size == 0:
            break
        _iterate(fun, st, act, lo[act], hi[act], W[act], objective, ftol, patience)
        for at, frac in halving:
            if it + 1 == at:
                for rows in members:
                    _halve(st, rows, frac, min_keep)
        if futility and it + 1 > last_halving and (it + 1) % _FUTILITY_EVERY == 0:
            for rows in members:
                _prune_futile(st, rows, f_check, max_iter - it - 1)
            f_check = st.f.copy()
    st.status[st.status == RUNNING] = MAXITER
    return BatchResult(x=st.x, f=st.f, g=st.g, status=st.status, n_iter=st.n_iter, n_eval=st.n_eval)


def _gradient_test(
    st: _State, lo: FloatArray, hi: FloatArray, gtol: float, floor: FloatArray
) -> NDArray[np.intp]:
    """End running rows whose projected gradient is <= gtol |F| or whose F <= floor."""
    act = np.flatnonzero(st.status == RUNNING)
    if act.size == 0:
        return act
    pg = _free(st.x[act], st.g[act], lo[act], hi[act]) * st.g[act]
    done = (np.max(np.abs(pg), axis=1) <= gtol * np.abs(st.f[act])) | (st.f[act] <= floor[act])
    st.status[act[done]] = CONVERGED
    still: NDArray[np.intp] = act[~done]
    return still


def _free(x: FloatArray, g: FloatArray, lo: FloatArray, hi: FloatArray) -> NDArray[np.bool_]:
    """Coordinates free to move: not on a bound with the gradient pointing out of the box."""
    return np.asarray(~(((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0))), dtype=bool)


def _system(
    H: FloatArray, lam: FloatArray, free: NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray]:
    """The damped matrix H + lam D over the free coordinates (identity on the held ones) and
    the damping diagonal D (A, P)."""
    P = H.shape[1]
    d = np.diagonal(H, axis1=1, axis2=2)
    d = np.maximum(d, _D_FLOOR * np.max(d, axis=1, keepdims=True))
    d = np.where(d > 0, d, 1.0)
    M = H + (lam[:, None] * d)[:, :, None] * np.eye(P)
    both = free[:, :, None] & free[:, None, :]
    return np.where(both, M, np.eye(P)), d


def _solve(M: FloatArray, rhs: FloatArray, free: NDArray[np.bool_]) -> FloatArray:
    """M s = rhs per row, s = 0 on held coordinates (and where the solution is not finite)."""
    rhs = np.where(free, rhs, 0.0)
    try:
        s = np.linalg.solve(M, rhs[..., None])[..., 0]
    except np.linalg.LinAlgError:  # a singular row: least squares row by row
        s = np.stack([np.linalg.lstsq(M[i], rhs[i], rcond=None)[0] for i in range(len(M))])
    out: FloatArray = np.where(free & np.isfinite(s), s, 0.0)
    return out


def _acceleration(
    fun: ResidualFun,
    act: NDArray[np.intp],
    x: FloatArray,
    v: FloatArray,
    r0: FloatArray,
    J0: FloatArray,
    wc: FloatArray,
    M: FloatArray,
    free: NDArray[np.bool_],
) -> FloatArray:
    """Geodesic acceleration a = -(H + lam D)^-1 J' W r_vv, with r_vv the second directional
    derivative of the residuals along v by a finite difference of step ``_H_FD`` (Transtrum
    and Sethna 2012, arXiv:1201.5885, eqs. 15 and 18)."""
    r1, _ = fun(x + _H_FD * v, act)
    r_vv = (2.0 / _H_FD) * ((r1 - r0) / _H_FD - np.einsum("anp,ap->an", J0, v))
    r_vv = np.where((wc > 0) & np.isfinite(r_vv), r_vv, 0.0)
    rhs = -np.einsum("anp,an->ap", J0, wc * r_vv)
    return _solve(M, rhs, free)


def _iterate(
    fun: ResidualFun,
    st: _State,
    act: NDArray[np.intp],
    lo: FloatArray,
    hi: FloatArray,
    w: FloatArray,
    obj: Objective,
    ftol: float,
    patience: int,
) -> None:
    """One damped Gauss-Newton trial (with geodesic acceleration where the path bends
    little) for each running row; accept or reject it."""
    x, f, g, H = st.x[act], st.f[act], st.g[act], st.H[act]
    free = _free(x, g, lo, hi)
    M, d = _system(H, st.lam[act], free)
    v = _solve(M, -g, free)
    acc_a = _acceleration(fun, act, x, v, st.r[act], st.J[act], st.wc[act], M, free)
    st.n_eval += act.size
    vn = np.sqrt(np.einsum("ap,ap->a", d, v * v))
    an = np.sqrt(np.einsum("ap,ap->a", d, acc_a * acc_a))
    smooth = 2.0 * an <= _ACC_MAX * vn  # Transtrum and Sethna 2012: else the plain step
    s_v = np.clip(x + v, lo, hi) - x
    gain = -(np.einsum("ap,ap->a", g, s_v) + 0.5 * np.einsum("ap,apq,aq->a", s_v, H, s_v))
    trial = np.clip(x + v + np.where(smooth[:, None], 0.5 * acc_a, 0.0), lo, hi)
    fresh = np.isnan(st.first_gain[act])
    st.first_gain[act[fresh]] = gain[fresh]
    r, J = fun(trial, act)
    st.n_eval += act.size
    f_t, g_t, H_t, r_t, J_t, wc_t = _model(r, J, w, obj)
    st.n_iter[act] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (f - f_t) / gain
    ok = np.isfinite(f_t) & (gain > 0) & (f_t <= f) & (ratio > _GAIN)
    acc, rej = act[ok], act[~ok]
    # accepted: move, relax the damping (Nielsen 1999), count negligible decreases
    rk = ratio[ok]
    st.lam[acc] *= np.maximum(1.0 / 3.0, 1.0 - (2.0 * np.minimum(rk, 1.0) - 1.0) ** 3)
    st.nu[acc] = _NU0
    small = (f[ok] - f_t[ok]) <= ftol * np.abs(f_t[ok])
    st.quiet[acc] = np.where(small, st.quiet[acc] + 1, 0)
    st.x[acc], st.f[acc], st.g[acc], st.H[acc] = trial[ok], f_t[ok], g_t[ok], H_t[ok]
    st.r[acc], st.J[acc], st.wc[acc] = r_t[ok], J_t[ok], wc_t[ok]
    st.first_gain[acc] = np.nan
    st.status[acc[st.quiet[acc] >= patience]] = CONVERGED
    # the (lightly damped) model promises no gain F can resolve: the optimum is reached
    near = ok & (gain <= _RESOLVED * np.abs(f_t)) & (st.lam[act] <= _LAMBDA_RESOLVED)
    st.status[act[near]] = CONVERGED
    # rejected: damp harder; past _LAMBDA_MAX no step can lower F
    st.lam[rej] *= st.nu[rej]
    st.nu[rej] *= _NU_GROWTH
    over = rej[st.lam[rej] > _LAMBDA_MAX]
    resolved = st.first_gain[over] <= _RESOLVED * np.abs(st.f[over])
    st.status[over] = np.where(resolved, CONVERGED, STALLED)


def _prune_futile(st: _State, rows: NDArray[np.intp], f_check: FloatArray, left: int) -> None:
    """End ``PRUNED`` the running ``rows`` that cannot reach the best optimum already found
    among ``rows`` (converged or stalled) even if they kept the pace of the last
    ``_FUTILITY_EVERY`` iterations (their decrease since ``f_check``) for the ``left``
    iterations that remain. On a ridge the pace only slows, so the extrapolation is
    generous; it stops starts creeping towards an inferior optimum from holding the batch."""
    done = rows[(st.status[rows] == CONVERGED) | (st.status[rows] == STALLED)]
    run = rows[st.status[rows] == RUNNING]
    if done.size == 0 or run.size == 0:
        return
    best = float(np.min(st.f[done]))
    reach = st.f[run] - (f_check[run] - st.f[run]) * (left / _FUTILITY_EVERY)
    st.status[run[reach > best + _SAME * abs(best)]] = PRUNED


def _halve(st: _State, rows: NDArray[np.intp], frac: float, min_keep: int) -> None:
    """Keep the best ``frac`` of the running ``rows`` (at least ``min_keep``), ranked by F
    with ties in row order; the others end ``PRUNED``."""
    run = rows[st.status[rows] == RUNNING]
    keep_n = max(min_keep, int(np.ceil(frac * run.size)))
    if run.size > keep_n:
        order = np.argsort(st.f[run], kind="stable")
        st.status[run[order[keep_n:]]] = PRUNED
