"""The `bnsl` law (Caballero et al. 2022, eq. 1, one break):
y = a + b x^(-c0) (1 + (x/d1)^(1/f1))^(-c1 f1)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from law_checks import (
    SETTINGS,
    assert_sane,
    coverage,
    max_log_error,
    planted,
    quiet_fit,
)

from scalinglab.errors import FitError
from scalinglab.fit import fit
from scalinglab.laws.bnsl import LAW

X = {"x": np.geomspace(1e2, 1e8, 40)}
SIGMA = 0.005
# a shallow segment, a break at 1e5, then a steeper one down to the limit
TRUTH = {"a": 0.5, "b": 20.0, "c0": 0.05, "c1": 0.6, "d1": 1e5, "f1": 0.3}

# Caballero et al. 2022, figure 4 (left) / their released script: 4-digit addition, test
# cross-entropy against training-set size; the first 14 points are fitted, the last 3 held out.
ADD_X = np.array(
    [160, 192, 256, 320, 384, 448, 480, 512, 544, 576, 608, 640, 672, 736, 800, 864, 928.0]
)
ADD_Y = np.array(
    [2.13809046, 2.11813418, 2.08955508, 2.06988398, 2.05404987, 2.03837089, 2.02814281,
     2.00496872, 1.95576149, 1.86313841, 1.70891537, 1.50637664, 1.29754721, 0.96559684,
     0.75856477, 0.64768338, 0.55695445]
)  # fmt: skip


def _plain(v: dict[str, float], x: np.ndarray) -> np.ndarray:
    return v["a"] + v["b"] * x ** (-v["c0"]) * (1 + (x / v["d1"]) ** (1 / v["f1"])) ** (
        -v["c1"] * v["f1"]
    )


def _random_theta(rng: np.random.Generator, S: int) -> np.ndarray:
    return np.column_stack(
        [
            rng.uniform(-4, 0.5, S),
            rng.uniform(0, 4, S),
            rng.uniform(-0.3, 1.0, S),
            rng.choice([-1.0, 1.0], S) * rng.uniform(0.2, 2.0, S),
            rng.uniform(2.0, 16.0, S),
            rng.uniform(-1.5, 1.0, S),
        ]
    )


def _assert_jacobian(theta: np.ndarray, Xr: dict[str, np.ndarray]) -> None:
    """Analytic Jacobian against central differences, relative to the largest derivative of
    each row over all parameters: at a random point some parameter barely matters (a limit a
    far below the curve, a break far outside the data), and its tiny derivative cannot be
    resolved by differences of f relative to itself."""
    f, J = LAW.evaluate(theta, Xr)
    Js = np.stack([np.broadcast_to(j, f.shape) for j in J])
    assert np.all(np.isfinite(f)) and np.all(np.isfinite(Js))
    scale = np.max(np.abs(Js), axis=(0, 2))[:, None] + 1e-300
    for p in range(theta.shape[1]):
        h = 1e-6 * np.maximum(1e-2, np.abs(theta[:, p]))
        up, dn = theta.copy(), theta.copy()
        up[:, p] += h
        dn[:, p] -= h
        fd = (LAW.evaluate(up, Xr)[0] - LAW.evaluate(dn, Xr)[0]) / (2 * h[:, None])
        err = float(np.max(np.abs(Js[p] - fd) / scale))
        assert err < 1e-7, (LAW.param_names[p], err)


def test_value_matches_plain_formula() -> None:
    """No one-break parameter set is published (the paper's figure 1 has three breaks): the
    formula itself, computed plainly."""
    assert LAW.published == {}
    rng = np.random.default_rng(3)
    theta = _random_theta(rng, 4)
    x = np.geomspace(1.0, 1e9, 25)
    got = LAW.predict(theta, {"x": x})
    for s in range(4):
        v = dict(zip(LAW.param_names, LAW.to_natural(theta[s]), strict=True))
        np.testing.assert_allclose(got[s], _plain(v, x), rtol=1e-12)


def test_segments_have_the_published_slopes() -> None:
    """Far below the break the log-log slope is -c0, far above it -(c0 + c1) (a = 0)."""
    v = {**TRUTH, "a": 0.0}
    x = np.array([1e0, 1e0 * 1.001, 1e10, 1e10 * 1.001])
    y = LAW.predict(LAW.to_internal({**v, "a": 1e-300}), {"x": x})[0]
    lo, hi = np.diff(np.log(y))[[0, 2]] / np.log(1.001)
    assert lo == pytest.approx(-0.05, abs=1e-3)
    assert hi == pytest.approx(-0.65, abs=1e-3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jacobian_matches_central_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    Xr = {"x": np.exp(rng.uniform(0, 18, 30))}
    _assert_jacobian(_random_theta(rng, 6), Xr)


def test_extrapolates_four_digit_addition() -> None:
    """The paper's sharp-break example: fitted on 14 points, the 3 held-out ones are predicted
    with RMSE(log) ~0.011 (a power law with offset misses them by a factor ~2.7)."""
    train = pd.DataFrame({"x": ADD_X[:14], "y": ADD_Y[:14]})
    r = quiet_fit(train, "bnsl", n_boot=0)
    pred = LAW.predict(r.theta(), {"x": ADD_X[14:]})[0]
    rmse = float(np.sqrt(np.mean((np.log(pred) - np.log(ADD_Y[14:])) ** 2)))
    assert rmse < 0.03
    r_pl = quiet_fit(train, "power_law", n_boot=0)
    pl = r_pl.law_obj().predict(r_pl.theta(), {"x": ADD_X[14:]})[0]
    assert float(np.sqrt(np.mean((np.log(pl) - np.log(ADD_Y[14:])) ** 2))) > 0.5


def test_planted_parameters_are_recovered_one_seed() -> None:
    """The fast companion of the property test below: the reference curve, truth inside every
    95% interval."""
    r = quiet_fit(planted("bnsl", TRUTH, X, SIGMA, 11), "bnsl", n_boot=100, seed=11)
    assert_sane(r)
    assert abs(r.params["c1"] - TRUTH["c1"]) < 0.1
    assert abs(np.log(r.params["d1"] / TRUTH["d1"])) < 0.3
    assert max_log_error("bnsl", r, TRUTH, X) < 0.015
    for k, (lo, hi) in r.intervals.items():
        assert lo <= TRUTH[k] <= hi, k


@pytest.mark.slow  # 5 fits of ~1 s each
@SETTINGS
@given(
    c1=st.floats(0.3, 1.0),
    log10_d1=st.floats(4.0, 6.0),
    f1=st.floats(0.2, 1.0),
    seed=st.integers(0, 10_000),
)
def test_planted_parameters_are_recovered(c1: float, log10_d1: float, f1: float, seed: int) -> None:
    """40 points over six decades at 0.5% noise, the break inside. Bootstrap 95% half-widths
    run ~0.01 (c1), ~3% (d1), ~0.03 (f1, larger for gentle breaks); tolerances are a few of
    them, and the fitted curve stays within 3 sigma of the true one over the data."""
    truth = {**TRUTH, "c1": c1, "d1": 10.0**log10_d1, "f1": f1}
    r = quiet_fit(planted("bnsl", truth, X, SIGMA, seed), "bnsl", n_boot=100, seed=seed)
    assert_sane(r)
    assert abs(r.params["c1"] - c1) < 0.1
    assert abs(np.log(r.params["d1"] / truth["d1"])) < 0.3
    assert abs(r.params["c0"] - TRUTH["c0"]) < 0.02
    assert max_log_error("bnsl", r, truth, X) < 0.015


@pytest.mark.slow
def test_truth_inside_interval_for_most_seeds() -> None:
    inside = coverage("bnsl", TRUTH, X, SIGMA)
    assert all(n >= 8 for n in inside.values()), inside


def test_missing_x_column_is_named() -> None:
    frame = pd.DataFrame({"N": np.geomspace(1e6, 1e9, 8), "y": np.linspace(3, 2, 8)})
    with pytest.raises(FitError, match=r"law 'bnsl' needs column 'x'.*--x COLUMN"):
        fit(frame, "bnsl", n_boot=0)
