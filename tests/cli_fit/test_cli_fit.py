"""`scalinglab fit`, `predict` and `laws` through the real entry point (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import scalinglab
from scalinglab.cli import app
from scalinglab.fit import fit

SUMMARY_KEYS = {
    "law",
    "params",
    "intervals",
    "level",
    "objective",
    "n_points",
    "starts",
    "starts_converged",
    "warnings",
    "aic",
    "bic",
    "at_bound",
}
CHINCHILLA_PARAMS = {"E", "A", "B", "alpha", "beta"}


def _entry() -> list[str]:
    if (Path(scalinglab.__file__).parent / "__main__.py").exists():
        return [sys.executable, "-m", "scalinglab"]
    return [str(Path(sys.executable).parent / "scalinglab")]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCALINGLAB_STORE"}
    env["COLUMNS"] = "200"  # rich wraps tables to the terminal width
    return subprocess.run(
        [*_entry(), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=cwd,
    )


def ok_json(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)  # stdout holds only the JSON document


def assert_user_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert "error:" in proc.stderr
    for frag in fragments:
        assert frag in proc.stderr, (frag, proc.stderr)


runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli_fit")


@pytest.fixture(scope="module")
def store(workdir: Path) -> str:
    return str(workdir / "store.duckdb")


@pytest.fixture(scope="module")
def planted_csv(workdir: Path) -> Path:
    """Chinchilla data from known parameters, 0.5% log-normal noise, columns N, D, loss."""
    N, D = np.meshgrid(np.geomspace(1e7, 1e10, 5), np.geomspace(1e8, 1e11, 5))
    N, D = N.ravel(), D.ravel()
    loss = 1.8 + 400.0 / N**0.34 + 2000.0 / D**0.36
    loss = loss * np.exp(0.005 * np.random.default_rng(0).standard_normal(loss.size))
    path = workdir / "planted.csv"
    pd.DataFrame({"N": N, "D": D, "loss": loss}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def small_fit_file(workdir: Path, planted_csv: Path) -> Path:
    """A fit file made in process (cheap), for the commands that only read one."""
    frame = pd.read_csv(planted_csv).rename(columns={"loss": "y"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit(frame, "chinchilla", n_boot=20, seed=0)
    path = workdir / "small_fit.json"
    result.save(path)
    return path


def test_fit_json_then_predict(workdir: Path, store: str) -> None:
    """(one test, so that the fit runs once however the tests are spread over workers)"""
    out = workdir / "fit.json"
    s = ok_json(
        run_cli(
            "fit", "chinchilla_epoch", "--where", "loss < 3.44", "--json", "--bootstrap", "50",
            "--store", store, "--out", str(out),
        )
    )  # fmt: skip
    assert SUMMARY_KEYS <= set(s)
    assert s["law"] == "chinchilla"
    assert set(s["params"]) == CHINCHILLA_PARAMS
    assert set(s["intervals"]) == CHINCHILLA_PARAMS
    assert s["n_points"] == 240 and s["level"] == 0.95
    assert s["objective"] == pytest.approx(1.0182740178e-3, rel=1e-8)
    assert s["params"]["alpha"] == pytest.approx(0.347310, abs=5e-4)
    assert s["starts"] == 4500 and 1 <= s["starts_converged"] <= s["starts"]
    for name, (lo, hi) in s["intervals"].items():
        assert lo <= s["params"][name] <= hi, name
    assert isinstance(s["warnings"], list)
    assert s["fit_id"] and out.exists()

    # predict from the file written with --out
    pred = ok_json(
        run_cli(
            "predict", str(out), "--N", "7e10", "--D", "1.4e12", "--json", "--store", store
        )
    )  # fmt: skip
    assert pred["law"] == "chinchilla"
    (row,) = pred["predictions"]
    assert row["N"] == 7e10 and row["D"] == 1.4e12
    assert row["low"] <= row["value"] <= row["high"]
    p = s["params"]
    expect = p["E"] + p["A"] / 7e10 ** p["alpha"] + p["B"] / 1.4e12 ** p["beta"]
    assert row["value"] == pytest.approx(expect, rel=1e-9)

    # predict by store id gives the same
    by_id = ok_json(
        run_cli("predict", s["fit_id"], "--N", "7e10", "--D", "1.4e12", "--json", "--store", store)
    )
    assert by_id["predictions"][0]["value"] == pytest.approx(row["value"], rel=1e-12)
    assert by_id["predictions"][0]["low"] <= row["value"] <= by_id["predictions"][0]["high"]

    # a unique prefix of the id, and the table output (in process)
    result = invoke("predict", s["fit_id"][:8], "--N", "1e9", "--D", "2e10", "--store", store)
    assert result.exit_code == 0, result.output
    assert "value" in result.stdout


def test_fit_file_with_only_law_flag(planted_csv: Path, store: str) -> None:
    proc = run_cli(
        "fit", str(planted_csv), "--law", "chinchilla", "--store", store, "--bootstrap", "50"
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    for name in CHINCHILLA_PARAMS:
        assert name in proc.stdout
    assert "25 runs" in proc.stdout


def test_fit_group_by(store: str) -> None:
    payload = ok_json(
        run_cli(
            "fit", "overtraining_models", "--law", "chinchilla", "--metric", "loss_c4_val",
            "--where", "token_multiplier <= 80", "--group-by", "dataset",
            "--bootstrap", "0", "--json", "--store", store,
        )
    )  # fmt: skip
    assert isinstance(payload, list) and len(payload) == 3
    groups = [p["group"] for p in payload]
    assert len(set(groups)) == 3
    assert all("dataset" in g for g in groups)
    for p in payload:
        assert SUMMARY_KEYS <= set(p)
        assert p["law"] == "chinchilla" and p["metric"] == "loss_c4_val"
        assert set(p["params"]) == CHINCHILLA_PARAMS
    assert sum(p["n_points"] for p in payload) > 0


# ----- user errors: exit code 2, an `error:` line, no traceback -----


def test_error_unknown_law(store: str) -> None:
    proc = run_cli(
        "fit", "chinchilla_epoch", "--law", "chinchila", "--store", store, "--bootstrap", "0"
    )
    assert_user_error(proc, "unknown law 'chinchila'", "Did you mean 'chinchilla'")


def test_error_bad_where(store: str) -> None:
    proc = run_cli("fit", "chinchilla_epoch", "--where", "loss <<< 3", "--store", store)
    assert_user_error(proc, "--where 'loss <<< 3'")


def test_error_missing_file(workdir: Path, store: str) -> None:
    proc = run_cli("fit", str(workdir / "no_such_runs.csv"), "--store", store)
    assert_user_error(proc, "no_such_runs")


def test_error_bad_fix(store: str) -> None:
    proc = run_cli("fit", "chinchilla_epoch", "--fix", "alpha", "--store", store)
    assert_user_error(proc, "--fix 'alpha': expected PARAM=NUMBER")


def test_error_fewer_runs_than_parameters(planted_csv: Path, store: str) -> None:
    # N = 1e7 and D in {1e8, 5.6e8, 3.2e9}: 3 runs
    proc = run_cli(
        "fit", str(planted_csv), "--law", "chinchilla", "--where", "N < 2e7 and D < 1e10",
        "--store", store,
    )  # fmt: skip
    assert_user_error(proc, "3 runs, fewer than the 5 free parameters")


def test_error_predict_without_point(small_fit_file: Path, store: str) -> None:
    proc = run_cli("predict", str(small_fit_file), "--store", store)
    assert_user_error(proc, "give the point(s) to predict")


def test_error_predict_unknown_fit(store: str) -> None:
    proc = run_cli("predict", "nosuchfit", "--N", "1e9", "--D", "1e10", "--store", store)
    assert_user_error(proc, "fit id 'nosuchfit' is not in the store")


# ----- laws -----


def test_laws_list_json() -> None:
    rows = ok_json(run_cli("laws", "list", "--json"))
    names = {r["name"] for r in rows}
    assert {"chinchilla", "kaplan", "power_law"} <= names
    chin = next(r for r in rows if r["name"] == "chinchilla")
    assert chin["variables"] == ["N", "D"]
    assert "Hoffmann" in chin["citation"]


def test_laws_show() -> None:
    proc = run_cli("laws", "show", "chinchilla")
    assert proc.returncode == 0, proc.stderr
    assert "E + A / N^alpha + B / D^beta" in proc.stdout
    assert "alpha" in proc.stdout and "log(E)" in proc.stdout


# ----- more paths of the same commands, in process (typer's runner: no interpreter start) -----


def assert_invoke_error(result: Any, *fragments: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "error:" in result.stderr
    text = " ".join(result.stderr.split())  # rich may wrap long lines
    for frag in fragments:
        assert frag in text, (frag, result.stderr)


def test_fit_file_json_with_fix(planted_csv: Path, store: str) -> None:
    result = invoke(
        "fit", str(planted_csv), "--law", "chinchilla", "--store", store,
        "--bootstrap", "30", "--json", "--fix", "E=1.8", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    s = json.loads(result.stdout)
    assert s["params"]["E"] == 1.8
    assert s["intervals"]["E"] == [1.8, 1.8]
    assert s["params"]["alpha"] == pytest.approx(0.34, rel=0.1)
    assert s["params"]["beta"] == pytest.approx(0.36, rel=0.1)


def test_fit_unknown_fix_name(store: str) -> None:
    result = invoke("fit", "chinchilla_epoch", "--fix", "gamma=1", "--store", store)
    assert_invoke_error(result, "no parameter 'gamma'")


def test_fit_bad_objective_option(store: str) -> None:
    result = invoke("fit", "chinchilla_epoch", "--objective", "l1", "--store", store)
    assert_invoke_error(result, "objective kind 'l1' is unknown")
    result = invoke("fit", "chinchilla_epoch", "--delta", "0", "--store", store)
    assert_invoke_error(result, "Huber delta must be a positive number")


def test_predict_point_count_mismatch(small_fit_file: Path, store: str) -> None:
    result = invoke(
        "predict", str(small_fit_file), "--N", "1e9", "--N", "2e9", "--D", "1e10",
        "--store", store,
    )  # fmt: skip
    assert_invoke_error(result, "--N, --D and --x must be given the same number of times")


def test_predict_missing_variable(small_fit_file: Path, store: str) -> None:
    result = invoke("predict", str(small_fit_file), "--N", "1e9", "--store", store)
    assert_invoke_error(result, "needs column 'D'")


def test_predict_missing_fit_file(workdir: Path, store: str) -> None:
    result = invoke("predict", str(workdir / "gone.json"), "--N", "1", "--D", "1", "--store", store)
    assert_invoke_error(result, "does not exist")


def test_laws_show_json_and_unknown() -> None:
    result = invoke("laws", "show", "chinchilla", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert [p["name"] for p in shown["params"]] == ["E", "A", "B", "alpha", "beta"]
    assert shown["published"]["hoffmann2022"]["alpha"] == 0.34
    assert_invoke_error(invoke("laws", "show", "chinchila"), "Did you mean 'chinchilla'")


def test_predict_from_fit_without_bootstrap(planted_csv: Path, workdir: Path, store: str) -> None:
    out = workdir / "no_boot.json"
    result = invoke(
        "fit", str(planted_csv), "--law", "chinchilla", "--bootstrap", "0", "--no-store",
        "--out", str(out), "--quiet", "--store", store,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = invoke("predict", str(out), "--N", "1e9", "--D", "2e10", "--json", "--store", store)
    assert result.exit_code == 0, result.output


def test_fit_and_diagnose_name_the_under_trained_chinchilla_runs() -> None:
    """Issue 13: `fit chinchilla_epoch` said nothing of the five under-trained runs Besiroglu et
    al. 2024 drop (loss >= 3.44: chinchilla_epoch:1-5), and `diagnose chinchilla_epoch` found
    "no problems". Both now name them, from the robust z of the fitted residuals."""
    fitted = run_cli("fit", "chinchilla_epoch", "--bootstrap", "0", "--no-calibrate")
    assert fitted.returncode == 0, fitted.stderr
    warning = next(ln for ln in fitted.stderr.splitlines() if "far off the fitted law" in ln)
    assert all(f"chinchilla_epoch:{i} (z = " in warning for i in range(1, 6))
    diag = run_cli("diagnose", "chinchilla_epoch")
    assert "no problems" not in diag.stdout
    lines = [ln for ln in diag.stdout.splitlines() if ln.startswith("outlier")]
    named = {ln.split()[2].rstrip(":") for ln in lines}
    assert {f"chinchilla_epoch:{i}" for i in range(1, 6)} <= named
