"""The batched optimiser, the multi-start engine, invariances of `fit`, results and planning."""

from __future__ import annotations

import dataclasses
import itertools
import math
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest
from numpy.typing import NDArray

from scalinglab.data import load_dataset, select_runs
from scalinglab.errors import ExtrapolationWarning, IdentifiabilityWarning
from scalinglab.fit import FitResult, Objective, fit
from scalinglab.fit.bootstrap import CHUNK
from scalinglab.fit.engine import Problem, hessian, multistart
from scalinglab.fit.lbfgs import CONVERGED, MAXITER, NEVER_FINITE, STALLED, minimize_batch
from scalinglab.laws import Law, Param, get_law
from scalinglab.laws.base import FloatArray
from scalinglab.plan.compute_optimal import compute_optimal
from scalinglab.trust import predict

HOFFMANN = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


# ----- minimize_batch on problems with a known optimum -----


def _quadratic(centres: FloatArray, curv: FloatArray):  # type: ignore[no-untyped-def]
    """Row k: 0.5 * sum_j curv_j (x_j - centres[k, j])^2 (diagonal, so the box optimum is the
    clipped centre)."""

    def fun(x: FloatArray, rows: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        d = x - centres[rows]
        return 0.5 * np.sum(curv * d * d, axis=1), curv * d

    return fun


def _rosenbrock(x: FloatArray, rows: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
    a, b = x[:, :-1], x[:, 1:]
    f = np.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2, axis=1)
    g = np.zeros_like(x)
    g[:, :-1] += -400.0 * a * (b - a * a) - 2.0 * (1.0 - a)
    g[:, 1:] += 200.0 * (b - a * a)
    return f, g


def test_minimize_batch_quadratic_reaches_each_rows_optimum() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=5.0, size=(12, 4))
    curv = np.array([1.0, 10.0, 100.0, 1e3])
    x0 = rng.normal(size=(12, 4))
    res = minimize_batch(_quadratic(centres, curv), x0)
    assert np.all(res.status == CONVERGED)
    np.testing.assert_allclose(res.x, centres, atol=1e-8)
    assert np.all(res.f <= 1e-14)


def test_minimize_batch_rosenbrock_batch() -> None:
    starts = np.array(
        [[-1.2, 1.0, -1.2, 1.0], [0.0, 0.0, 0.0, 0.0], [2.0, -1.0, 0.5, 3.0], [1.5, 1.5, 1.5, 1.5]]
    )
    res = minimize_batch(_rosenbrock, starts, max_iter=5000)
    # the optimal value is exactly 0, where the tests relative to |f| cannot hold: rows end
    # stalled at the optimum (f ~ 1e-30), which is reported apart from converged (the row
    # that lands on f = 0 exactly meets the gradient test, 0 <= 0)
    assert set(res.status.tolist()) <= {CONVERGED, STALLED} and np.all(res.at_optimum)
    assert np.all(res.stalled[(res.f > 0.0) & (res.f < 1e-20)])
    # 4-D Rosenbrock has a second local minimum near (-0.78, 0.61, 0.82, 0.67) (f ~ 3.70):
    # a start may land there; every row must reach one of the two.
    for x, f in zip(res.x, res.f, strict=True):
        if f < 1.0:
            np.testing.assert_allclose(x, np.ones(4), atol=1e-6)
        else:
            assert f == pytest.approx(3.7014, abs=1e-3)
    assert np.min(res.f) <= 1e-14
    np.testing.assert_allclose(res.x[0], np.ones(4), atol=1e-6)


