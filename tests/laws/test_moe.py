"""The `moe` law (Clark et al. 2022, eq. 1): log L = a log N + b log E + c log N log E + d."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from law_checks import (
    SETTINGS,
    assert_coverage,
    assert_fit_refuses,
    assert_jacobian,
    fit_planted,
    max_log_error,
    uniform_theta,
)

from scalinglab.errors import DataError, FitError
from scalinglab.laws.moe import LAW

# Clark et al.'s design: dense sizes 15M to 1.3B, 1 to 512 experts
_N, _E = np.meshgrid(np.geomspace(1.5e7, 1.3e9, 6), 2.0 ** np.arange(0, 10))
X = {"N": _N.ravel(), "experts": _E.ravel()}
SIGMA = 0.005
# c small enough that b + c log N < 0 (experts help) up to ~1e11 dense parameters
TRUTH = {"a": -0.08, "b": -0.1, "c": 0.004, "d": 2.0}


def test_value_matches_plain_formula() -> None:
    """No published set is bundled (see the module); the formula itself, computed plainly."""
    assert LAW.published == {}
    rng = np.random.default_rng(4)
    N, E = np.exp(rng.uniform(16, 22, 20)), rng.integers(1, 513, 20).astype(float)
    for _ in range(3):
        a, b, c, d = (
            rng.uniform(-0.15, 0.0),
            rng.uniform(-0.2, 0.0),
            rng.uniform(0, 0.02),
            rng.uniform(1, 3),
        )
        theta = np.array([a, b, c, d])
        L = np.exp(a * np.log(N) + b * np.log(E) + c * np.log(N) * np.log(E) + d)
        np.testing.assert_allclose(LAW.predict(theta, {"N": N, "experts": E})[0], L, rtol=1e-12)


def test_one_expert_is_the_dense_power_law() -> None:
    N = np.geomspace(1e7, 1e10, 5)
    L = LAW.predict(LAW.to_internal(TRUTH), {"N": N, "experts": np.ones(5)})[0]
    np.testing.assert_allclose(L, np.exp(TRUTH["d"]) * N ** TRUTH["a"], rtol=1e-12)


def test_experts_help_less_as_the_dense_model_grows() -> None:
    """c > 0: the E-exponent b + c log N rises towards 0 with N (Clark et al., section 4)."""
    small = LAW.predict(
        LAW.to_internal(TRUTH), {"N": np.array([1e7, 1e7]), "experts": np.array([1.0, 64.0])}
    )[0]
    big = LAW.predict(
        LAW.to_internal(TRUTH), {"N": np.array([1e9, 1e9]), "experts": np.array([1.0, 64.0])}
    )[0]
    assert small[1] / small[0] < big[1] / big[0] < 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jacobian_matches_central_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    Xr = {"N": np.exp(rng.uniform(16, 23, 30)), "experts": rng.integers(1, 600, 30).astype(float)}
    theta = uniform_theta(rng, [(-0.2, 0), (-0.3, 0), (0, 0.03), (0, 3)])
    assert_jacobian(LAW, theta, Xr)


@SETTINGS
@given(
    a=st.floats(-0.12, -0.04),
    b=st.floats(-0.2, -0.08),
    c=st.floats(0.0, 0.004),
    d=st.floats(1.0, 3.0),
    seed=st.integers(0, 10_000),
)
def test_planted_parameters_are_recovered(
    a: float, b: float, c: float, d: float, seed: int
) -> None:
    """60 runs at 0.5% noise: the 95% bootstrap half-widths measure ~0.002 (a), ~0.01 (b),
    ~0.0006 (c); the tolerances are about four of them."""
    truth = {"a": a, "b": b, "c": c, "d": d}
    r = fit_planted("moe", truth, X, SIGMA, seed)
    assert abs(r.params["a"] - a) < 0.008
    assert abs(r.params["b"] - b) < 0.04
    assert abs(r.params["c"] - c) < 0.003
    assert max_log_error("moe", r, truth, X) < 0.01


@pytest.mark.slow
def test_truth_inside_interval_for_most_seeds() -> None:
    assert_coverage("moe", TRUTH, X, SIGMA)


def test_missing_experts_column_is_named() -> None:
    frame = pd.DataFrame({"N": [1e8, 1e9], "n_experts": [8, 64], "y": [3.0, 2.8]})
    assert_fit_refuses(
        frame,
        "moe",
        FitError,
        r"law 'moe' needs column 'experts': number of experts E.*--map experts=COLUMN",
    )


def test_fewer_than_one_expert_is_rejected() -> None:
    frame = pd.DataFrame({"N": [1e8, 1e9, 1e9], "experts": [8, 0.5, 64], "y": [3.0, 2.8, 2.7]})
    assert_fit_refuses(
        frame, "moe", DataError, r"'experts' .* must be a finite number >= 1.*rows 2 \(0.5\)"
    )
