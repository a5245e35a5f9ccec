"""The batched Levenberg-Marquardt solver against scipy on planted problems: bounded,
ill-conditioned linear least squares (exact box optimum from BVLS), a curved valley, Huber
fits of a planted power law with outliers (scipy's least_squares from the same starts), and
its statuses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.typing import NDArray
from scipy.optimize import least_squares, lsq_linear

from scalinglab.fit import Objective
from scalinglab.fit.engine import Problem
from scalinglab.fit.lbfgs import CONVERGED, NEVER_FINITE
from scalinglab.fit.lsq import minimize_lsq
from scalinglab.fit.variables import law_variables
from scalinglab.laws.base import FloatArray
from scalinglab.laws.registry import get_law

LSQ = Objective(kind="lsq")
RTOL = 1e-9  # "no worse than scipy": f <= f_scipy (1 + RTOL)


def _linear_problems(
    rng: np.random.Generator, K: int, n: int, P: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """K problems min 0.5 |A x - b|^2 in a box: A with singular values log-spaced over
    [1e-6, 1] (condition number 1e6), b drawn so that about half of the unconstrained optimum
    lies outside the box. Returns A (K, n, P), b (K, n), lo (P,), hi (P,)."""
    lo, hi = -np.ones(P), np.ones(P)
    A = np.empty((K, n, P))
    b = np.empty((K, n))
    for k in range(K):
        U, _ = np.linalg.qr(rng.normal(size=(n, P)))
        V, _ = np.linalg.qr(rng.normal(size=(P, P)))
        A[k] = (U * np.geomspace(1.0, 1e-6, P)) @ V.T
        x_true = rng.uniform(-2.0, 2.0, P)
        b[k] = A[k] @ x_true + 1e-3 * rng.normal(size=n)
    return A, b, lo, hi


def test_bounded_ill_conditioned_linear_least_squares_reach_the_exact_box_optimum() -> None:
    rng = np.random.default_rng(3)
    K, n, P = 6, 30, 5
    A, b, lo, hi = _linear_problems(rng, K, n, P)

    def fun(x: FloatArray, rows: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        return np.einsum("anp,ap->an", A[rows], x) - b[rows], A[rows]

    res = minimize_lsq(fun, np.zeros((K, P)), weights=np.ones(n), objective=LSQ, lower=lo, upper=hi)
    for k in range(K):
        exact = lsq_linear(A[k], b[k], bounds=(lo, hi), method="bvls", tol=1e-15)
        f_exact = 0.5 * float(np.sum((A[k] @ exact.x - b[k]) ** 2))
        assert res.f[k] <= f_exact * (1 + RTOL) + 1e-300
        assert res.status[k] == CONVERGED
        # the active set is the exact one
        np.testing.assert_array_equal(res.x[k] <= lo, exact.x <= lo + 1e-12)
        np.testing.assert_array_equal(res.x[k] >= hi, exact.x >= hi - 1e-12)


def test_curved_valley_is_followed_to_its_minimum() -> None:
    """Rosenbrock's valley as residuals (10 (x2 - x1^2), 1 - x1), from the usual start and
    others; the minimum is 0 at (1, 1): ``f_floor`` marks it reached."""
    x0 = np.array([[-1.2, 1.0], [-1.5, 2.0], [2.0, -1.0], [0.0, 0.0]])

    def fun(x: FloatArray, rows: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        r = np.stack([10.0 * (x[:, 1] - x[:, 0] ** 2), 1.0 - x[:, 0]], axis=1)
        J = np.zeros((x.shape[0], 2, 2))
        J[:, 0, 0], J[:, 0, 1], J[:, 1, 0] = -20.0 * x[:, 0], 10.0, -1.0
        return r, J

    res = minimize_lsq(fun, x0, weights=np.ones(2), objective=LSQ, f_floor=1e-28)
    np.testing.assert_allclose(res.x, 1.0, atol=1e-10)
    assert np.all(res.status == CONVERGED)
    assert res.n_iter.max() < 100


def _power_law_problem(seed: int) -> Problem:
    """E + A x^-alpha (E = 1.7, A = 40, alpha = 0.45) on 25 points with 1% noise and three
    outliers (x1.3), fitted with the default Huber objective."""
    rng = np.random.default_rng(seed)
    x = np.geomspace(1e2, 1e6, 25)
    y = (1.7 + 40.0 * x**-0.45) * np.exp(0.01 * rng.normal(size=x.size))
    y[[3, 11, 20]] *= 1.3
    law = get_law("power_law")
    frame = pd.DataFrame({"x": x, "y": y})
    X = law_variables(frame, law, "test")
    return Problem(law, X, y, np.ones(x.size), Objective(), {})


@pytest.mark.parametrize("seed", [0, 1])
def test_huber_power_law_no_worse_than_scipy_least_squares_from_the_same_starts(
    seed: int,
) -> None:
    problem = _power_law_problem(seed)
    lo, hi = problem.bounds()
    starts = problem.law.start_grid(problem.X, problem.y)[::5]
    res = minimize_lsq(
        problem.batch_residuals(),
        starts,
        weights=problem.weights,
        objective=problem.objective,
        lower=lo,
        upper=hi,
    )
    fun = problem.batch_residuals()
    one = np.arange(1)
    best_scipy = np.inf
    for x0 in starts:
        r = least_squares(
            lambda x: fun(x[None, :], one)[0][0],
            np.clip(x0, lo, hi),
            jac=lambda x: fun(x[None, :], one)[1][0],
            bounds=(lo, hi),
            loss="huber",
            f_scale=1e-3,
            ftol=1e-14,
            xtol=1e-14,
            gtol=1e-14,
            max_nfev=2000,
        )
        best_scipy = min(best_scipy, float(r.cost))
    assert float(np.min(res.f)) <= best_scipy * (1 + RTOL)
    # the planted exponent is recovered
    assert problem.law.to_natural(res.x[np.argmin(res.f)])[2] == pytest.approx(0.45, abs=0.05)


def test_a_start_outside_the_domain_never_runs_and_the_others_do() -> None:
    def fun(x: FloatArray, rows: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        with np.errstate(invalid="ignore"):
            r = np.stack([np.sqrt(x[:, 0]) - 2.0, x[:, 1] - 1.0], axis=1)
        J = np.zeros((x.shape[0], 2, 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            J[:, 0, 0] = 0.5 / np.sqrt(x[:, 0])
        J[:, 1, 1] = 1.0
        return r, J

    res = minimize_lsq(
        fun,
        np.array([[-1.0, 0.0], [1.0, 0.0]]),
        weights=np.ones(2),
        objective=LSQ,
        f_floor=1e-28,
    )
    assert res.status[0] == NEVER_FINITE
    assert res.status[1] == CONVERGED
    np.testing.assert_allclose(res.x[1], [4.0, 1.0], atol=1e-10)


def test_zero_weight_points_are_ignored_even_when_not_finite() -> None:
    """Padding of short curves: a point with weight 0 and a NaN residual changes nothing."""
    t = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([1.0, 3.0, 5.0, 7.5])

    def fun(x: FloatArray, rows: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        r = x[:, :1] + x[:, 1:] * t - y
        r[:, 3] = np.nan
        return r, np.broadcast_to(np.stack([np.ones(4), t], axis=1), (x.shape[0], 4, 2)).copy()

    res = minimize_lsq(fun, np.zeros((1, 2)), weights=np.array([1.0, 1.0, 1.0, 0.0]), objective=LSQ)
    np.testing.assert_allclose(res.x[0], [1.0, 2.0], atol=1e-10)
