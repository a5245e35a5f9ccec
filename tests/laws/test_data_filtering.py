"""The `data_filtering` law: a pool's utility halves every tau repetitions (Goyal et al. 2024,
arXiv:2404.07177, section 3)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from law_checks import assert_fit_refuses, assert_jacobian, fit_planted, max_log_error

from scalinglab.errors import DataError, FitError
from scalinglab.laws.data_filtering import LAW, MAX_EPOCHS

TRUTH = {"E": 0.4, "A": 60.0, "beta": 0.35, "tau": 3.0}


def _plain(v: dict[str, float], D: float, U: float) -> float:
    """The law pass by pass, as the paper's recursion states it: while pass k runs the error
    above E falls as n^-b_k, b_k = beta 2^-((k-1)/tau)."""
    reducible, seen, k = v["A"] * min(U, D) ** -v["beta"], min(U, D), 1
    while seen < D:
        k += 1
        nxt = min(k * U, D)
        reducible *= (nxt / seen) ** (-v["beta"] * 2 ** (-(k - 1) / v["tau"]))
        seen = nxt
    return v["E"] + reducible


def _grid() -> dict[str, np.ndarray]:
    """Three pools (1e4, 1e5, 1e6 samples), each trained from a tenth of an epoch to 30
    epochs."""
    U = np.repeat([1e4, 1e5, 1e6], 12)
    D = U * np.tile(np.geomspace(0.1, 30.0, 12), 3)
    return {"D": D, "unique_tokens": U}


def test_value_matches_the_recursion_pass_by_pass() -> None:
    X = {"D": np.array([5e3, 1e4, 2.5e4, 1e5, 3.7e5]), "unique_tokens": np.full(5, 1e4)}
    got = LAW.predict(LAW.to_internal(TRUTH), X)[0]
    want = [_plain(TRUTH, D, 1e4) for D in X["D"]]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_limits_no_decay_and_instant_decay() -> None:
    """tau -> infinity: repeats are as good as new, the product telescopes to E + A D^-beta;
    tau -> 0: nothing is learnt after the first pass, E + A U^-beta."""
    D, U = np.geomspace(1e3, 1e6, 7), np.full(7, 1e4)
    slow = LAW.predict(LAW.to_internal({**TRUTH, "tau": 1e12}), {"D": D, "unique_tokens": U})[0]
    np.testing.assert_allclose(slow, 0.4 + 60.0 * D**-0.35, rtol=1e-9)
    fast = LAW.predict(LAW.to_internal({**TRUTH, "tau": 1e-3}), {"D": D, "unique_tokens": U})[0]
    np.testing.assert_allclose(fast, 0.4 + 60.0 * np.minimum(D, U) ** -0.35, rtol=1e-12)


def test_quality_quantity_trade_off() -> None:
    """A small pool of high utility beats a large pool of lower utility at a small budget and
    loses to it once repeated many times (the paper's QQT)."""
    hi = {**TRUTH, "beta": 0.5, "tau": 2.0}
    lo = {**TRUTH, "beta": 0.35, "tau": 2.0}
    D = np.array([1e4, 1e7])
    small = LAW.predict(LAW.to_internal(hi), {"D": D, "unique_tokens": np.full(2, 1e4)})[0]
    large = LAW.predict(LAW.to_internal(lo), {"D": D, "unique_tokens": np.full(2, 1e7)})[0]
    assert small[0] < large[0] and small[1] > large[1]


@pytest.mark.parametrize("seed", [0, 1])
def test_jacobian_matches_central_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    theta = np.column_stack(
        [
            rng.uniform(-2.0, 1.0, 6),
            rng.uniform(0.0, 6.0, 6),
            rng.uniform(0.05, 1.0, 6),
            # tau >= 0.5: below it the derivative is so small that differences lose it
            rng.uniform(math.log(0.5), math.log(100.0), 6),
        ]
    )
    U = np.exp(rng.uniform(np.log(1e3), np.log(1e6), 30))
    X = {"D": U * np.exp(rng.uniform(np.log(0.05), np.log(200.0), 30)), "unique_tokens": U}
    assert_jacobian(LAW, theta, X)


def test_recovers_planted_parameters() -> None:
    """36 runs over three pool sizes, 1% noise: the utility, its half-life, the floor and the
    scale come back, and the error at 100 epochs (3x beyond the data) within 2%."""
    X = _grid()
    r = fit_planted("data_filtering", TRUTH, X, sigma=0.01, seed=0)
    assert r.params["beta"] == pytest.approx(0.35, rel=0.1)
    assert r.params["tau"] == pytest.approx(3.0, rel=0.2)
    assert r.params["E"] == pytest.approx(0.4, rel=0.1)
    far = {"D": np.array([1e6, 1e8]), "unique_tokens": np.array([1e4, 1e6])}
    assert max_log_error("data_filtering", r, TRUTH, far) < 0.02


def test_refuses_missing_pool_size_and_too_many_epochs() -> None:
    frame = pd.DataFrame({"D": [1e3, 1e4, 1e5], "y": [3.0, 2.0, 1.5]})
    assert_fit_refuses(frame, "data_filtering", FitError, r"needs column 'unique_tokens': size U")
    frame["unique_tokens"] = [1e3, 1e3, 1e5 / (2 * MAX_EPOCHS)]
    assert_fit_refuses(
        frame, "data_filtering", DataError, rf"at most {MAX_EPOCHS} .* rows 3 \(100000.0\)"
    )
