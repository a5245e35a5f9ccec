"""Golden test: the Chinchilla fit on Epoch AI's digitised data (Besiroglu et al. 2024).

Reference values (docs/DESIGN.md, "Data"): on the 240 runs with loss < 3.44 the optimum of the
Huber objective (delta = 1e-3, log space, sum over runs) is 1.0182740178e-3 at E = 1.81722,
A = 477.83, B = 2143.4, alpha = 0.347310, beta = 0.367172, from an exhaustive, tightly converged
search over the 4,500-start grid. Besiroglu et al. 2024 (arXiv:2404.10102, table 1) published
E = 1.82, A = 482.01, B = 2085.43 from a related likelihood fit.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import huber, logsumexp, softmax

from scalinglab.data import load_dataset, select_runs
from scalinglab.fit import FitResult, fit
from scalinglab.laws.base import FloatArray

GOLDEN_OBJECTIVE = 1.0182740178e-3
GOLDEN = {"E": 1.81722, "A": 477.83, "B": 2143.4, "alpha": 0.347310, "beta": 0.367172}
BESIROGLU = {"E": 1.82, "A": 482.01, "B": 2085.43}
DELTA = 1e-3


@pytest.fixture(scope="module")
def runs() -> pd.DataFrame:
    df = select_runs(load_dataset("chinchilla_epoch"), where="loss < 3.44")
    assert len(df) == 240
    return df


def _besiroglu_grid() -> FloatArray:
    """Besiroglu et al. 2024, section 2, built here independently of the package: internal
    coordinates in the order (e = log E, a = log A, b = log B, alpha, beta)."""
    exps = [0.0, 0.5, 1.0, 1.5, 2.0]
    es = [-1.0, -0.5, 0.0, 0.5, 1.0]
    scales = [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]
    rows = [
        (e, a, b, al, be) for al, be, e, a, b in itertools.product(exps, exps, es, scales, scales)
    ]
    grid = np.array(rows, dtype=float)
    assert grid.shape == (4500, 5)
    return grid


@pytest.fixture(scope="module")
def fits(runs: pd.DataFrame) -> dict[str, FitResult]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n_boot=0 warns that there are no intervals
        return {
            "besiroglu_grid": fit(runs, "chinchilla", n_boot=0, grid=_besiroglu_grid()),
            "default_grid": fit(runs, "chinchilla", n_boot=0),
        }


def _objective(theta: FloatArray, N: FloatArray, D: FloatArray, L: FloatArray) -> float:
    """The Chinchilla objective written out directly (no package code)."""
    e, a, b, alpha, beta = theta
    pred = logsumexp(
        np.stack([np.full_like(N, e), a - alpha * np.log(N), b - beta * np.log(D)]), axis=0
    )
    return float(huber(DELTA, pred - np.log(L)).sum())


def _objective_and_grad(
    theta: FloatArray, N: FloatArray, D: FloatArray, L: FloatArray
) -> tuple[float, FloatArray]:
    e, a, b, alpha, beta = theta
    lN, lD = np.log(N), np.log(D)
    terms = np.stack([np.full_like(N, e), a - alpha * lN, b - beta * lD])
    pred = logsumexp(terms, axis=0)
    w = softmax(terms, axis=0)
    r = pred - np.log(L)
    psi = np.clip(r, -DELTA, DELTA)
    grad = np.array(
        [
            np.sum(psi * w[0]),
            np.sum(psi * w[1]),
            np.sum(psi * w[2]),
            -np.sum(psi * w[1] * lN),
            -np.sum(psi * w[2] * lD),
        ]
    )
    return float(huber(DELTA, r).sum()), grad


def _arrays(runs: pd.DataFrame) -> tuple[FloatArray, FloatArray, FloatArray]:
    return (
        runs["N"].to_numpy(dtype=float),
        runs["D"].to_numpy(dtype=float),
        runs["y"].to_numpy(dtype=float),
    )


def _internal(p: dict[str, float]) -> FloatArray:
    return np.array([np.log(p["E"]), np.log(p["A"]), np.log(p["B"]), p["alpha"], p["beta"]])


@pytest.mark.parametrize("which", ["besiroglu_grid", "default_grid"])
def test_reaches_the_golden_optimum(fits: dict[str, FitResult], which: str) -> None:
    r = fits[which]
    assert r.objective <= GOLDEN_OBJECTIVE + 1e-9
    for k in ("E", "alpha", "beta"):
        assert abs(r.params[k] - GOLDEN[k]) <= 5e-4, k
    for k in ("A", "B"):
        assert r.params[k] == pytest.approx(GOLDEN[k], rel=7e-3), k
    assert r.search.starts == 4500
    assert r.n_points == 240


def test_both_grids_agree(fits: dict[str, FitResult]) -> None:
    a, b = fits["besiroglu_grid"], fits["default_grid"]
    for k, v in a.params.items():
        assert b.params[k] == pytest.approx(v, rel=1e-6)


def test_close_to_besiroglu_published(fits: dict[str, FitResult]) -> None:
    p = fits["besiroglu_grid"].params
    assert abs(p["E"] - BESIROGLU["E"]) <= 0.01
    assert p["A"] == pytest.approx(BESIROGLU["A"], rel=0.05)
    assert p["B"] == pytest.approx(BESIROGLU["B"], rel=0.05)


def test_objective_recomputed_independently(fits: dict[str, FitResult], runs: pd.DataFrame) -> None:
    N, D, L = _arrays(runs)
    for r in fits.values():
        p = r.params
        pred = p["E"] + p["A"] / N ** p["alpha"] + p["B"] / D ** p["beta"]
        direct = float(huber(DELTA, np.log(pred) - np.log(L)).sum())
        assert direct == pytest.approx(r.objective, rel=1e-10)
        assert _objective(_internal(p), N, D, L) == pytest.approx(r.objective, rel=1e-12)


def test_independent_gradient_is_consistent(runs: pd.DataFrame) -> None:
    """The test's own gradient (used for the scipy check below) against central differences."""
    N, D, L = _arrays(runs)
    theta = _internal(GOLDEN) + np.array([0.01, -0.02, 0.03, 0.001, -0.002])
    _, g = _objective_and_grad(theta, N, D, L)
    fd = np.empty(5)
    for i in range(5):
        h = 1e-7 * max(1.0, abs(theta[i]))
        tp, tm = theta.copy(), theta.copy()
        tp[i] += h
        tm[i] -= h
        fd[i] = (_objective(tp, N, D, L) - _objective(tm, N, D, L)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-9 * np.abs(g).max())


