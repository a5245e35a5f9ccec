"""DuckDB store: round trips, atomic imports, schema versions, fits."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from scalinglab.data import store as store_module
from scalinglab.data.datasets import load_dataset
from scalinglab.data.ingest import read_runs
from scalinglab.data.store import Store, resolve_store_path
from scalinglab.errors import DataError, NotFittedError, StoreError


def snapshot(path: Path) -> dict[str, list[tuple[object, ...]]]:
    con = duckdb.connect(str(path))
    try:
        return {
            t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
            for t in ("meta", "imports", "runs", "fits")
        }
    finally:
        con.close()


def test_resolve_store_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SCALINGLAB_STORE", raising=False)
    assert resolve_store_path(None) == Path("scalinglab.duckdb")
    monkeypatch.setenv("SCALINGLAB_STORE", str(tmp_path / "env.duckdb"))
    assert resolve_store_path(None) == tmp_path / "env.duckdb"
    assert resolve_store_path(str(tmp_path / "x.duckdb")) == tmp_path / "x.duckdb"


@pytest.mark.parametrize("name", ["chinchilla_epoch", "overtraining_downstream", "revisiting_lang"])
def test_round_trip_datasets(tmp_path: Path, name: str) -> None:
    df = load_dataset(name)
    with Store.open(tmp_path / "s.duckdb") as st:
        import_id = st.import_runs(df, source=name)
    with Store.open(tmp_path / "s.duckdb") as st:
        back = st.runs(import_id[:6])
    pd.testing.assert_frame_equal(back, df)
    assert back.attrs == df.attrs


def test_round_trip_long_form_and_missing_metrics(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text(
        "run_id,N,note,metric,value\na,1e8,x,loss,3\na,1e8,x,err,0.5\nb,2e8,,loss,2\n"
        "c,3e8,y,loss,1\n",
        encoding="utf-8",
    )
    df = read_runs(path)
    df.loc[df["run_id"] == "c", "loss"] = float("nan")  # a run with no metric at all
    with Store.open(tmp_path / "s.duckdb") as st:
        back = st.runs(st.import_runs(df, source=str(path)))
    pd.testing.assert_frame_equal(back, df)
    assert back.attrs == df.attrs


def test_list_export_and_all_imports(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.duckdb") as st:
        with pytest.raises(StoreError, match="the store holds no runs"):
            st.runs()
        first = st.import_runs(load_dataset("chinchilla_epoch"), source="chinchilla_epoch")
        assert len(st.runs()) == 245
        st.import_runs(load_dataset("overtraining_models"), source="overtraining_models")
        imports = st.list_imports()
        assert imports["n_rows"].tolist() == [245, 104]
        assert imports["n_values"].tolist() == [245, 104 * 8]
        combined = st.runs()
        assert len(combined) == 349 and "loss_c4_val" in combined.attrs["metrics"]
        out = st.export_runs(tmp_path / "c.parquet", import_id=first)
    back = read_runs(out)
    assert len(back) == 245 and back["D_derived"].all()
    with (
        Store.open(tmp_path / "s.duckdb") as st,
        pytest.raises(StoreError, match=r"import id 'zzz' is not in the store\. Known imports: "),
    ):
        st.runs("zzz")


def test_ambiguous_import_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = iter(["aaaa11112222", "aaaa33334444"])

    class FakeUUID:
        def __init__(self) -> None:
            self.hex = next(ids) + "0" * 20

    monkeypatch.setattr(uuid, "uuid4", FakeUUID)
    df = read_runs(pd.DataFrame({"N": [1.0], "loss": [2.0]}))
    with Store.open(tmp_path / "s.duckdb") as st:
        st.import_runs(df, source="a")
        st.import_runs(df, source="b", again=True)
        with pytest.raises(StoreError, match="import id 'aaaa' matches several imports"):
            st.runs("aaaa")


def test_import_requires_canonical_table(tmp_path: Path) -> None:
    with (
        Store.open(tmp_path / "s.duckdb") as st,
        pytest.raises(DataError, match="not a canonical runs table"),
    ):
        st.import_runs(pd.DataFrame({"loss": [1.0]}), source="x")


def test_failed_import_leaves_store_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.duckdb"
    with Store.open(path) as st:
        st.import_runs(load_dataset("chinchilla_epoch"), source="chinchilla_epoch")
        st.save_fit('{"a": 1}', law="chinchilla", source="chinchilla_epoch")
    before = snapshot(path)
    real = Store._insert_run_rows

    def half_then_fail(self: Store, con: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> None:
        real(self, con, rows.iloc[: len(rows) // 2])
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Store, "_insert_run_rows", half_then_fail)
    with Store.open(path) as st, pytest.raises(RuntimeError, match="disk on fire"):
        st.import_runs(load_dataset("overtraining_models"), source="overtraining_models")
    assert snapshot(path) == before

    def db_error(self: Store, con: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> None:
        con.execute("INSERT INTO no_such_table VALUES (1)")

    monkeypatch.setattr(Store, "_insert_run_rows", db_error)
    with Store.open(path) as st, pytest.raises(StoreError, match="import failed and was rolled"):
        st.import_runs(load_dataset("overtraining_models"), source="overtraining_models")
    assert snapshot(path) == before


def test_killed_import_leaves_store_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    marker = tmp_path / "inside"
    with Store.open(path) as st:
        st.import_runs(load_dataset("chinchilla_epoch"), source="chinchilla_epoch")
    before = snapshot(path)
    script = textwrap.dedent(f"""
        import pathlib, time
        from scalinglab.data.datasets import load_dataset
        from scalinglab.data.store import Store
        real = Store._insert_run_rows
        def slow(self, con, rows):
            real(self, con, rows)
            pathlib.Path({str(marker)!r}).write_text("x")
            time.sleep(60)
        Store._insert_run_rows = slow
        with Store.open({str(path)!r}) as st:
            st.import_runs(load_dataset("overtraining_models"), source="killed")
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the child never reached the middle of the import"
    finally:
        proc.kill()
        proc.wait()
    assert snapshot(path) == before


