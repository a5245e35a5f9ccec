"""Planted problems are flagged; clean power-law data stays quiet."""

import numpy as np
import pandas as pd
import pytest

from scalinglab.trust.diagnose import diagnose_extrapolation, diagnose_fit, diagnose_runs

X = np.logspace(6, 10, 16)


def kinds(y, metric="loss", x=X):
    return {
        f.kind for f in diagnose_runs(pd.DataFrame({"x": x, "y": y}), metric=metric, n_params=3)
    }


def noise(seed, sd=0.01, n=X.size):
    return np.exp(np.random.default_rng(seed).normal(0.0, sd, n))


@pytest.mark.parametrize("seed", range(4))
def test_clean_power_laws_are_quiet(seed):
    assert kinds(5 * (X / 1e6) ** -0.3 * noise(seed)) == set()
    assert kinds((1.7 + 5 * (X / 1e6) ** -0.3) * noise(seed)) == set()


@pytest.mark.parametrize("seed", range(3))
def test_planted_inverse_scaling(seed):
    assert "inverse_scaling" in kinds((2 + 0.3 * np.log10(X / 1e6)) * noise(seed))


@pytest.mark.parametrize("seed", range(3))
def test_planted_break(seed):
    y = np.where(X < 1e8, 5 * (X / 1e6) ** -0.05, 5 * 100**-0.05 * (X / 1e8) ** -0.4)
    assert "break" in kinds(y * noise(seed))


@pytest.mark.parametrize("seed", range(3))
def test_planted_plateau(seed):
    assert "plateau" in kinds((2 + 5 * (X / 1e6) ** -1.5) * noise(seed))


def test_planted_u_shape():
    assert "u_shape" in kinds((2 + 0.1 * (np.log10(X) - 8) ** 2) * noise(0))


def test_planted_emergence_in_accuracy():
    acc = np.where(X < 3e8, 0.25, 0.7) + np.random.default_rng(0).normal(0, 0.005, X.size)
    assert "emergence" in kinds(acc, metric="acc_task")
    assert "emergence" not in kinds(0.25 + 0.1 * np.log10(X / 1e6), metric="acc_task")


def test_too_few_scales_and_points():
    x = np.array([1e6, 1e6, 1e7, 1e8])
    found = kinds(np.array([3.0, 2.9, 2.5, 2.2]), x=x)
    assert {"too_few_scales", "too_few_points"} <= found


def test_fit_level_checks():
    from scalinglab.fit import fit

    rng = np.random.default_rng(0)
    y = (1.0 + 50 * X**-0.4) * np.exp(rng.normal(0, 0.01, X.size))
    res = fit(pd.DataFrame({"x": X, "y": y}), "power_law", n_boot=100, seed=0)
    far = diagnose_extrapolation(res, {"x": 3e12})
    assert (
        far and far[0].kind == "extrapolation" and "300x beyond the largest run" in far[0].message
    )
    assert diagnose_extrapolation(res, {"x": 5e9}) == []
    # a 2-point-per-scale fit with a huge interval is unidentifiable
    yy = 3.0 * X**-0.01 * np.exp(rng.normal(0, 0.02, X.size))
    weak = fit(pd.DataFrame({"x": X, "y": yy}), "power_law", n_boot=100, seed=0)
    assert any(f.kind == "unidentifiable" for f in diagnose_fit(weak))


def test_diagnose_with_a_law_names_the_outlying_runs() -> None:
    from scalinglab.data import load_dataset, select_runs
    from scalinglab.trust.diagnose import diagnose

    runs = select_runs(load_dataset("chinchilla_epoch"))
    found = [f for f in diagnose(runs, law="chinchilla", n_boot=0) if f.kind == "outlier"]
    flagged = {f.details["run_id"] for f in found}
    # the five under-trained runs (loss >= 3.44) that Besiroglu et al. 2024 drop
    high = set(runs.loc[runs["y"] >= 3.44, "run_id"].astype(str))
    assert len(high) == 5 and high <= flagged
    assert all(abs(f.details["z"]) > 3.5 for f in found)


def test_diagnose_without_a_law_scores_runs_against_the_default_law() -> None:
    """`diagnose chinchilla_epoch` used to say "no problems found": the default law (Chinchilla
    for runs of N and D) now names the under-trained runs too."""
    from scalinglab.data import load_dataset, select_runs
    from scalinglab.trust.diagnose import diagnose

    runs = select_runs(load_dataset("chinchilla_epoch"))
    found = [f for f in diagnose(runs) if f.kind == "outlier"]
    high = set(runs.loc[runs["y"] >= 3.44, "run_id"].astype(str))
    assert high <= {f.details["run_id"] for f in found}
    assert all("default law chinchilla" in f.message for f in found)


def test_diagnose_without_a_law_on_clean_and_unfittable_tables() -> None:
    from scalinglab.trust.diagnose import diagnose

    # (how often clean tables get a false flag is measured in tests/report/test_outliers.py)
    clean = pd.DataFrame({"x": X, "y": (1.7 + 5 * (X / 1e6) ** -0.3) * noise(0)})
    assert [f.kind for f in diagnose(clean)] == []
    bad = clean.copy()
    bad.loc[5, "y"] *= 1.25  # one run 25% off a 1% noise law
    found = [f for f in diagnose(bad) if f.kind == "outlier"]
    assert [f.details["run_id"] for f in found] == ["5"]
    # a zero loss: the default law (log space) cannot be fitted, and the finding says why
    zero = clean.copy()
    zero.loc[3, "y"] = 0.0
    (info,) = [f for f in diagnose(zero) if f.kind == "outliers_not_scored"]
    assert info.severity == "info" and "must be positive and finite" in info.message
    # fewer runs than a robust scale needs: nothing is scored, nothing is claimed
    assert not any(f.kind.startswith("outlier") for f in diagnose(bad.iloc[:7]))
