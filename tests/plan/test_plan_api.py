"""``plan(fit, ...) -> Plan`` and ``scalinglab plan`` through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import HOFFMANN, make_fit

from scalinglab.errors import FitError
from scalinglab.plan import plan
from scalinglab.plan.compute_optimal import compute_optimal

ESTIMATES = (
    "N",
    "D",
    "tokens_per_param",
    "loss",
    "compute",
    "lr",
    "batch_tokens",
    "gpu_hours",
    "wall_hours",
)


def _is_estimate(e: object) -> bool:
    return isinstance(e, dict) and set(e) == {"value", "low", "high"}


def test_plan_compute_optimal(hoffmann) -> None:  # type: ignore[no-untyped-def]
    p = plan(hoffmann, compute=1e24, accelerator="h100", mfu=0.4, gpus=1024)
    assert p.recommended == "compute_optimal"
    co = compute_optimal(hoffmann, 1e24)
    assert p.N == co.N and p.D == co.D and p.loss == co.loss
    d = p.as_dict()
    for k in ESTIMATES:
        assert _is_estimate(d[k]), k
        assert d[k]["low"] <= d[k]["value"] <= d[k]["high"], k
    assert d["flop_convention"]["name"] == "6ND"
    assert any("Hoffmann et al. 2022" in s for s in d["sources"])
    assert d["gpu_hours"]["value"] == pytest.approx(1e24 / (989e12 * 0.4) / 3600)
    json.dumps(d, allow_nan=False)  # no NaN with draws


def test_plan_sections_and_recommendation(hoffmann) -> None:  # type: ignore[no-untyped-def]
    p = plan(hoffmann, compute=1e24, inference_tokens=2e12)
    assert p.recommended == "inference_aware" and set(p.plans) == {
        "compute_optimal",
        "inference_aware",
    }
    assert p.N.value < p.plans["compute_optimal"].N.value
    p = plan(hoffmann, compute=1e24, inference_tokens=2e12, unique_tokens=5e11, target_loss=2.0)
    assert p.recommended == "data_constrained"
    assert set(p.plans) == {"compute_optimal", "inference_aware", "data_constrained", "target_loss"}
    assert any("computed separately" in w for w in p.warnings)
    assert any("published by Muennighoff" in s for s in p.sources)
    p = plan(hoffmann, target_loss=2.0)
    assert p.recommended == "target_loss" and p.loss.value == 2.0
    p = plan(hoffmann, target_loss=2.0, inference_tokens=1e13)
    assert p.recommended == "inference_aware" and p.N.value < p.plans["target_loss"].N.value
    p = plan(hoffmann, compute=1e20, target_loss=2.0)
    assert any("needs" in w and "more than the budget" in w for w in p.warnings)


def test_plan_with_isoflop_runs() -> None:
    fit = make_fit("chinchilla", HOFFMANN, rel_sd=0.01, n_draws=50)
    rng = np.random.default_rng(0)
    rows = []
    h = HOFFMANN
    G = (h["alpha"] * h["A"] / (h["beta"] * h["B"])) ** (1 / 0.62)
    for C in (1e18, 1e19, 1e20):
        for o in np.linspace(-1, 1, 7):
            N = G * (C / 6) ** (0.28 / 0.62) * np.exp(o)
            D = C / (6 * N)
            rows.append(
                {
                    "N": N,
                    "D": D,
                    "y": h["E"]
                    + h["A"] / N**0.34
                    + h["B"] / D**0.28
                    + 1e-3 * rng.standard_normal(),
                }
            )
    p = plan(fit, compute=1e21, isoflop_runs=pd.DataFrame(rows))
    assert p.isoflop is not None
    iso = p.as_dict()["isoflop"]
    assert isinstance(iso, dict) and _is_estimate(iso["N"])
    assert iso["N"]["value"] == pytest.approx(p.N.value, rel=0.15)


def test_plan_bad_requests(hoffmann) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(
        FitError, match=r"give a training budget \(compute=\.\.\., FLOP\) or a target_loss"
    ):
        plan(hoffmann)
    with pytest.raises(FitError, match=r"compute must be a positive number of FLOP, got -1"):
        plan(hoffmann, compute=-1)
    with pytest.raises(FitError, match=r"compute = 1e\+35 FLOP is outside the range"):
        plan(hoffmann, compute=1e35)
    with pytest.raises(FitError, match=r"at or below the fitted irreducible loss E = 1\.69"):
        plan(hoffmann, target_loss=1.5)
    with pytest.raises(FitError, match=r"unknown accelerator 'tpu'"):
        plan(hoffmann, compute=1e22, accelerator="tpu")
    with pytest.raises(FitError, match=r"MFU must be in \(0, 1\]"):
        plan(hoffmann, compute=1e22, mfu=1.2)
    with pytest.raises(FitError, match=r"inference tokens must be a number >= 0, got -5"):
        plan(hoffmann, compute=1e22, inference_tokens=-5)


def test_plan_without_draws_has_nan_intervals() -> None:
    p = plan(make_fit("chinchilla", HOFFMANN), compute=1e22)
    assert np.isnan(p.N.low) and np.isfinite(p.N.value)


# ----- the command line -----


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "scalinglab"
    env = {k: v for k, v in os.environ.items() if k != "SCALINGLAB_STORE"}
    env["COLUMNS"] = "200"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def fit_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plan") / "fit.json"
    make_fit("chinchilla", HOFFMANN, rel_sd=0.02, n_draws=200).save(path)
    return path


def test_cli_json(fit_file: Path) -> None:
    proc = run_cli(
        "plan",
        str(fit_file),
        "--compute",
        "1e24",
        "--inference-tokens",
        "2e12",
        "--unique-tokens",
        "5e11",
        "--target-loss",
        "2.0",
        "--accelerator",
        "h100",
        "--mfu",
        "0.4",
        "--gpus",
        "1024",
        "--vocab",
        "32000",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    for k in ESTIMATES:
        assert _is_estimate(d[k]), k
    for section in d["plans"].values():
        for k in ("N", "D", "tokens_per_param", "loss", "compute"):
            assert _is_estimate(section[k])
    assert {"warnings", "sources", "flop_convention", "shapes", "cost"} <= set(d)
    assert d["recommended"] == "data_constrained"


def test_cli_table(fit_file: Path) -> None:
    proc = run_cli("plan", str(fit_file), "--compute", "1e22")
    assert proc.returncode == 0, proc.stderr
    assert "Plan (compute optimal)" in proc.stdout and "Model shapes closest to N" in proc.stdout


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        (["--compute", "0"], "compute must be a positive number of FLOP"),
        (["--compute", "-1e24"], "compute must be a positive number of FLOP"),
        (["--compute", "1e40"], "outside the range"),
        (["--target-loss", "1.0"], "at or below the fitted irreducible loss E = 1.69"),
        (["--compute", "1e24", "--accelerator", "z9"], "unknown accelerator 'z9'"),
        (["--compute", "1e24", "--mfu", "0"], "MFU must be in (0, 1]"),
        ([], "give --compute FLOP"),
    ],
)
def test_cli_errors(fit_file: Path, args: list[str], msg: str) -> None:
    proc = run_cli("plan", str(fit_file), *args)
    assert proc.returncode == 2
    assert "error:" in proc.stderr and msg in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_missing_fit_file(tmp_path: Path) -> None:
    proc = run_cli("plan", str(tmp_path / "nope.json"), "--compute", "1e22")
    assert proc.returncode == 2 and "does not exist" in proc.stderr