def test_fits(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.duckdb") as st:
        with pytest.raises(
            NotFittedError,
            match=r"fit id 'abc' is not in the store\. Known fits: "
            r"\(none\)",
        ):
            st.load_fit("abc")
        fit_id = st.save_fit('{"law": "chinchilla"}', law="chinchilla", source="x")
        assert len(fit_id) == 12 and all(c in "0123456789abcdef" for c in fit_id)
        assert st.save_fit('{"law": "chinchilla"}', law="chinchilla", source="x") == fit_id
        other = st.save_fit('{"law": "kaplan"}', law="kaplan", source="x")
        assert st.load_fit(fit_id[:5]) == '{"law": "chinchilla"}'
        fits = st.list_fits()
        assert sorted(fits["fit_id"]) == sorted([fit_id, other])
        assert fits.columns.tolist() == ["fit_id", "created_at", "law", "source"]
        with pytest.raises(NotFittedError, match=f"matches several fits. Known fits: .*{fit_id}"):
            st.load_fit("")


def test_not_a_duckdb_file(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    path.write_text("hello, I am a text file" * 1000, encoding="utf-8")
    with pytest.raises(StoreError, match=f"{path}: cannot open as a scalinglab store"):
        Store.open(path)


def test_foreign_duckdb_file(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t (x INT)")
    con.close()
    with pytest.raises(StoreError, match="not a scalinglab store"):
        Store.open(path)


def set_version(path: Path, value: str | None) -> None:
    with Store.open(path) as st:
        st.save_fit("{}", law="x", source="x")  # the first write creates the file
    con = duckdb.connect(str(path))
    if value is None:
        con.execute("DELETE FROM meta")
    else:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [value])
    con.close()


def test_newer_schema_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    set_version(path, "99")
    with pytest.raises(StoreError, match=r"created by a newer scalinglab \(schema 99; .*upgrade"):
        Store.open(path)


def test_missing_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    set_version(path, None)
    with pytest.raises(StoreError, match="store has no schema_version"):
        Store.open(path)


def test_migration_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.duckdb"
    set_version(path, "0")
    with pytest.raises(StoreError, match="no migration from schema 0 to 1"):
        Store.open(path)
    with pytest.raises(StoreError, match="schema 0 needs upgrading to 1; open it once for writing"):
        Store.open(path, read_only=True)
    steps: list[int] = []
    monkeypatch.setitem(store_module.MIGRATIONS, 0, lambda con: steps.append(0))
    Store.open(path).close()
    assert steps == [0]
    assert snapshot(path)["meta"] == [("schema_version", "1")]
