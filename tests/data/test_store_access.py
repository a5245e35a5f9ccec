"""Store access: read-only opens, missing stores, :memory:, lock waits and their messages,
re-imports, stores that cannot be written, damaged files. Each refusal leaves the store as it was."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalinglab.cli import runs as runs_cli
from scalinglab.data import locking
from scalinglab.data.datasets import load_dataset
from scalinglab.data.ingest import read_runs
from scalinglab.data.store import Store
from scalinglab.errors import DataError, StoreError


def contents(path: Path) -> dict[str, list[tuple[object, ...]]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
            for t in ("meta", "imports", "runs", "fits")
        }
    finally:
        con.close()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "runs.duckdb"
    with Store.open(path) as st:
        st.import_runs(load_dataset("chinchilla_epoch"), source="chinchilla_epoch")
    return path


def test_read_only_missing_store_is_not_created(store: Path) -> None:
    typo = store.with_name("rusn.duckdb")
    with pytest.raises(
        StoreError,
        match=r"no such store .*rusn\.duckdb \(did you mean 'runs\.duckdb'\?\)\. Stores in .*: "
        r"runs\.duckdb\. Check --store",
    ):
        Store.open(typo, read_only=True)
    assert not typo.exists()


def test_writable_open_of_a_missing_store_reads_empty_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    with Store.open(path) as st:
        assert st.list_imports().empty and st.list_fits().empty
        with pytest.raises(StoreError, match="the store holds no runs"):
            st.runs()
    assert not path.exists()
    with Store.open(path) as st:
        st.save_fit("{}", law="x", source="y")
    assert path.exists()


def test_memory_store_refused() -> None:
    with pytest.raises(StoreError, match=r"--store :memory: would keep nothing .* file path"):
        Store.open(":memory:")


def test_read_only_store_refuses_writes(store: Path) -> None:
    before = contents(store)
    with (
        Store.open(store, read_only=True) as st,
        pytest.raises(StoreError, match="was opened read-only; open it with read_only=False"),
    ):
        st.save_fit("{}", law="x", source="y")
    assert contents(store) == before


def test_closed_store_refuses_calls(store: Path) -> None:
    st = Store.open(store)
    st.close()
    with pytest.raises(StoreError, match="is closed; open it again"):
        st.list_imports()


def test_bad_timeout_and_directory(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="store timeout must be >= 0 seconds, got -1"):
        Store.open(tmp_path / "s.duckdb", timeout=-1)
    with pytest.raises(StoreError, match=r"is a directory; pass a \.duckdb file path"):
        Store.open(tmp_path)


def test_writer_waits_then_names_the_writer(store: Path) -> None:
    before = contents(store)
    writer = Store.open(store, timeout=0.3)
    reader = Store.open(store, read_only=True, timeout=0.2)
    with locking.write_lock(store, timeout=1):
        with pytest.raises(
            StoreError,
            match=rf"store {store} is being written by another process \(pid {os.getpid()}\); "
            r"waited 0\.[3-9] s; try again or use --store another file\.",
        ):
            writer.save_fit("{}", law="x", source="y")
        with pytest.raises(StoreError, match=r"is being written by another process \(pid"):
            reader.list_imports()
    assert contents(store) == before
    assert len(reader.list_imports()) == 1  # released: reads go on


def test_writer_waits_for_readers_in_progress(store: Path) -> None:
    before = contents(store)
    writer = Store.open(store, timeout=0.2)
    with (
        locking.read_lock(store, timeout=1),
        pytest.raises(StoreError, match=r"is being read by other processes; waited"),
    ):
        writer.save_fit("{}", law="x", source="y")
    assert contents(store) == before
    with locking.read_lock(store, timeout=1):  # readers share
        assert len(Store.open(store, read_only=True, timeout=0.2).list_imports()) == 1


def test_program_outside_the_locks_holding_the_file(store: Path) -> None:
    script = textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(store)!r})
        print("holding", flush=True)
        time.sleep(30)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
        with pytest.raises(StoreError, match=r"is held by another program \(DuckDB says: .*lock"):
            Store.open(store, read_only=True, timeout=0.3)
    finally:
        proc.kill()
        proc.wait()
    assert len(Store.open(store, read_only=True).list_imports()) == 1


def test_same_content_needs_again(store: Path) -> None:
    before = contents(store)
    with (
        Store.open(store) as st,
        pytest.raises(
            DataError,
            match=r"again: the same runs \(sha256 [0-9a-f]{12}\.\.\.\) are already in .* as import "
            r"[0-9a-f]{12} \(from chinchilla_epoch, .*\); importing them again would count every "
            r"run twice\. Pass --again \(again=True\)",
        ),
    ):
        st.import_runs(load_dataset("chinchilla_epoch"), source="again")
    assert contents(store) == before
    with Store.open(store) as st:
        st.import_runs(load_dataset("chinchilla_epoch"), source="again", again=True)
        assert st.list_imports()["source"].tolist() == ["chinchilla_epoch", "again"]


def test_cli_reimport_exits_2_and_changes_nothing(store: Path, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("N,D,loss\n1e8,2e9,3\n", encoding="utf-8")
    args = ["import", str(path), "--store", str(store)]
    assert CliRunner().invoke(runs_cli.app, args).exit_code == 0
    before = contents(store)
    result = CliRunner().invoke(runs_cli.app, args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.startswith(f"error: {path}: the same runs (sha256 ")
    assert contents(store) == before


def test_import_without_a_metric(store: Path) -> None:
    before = contents(store)
    df = read_runs(pd.DataFrame({"N": [1e8, 2e8], "D": [1e9, 2e9], "los": [3.0, 2.9]}))
    with (
        Store.open(store) as st,
        pytest.raises(
            DataError,
            match=r"x\.csv: cannot import: no metric column among 'run_id', 'N', 'D', 'C', 'los': "
            r"metrics are recognised by name .* column 'los' looks like 'loss': add "
            r"--map loss=los\.",
        ),
    ):
        st.import_runs(df, source="x.csv")
    df = read_runs(pd.DataFrame({"N": [1e8], "ppl": [3.0]}))
    with Store.open(store) as st, pytest.raises(DataError, match="or add --map loss=COLUMN"):
        st.import_runs(df, source="y.csv")
    assert contents(store) == before


def test_unwritable_folder_still_reads(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a read-only folder (root ignores chmod, so the refusal is simulated): lock files
    cannot be created or opened for writing; reads go ahead, writes say why they cannot."""
    before = contents(store)
    for lock in locking.sidecars(store):
        lock.unlink(missing_ok=True)
    real = locking._open

    def no_write(path: Path, *, write: bool) -> int:
        if write:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, write=write)

    monkeypatch.setattr(locking, "_open", no_write)
    with Store.open(store) as st:
        assert st.list_imports()["n_rows"].tolist() == [245]
        with pytest.raises(
            StoreError, match=r"cannot be written: its lock file cannot be created .*Permission"
        ):
            st.save_fit("{}", law="x", source="y")
    assert contents(store) == before


def test_reads_never_open_the_file_for_writing(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    modes: list[bool] = []
    real = duckdb.connect

    def spy(database: str, *args: Any, read_only: bool = False, **kw: Any) -> Any:
        modes.append(read_only)
        return real(database, *args, read_only=read_only, **kw)

    monkeypatch.setattr(duckdb, "connect", spy)
    with Store.open(store) as st:  # opened for writing, but only reads
        st.runs()
        st.list_imports()
        st.list_fits()
    assert modes and all(modes)


def test_damaged_file(store: Path) -> None:
    data = store.read_bytes()
    store.write_bytes(data[: len(data) // 3])
    with pytest.raises(StoreError, match=r"cannot (read the store|open as a scalinglab store)"):
        Store.open(store, read_only=True)
