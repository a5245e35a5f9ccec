"""The `bnsl2` law (Caballero et al. 2022, eq. 1, two breaks):
y = a + b x^(-c0) (1 + (x/d1)^(1/f1))^(-c1 f1) (1 + (x/d2)^(1/f2))^(-c2 f2)."""

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
from scalinglab.laws.bnsl import LAW as BNSL1
from scalinglab.laws.bnsl2 import LAW

X = {"x": np.geomspace(1e2, 1e8, 40)}
SIGMA = 0.005
# a plateau, a break at 1e4 into a steep segment, a second break at 1e6 that flattens it
TRUTH = {
    "a": 0.2, "b": 8.0, "c0": 0.0,
    "c1": 0.5, "d1": 1e4, "f1": 0.3,
    "c2": -0.3, "d2": 1e6, "f2": 0.3,
}  # fmt: skip


def _plain(v: dict[str, float], x: np.ndarray) -> np.ndarray:
    y = v["b"] * x ** (-v["c0"])
    for i in (1, 2):
        c, d, f = v[f"c{i}"], v[f"d{i}"], v[f"f{i}"]
        y = y * (1 + (x / d) ** (1 / f)) ** (-c * f)
    return v["a"] + y


def _random_theta(rng: np.random.Generator, S: int) -> np.ndarray:
    """Points where every parameter matters on x in [1, e^18]: a small limit, one break in
    each half of the range, moderate exponents."""
    cols = [rng.uniform(-12, -6, S), rng.uniform(1, 4, S), rng.uniform(-0.3, 0.5, S)]
    for lo_d, hi_d in ((3.0, 8.0), (10.0, 15.0)):
        cols += [
            rng.choice([-1.0, 1.0], S) * rng.uniform(0.2, 0.8, S),
            rng.uniform(lo_d, hi_d, S),
            rng.uniform(-1.5, 1.0, S),
        ]
    return np.column_stack(cols)


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
    """No two-break parameter set is published: the formula itself, computed plainly."""
    assert LAW.published == {}
    rng = np.random.default_rng(3)
    theta = _random_theta(rng, 4)
    x = np.geomspace(1.0, 1e9, 25)
    got = LAW.predict(theta, {"x": x})
    for s in range(4):
        v = dict(zip(LAW.param_names, LAW.to_natural(theta[s]), strict=True))
        np.testing.assert_allclose(got[s], _plain(v, x), rtol=1e-12)


def test_breaks_are_interchangeable_and_c2_zero_is_one_break() -> None:
    x = {"x": np.geomspace(1.0, 1e9, 25)}
    v = dict(TRUTH)
    swapped = {**v, "c1": v["c2"], "d1": v["d2"], "f1": v["f2"], "c2": v["c1"], "d2": v["d1"],
               "f2": v["f1"]}  # fmt: skip
    np.testing.assert_allclose(
        LAW.predict(LAW.to_internal(v), x), LAW.predict(LAW.to_internal(swapped), x), rtol=1e-13
    )
    one = {k: v[k] for k in BNSL1.param_names}
    np.testing.assert_allclose(
        LAW.predict(LAW.to_internal({**v, "c2": 0.0}), x),
        BNSL1.predict(BNSL1.to_internal(one), x),
        rtol=1e-13,
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jacobian_matches_central_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    Xr = {"x": np.exp(rng.uniform(0, 18, 30))}
    _assert_jacobian(_random_theta(rng, 6), Xr)


@pytest.mark.slow  # one 10-parameter fit with its bootstrap takes ~3.5 s
def test_planted_parameters_are_recovered_one_seed() -> None:
    """The reference curve, one seed (the property test below draws five)."""
    r = quiet_fit(planted("bnsl2", TRUTH, X, SIGMA, 11), "bnsl2", n_boot=100, seed=11)
    assert_sane(r)
    assert abs(r.params["c1"] - 0.5) < 0.1 and abs(r.params["c2"] + 0.3) < 0.1
    assert abs(np.log(r.params["d1"] / 1e4)) < 0.3 and abs(np.log(r.params["d2"] / 1e6)) < 0.3
    assert max_log_error("bnsl2", r, TRUTH, X) < 0.01


@pytest.mark.slow
@SETTINGS
@given(
    c1=st.floats(0.3, 0.8),
    c2=st.floats(-0.4, -0.2),
    log10_d2=st.floats(5.5, 6.5),
    seed=st.integers(0, 10_000),
)
def test_planted_parameters_are_recovered(c1: float, c2: float, log10_d2: float, seed: int) -> None:
    """40 points at 0.5% noise with both breaks two decades apart inside the data: the
    exponent changes within 0.1 (95% half-widths ~0.02), the break positions within 30%, and
    the fitted curve within 3 sigma of the true one."""
    truth = {**TRUTH, "c1": c1, "c2": c2, "d2": 10.0**log10_d2}
    r = quiet_fit(planted("bnsl2", truth, X, SIGMA, seed), "bnsl2", n_boot=100, seed=seed)
    assert_sane(r)
    assert abs(r.params["c1"] - c1) < 0.1 and abs(r.params["c2"] - c2) < 0.1
    assert abs(np.log(r.params["d1"] / 1e4)) < 0.3
    assert abs(np.log(r.params["d2"] / truth["d2"])) < 0.3
    assert max_log_error("bnsl2", r, truth, X) < 0.015


@pytest.mark.slow
def test_truth_inside_interval_for_most_seeds() -> None:
    inside = coverage("bnsl2", TRUTH, X, SIGMA)
    assert all(n >= 8 for n in inside.values()), inside


def test_missing_x_column_is_named() -> None:
    frame = pd.DataFrame({"N": np.geomspace(1e6, 1e9, 12), "y": np.linspace(3, 2, 12)})
    with pytest.raises(FitError, match=r"law 'bnsl2' needs column 'x'.*--x COLUMN"):
        fit(frame, "bnsl2", n_boot=0)
