"""The `passuntil` law: PU(N) = exp(-c N^(-alpha)) (Hu et al. 2023, arXiv:2310.03262, eq. 3)."""

from __future__ import annotations

import numpy as np
import pytest
from law_checks import assert_jacobian, fit_planted, max_log_error

from scalinglab.laws.passuntil import LAW

X = {"N": np.geomspace(3e7, 3e9, 12)}
# pass rates from ~1e-5 (small models, which greedy decoding scores 0) up to ~0.3
TRUTH = {"c": 5.3e4, "alpha": 0.49}


def test_log_minus_log_pass_rate_is_linear_in_log_N() -> None:
    """The paper's task scaling law: log(-log PU) = log c - alpha log N, a straight line."""
    N = np.geomspace(1e7, 1e11, 9)
    pu = LAW.predict(LAW.to_internal(TRUTH), {"N": N})[0]
    F = np.log(-np.log(pu))
    slope, intercept = np.polyfit(np.log(N), F, 1)
    assert slope == pytest.approx(-0.49, abs=1e-12)
    assert intercept == pytest.approx(np.log(5.3e4), abs=1e-10)
    assert np.all((pu > 0) & (pu < 1)) and np.all(np.diff(pu) > 0)


@pytest.mark.parametrize("seed", [0, 1])
def test_jacobian_matches_central_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    theta = np.column_stack([rng.uniform(4.0, 10.0, 6), rng.uniform(0.1, 0.8, 6)])
    assert_jacobian(LAW, theta, {"N": np.exp(rng.uniform(np.log(1e7), np.log(1e11), 30))})


def test_recovers_planted_parameters_and_extrapolates() -> None:
    """2% multiplicative noise on the pass rates of 12 models (30M to 3B): c and alpha come
    back, and the pass rate of a 30B model (10x beyond the data) is predicted within 5%."""
    r = fit_planted("passuntil", TRUTH, X, sigma=0.02, seed=0)
    assert r.params["alpha"] == pytest.approx(0.49, abs=0.02)
    assert np.log(r.params["c"]) == pytest.approx(np.log(5.3e4), abs=0.3)
    assert max_log_error("passuntil", r, TRUTH, {"N": np.array([3e10])}) < 0.05
