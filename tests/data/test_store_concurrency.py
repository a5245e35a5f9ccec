"""Many processes on one store: readers loop while writers import, then a writer is SIGKILLed
in the middle of an import. Every committed import must be there exactly once, the killed one
not at all, no reader may fail, and the store must open cleanly afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scalinglab.data.store import Store

WORKER = Path(__file__).with_name("store_worker.py")


def start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 90) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out, err


@pytest.mark.slow
def test_readers_and_writers_and_a_killed_writer(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    sys.path.insert(0, str(WORKER.parent))
    try:
        from store_worker import table
    finally:
        sys.path.remove(str(WORKER.parent))
    with Store.open(store) as st:
        st.import_runs(table(-1), source="first")
    readers = [start("reader", str(store), str(tmp_path), f"r{i}") for i in range(3)]
    writers = [start("writer", str(store), str(tmp_path), f"w{i}", "4") for i in range(2)]
    results = [finish(w) for w in writers]
    for rc, _, err in results:
        assert rc == 0, err
    stuck = start("stuck", str(store), str(tmp_path))
    deadline = time.monotonic() + 60
    while not (tmp_path / "inside").exists() and time.monotonic() < deadline:
        assert stuck.poll() is None, stuck.communicate()[1]
        time.sleep(0.02)
    assert (tmp_path / "inside").exists(), "the writer never reached the middle of its import"
    time.sleep(0.3)  # readers now wait on the stuck writer's lock
    stuck.send_signal(signal.SIGKILL)
    finish(stuck)
    time.sleep(0.5)  # readers get in again after the kill
    (tmp_path / "stop").write_text("", encoding="utf-8")
    for proc in readers:
        rc, out, err = finish(proc)
        assert rc == 0, err
        assert int(out) > 0
    committed = ["first"] + [
        line for i in range(2) for line in (tmp_path / f"w{i}.log").read_text().splitlines()
    ]
    assert len(committed) == 9
    with Store.open(store, read_only=True) as st:
        sources = st.list_imports()["source"].tolist()
        assert len(st.runs()) == 9 * 20
    assert sorted(sources) == sorted(committed)
    with Store.open(store) as st:  # opens for writing cleanly after the kill
        st.save_fit("{}", law="x", source="after")
        assert st.list_fits()["source"].tolist() == ["after"]
