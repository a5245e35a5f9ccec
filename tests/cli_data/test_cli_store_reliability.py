"""The store's reliability through the real console script: re-imports, missing and in-memory
stores, bounded expressions, misspelt columns, damaged stores, export round trips, and readers
running while imports write. Each failure exits 2 with a message and changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalinglab.data.store import Store


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCALINGLAB_STORE"}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "scalinglab", *args],
        capture_output=True, text=True, timeout=300, env=env, cwd=cwd,
    )  # fmt: skip


def user_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stderr.lstrip().startswith("error:")
    for f in fragments:
        assert f in proc.stderr, (f, proc.stderr)


def imports(store: Path) -> list[str]:
    with Store.open(store, read_only=True) as st:
        return list(st.list_imports()["import_id"])


@pytest.fixture
def work(tmp_path: Path) -> Path:
    N = np.logspace(7, 9, 6)
    pd.DataFrame({"N": N, "D": 20 * N, "loss": 2 + 300 * N**-0.3}).to_csv(
        tmp_path / "runs.csv", index=False
    )
    return tmp_path


def test_same_content_needs_again(work: Path) -> None:
    assert run_cli("runs", "import", "runs.csv", "--store", "s.duckdb", cwd=work).returncode == 0
    before = imports(work / "s.duckdb")
    user_error(run_cli("runs", "import", "runs.csv", "--store", "s.duckdb", cwd=work), "--again")
    assert imports(work / "s.duckdb") == before
    assert (
        run_cli("runs", "import", "runs.csv", "--store", "s.duckdb", "--again", cwd=work).returncode
        == 0
    )
    assert len(imports(work / "s.duckdb")) == 2


def test_missing_and_memory_stores(work: Path) -> None:
    user_error(run_cli("runs", "list", "--store", "typo.duckdb", cwd=work), "no such store")
    assert not (work / "typo.duckdb").exists()
    user_error(run_cli("runs", "import", "runs.csv", "--store", ":memory:", cwd=work), ":memory:")


def test_expressions_are_bounded_and_name_their_option(work: Path) -> None:
    t0 = time.perf_counter()
    user_error(
        run_cli("fit", "runs.csv", "--where", "9**9**9 > 0", "--no-store", cwd=work), "--where"
    )
    assert time.perf_counter() - t0 < 60  # refused, not computed
    user_error(
        run_cli(
            "backtest", "runs.csv", "--law", "chinchilla", "--holdout", "N < 10**400", cwd=work
        ),
        "--holdout",
    )


def test_misspelt_column_is_an_error_with_the_fix(work: Path) -> None:
    frame = pd.read_csv(work / "runs.csv").rename(columns={"N": "n_params"})
    frame.to_csv(work / "bad.csv", index=False)
    assert run_cli("runs", "import", "runs.csv", "--store", "s.duckdb", cwd=work).returncode == 0
    before = imports(work / "s.duckdb")
    user_error(
        run_cli("runs", "import", "bad.csv", "--store", "s.duckdb", cwd=work), "--map N=n_params"
    )
    assert imports(work / "s.duckdb") == before


def test_damaged_store_is_an_error(work: Path) -> None:
    assert run_cli("runs", "import", "runs.csv", "--store", "s.duckdb", cwd=work).returncode == 0
    data = (work / "s.duckdb").read_bytes()
    (work / "cut.duckdb").write_bytes(data[: len(data) // 3])
    user_error(run_cli("runs", "list", "--store", "cut.duckdb", cwd=work))


def test_export_re_imports(work: Path) -> None:
    assert run_cli("runs", "import", "runs.csv", "--store", "s.duckdb", cwd=work).returncode == 0
    assert run_cli("runs", "export", "out.csv", "--store", "s.duckdb", cwd=work).returncode == 0
    proc = run_cli("runs", "import", "out.csv", "--store", "t.duckdb", cwd=work)
    assert proc.returncode == 0, proc.stderr
    a = pd.read_csv(work / "runs.csv")
    with Store.open(work / "t.duckdb", read_only=True) as st:
        b = st.runs()
    np.testing.assert_allclose(b["N"].to_numpy(float), a["N"].to_numpy(float))
    np.testing.assert_allclose(b["loss"].to_numpy(float), a["loss"].to_numpy(float))


@pytest.mark.slow
def test_readers_run_while_imports_write(work: Path) -> None:
    """`runs list` in a loop in three processes while four imports write: every reader call
    succeeds, every import lands exactly once."""
    for k in range(4):
        frame = pd.read_csv(work / "runs.csv")
        frame.assign(loss=frame["loss"] + 0.01 * k).to_csv(work / f"r{k}.csv", index=False)
    assert run_cli("runs", "import", "runs.csv", "--store", "s.duckdb", cwd=work).returncode == 0
    env = {k: v for k, v in os.environ.items() if k != "SCALINGLAB_STORE"}
    loop = (
        "import subprocess, sys\n"
        "for _ in range(4):\n"
        "    p = subprocess.run([sys.executable, '-m', 'scalinglab', 'runs', 'list', '--json',"
        " '--store', 's.duckdb'], capture_output=True, text=True)\n"
        "    assert p.returncode == 0, p.stderr\n"
    )
    readers = [
        subprocess.Popen([sys.executable, "-c", loop], cwd=work, env=env, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    writes = [
        run_cli("runs", "import", f"r{k}.csv", "--store", "s.duckdb", cwd=work) for k in range(4)
    ]
    for r in readers:
        _, err = r.communicate(timeout=300)
        assert r.returncode == 0, err
    assert all(w.returncode == 0 for w in writes), [w.stderr for w in writes]
    with Store.open(work / "s.duckdb", read_only=True) as st:
        sources = sorted(st.list_imports()["source"])
    assert len(sources) == 5 and len(set(sources)) == 5


BAD_FILES = {
    "semicolon": (b"N;D;loss\n1e8;2e9;3.1\n1e9;2e10;2.6\n", "reads as one column"),
    "bool": (b"N,D,loss\n1e8,2e9,true\n1e9,2e10,false\n", "non-numeric values at rows 1, 2"),
    "dup_header": (b"N,D,N,loss\n1e8,2e9,1e8,3.1\n", "names a column more than once"),
    "overflow": (b"N,D,loss\n1e300,1e300,3.1\n1e8,2e9,2.9\n", "derived C overflows"),
    "not_utf8": (b"N,D,loss,name\n1e8,2e9,3.1,ok\n1e9,2e10,2.6,caf\xe9\n", "not UTF-8 text"),
    "many_bad": (
        b"N,D,loss\n" + b"".join(b"-1,2e9,3.1\n" for _ in range(60)),
        "more",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_files_are_refused_by_the_console_script(work: Path, kind: str) -> None:
    data, fragment = BAD_FILES[kind]
    (work / "bad.csv").write_bytes(data)
    assert run_cli("runs", "import", "runs.csv", "--store", "s.duckdb", cwd=work).returncode == 0
    before = imports(work / "s.duckdb")
    proc = run_cli("runs", "import", "bad.csv", "--store", "s.duckdb", cwd=work)
    user_error(proc, fragment)
    assert len(proc.stderr) < 2000  # row lists are capped, not one line per row
    assert imports(work / "s.duckdb") == before
