"""Every result a user can save round-trips through its ``to_dict``/``from_dict`` and through
files, and what one command writes every command that reads that kind accepts."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from scalinglab.errors import NotFittedError
from scalinglab.fit import FitResult, FitSet, fit, fit_runs, load_fits
from scalinglab.trust import backtest, calibrate
from scalinglab.trust.backtest import BacktestResult


def planted(groups: int = 1, seed: int = 0, target: str = "y") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    N, D = np.meshgrid(np.logspace(7, 9.5, 5), np.logspace(9, 11, 4))
    frames = []
    for g in range(groups):
        y = (1.8 + 0.1 * g + 400 * N**-0.34 + 1500 * D**-0.36) * np.exp(
            rng.normal(0, 0.01, N.shape)
        )
        frames.append(
            pd.DataFrame(
                {
                    "run_id": [f"g{g}r{i}" for i in range(N.size)],
                    "N": N.ravel(),
                    "D": D.ravel(),
                    "loss": y.ravel(),
                    "g": f"d{g}",
                }
            )
        )
    return pd.concat(frames, ignore_index=True).rename(columns={"loss": target})


def same_fit(a: FitResult, b: FitResult) -> None:
    """Field-by-field equality, arrays compared by value (NaN equal to NaN)."""
    for f in dataclasses.fields(FitResult):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=f.name)
        elif f.name == "intervals":
            assert x.keys() == y.keys()
            for k in x:
                np.testing.assert_array_equal(x[k], y[k], err_msg=k)
        elif f.name in ("bootstrap",):
            assert x.to_dict() == y.to_dict()
        else:
            assert x == y, f.name


@pytest.fixture(scope="module")
def one_fit() -> FitResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = fit(planted(), "chinchilla", n_boot=30, seed=3, fix={"beta": 0.36})
    return calibrate(r)


def test_fit_round_trips_exactly(one_fit: FitResult, tmp_path: Path) -> None:
    again = FitResult.from_dict(json.loads(json.dumps(one_fit.to_dict())))
    same_fit(one_fit, again)
    one_fit.save(tmp_path / "f.json")
    same_fit(one_fit, FitResult.load(tmp_path / "f.json"))
    assert again.spec.fixed == {"beta": 0.36}
    assert again.calibration == one_fit.calibration and again.calibration is not None


def test_fit_is_immutable(one_fit: FitResult) -> None:
    with pytest.raises(TypeError):
        one_fit.params["E"] = 1.0  # type: ignore[index]
    with pytest.raises(ValueError, match="read-only"):
        one_fit.bootstrap.draws[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        one_fit.residuals[0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        one_fit.objective = 0.0  # type: ignore[misc]


def test_information_criteria_follow_the_gaussian_formula(one_fit: FitResult) -> None:
    r = one_fit.residuals
    n, k = r.size, 4  # beta fixed: 4 free parameters
    base = n * math.log(float(np.sum(r**2)) / n)
    assert one_fit.aic == pytest.approx(base + 2 * k, rel=1e-12)
    assert one_fit.bic == pytest.approx(base + k * math.log(n), rel=1e-12)


def test_fit_records_provenance_from_the_runs_table() -> None:
    from scalinglab.data import load_dataset, select_runs

    runs = select_runs(load_dataset("chinchilla_epoch"), where="loss < 3.44")
    r = fit(runs.head(40), "chinchilla", n_boot=0)
    assert r.provenance.metric == "loss" and r.provenance.metric_unit == "nats/token"
    assert r.provenance.where == "loss < 3.44" and r.provenance.source == "chinchilla_epoch"
    assert "metric loss (nats/token)" in r.report()


def test_fit_set_round_trips_and_predicts_per_group(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fs = fit_runs(planted(groups=2), "chinchilla", group_by="g", n_boot=20)
    assert isinstance(fs, FitSet) and fs.groups() == ["g=d0", "g=d1"]
    fs.save(tmp_path / "set.json")
    again = load_fits(tmp_path / "set.json")
    assert isinstance(again, FitSet)
    for a, b in zip(fs, again, strict=True):
        same_fit(a, b)


def test_load_fits_refuses_other_files(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text('{"kind": "backtest", "format": 2}')
    with pytest.raises(NotFittedError, match="not a fit or fit_set file"):
        load_fits(p)
    p.write_text('{"law": "chinchilla", "params": {}}')
    with pytest.raises(NotFittedError, match="older scalinglab"):
        load_fits(p)
    p.write_text("[" * 100_000)
    with pytest.raises(NotFittedError, match="not a JSON result file"):
        load_fits(p)


def test_backtest_round_trips(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = backtest(planted(), ["chinchilla"], "top 20% by C", n_boot=20)
    text = json.dumps(bt.to_dict())
    again = BacktestResult.from_dict(json.loads(text))
    pd.testing.assert_frame_equal(bt.summary, again.summary, check_dtype=False)
    pd.testing.assert_frame_equal(bt.predictions, again.predictions, check_dtype=False)
    assert bt.fits.keys() == again.fits.keys()
    for k in bt.fits:
        same_fit(bt.fits[k], again.fits[k])


def test_backtest_refits_what_was_fitted(one_fit: FitResult) -> None:
    # a fit with beta fixed: its backtest keeps beta fixed, a backtest by name frees it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_fit = backtest(planted(), [one_fit], "top 20% by C", n_boot=0)
        by_name = backtest(planted(), ["chinchilla"], "top 20% by C", n_boot=0)
    assert by_fit.fits[("chinchilla", None)].params["beta"] == 0.36
    assert by_name.fits[("chinchilla", None)].params["beta"] != 0.36


# ----- across commands, through the real entry point -----


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


def ok(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout) if proc.stdout.strip().startswith(("{", "[")) else proc.stdout


@pytest.mark.slow
def test_grouped_fit_file_is_read_by_predict(tmp_path: Path) -> None:
    planted(groups=2, target="loss").to_csv(tmp_path / "runs.csv", index=False)
    args = ("--bootstrap", "20", "--no-store", "-q")
    ok(run_cli("fit", "runs.csv", "--group-by", "g", "--out", "set.json", *args, cwd=tmp_path))
    out = ok(run_cli("predict", "set.json", "--N", "1e10", "--D", "2e11", "--json", cwd=tmp_path))
    preds = out["predictions"]
    assert [p["group"] for p in preds] == ["g=d0", "g=d1"]
    # the second group's offset E is 0.1 higher in the planted law: its prediction is higher
    assert preds[1]["value"] > preds[0]["value"]


@pytest.mark.slow
def test_fit_file_is_read_by_every_command(tmp_path: Path) -> None:
    planted(target="loss").to_csv(tmp_path / "runs.csv", index=False)
    ok(
        run_cli(
            "fit",
            "runs.csv",
            "--bootstrap",
            "30",
            "--no-store",
            "-q",
            "--fix",
            "beta=0.36",
            "--out",
            "f.json",
            cwd=tmp_path,
        )
    )
    saved = FitResult.load(tmp_path / "f.json")
    pred = ok(run_cli("predict", "f.json", "--N", "1e9", "--D", "1e11", "--json", cwd=tmp_path))
    assert pred["law"] == "chinchilla" and len(pred["predictions"]) == 1
    plan = ok(run_cli("plan", "f.json", "--compute", "1e21", "--json", cwd=tmp_path))
    assert plan["law"] == "chinchilla"
    bt = ok(
        run_cli(
            "backtest",
            "runs.csv",
            "--law",
            "f.json",
            "--holdout",
            "top 20% by C",
            "--bootstrap",
            "0",
            "--json",
            cwd=tmp_path,
        )
    )
    assert bt[0]["law"] == "chinchilla" and bt[0]["error"] is None
    ok(run_cli("plot", "f.json", "--kind", "fit", "-o", "p.png", "-q", cwd=tmp_path))
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert saved.spec.fixed == {"beta": 0.36}


def test_plan_round_trips(one_fit: FitResult) -> None:
    from scalinglab.plan import plan
    from scalinglab.plan.planner import Plan

    p = plan(one_fit, compute=1e21, inference_tokens=1e11, accelerator="h100", gpus=8)
    again = Plan.from_dict(json.loads(json.dumps(p.to_dict())))
    assert again == p  # dataclass equality of every field (per-draw rows excluded by design)
    assert again.as_dict() == p.as_dict()
    with pytest.raises(NotFittedError, match="not a plan file"):
        Plan.from_dict(one_fit.to_dict())


def test_diagnosis_round_trips() -> None:
    from scalinglab.trust.diagnose import diagnose
    from scalinglab.trust.findings import Diagnosis

    x = np.logspace(1, 4, 12)
    frame = pd.DataFrame({"x": x, "y": 1.0 + 5.0 * x**0.2})  # loss rising: inverse scaling
    d = diagnose(frame)
    assert any(f.kind == "inverse_scaling" for f in d)
    again = Diagnosis.from_dict(json.loads(json.dumps(d.to_dict())))
    assert again == d and again.records() == d.records()
