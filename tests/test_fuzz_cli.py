"""Fuzzing the CLI: hypothesis-generated tables and options through ``runs import``, ``fit``,
``predict`` and ``plan``. Whatever the input, a command ends with exit code 0 or 2 (never a
traceback), and a command that exits 2 leaves the store as it was.

The commands run in process through the real typer app (``CliRunner``), so a few hundred
examples fit in CI's time; the subprocess tests elsewhere cover the entry point itself.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from scalinglab.cli.application import app
from scalinglab.data.store import Store

pytestmark = pytest.mark.slow
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
COLUMNS = ["N", "D", "C", "loss", "n_params", "los", "lr", "size"]
cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=1e6, max_value=1e12),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from(["", "abc", "1e999", "nan", "true", "2024-01-01", "1,5", "-0"]),
    st.booleans(),
)
tables = st.builds(
    lambda cols, rows: pd.DataFrame({c: col for c, col in zip(cols, rows, strict=False)}),
    st.lists(st.sampled_from(COLUMNS), min_size=0, max_size=5, unique=True),
    st.integers(min_value=0, max_value=12).flatmap(
        lambda n: st.lists(st.lists(cells, min_size=n, max_size=n), min_size=5, max_size=5)
    ),
)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1e24", "-1", "0", "abc", "1e400", "nan"]),
)


def invoke(*args: str) -> Any:
    runner = CliRunner()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{args}: {type(result.exception).__name__}: {result.exception}\n{result.output}"
    )
    assert result.exit_code in (0, 2), (args, result.exit_code, result.output)
    assert "Traceback" not in result.output
    return result


def snapshot(store: Path) -> Any:
    if not store.exists():
        return None
    with Store.open(store, read_only=True) as st_:
        imports = st_.list_imports().drop(columns=["created_at"], errors="ignore")
        fits = st_.list_fits().drop(columns=["created_at"], errors="ignore")
    return imports.to_json(), fits.to_json()


def write(table: pd.DataFrame, folder: Path, fmt: str) -> Path:
    path = folder / f"runs.{fmt}"
    if fmt == "csv":
        table.to_csv(path, index=False)
    else:
        path.write_text(json.dumps(table.astype(object).to_dict(orient="records"), default=str))
    return path


@pytest.fixture(scope="module")
def fit_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzzfit")
    N, D = np.meshgrid(np.logspace(7, 9, 4), np.logspace(9, 11, 4))
    loss = 1.8 + 400 * N.ravel() ** -0.34 + 1500 * D.ravel() ** -0.36
    pd.DataFrame({"N": N.ravel(), "D": D.ravel(), "loss": loss}).to_csv(folder / "ok.csv")
    out = folder / "fit.json"
    r = invoke(
        "fit", str(folder / "ok.csv"), "--bootstrap", "20", "--no-store", "--out", str(out), "-q"
    )
    assert r.exit_code == 0, r.output
    return out


@SETTINGS
@given(table=tables, fmt=st.sampled_from(["csv", "json"]))
def test_runs_import_never_tracebacks(table: pd.DataFrame, fmt: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        store = folder / "s.duckdb"
        invoke(
            "runs",
            "import",
            str(write(pd.DataFrame({"N": [1e8], "D": [1e9], "loss": [3.0]}), folder, "csv")),
            "--store",
            str(store),
        )
        before = snapshot(store)
        path = write(table, folder, fmt)
        r = invoke("runs", "import", str(path), "--store", str(store))
        if r.exit_code == 2:
            assert snapshot(store) == before


@SETTINGS
@given(data=st.binary(max_size=200), suffix=st.sampled_from([".csv", ".json", ".parquet"]))
def test_random_bytes_never_traceback(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"x{suffix}"
        path.write_bytes(data)
        store = Path(d) / "s.duckdb"
        invoke("runs", "import", str(path), "--store", str(store))
        invoke("fit", str(path), "--bootstrap", "0", "--no-calibrate", "--store", str(store), "-q")
        invoke("predict", str(path), "--N", "1e9", "--D", "1e10")


@SETTINGS
@given(
    table=tables,
    law=st.sampled_from(["chinchilla", "kaplan", "power_law", "nolaw"]),
    where=st.sampled_from(
        [None, "N > 1e8", "9**9**9 > 0", "N < 10**400", "loss <<< 3", "__import__('os')"]
    ),
    boot=st.sampled_from(["0", "3", "-1"]),
    workers=st.sampled_from(["1", "-3"]),
)
def test_fit_never_tracebacks(
    table: pd.DataFrame, law: str, where: str | None, boot: str, workers: str
) -> None:
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        store = folder / "s.duckdb"
        path = write(table, folder, "csv")
        args = [
            "fit",
            str(path),
            "--law",
            law,
            "--bootstrap",
            boot,
            "--workers",
            workers,
            "--store",
            str(store),
            "--no-calibrate",
            "-q",
        ]
        if where is not None:
            args += ["--where", where]
        before = snapshot(store)
        r = invoke(*args)
        if r.exit_code == 2:
            assert snapshot(store) == before


@SETTINGS
@given(
    n=numbers,
    dd=numbers,
    level=st.sampled_from([None, "0.9", "1.5", "-1"]),
    interval=st.sampled_from(["calibrated", "bootstrap", "nope"]),
)
def test_predict_never_tracebacks(
    fit_file: Path, n: Any, dd: Any, level: str | None, interval: str
) -> None:
    args = ["predict", str(fit_file), "--N", str(n), "--D", str(dd), "--interval", interval]
    if level is not None:
        args += ["--level", level]
    invoke(*args)


@SETTINGS
@given(
    compute=numbers,
    target=st.one_of(st.none(), numbers),
    inference=st.sampled_from([None, "1e12", "-5", "nan"]),
)
def test_plan_never_tracebacks(
    fit_file: Path, compute: Any, target: Any, inference: str | None
) -> None:
    args = ["plan", str(fit_file), "--compute", str(compute)]
    if target is not None:
        args += ["--target-loss", str(target)]
    if inference is not None:
        args += ["--inference-tokens", inference]
    invoke(*args)


def test_fuzz_checker_catches_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    # the invoke() check itself fails on an uncaught exception planted in a command
    from scalinglab.laws import registry

    def boom(name: str) -> None:
        raise RuntimeError("planted bug")

    monkeypatch.setattr(registry, "get_law", boom)
    with pytest.raises(AssertionError, match="RuntimeError: planted bug"):
        invoke("laws", "show", "chinchilla")
