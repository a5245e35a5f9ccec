"""The `critical_batch` law: S(B) = S_min (1 + B_crit / B) (McCandlish et al. 2018,
arXiv:1812.06162, section 2.3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from law_checks import assert_fit_refuses, assert_jacobian, fit_planted, max_log_error

from scalinglab.errors import DataError, FitError
from scalinglab.laws.critical_batch import LAW

X = {"batch_size": np.geomspace(16, 16384, 11)}
TRUTH = {"S_min": 2.0e4, "B_crit": 600.0}


def test_steps_and_examples_lie_on_the_papers_hyperbola() -> None:
    """McCandlish et al.: (S/S_min - 1)(E/E_min - 1) = 1 with E = B S and E_min = S_min B_crit,
    checked from the law's steps alone; at B = B_crit both are twice their minimum."""
    B = np.geomspace(1.0, 1e6, 13)
    S = LAW.predict(LAW.to_internal(TRUTH), {"batch_size": B})[0]
    E, E_min = B * S, TRUTH["S_min"] * TRUTH["B_crit"]
    np.testing.assert_allclose((S / 2.0e4 - 1) * (E / E_min - 1), 1.0, rtol=1e-10)
    at = LAW.predict(LAW.to_internal(TRUTH), {"batch_size": np.array([600.0])})[0, 0]
    assert at == pytest.approx(2 * 2.0e4, rel=1e-13)


@pytest.mark.parametrize("seed", [0, 1])
def test_jacobian_matches_central_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    theta = np.column_stack([rng.uniform(5.0, 12.0, 6), rng.uniform(0.0, 12.0, 6)])
    assert_jacobian(LAW, theta, {"batch_size": np.exp(rng.uniform(0.0, np.log(1e6), 30))})


def test_recovers_planted_parameters() -> None:
    """11 batch sizes over three decades around B_crit, 3% noise on the steps: S_min and B_crit
    within 5%, and the steps at a batch 4x beyond the largest within 3%."""
    r = fit_planted("critical_batch", TRUTH, X, sigma=0.03, seed=0)
    assert r.params["S_min"] == pytest.approx(2.0e4, rel=0.05)
    assert r.params["B_crit"] == pytest.approx(600.0, rel=0.05)
    assert max_log_error("critical_batch", r, TRUTH, {"batch_size": np.array([65536.0])}) < 0.03


def test_needs_a_positive_batch_size_column() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [3.0, 2.0, 1.5]})
    assert_fit_refuses(frame, "critical_batch", FitError, r"needs column 'batch_size': batch")
    frame["batch_size"] = [32.0, 0.0, 128.0]
    assert_fit_refuses(frame, "critical_batch", DataError, r"'batch_size'.*rows 2 \(0.0\)")
