"""`sweep status` reads the work directory only: each run's state from its files and locks."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pandas as pd
import pytest
from sweep_helpers import run_cli

from scalinglab.sweep.progress import sweep_status
from scalinglab.sweep.spec import SweepError
from scalinglab.sweep.store import final_runs, sweep_runs
from scalinglab.sweep.workdir import WorkDir, atomic_write_json


def _plan(wd: WorkDir, keys: list[str]) -> None:
    run = {"group": "ladder", "N": 1000, "N_total": 2000, "D": 64000, "C": 3.84e8, "lr": 3e-3}
    runs = [dict(run, key=k, seed=0, steps=100) for k in keys]
    atomic_write_json(wd.plan, {"spec": {}, "runs": runs})


def test_each_state_is_read_from_the_work_directory(tmp_path: Path) -> None:
    wd = WorkDir.for_sweep("demo", tmp_path).create()
    keys = ["stored", "finished", "running", "interrupted", "failed", "pending"]
    _plan(wd, keys)
    atomic_write_json(
        wd.state,
        {"stored": ["stored"], "failed": {"failed": "boom"}, "pid": 2**22 + 7, "active": True},
    )
    atomic_write_json(wd.result("finished"), {})
    wd.checkpoint("interrupted").write_bytes(b"x")
    atomic_write_json(wd.progress("running"), {"step": 40, "steps": 100, "loss": 2.5})
    wd.record_completion("stored")
    fd = os.open(wd.lock("running"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a worker training "running" holds it
    try:
        state, runs = sweep_status(wd)
    finally:
        os.close(fd)
    assert {r.key: r.state for r in runs} == {k: k for k in keys}
    running = next(r for r in runs if r.key == "running")
    assert (running.step, running.loss) == (40, 2.5)
    assert [r.completions for r in runs] == [1, 0, 0, 0, 0, 0]
    assert state["driver_alive"] is False  # that pid does not exist


@pytest.mark.slow
def test_status_cli_by_sweep_name(tmp_path: Path) -> None:
    wd = WorkDir.for_sweep("demo", tmp_path / "w").create()
    _plan(wd, ["a1"])
    res = run_cli(
        "sweep", "status", "demo", "--workdir", str(tmp_path / "w"), "--json", cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    assert [r["state"] for r in json.loads(res.stdout)["runs"]] == ["pending"]
    missing = run_cli("sweep", "status", "nope", "--workdir", str(tmp_path / "w"), cwd=tmp_path)
    assert missing.returncode == 2 and "no sweep plan there" in missing.stderr


def test_no_plan_no_runs_no_metric_errors(tmp_path: Path) -> None:
    with pytest.raises(SweepError, match=r"no sweep plan there; start the sweep"):
        sweep_status(WorkDir(tmp_path / "none"))
    with pytest.raises(SweepError, match=r"no runs of sweep 'demo' are stored"):
        sweep_runs(tmp_path / "absent.duckdb", "demo")
    curves = pd.DataFrame({"run_id": ["a"], "N": [1.0], "train_loss": [2.0]})
    with pytest.raises(SweepError, match=r"no 'val_loss' values; columns: run_id, N, train_loss"):
        final_runs(curves)


def test_final_row_is_the_last_evaluation_with_the_peak_lr() -> None:
    curves = pd.DataFrame(
        {
            "run_id": ["a", "a", "a", "b"],
            "N": [10.0, 10.0, 10.0, 20.0],
            "D": [1.0, 3.0, 2.0, 5.0],
            "step": [1.0, 3.0, 2.0, 5.0],
            "lr": [1e-3, 1e-4, 5e-4, 1e-4],
            "peak_lr": [1e-3, 1e-3, 1e-3, 2e-3],
            "val_loss": [4.0, 3.0, 3.5, 2.0],
        }
    )
    final = final_runs(curves)
    assert final[["run_id", "D", "lr", "loss"]].values.tolist() == [
        ["a", 3.0, 1e-3, 3.0],
        ["b", 5.0, 2e-3, 2.0],
    ]
