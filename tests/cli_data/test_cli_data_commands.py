"""`runs` and `datasets` sub-commands, and the shared CLI helpers."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from scalinglab.cli import common
from scalinglab.cli import datasets as datasets_cli
from scalinglab.cli import runs as runs_cli
from scalinglab.data.ingest import read_runs
from scalinglab.errors import DataError, StoreError

runner = CliRunner()


def test_parse_map() -> None:
    assert common.parse_map(["N=params", " D = tokens "]) == {"N": "params", "D": "tokens"}
    assert common.parse_map(None) == {}
    with pytest.raises(
        DataError,
        match=r"--map 'N': expected TARGET=SOURCE, e\.g\. --map "
        r"N=params",
    ):
        common.parse_map(["N"])
    with pytest.raises(DataError, match="--map gives N twice"):
        common.parse_map(["N=a", "N=b"])


def test_user_errors_exit_code_and_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as info, common.user_errors():
        raise StoreError("bad [thing]")
    assert info.value.exit_code == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == "error: bad [thing]" and captured.out == ""

    @common.user_errors()
    def decorated() -> None:
        raise DataError("x")

    with pytest.raises(typer.Exit):
        decorated()
    with pytest.raises(ValueError, match="not a user error"), common.user_errors():
        raise ValueError("not a user error")


def test_emit_json_nan_to_null(capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    common.emit_json(
        {
            "a": float("nan"),
            "b": [np.float64(1.5), np.inf],
            "c": np.arange(2),
            "t": pd.Timestamp("2024-01-02"),
        }
    )
    assert json.loads(capsys.readouterr().out) == {
        "a": None,
        "b": [1.5, None],
        "c": [0, 1],
        "t": "2024-01-02T00:00:00",
    }


def test_load_selection(capsys: pytest.CaptureFixture[str]) -> None:
    [(key, df)] = common.load_selection("chinchilla_epoch", where="loss < 3.44", x="N")
    assert key is None and len(df) == 240 and (df["x"] == df["N"]).all()
    groups = common.load_selection("overtraining_models", metric="loss_openlm", group_by="dataset")
    assert [k for k, _ in groups] == ["dataset=c4_original", "dataset=rpj", "dataset=rw_original"]
    common.load_selection("revisiting_lang", where="Training == 0")
    assert "dropped 687 exact duplicate rows" in capsys.readouterr().err


def test_load_selection_with_map(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    path.write_text("params,tokens,loss\n1e8,2e9,3\n2e8,4e9,2.5\n", encoding="utf-8")
    [(_, df)] = common.load_selection(str(path), map=["N=params", "D=tokens"])
    assert df["C_derived"].all()


def test_runs_import_list_export(tmp_path: Path) -> None:
    store = str(tmp_path / "s.duckdb")
    result = runner.invoke(runs_cli.app, ["import", "revisiting_lang", "--store", store])
    assert result.exit_code == 0, result.output
    assert "imported" in result.stdout and "712 runs" in result.stdout
    assert "dropped 687 exact duplicate rows" in result.stderr
    result = runner.invoke(
        runs_cli.app, ["import", "chinchilla_epoch", "--json"], env={"SCALINGLAB_STORE": store}
    )
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["n_rows"] == 245 and info["metrics"] == ["loss"]
    result = runner.invoke(runs_cli.app, ["list", "--store", store, "--json"])
    listed = json.loads(result.stdout)
    assert [r["n_rows"] for r in listed] == [712, 245]
    result = runner.invoke(runs_cli.app, ["list", "--store", store])
    assert info["import_id"] in result.stdout
    out = tmp_path / "chin.csv"
    result = runner.invoke(
        runs_cli.app, ["export", str(out), "--import-id", info["import_id"], "--store", store]
    )
    assert result.exit_code == 0, result.output
    assert len(read_runs(out)) == 245


def test_runs_import_mapping(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    path.write_text("params,tokens,loss\n1e8,2e9,3\n", encoding="utf-8")
    result = runner.invoke(
        runs_cli.app,
        [
            "import",
            str(path),
            "--map",
            "N=params",
            "--map",
            "D=tokens",
            "--store",
            str(tmp_path / "s.duckdb"),
        ],
    )
    assert result.exit_code == 0, result.output


def test_runs_import_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    path.write_text("N,D,loss\nabc,2,3\n", encoding="utf-8")
    result = runner.invoke(
        runs_cli.app, ["import", str(path), "--store", str(tmp_path / "s.duckdb")]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: runs.csv: column 'N' has non-numeric values at rows 1")
    assert "Traceback" not in result.output and result.stdout == ""


def test_runs_export_bad_store(tmp_path: Path) -> None:
    bad = tmp_path / "bad.duckdb"
    bad.write_text("not a database" * 100, encoding="utf-8")
    result = runner.invoke(runs_cli.app, ["export", str(tmp_path / "x.csv"), "--store", str(bad)])
    assert result.exit_code == 2 and "cannot open as a scalinglab store" in result.stderr


def test_datasets_commands(tmp_path: Path) -> None:
    result = runner.invoke(datasets_cli.app, ["list", "--json"])
    names = [d["name"] for d in json.loads(result.stdout)]
    assert names == [
        "chinchilla_epoch",
        "overtraining_downstream",
        "overtraining_models",
        "revisiting_lang",
    ]
    assert "chinchilla_epoch" in runner.invoke(datasets_cli.app, ["list"]).stdout
    result = runner.invoke(datasets_cli.app, ["show", "chinchilla_epoch"])
    assert result.exit_code == 0
    assert "# chinchilla_epoch.csv" in result.stdout and "mapping: N=params" in result.stdout
    result = runner.invoke(datasets_cli.app, ["show", "chinchila"])
    assert result.exit_code == 2 and "did you mean 'chinchilla_epoch'" in result.stderr
    out = tmp_path / "ot.parquet"
    result = runner.invoke(datasets_cli.app, ["export", "overtraining_models", str(out)])
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(out)) == 104 and (tmp_path / "ot.md").exists()


def _console_script() -> Path:
    if not hasattr(importlib.import_module("scalinglab.cli"), "main"):
        pytest.skip("scalinglab.cli.main does not exist yet")  # written by the CLI owner
    script = Path(sys.executable).parent / "scalinglab"
    if not script.exists():
        pytest.skip("console script not installed")
    return script


def test_real_entry_point_bad_file(tmp_path: Path) -> None:
    script = _console_script()
    bad = tmp_path / "runs.txt"
    bad.write_text("x", encoding="utf-8")
    env = {**os.environ, "SCALINGLAB_STORE": str(tmp_path / "s.duckdb")}
    proc = subprocess.run(
        [str(script), "runs", "import", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: runs.txt: unknown file type '.txt'")
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    proc = subprocess.run(
        [str(script), "datasets", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0 and len(json.loads(proc.stdout)) == 4