def test_minimize_batch_bounds_respected_and_optimum_on_bound() -> None:
    centres = np.array([[2.0, -3.0, 0.5], [-5.0, 5.0, 0.0], [0.2, 0.3, 0.4]])
    curv = np.array([1.0, 4.0, 9.0])
    lo, hi = np.array([-1.0, -1.0, -1.0]), np.array([1.0, 1.0, 1.0])
    seen: list[FloatArray] = []
    inner = _quadratic(centres, curv)

    def fun(x: FloatArray, rows: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        seen.append(x.copy())
        return inner(x, rows)

    x0 = np.array([[0.0, 0.0, 0.0], [3.0, -3.0, 0.9], [0.9, -0.9, 0.0]])  # row 1 starts outside
    res = minimize_batch(fun, x0, lower=lo, upper=hi)
    for x in seen:  # the objective is never called outside the box
        assert np.all(x >= lo) and np.all(x <= hi)
    np.testing.assert_allclose(res.x, np.clip(centres, lo, hi), atol=1e-9)
    # on a bound the stop is exact: the point sits on the bound, not near it
    assert res.x[0, 0] == 1.0 and res.x[0, 1] == -1.0
    assert res.x[1, 0] == -1.0 and res.x[1, 1] == 1.0
    assert np.all(res.converged)


def test_minimize_batch_non_finite_start_and_max_iter() -> None:
    def fun(x: FloatArray, rows: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        f, g = _rosenbrock(x, rows)
        f = np.where(x[:, 0] > 10.0, np.inf, f)  # outside the domain
        return f, g

    starts = np.array([[20.0, 1.0], [-1.2, 1.0]])
    res = minimize_batch(fun, starts, max_iter=3)
    assert res.status[0] == NEVER_FINITE and not np.isfinite(res.f[0])
    assert not res.converged[0] and not res.at_optimum[0] and res.never_finite[0]
    assert res.status[1] == MAXITER and res.n_iter[1] == 3
    assert np.array_equal(res.x[0], starts[0])
    assert res.counts() == {
        "converged": 0,
        "stalled": 0,
        "max_iter": 1,
        "pruned": 0,
        "never_finite": 1,
    }


# ----- the engine on a problem whose Hessian is known -----


def _line_law() -> Law:
    """L = c0 + c1 x, fitted in linear space (least squares then has a closed form)."""

    def evaluate(theta: FloatArray, X: Mapping[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
        x = np.asarray(X["x"], dtype=float)
        f = theta[:, :1] + theta[:, 1:2] * x
        return f, np.stack([np.ones_like(f), np.broadcast_to(x, f.shape)])

    return Law(
        name="test_line",
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


def test_multistart_and_hessian_on_weighted_least_squares() -> None:
    law = _line_law()
    rng = np.random.default_rng(1)
    x = np.linspace(0.0, 5.0, 25)
    y = 0.3 - 1.7 * x + rng.normal(scale=0.1, size=25)
    w = rng.uniform(0.5, 2.0, size=25)
    prob = Problem(law=law, X={"x": x}, y=y, weights=w, objective=Objective(kind="lsq"), fixed={})
    ms = multistart(prob, law.start_grid())
    M = np.stack([np.ones_like(x), x], axis=1)
    H_exact = M.T @ (w[:, None] * M)
    coef = np.linalg.solve(H_exact, M.T @ (w * y))
    np.testing.assert_allclose(ms.x, coef, rtol=1e-9)
    assert ms.n_starts == 4 and ms.n_converged == 4 and ms.n_at_best == 4
    assert ms.n_stalled == ms.n_pruned == ms.n_max_iter == ms.n_never_finite == 0
    np.testing.assert_allclose(hessian(prob, ms.x), H_exact, rtol=1e-6)


# ----- fit() on the Chinchilla data -----


@pytest.fixture(scope="module")
def chinchilla_runs() -> pd.DataFrame:
    return select_runs(load_dataset("chinchilla_epoch"), where="loss < 3.44")


@pytest.fixture(scope="module")
def besiroglu_grid() -> FloatArray:
    e = (-1.0, -0.5, 0.0, 0.5, 1.0)
    ab = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0)
    ex = (0.0, 0.5, 1.0, 1.5, 2.0)
    return np.array(list(itertools.product(e, ab, ab, ex, ex)), dtype=float)


@pytest.fixture(scope="module")
def base_fit(chinchilla_runs: pd.DataFrame, besiroglu_grid: FloatArray) -> FitResult:
    return fit(chinchilla_runs, "chinchilla", n_boot=0, grid=besiroglu_grid)


def _quiet_fit(*args, **kwargs) -> FitResult:  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(*args, **kwargs)


def test_workers_do_not_change_results(chinchilla_runs: pd.DataFrame) -> None:
    # more resamples than one chunk of the bootstrap, so two workers really split the work
    n_boot = CHUNK + 20
    one = fit(chinchilla_runs, "chinchilla", n_boot=n_boot, seed=5, workers=1)
    two = fit(chinchilla_runs, "chinchilla", n_boot=n_boot, seed=5, workers=2)
    assert one.params == two.params
    d1, d2 = np.array(one.bootstrap.draws), np.array(two.bootstrap.draws)
    assert d1.shape == (n_boot, 5)
    assert np.array_equal(d1, d2)
    assert one.intervals == two.intervals


def test_grid_row_order_does_not_matter(
    chinchilla_runs: pd.DataFrame, besiroglu_grid: FloatArray, base_fit: FitResult
) -> None:
    perm = np.random.default_rng(0).permutation(besiroglu_grid.shape[0])
    shuffled = fit(chinchilla_runs, "chinchilla", n_boot=0, grid=besiroglu_grid[perm])
    for k, v in base_fit.params.items():
        assert shuffled.params[k] == pytest.approx(v, rel=1e-10)
    assert shuffled.objective == pytest.approx(base_fit.objective, rel=1e-12)


def test_duplicated_runs_equal_weight_two(chinchilla_runs: pd.DataFrame) -> None:
    doubled = pd.concat([chinchilla_runs, chinchilla_runs], ignore_index=True)
    a = _quiet_fit(doubled, "chinchilla", n_boot=0)
    b = _quiet_fit(chinchilla_runs, "chinchilla", n_boot=0, weights=[2.0] * len(chinchilla_runs))
    for k, v in a.params.items():
        assert b.params[k] == pytest.approx(v, rel=1e-8)
    assert a.objective == pytest.approx(b.objective, rel=1e-12)


def test_weights_column_equals_weight_list(chinchilla_runs: pd.DataFrame) -> None:
    rng = np.random.default_rng(2)
    w = rng.uniform(0.5, 2.0, len(chinchilla_runs))
    frame = chinchilla_runs.assign(w=w)
    a = _quiet_fit(frame, "chinchilla", n_boot=0, weights="w")
    b = _quiet_fit(chinchilla_runs, "chinchilla", n_boot=0, weights=list(w))
    assert a.params == b.params
    assert list(a.data["weight"]) == list(w)


def test_zero_weight_equals_dropping_the_run(chinchilla_runs: pd.DataFrame) -> None:
    w = np.ones(len(chinchilla_runs))
    w[:40] = 0.0
    a = _quiet_fit(chinchilla_runs, "chinchilla", n_boot=0, weights=list(w))
    b = _quiet_fit(chinchilla_runs.iloc[40:], "chinchilla", n_boot=0)
    for k, v in a.params.items():
        assert b.params[k] == pytest.approx(v, rel=1e-7)


def test_scaling_the_target_scales_E_A_B_only(
    chinchilla_runs: pd.DataFrame, besiroglu_grid: FloatArray, base_fit: FitResult
) -> None:
    scaled = chinchilla_runs.assign(y=chinchilla_runs["y"] * 2.0)
    # the grid moves with the data (log 2 on e, a, b) so the search is the same problem
    grid = besiroglu_grid + np.array([math.log(2.0)] * 3 + [0.0, 0.0])
    r = fit(scaled, "chinchilla", n_boot=0, grid=grid)
    for k in ("E", "A", "B"):
        assert r.params[k] == pytest.approx(2.0 * base_fit.params[k], rel=1e-7)
    for k in ("alpha", "beta"):
        assert r.params[k] == pytest.approx(base_fit.params[k], rel=1e-7)
    # log-space residuals do not change, so neither does the objective
    assert r.objective == pytest.approx(base_fit.objective, rel=1e-9)
    # and with the law's own (fixed) grid the optimum is found too
    r2 = fit(scaled, "chinchilla", n_boot=0)
    for k in ("alpha", "beta"):
        assert r2.params[k] == pytest.approx(base_fit.params[k], rel=1e-6)


def test_fixing_a_parameter_keeps_it_exactly(chinchilla_runs: pd.DataFrame) -> None:
    r = _quiet_fit(chinchilla_runs, "chinchilla", n_boot=50, seed=1, fix={"alpha": 0.34})
    assert r.params["alpha"] == 0.34
    assert r.intervals["alpha"] == (0.34, 0.34)
    assert r.fixed == {"alpha": 0.34}
    draws = np.array(r.bootstrap.draws)
    assert np.all(draws[:, 3] == 0.34)
    assert set(r.search.spread) == {"E", "A", "B", "beta"}
    free = _quiet_fit(chinchilla_runs, "chinchilla", n_boot=0)
    assert r.objective >= free.objective  # a constraint can only cost
    if r.covariance is not None:
        assert np.array(r.covariance).shape == (4, 4)


def test_fixing_a_log_parameter(chinchilla_runs: pd.DataFrame) -> None:
    r = _quiet_fit(chinchilla_runs, "chinchilla", n_boot=0, fix={"E": 1.8, "beta": 0.37})
    assert r.params["E"] == pytest.approx(1.8, rel=1e-15)
    assert r.params["beta"] == 0.37
    assert r.intervals["E"] == (1.8, 1.8)


def test_optimum_on_a_bound_warns() -> None:
    """Data rising with x (alpha = -1.5) while alpha is bounded below by -1."""
    x = np.geomspace(1.0, 1e3, 15)
    df = pd.DataFrame({"x": x, "y": 1.0 + 0.1 * x**1.5})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = fit(df, "power_law", n_boot=20)
    assert any(
        issubclass(w.category, IdentifiabilityWarning)
        and "alpha sits at its lower bound" in str(w.message)
        for w in caught
    )
    assert r.params["alpha"] == -1.0
    assert any("alpha sits at its lower bound" in w for w in r.warnings)


def test_well_posed_fit_has_no_bound_warning(base_fit: FitResult) -> None:
    assert not any("bound" in w for w in base_fit.warnings)
    assert base_fit.search.starts == 4500
    assert base_fit.search.starts_at_best >= 2


# ----- FitResult -----


@pytest.fixture(scope="module")
def boot_fit(chinchilla_runs: pd.DataFrame) -> FitResult:
    return fit(chinchilla_runs, "chinchilla", n_boot=60, seed=4)


def test_fit_result_json_round_trip(boot_fit: FitResult, tmp_path) -> None:  # type: ignore[no-untyped-def]
    back = FitResult.from_json(boot_fit.to_json())
    assert back == boot_fit
    assert back.to_json() == boot_fit.to_json()
    path = tmp_path / "fit.json"
    boot_fit.save(path)
    assert FitResult.load(path) == boot_fit
    assert isinstance(back.intervals["E"], tuple)
    assert np.array_equal(back.draws(), boot_fit.draws())


def test_fit_result_records_inputs(boot_fit: FitResult, chinchilla_runs: pd.DataFrame) -> None:
    assert boot_fit.law == "chinchilla" and boot_fit.n_points == 240
    assert list(boot_fit.data["y"]) == chinchilla_runs["y"].tolist()
    assert list(boot_fit.data["run_id"]) == chinchilla_runs["run_id"].astype(str).tolist()
    assert boot_fit.bootstrap.n == 60 and boot_fit.bootstrap.seed == 4
    assert boot_fit.draws().shape == (60, 5)
    assert boot_fit.level == 0.95
    for k, (lo, hi) in boot_fit.intervals.items():
        assert lo <= hi
        assert np.isfinite(lo) and np.isfinite(hi), k
    assert "E =" in boot_fit.report()


def test_fit_does_not_modify_its_input(chinchilla_runs: pd.DataFrame) -> None:
    before = chinchilla_runs.copy()
    _quiet_fit(chinchilla_runs, "chinchilla", n_boot=0, weights=[1.0] * 240)
    pd.testing.assert_frame_equal(chinchilla_runs, before)


def test_fit_result_round_trip_without_bootstrap(base_fit: FitResult) -> None:
    back = FitResult.from_json(base_fit.to_json())
    assert back.params == base_fit.params
    assert all(math.isnan(lo) and math.isnan(hi) for lo, hi in back.intervals.values())


# ----- predict -----


def test_predict_value_inside_interval(boot_fit: FitResult) -> None:
    pts = pd.DataFrame({"N": [1e8, 1e9, 1e10], "D": [2e9, 2e10, 2e11]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about inside the data's range
        out = predict(boot_fit, pts)
    assert list(out.columns) == ["N", "D", "value", "low", "high", "extrapolation"]
    assert np.all(out["low"] <= out["value"]) and np.all(out["value"] <= out["high"])
    assert np.all(out["extrapolation"] == 1.0)
    p = boot_fit.params
    expect = p["E"] + p["A"] / pts["N"] ** p["alpha"] + p["B"] / pts["D"] ** p["beta"]
    np.testing.assert_allclose(out["value"], expect, rtol=1e-12)
    # a mapping of scalars works too, and a narrower level gives a narrower interval
    one = predict(boot_fit, {"N": 1e9, "D": 2e10}, level=0.5)
    assert one["low"][0] >= out["low"][1] and one["high"][0] <= out["high"][1]


def test_predict_interval_kinds(boot_fit: FitResult) -> None:
    pts = {"N": [1e8, 1e10, 7e10], "D": [2e9, 2e11, 1.4e12]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        out = {
            k: predict(boot_fit, pts, interval=k) for k in ("bootstrap", "predictive", "calibrated")
        }
    for kind, table in out.items():
        assert np.all(table["low"] <= table["value"]), kind
        assert np.all(table["value"] <= table["high"]), kind
        np.testing.assert_array_equal(table["value"], out["bootstrap"]["value"])
    # the calibrated interval widens the predictive one by a factor >= 1 (same draws)
    assert np.all(out["calibrated"]["low"] <= out["predictive"]["low"])
    assert np.all(out["calibrated"]["high"] >= out["predictive"]["high"])


def test_predict_far_out_warns_extrapolation(boot_fit: FitResult) -> None:
    with pytest.warns(ExtrapolationWarning, match=r"outside the fitted range \(beyond the largest"):
        out = predict(boot_fit, {"N": [7e10, 1e13], "D": [1.4e12, 1e15]})
    assert out["extrapolation"][1] > 10
    assert np.all(out["low"] <= out["value"]) and np.all(out["value"] <= out["high"])


def test_predict_without_bootstrap_gives_nan_interval(base_fit: FitResult) -> None:
    out = predict(base_fit, {"N": [1e9], "D": [2e10]})
    assert np.isnan(out["low"][0]) and np.isnan(out["high"][0])
    assert np.isfinite(out["value"][0])


# ----- compute-optimal allocation -----


def _with_params(r: FitResult, params: Mapping[str, float]) -> FitResult:
    no_draws = dataclasses.replace(r.bootstrap, draws=np.empty((0, len(r.params))))
    return dataclasses.replace(r, params=dict(params), bootstrap=no_draws)


@pytest.mark.parametrize("C", [1e21, 1e23, 1e25])
def test_compute_optimal_minimises_loss_on_the_budget(base_fit: FitResult, C: float) -> None:
    r = _with_params(base_fit, HOFFMANN)
    alloc = compute_optimal(r, C)
    N, D = alloc.N.value, alloc.D.value
    assert 6.0 * N * D == pytest.approx(C, rel=1e-12)
    assert alloc.tokens_per_param.value == pytest.approx(D / N, rel=1e-12)
    p = HOFFMANN

    def loss(n: FloatArray) -> FloatArray:
        d = C / (6.0 * n)
        return p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]

    # brute force along 6ND = C: log-spaced N over 10 decades around the budget's sqrt
    ns = np.geomspace(math.sqrt(C / 6.0) * 1e-5, math.sqrt(C / 6.0) * 1e5, 200_001)
    Ls = loss(ns)
    i = int(np.argmin(Ls))
    step = math.log(ns[1] / ns[0])
    assert abs(math.log(N / ns[i])) <= 2 * step
    assert alloc.loss.value == pytest.approx(float(loss(np.array([N]))[0]), rel=1e-12)
    assert alloc.loss.value <= Ls[i] + 1e-12
    assert math.isnan(alloc.N.low)  # no draws: no interval


def test_compute_optimal_interval_from_draws(boot_fit: FitResult) -> None:
    alloc = compute_optimal(boot_fit, 1e23)
    for est in (alloc.N, alloc.D, alloc.tokens_per_param, alloc.loss):
        assert est.low <= est.value <= est.high
    assert alloc.as_dict()["compute"] == 1e23


def test_law_round_trip_internal_natural() -> None:
    law = get_law("chinchilla")
    th = law.to_internal(HOFFMANN)
    np.testing.assert_allclose(law.to_natural(th), [HOFFMANN[k] for k in law.param_names])
    lo, hi = law.bounds()
    assert lo[0] == -math.inf and hi[3] == 5.0
