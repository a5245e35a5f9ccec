"""Reliability through the real console script: every failure a user can cause ends in
``error: ...`` and exit code 2 with nothing changed, and nothing finished is lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from scalinglab.data.store import Store
from scalinglab.fit import FitResult


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCALINGLAB_STORE"}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "scalinglab", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=cwd,
    )


def user_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stderr.lstrip().startswith("error:"), proc.stderr
    for f in fragments:
        assert f in proc.stderr, (f, proc.stderr)


def fits_in(store: Path) -> Any:
    if not store.exists():
        return None
    with Store.open(store, read_only=True) as st:
        return st.list_fits()["fit_id"].tolist()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("reliability")
    rng = np.random.default_rng(0)
    N, D = np.meshgrid(np.logspace(7, 9.5, 5), np.logspace(9, 11, 4))
    loss = (1.8 + 400 * N**-0.34 + 1500 * D**-0.36) * np.exp(rng.normal(0, 0.01, N.shape))
    pd.DataFrame({"N": N.ravel(), "D": D.ravel(), "loss": loss.ravel()}).to_csv(
        d / "runs.csv", index=False
    )
    proc = run_cli(
        "fit", "runs.csv", "--bootstrap", "20", "--no-store", "-q", "--out", "fit.json", cwd=d
    )
    assert proc.returncode == 0, proc.stderr
    return d


def test_options_are_checked_before_any_work(work: Path) -> None:
    store = work / "s1.duckdb"
    user_error(
        run_cli("fit", "runs.csv", "--compute", "-1", "--store", str(store), cwd=work),
        "--compute -1.0: a budget must be a positive number of FLOP",
    )
    user_error(
        run_cli(
            "fit",
            "runs.csv",
            "--law",
            "kaplan",
            "--compute",
            "1e24",
            "--store",
            str(store),
            cwd=work,
        ),
        "--compute needs a Chinchilla fit",
    )
    user_error(
        run_cli("fit", "runs.csv", "--workers", "-3", "--store", str(store), cwd=work),
        "--workers -3",
    )
    user_error(
        run_cli("fit", "runs.csv", "--out", "missing/f.json", "--store", str(store), cwd=work),
        "folder 'missing' does not exist",
    )
    assert not store.exists()  # nothing was stored by any of them


def test_out_file_is_written_when_the_store_cannot_be(work: Path) -> None:
    blocker = work / "not_a_folder"
    blocker.write_text("x")
    proc = run_cli(
        "fit", "runs.csv", "--bootstrap", "0", "-q", "--out", "kept.json",
        "--store", str(blocker / "s.duckdb"), cwd=work,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "not kept in the store" in proc.stderr
    assert FitResult.load(work / "kept.json").law == "chinchilla"
    # without --out the fit cannot be kept anywhere: an error that says how to keep it
    proc = run_cli(
        "fit", "runs.csv", "--bootstrap", "0", "-q", "--store", str(blocker / "s.duckdb"), cwd=work
    )
    user_error(proc, "nothing was saved", "--out FILE")


def test_fit_files_that_are_not_fits(work: Path) -> None:
    good = json.loads((work / "fit.json").read_text())
    bad = dict(good, params={**good["params"], "alpha": None})
    (work / "nan.json").write_text(json.dumps(bad))
    user_error(
        run_cli("predict", "nan.json", "--N", "1e9", "--D", "1e10", cwd=work),
        "alpha=None",
        "not finite",
    )
    other = dict(good, params={"E": 1.0, "A": 1.0, "alpha": 0.3})
    (work / "other.json").write_text(json.dumps(other))
    user_error(
        run_cli("predict", "other.json", "--N", "1e9", "--D", "1e10", cwd=work),
        "belongs to another law",
    )
    (work / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    user_error(
        run_cli("predict", "image.png", "--N", "1e9", "--D", "1e10", cwd=work), "not a fit file"
    )
    (work / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    user_error(
        run_cli("plan", "deep.json", "--compute", "1e24", cwd=work), "not a JSON result file"
    )


def test_plot_into_a_missing_folder_fails_before_fitting(work: Path) -> None:
    user_error(
        run_cli("plot", "fit.json", "-o", "nowhere/p.png", cwd=work),
        "folder 'nowhere' does not exist",
    )
    user_error(
        run_cli("report", "runs.csv", "-o", "nowhere/r.html", cwd=work),
        "folder 'nowhere' does not exist",
    )


def test_contradicting_or_out_of_range_options(work: Path) -> None:
    user_error(
        run_cli("fit", "runs.csv", "--fix", "alpha=20", "--no-store", "--bootstrap", "0", cwd=work),
        "--fix alpha=20.0: outside the law's bounds for alpha",
    )
    user_error(
        run_cli("fit", "runs.csv", "--x", "N", "--no-store", "--bootstrap", "0", cwd=work),
        "--x N: law 'chinchilla' has no variable x",
    )


def test_no_bootstrap_says_no_interval(work: Path) -> None:
    proc = run_cli("fit", "runs.csv", "--bootstrap", "0", "--no-store", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert "no interval" in proc.stdout and "nan" not in proc.stdout


def test_predictions_below_the_fitted_range_are_flagged(work: Path) -> None:
    proc = run_cli("predict", "fit.json", "--N", "1e4", "--D", "1e10", "--json", cwd=work)
    assert proc.returncode == 0, proc.stderr
    pred = json.loads(proc.stdout)["predictions"][0]
    assert pred["extrapolation"] == pytest.approx(1e7 / 1e4)
    assert "outside the fitted range" in proc.stderr


def test_a_law_rising_with_scale_warns(work: Path) -> None:
    x = np.logspace(1, 4, 15)
    pd.DataFrame({"x": x, "loss": 2.0 + 0.1 * x**0.3}).to_csv(work / "rising.csv", index=False)
    proc = run_cli(
        "fit",
        "rising.csv",
        "--x",
        "x",
        "--law",
        "power_law",
        "--bootstrap",
        "0",
        "--no-store",
        cwd=work,
    )
    assert proc.returncode == 0, proc.stderr
    assert "exponent alpha" in proc.stderr and "< 0" in proc.stderr


def test_auto_backtest_on_a_short_broken_curve_does_not_crash(work: Path) -> None:
    # the case: a broken power law, 17 points, a break near x = 550, fit on the first 14
    x = np.logspace(1, 3.5, 17)
    y = 1.0 + 20 * x**-0.3 * (1 + (x / 550) ** (1 / 0.1)) ** (-0.5 * 0.1)
    pd.DataFrame({"x": x, "loss": y}).to_csv(work / "broken.csv", index=False)
    proc = run_cli(
        "backtest", "broken.csv", "--x", "x", "--law", "auto", "--holdout", "top 3 by x",
        "--bootstrap", "0", "--json", cwd=work,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows[0]["law"] == "auto" and rows[0]["n_fit"] == 14


def test_a_failed_group_is_named_and_the_others_kept(work: Path) -> None:
    runs = pd.read_csv(work / "runs.csv").assign(g="big")
    tiny = runs.head(2).assign(g="tiny")  # 2 runs cannot fit 5 parameters
    pd.concat([runs, tiny]).to_csv(work / "groups.csv", index=False)
    proc = run_cli(
        "fit", "groups.csv", "--group-by", "g", "--bootstrap", "0", "--no-store", "--json", cwd=work
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert [r["group"] for r in out] == ["g=big"]
    assert (
        "group g=tiny failed" in proc.stderr and "fewer than the 5 free parameters" in proc.stderr
    )
