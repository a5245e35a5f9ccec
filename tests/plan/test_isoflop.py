"""IsoFLOP analysis (Hoffmann et al. 2022, approach 2) on sweeps from a known Chinchilla law."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import HOFFMANN

from scalinglab.errors import DataError, FitError
from scalinglab.plan.isoflop import group_budgets, isoflop

BUDGETS = [1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21]


def n_opt(C: float) -> float:
    h = HOFFMANN
    s = h["alpha"] + h["beta"]
    G = (h["alpha"] * h["A"] / (h["beta"] * h["B"])) ** (1 / s)
    return float(G * (C / 6) ** (h["beta"] / s))


def law(N: np.ndarray, D: np.ndarray) -> np.ndarray:
    h = HOFFMANN
    return h["E"] + h["A"] / N ** h["alpha"] + h["B"] / D ** h["beta"]


def sweep(
    offsets: np.ndarray, *, noise: float = 0.002, seed: int = 0, jitter: float = 0.02
) -> pd.DataFrame:
    """Runs at each budget with ln N = ln N*(C) + offsets; C jittered within a few percent."""
    rng = np.random.default_rng(seed)
    rows = []
    for C in BUDGETS:
        for o in offsets:
            Cj = C * np.exp(jitter * rng.standard_normal())
            N = n_opt(C) * np.exp(o)
            D = Cj / (6 * N)
            L = law(np.array(N), np.array(D)) * np.exp(noise * rng.standard_normal())
            rows.append({"N": N, "D": D, "C": Cj, "y": float(L)})
    return pd.DataFrame(rows)


def test_recovers_minima_and_exponents() -> None:
    runs = sweep(np.linspace(-1.2, 1.2, 9))
    res = isoflop(runs, n_boot=200, seed=0)
    assert len(res.budgets) == len(BUDGETS)
    for b, C in zip(res.budgets, BUDGETS, strict=True):
        assert b.bracketed and b.convex and b.warning is None
        assert b.N.value == pytest.approx(n_opt(C), rel=0.10)
        assert b.N.low < b.N.value < b.N.high
    a_true = HOFFMANN["beta"] / (HOFFMANN["alpha"] + HOFFMANN["beta"])
    assert res.a.value == pytest.approx(a_true, abs=0.02)
    assert res.a.low < a_true < res.a.high or abs(res.a.value - a_true) < 0.01
    assert res.a.value + res.b.value == pytest.approx(1.0, abs=1e-9)  # C = 6ND
    N, D = res.predict(1e22)
    assert N.value == pytest.approx(n_opt(1e22), rel=0.15)
    assert 6 * N.value * D.value == pytest.approx(1e22, rel=1e-9)
    assert not res.warnings


def test_seeded() -> None:
    runs = sweep(np.linspace(-1.0, 1.0, 7))
    a = isoflop(runs, n_boot=50, seed=3)
    b = isoflop(runs, n_boot=50, seed=3)
    assert a.a == b.a and a.budgets == b.budgets


def test_off_centre_sweep_warns() -> None:
    runs = sweep(np.linspace(-3.5, -1.5, 6))  # every model much smaller than N*
    res = isoflop(runs, n_boot=50)
    assert any("off-centre" in w and "above the largest" in w for w in res.warnings)
    assert not any(b.bracketed for b in res.budgets)


def test_non_convex_budget_warns_and_is_left_out() -> None:
    runs = sweep(np.linspace(-1.0, 1.0, 7))
    big = runs["C"] > 5e20
    runs.loc[big, "y"] = 3.0 - 0.01 * (np.log(runs.loc[big, "N"]) - np.log(n_opt(1e21))) ** 2
    res = isoflop(runs, n_boot=30)
    assert any("not convex" in w and "left out of the power laws" in w for w in res.warnings)
    assert res.budgets[-1].convex is False


def test_grouping_by_tolerance() -> None:
    C = np.array([1e18, 1.1e18, 1e19, 1.2e19, 0.9e18])
    assert group_budgets(C, 0.1).tolist() == [0, 0, 1, 1, 0]
    assert len(set(group_budgets(C, 0.01).tolist())) == 5


def test_too_few_budgets_warns() -> None:
    runs = sweep(np.linspace(-1.0, 1.0, 7))
    res = isoflop(runs[runs["C"] < 2e18], n_boot=20)
    assert any("no N*(C) power law" in w for w in res.warnings)
    assert np.isnan(res.a.value)


def test_bad_input() -> None:
    with pytest.raises(DataError, match=r"needs columns N, y and C or D; missing C/D"):
        isoflop(pd.DataFrame({"N": [1.0], "y": [2.0]}))
    with pytest.raises(DataError, match=r"finite positive N, C and a finite loss; bad rows 2"):
        isoflop(pd.DataFrame({"N": [1e8, -1.0, 1e9], "C": [1e18] * 3, "y": [3.0, 3.0, 3.0]}))
    runs = sweep(np.linspace(-1.0, 1.0, 5))
    with pytest.raises(FitError, match=r"tolerance \(log10 C\) must be positive, got 0"):
        isoflop(runs, tolerance=0)
    with pytest.raises(FitError, match=r"at least 3 runs per budget; min_runs=2"):
        isoflop(runs, min_runs=2)