def test_scipy_cannot_improve_the_engine_optimum(
    fits: dict[str, FitResult], runs: pd.DataFrame
) -> None:
    N, D, L = _arrays(runs)
    r = fits["besiroglu_grid"]
    x0 = _internal(r.params)
    # from the optimum itself, and from a nearby point (so that scipy really iterates)
    for start in (x0, x0 + 0.05):
        res = minimize(
            _objective_and_grad,
            start,
            args=(N, D, L),
            method="L-BFGS-B",
            jac=True,
            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 10000},
        )
        assert res.fun >= r.objective - 1e-12


def test_bootstrap_intervals(runs: pd.DataFrame) -> None:
    r = fit(runs, "chinchilla", n_boot=200, seed=0)
    assert r.bootstrap.converged >= 190
    lo, hi = r.intervals["alpha"]
    assert abs(lo - 0.319) <= 0.01 and abs(hi - 0.370) <= 0.01
    lo, hi = r.intervals["E"]
    assert abs(lo - 1.770) <= 0.01 and abs(hi - 1.867) <= 0.01
    for k, (lo, hi) in r.intervals.items():
        assert lo <= r.params[k] <= hi, k
    # the bootstrap is seeded: the same seed gives the same draws
    again = fit(runs, "chinchilla", n_boot=200, seed=0)
    assert np.array_equal(np.array(r.bootstrap.draws), np.array(again.bootstrap.draws))
