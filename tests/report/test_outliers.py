"""Robust z-scores of a fit's residuals (scalinglab.trust.outliers) and the report's outlier
table. (The trust-layer tests live here with the report's, which the outlier table belongs to.)"""

from __future__ import annotations

import dataclasses
import re
import warnings

import numpy as np
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
