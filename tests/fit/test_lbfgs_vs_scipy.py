"""The batched L-BFGS against scipy's L-BFGS-B on bounded, ill-conditioned problems, and the
honesty of its statuses (never-finite, stalled, converged; gtol relative to f)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.optimize import lsq_linear, minimize
from scipy.stats import special_ortho_group

from scalinglab.fit import Objective
from scalinglab.fit.bootstrap import bootstrap, resample_weights
from scalinglab.fit.engine import Problem, multistart
from scalinglab.fit.lbfgs import CONVERGED, NEVER_FINITE, STALLED, minimize_batch
from scalinglab.laws import Law, Param
from scalinglab.laws.base import FloatArray

# scipy with tolerances far below its defaults, so that it stops at the optimum (its ftol is
# relative to max(|f|, 1); the objectives here are ~1)
SCIPY_TIGHT = {"ftol": 1e-15, "gtol": 1e-12, "maxiter": 20000, "maxfun": 40000}
RTOL = 1e-12  # "no worse than scipy": f <= f_scipy + RTOL |f_scipy|

Fg = tuple[float, FloatArray]


def _rotated_quadratics(
    rng: np.random.Generator, K: int, P: int, lo: FloatArray, hi: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """K problems 0.5 (x-c)' A (x-c) + f0 in the box [lo, hi]: A = Q diag(lam) Q' with Q a
    random rotation and lam log-spaced over [1/cond, 1], cond log-uniform in [1e2, 1e8]; the
    centre c inside the box except in about half of the coordinates, where it is pushed
    outside (so that those optimum coordinates sit on a bound). Returns A (K, P, P), c (K, P),
    f0 (K,)."""
    A = np.empty((K, P, P))
    c = rng.uniform(lo, hi, size=(K, P))
    for k in range(K):
        Q = special_ortho_group.rvs(P, random_state=rng)
        A[k] = (Q * np.geomspace(1.0, 10.0 ** -rng.uniform(2.0, 8.0), P)) @ Q.T
        out = rng.choice(P, size=P // 2, replace=False)
        width = rng.uniform(0.2, 1.0, out.size) * (hi[out] - lo[out])
        c[k, out] = np.where(rng.random(out.size) < 0.5, hi[out] + width, lo[out] - width)
    return A, c, rng.uniform(0.5, 2.0, K)


def _on_bound(x: FloatArray, lo: FloatArray, hi: FloatArray, tol: float = 0.0) -> NDArray[np.bool_]:
    """Coordinates on a bound; ``tol`` > 0 (relative to 1 + |bound|) for references that may
    stop a rounding error inside it (BVLS leaves ~1e-16)."""
    near_lo = x - lo <= tol * (1.0 + np.abs(lo))
    near_hi = hi - x <= tol * (1.0 + np.abs(hi))
    return np.asarray(near_lo | near_hi, dtype=bool)


@pytest.mark.parametrize("P", [3, 5, 8])
def test_rotated_quadratics_match_scipy_and_the_exact_box_optimum(P: int) -> None:
    rng = np.random.default_rng(P)
    K = 8
    lo = rng.uniform(-3.0, 0.0, P)
    hi = lo + rng.uniform(1.0, 4.0, P)
    A, c, f0 = _rotated_quadratics(rng, K, P, lo, hi)

    def batch(x: FloatArray, rows: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        Ad = np.einsum("kp,kpq->kq", x - c[rows], A[rows])
        return 0.5 * np.einsum("kp,kp->k", x - c[rows], Ad) + f0[rows], Ad

    x0 = rng.uniform(lo, hi, size=(K, P))
    res = minimize_batch(batch, x0, lower=lo, upper=hi, max_iter=5000)
    n_bound = 0
    for k in range(K):

        def fg(x: FloatArray, k: int = k) -> Fg:
            f, g = batch(x[None, :], np.array([k]))
            return float(f[0]), g[0]

        sp = minimize(fg, x0[k], jac=True, method="L-BFGS-B", bounds=list(zip(lo, hi, strict=True)),
                      options=SCIPY_TIGHT)  # fmt: skip
        # independent exact optimum: bounded least squares 0.5 |L'(x - c)|^2 with A = L L'
        # (BVLS, Stark & Parker 1995, an active-set method that ends with the exact active set)
        w, V = np.linalg.eigh(A[k])
        Lt = np.sqrt(np.maximum(w, 0.0))[:, None] * V.T
        exact = lsq_linear(Lt, Lt @ c[k], bounds=(lo, hi), method="bvls", tol=1e-15).x
        f_exact = fg(exact)[0]
        where = f"P={P}, problem {k}"
        assert res.status[k] == CONVERGED, where
        assert res.f[k] <= sp.fun + RTOL * abs(sp.fun), where
        assert res.f[k] <= f_exact + RTOL * abs(f_exact), where
        active = _on_bound(res.x[k], lo, hi)
        assert np.array_equal(active, _on_bound(exact, lo, hi, 1e-12)), where
        if abs(sp.fun - res.f[k]) <= RTOL * abs(res.f[k]):  # scipy reached it too
            assert np.array_equal(active, _on_bound(sp.x, lo, hi, 1e-12)), where
        n_bound += int(active.any())
    assert n_bound >= K - 1  # the problems really are bound-constrained


def _rosenbrock_plus_one(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """1 + sum 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2 per row (optimal value 1, not 0)."""
    a, b = x[:, :-1], x[:, 1:]
    f = 1.0 + np.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2, axis=1)
    g = np.zeros_like(x)
    g[:, :-1] += -400.0 * a * (b - a * a) - 2.0 * (1.0 - a)
    g[:, 1:] += 200.0 * (b - a * a)
    return f, g


@pytest.mark.parametrize("P", [2, 3])
def test_bounded_rosenbrock_matches_scipy(P: int) -> None:
    """2- and 3-D Rosenbrock have one minimum; most of the random boxes cut it off."""
    rng = np.random.default_rng(P)
    n_cut = 0
    for case in range(12):
        lo = rng.uniform(-2.0, 0.8, P)
        hi = lo + rng.uniform(0.4, 3.0, P)
        x0 = rng.uniform(lo, hi)
        res = minimize_batch(lambda x, rows: _rosenbrock_plus_one(x), x0[None, :], lower=lo,
                             upper=hi, max_iter=5000)  # fmt: skip

        def fg(x: FloatArray) -> Fg:
            f, g = _rosenbrock_plus_one(x[None, :])
            return float(f[0]), g[0]

        sp = minimize(fg, x0, jac=True, method="L-BFGS-B", bounds=list(zip(lo, hi, strict=True)),
                      options=SCIPY_TIGHT)  # fmt: skip
        where = f"P={P}, case {case}: lo={lo}, hi={hi}"
        assert res.status[0] == CONVERGED, where
        assert res.f[0] <= sp.fun + RTOL * abs(sp.fun), where
        assert np.array_equal(_on_bound(res.x[0], lo, hi), _on_bound(sp.x, lo, hi, 1e-12)), where
        n_cut += int(np.any((lo > 1.0) | (hi < 1.0)))
    assert 0 < n_cut < 12  # both kinds of box occur


def test_gtol_is_relative_to_the_objective() -> None:
    """From the same point (gradient 1e-7), f0 = 1e3 meets gtol * |f| = 1e-6 at once; f0 = 1e-3
    does not (1e-12) and iterates."""

    def shifted(f0: float):  # type: ignore[no-untyped-def]
        def fun(x: FloatArray, rows: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
            return f0 + 0.5 * np.sum(x * x, axis=1), x.copy()

        return fun

    x0 = np.array([[1e-7]])
    big = minimize_batch(shifted(1e3), x0)
    small = minimize_batch(shifted(1e-3), x0)
    assert big.status[0] == CONVERGED and big.n_iter[0] == 0
    assert small.status[0] == CONVERGED and small.n_iter[0] >= 1
    assert abs(small.x[0, 0]) < 1e-7


def test_never_finite_start_is_not_converged_and_a_wrong_gradient_stalls() -> None:
    """Row 0 starts outside the domain (NaN). Row 1 is 1 + x^2 with the gradient's sign
    flipped (a law with a bug in its gradient): every step goes uphill, no step lowers f, and
    there is no quasi-Newton model yet: stalled, not converged."""

    def fun(x: FloatArray, rows: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        f = np.where(x[:, 0] > 5.0, np.nan, 1.0 + x[:, 0] ** 2)
        return f, -2.0 * x

    res = minimize_batch(fun, np.array([[6.0], [1.0]]))
    assert res.status.tolist() == [NEVER_FINITE, STALLED]
    assert not res.converged.any() and not res.at_optimum[0] and res.at_optimum[1]
    assert res.counts()["never_finite"] == 1 and res.counts()["stalled"] == 1
    assert res.n_iter[0] == 0 and res.f[1] == 2.0  # never moved


def _guarded_line_law() -> Law:
    """L = c0 + c1 x, undefined (NaN) where c0 > 10: starts there are never finite."""

    def evaluate(theta: FloatArray, X: Mapping[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
        x = np.asarray(X["x"], dtype=float)
        f = theta[:, :1] + theta[:, 1:2] * x
        f = np.where(theta[:, :1] > 10.0, np.nan, f)
        return f, np.stack([np.ones_like(f), np.broadcast_to(x, f.shape)])

    return Law(
        name="test_guarded_line",
        version="0",
        title="line",
        formula="c0 + c1 x",
        citation="test",
        variables=("x",),
        params=(Param("c0", "offset", grid=(-1.0, 1.0)), Param("c1", "slope", grid=(-1.0, 1.0))),
        evaluate=evaluate,
        space="linear",
        positive_target=False,
    )


def test_multistart_counts_every_start_once() -> None:
    law = _guarded_line_law()
    x = np.linspace(0.0, 5.0, 20)
    y = 0.3 - 1.7 * x
    prob = Problem(law=law, X={"x": x}, y=y + 0.01 * np.sin(7 * x), weights=np.ones(20),
                   objective=Objective(kind="lsq"), fixed={})  # fmt: skip
    starts = np.array([[0.0, 0.0], [1.0, -1.0], [20.0, 0.0], [30.0, 1.0], [-2.0, 3.0]])
    ms = multistart(prob, starts)
    assert ms.n_never_finite == 2
    assert ms.n_converged == 3 and ms.n_at_best == 3
    total = ms.n_converged + ms.n_stalled + ms.n_max_iter + ms.n_pruned + ms.n_never_finite
    assert total == ms.n_starts == 5
    np.testing.assert_allclose(ms.x, np.polyfit(x, prob.y, 1)[::-1], rtol=1e-9)


def _line_problem() -> Problem:
    x = np.linspace(0.0, 5.0, 20)
    y = 0.3 - 1.7 * x + 0.01 * np.sin(7 * x)
    return Problem(law=_guarded_line_law(), X={"x": x}, y=y, weights=np.ones(20),
                   objective=Objective(kind="lsq"), fixed={})  # fmt: skip


def test_bootstrap_masks_partition_the_resamples() -> None:
    prob = _line_problem()
    good = bootstrap(prob, np.array([[0.0, 0.0]]), n_boot=40, seed=3)
    assert good.counts() == {"converged": 40, "stalled": 0, "at_limit": 0, "never_finite": 0}
    assert np.all(np.isfinite(good.x)) and np.all(np.isfinite(good.f))
    # from a start outside the law's domain alone nothing runs: every resample never finite
    bad = bootstrap(prob, np.array([[20.0, 0.0]]), n_boot=40, seed=3)
    assert bad.counts() == {"converged": 0, "stalled": 0, "at_limit": 0, "never_finite": 40}
    assert np.all(np.isnan(bad.x)) and np.all(np.isinf(bad.f))
    # with a good start beside it, the good start's refit is kept
    both = bootstrap(prob, np.array([[20.0, 0.0], [0.0, 0.0]]), n_boot=40, seed=3)
    assert both.counts()["converged"] == 40
    # (a different path: the preconditioner comes from the first start, here the bad one)
    np.testing.assert_allclose(both.f, good.f, rtol=1e-12)
    np.testing.assert_allclose(both.x, good.x, rtol=1e-6)
    masks = np.stack([good.converged, good.stalled, good.at_limit, good.never_finite])
    assert np.all(masks.sum(axis=0) == 1)


def test_bootstrap_seed_sequence_equals_int_and_children_are_independent() -> None:
    prob = _line_problem()
    start = np.array([[0.0, 0.0]])
    by_int = bootstrap(prob, start, n_boot=30, seed=11)
    by_seq = bootstrap(prob, start, n_boot=30, seed=np.random.SeedSequence(11))
    assert np.array_equal(by_int.x, by_seq.x)
    child_a, child_b = np.random.SeedSequence(11).spawn(2)
    w_a = resample_weights(20, 30, seed=child_a)
    w_b = resample_weights(20, 30, seed=child_b)
    assert not np.array_equal(w_a, w_b)
    assert not np.array_equal(w_a, resample_weights(20, 30, seed=11))
    assert np.array_equal(
        w_a, resample_weights(20, 30, seed=np.random.SeedSequence(11).spawn(2)[0])
    )
