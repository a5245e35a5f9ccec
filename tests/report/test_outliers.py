"""Robust z-scores of a fit's residuals (scalinglab.trust.outliers) and the report's outlier
table. (The trust-layer tests live here with the report's, which the outlier table belongs to.)"""

from __future__ import annotations

import dataclasses
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from _fixtures import planted_fit, planted_runs

from scalinglab.errors import DataError, FitError
from scalinglab.fit import fit
from scalinglab.trust.outliers import Outlier, fit_outliers, outlier_findings, robust_z


def test_robust_z_by_hand() -> None:
    # median 3, |deviations| 2 1 0 1 97 -> MAD 1 (Iglewicz and Hoaglin 1993: 0.6745 dev / MAD)
    z = robust_z([1.0, 2.0, 3.0, 4.0, 100.0])
    assert z.tolist() == pytest.approx([-1.349, -0.6745, 0.0, 0.6745, 65.4265])
    # the score does not move when the outlier grows: the median and MAD ignore it
    assert robust_z([1.0, 2.0, 3.0, 4.0, 1e6])[:4].tolist() == pytest.approx(z[:4].tolist())
    # invariant to shift and scale of the residuals
    assert robust_z([7 + 3 * v for v in (1.0, 2.0, 3.0, 4.0, 100.0)]) == pytest.approx(z)


def test_robust_z_zero_mad_and_empty() -> None:
    assert robust_z([1.0, 1.0, 1.0, 0.5, 2.0]).tolist() == [0.0, 0.0, 0.0, -np.inf, np.inf]
    assert robust_z([]).size == 0


def test_robust_z_rejects_non_finite() -> None:
    with pytest.raises(DataError, match=r"positions \[1\] are not finite \(nan first\)"):
        robust_z([1.0, float("nan"), 2.0])


def _fit(runs):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(runs, "chinchilla", n_boot=0, seed=0)


def test_planted_outlier_is_the_one_flagged() -> None:
    runs = planted_runs().reset_index(drop=True)
    assert not fit_outliers(_fit(runs))  # planted law + small noise: nothing far out
    bad = runs.copy()
    bad.loc[7, "y"] *= 1.3  # one run 30% above the law (log residual ~0.26)
    out = fit_outliers(_fit(bad))
    assert [o.run_id for o in out] == [str(runs.loc[7, "run_id"])]
    assert out[0].z > 3.5 and out[0].values["y"] == pytest.approx(bad.loc[7, "y"])
    assert Outlier.from_dict(out[0].to_dict()) == out[0]
    (finding,) = outlier_findings(_fit(bad))
    assert finding.kind == "outlier" and str(runs.loc[7, "run_id"]) in finding.message


def test_chinchilla_flags_the_runs_besiroglu_drop() -> None:
    """All 245 runs of chinchilla_epoch: the five high-loss under-trained runs Besiroglu et al.
    2024 (arXiv:2404.10102) exclude (loss >= 3.44, rows 1-5) are all flagged, largest first."""
    from scalinglab.data import load_dataset, select_runs

    runs = select_runs(load_dataset("chinchilla_epoch"))
    out = fit_outliers(_fit(runs))
    ids = [o.run_id for o in out]
    dropped = set(runs.loc[runs["y"] >= 3.44, "run_id"])
    assert len(dropped) == 5 and dropped <= set(ids)
    assert set(ids[:4]) <= dropped  # the four worst are among them
    assert all(abs(o.z) > 3.5 for o in out)


def test_outlier_errors() -> None:
    r = planted_fit()
    with pytest.raises(DataError, match="threshold 0 must be a positive number"):
        fit_outliers(r, threshold=0)
    short = dataclasses.replace(r, residuals=r.residuals[:-1])
    with pytest.raises(FitError, match=r"residuals for \d+ fitted runs"):
        fit_outliers(short)


def test_report_outlier_table_names_the_runs() -> None:
    from scalinglab.report.build import ReportInputs
    from scalinglab.report.html import render_html

    runs = planted_runs().reset_index(drop=True)
    bad = runs.copy()
    bad.loc[7, "y"] *= 1.3
    page = render_html(ReportInputs(_fit(bad), runs=bad))
    m = re.search(r'<table id="outliers">(.*?)</table>', page)
    assert m is not None
    assert re.findall(r'<tr data-run="([^"]*)">', m.group(1)) == [str(runs.loc[7, "run_id"])]
    assert 'id="diagnose"' in page


def test_fit_warns_about_far_runs_by_name() -> None:
    """`fit` itself warns (OutlierWarning) and keeps the warning on the result, naming the
    run; a clean planted fit and a noise-free one (residuals at rounding level) stay quiet."""
    from scalinglab.errors import OutlierWarning

    runs = planted_runs().reset_index(drop=True)
    bad = runs.copy()
    bad.loc[7, "y"] *= 1.3
    with pytest.warns(OutlierWarning, match=re.escape(str(runs.loc[7, "run_id"]))):
        r = fit(bad, "chinchilla", n_boot=0, seed=0)
    assert sum("far off the fitted law" in w for w in r.warnings) == 1
    assert not any("far off" in w for w in _fit(runs).warnings)
    p = _fit(runs).params  # the law itself, E + A/N^alpha + B/D^beta (Hoffmann et al. 2022)
    law_y = p["E"] + p["A"] / runs["N"] ** p["alpha"] + p["B"] / runs["D"] ** p["beta"]
    exact = runs.assign(y=law_y)
    assert not any("far off" in w for w in _fit(exact).warnings)


def test_flagged_needs_enough_runs_and_a_real_deviation() -> None:
    from scalinglab.fit.residuals import MIN_RUNS, flagged

    r = np.array([0.0, 1e-3, -1e-3, 2e-3, -2e-3, 1e-3, 0.0, -1e-3, 0.1])
    assert flagged(r).tolist() == [8]
    assert flagged(r[-(MIN_RUNS - 1) :]).size == 0  # too few runs to judge
    assert flagged(r * 1e-8).size == 0  # deviations below the rounding floor


@pytest.mark.slow
def test_false_flags_are_rare_and_planted_runs_are_found() -> None:
    """12 tables of 16 runs of a power law with offset and 1% log-normal noise, fitted with the
    default objective: at most 3 tables get any run flagged (3 of 30 when measured), and a run
    moved 10% off the law is found, alone, in at least 10 of them (28 of 30 measured)."""
    from scalinglab.fit.residuals import flagged

    x = np.logspace(6, 10, 16)
    false_flags = found = 0
    for seed in range(12):
        y = (1.7 + 5 * (x / 1e6) ** -0.3) * np.exp(np.random.default_rng(seed).normal(0, 0.01, 16))
        clean = fit(pd.DataFrame({"x": x, "y": y}), "power_law", n_boot=0)
        false_flags += flagged(clean.residuals).size > 0
        y[5] *= 1.1
        moved = fit(pd.DataFrame({"x": x, "y": y}), "power_law", n_boot=0)
        found += flagged(moved.residuals).tolist() == [5]
    assert false_flags <= 3 and found >= 10
