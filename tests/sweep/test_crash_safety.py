"""Crash safety: a worker SIGKILLed mid-run, then the driver SIGKILLed mid-sweep; after resuming,
every run is stored exactly once with a complete curve and none was trained to completion twice
(counted in the work directory's ledger). Runs through the real console script."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sweep_helpers import run_cli, scalinglab_cli, variant, write_sweep

from scalinglab.data.store import Store
from scalinglab.sweep import load_spec, plan_sweep
from scalinglab.sweep.store import stored_imports
from scalinglab.sweep.workdir import WorkDir, read_json

CRASH = variant(design={"sizes": [3000.0, 6000.0, 12000.0], "tokens_per_param": 2.0})


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SCALINGLAB_STORE"}
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    return env


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for(what: str, cond: Callable[[], Any], driver: subprocess.Popen[str]) -> Any:
    deadline = time.time() + 240
    while time.time() < deadline:
        got = cond()
        if got:
            return got
        if driver.poll() is not None:
            pytest.fail(f"the sweep ended before {what}: {driver.communicate()}")
        time.sleep(0.05)
    driver.kill()
    pytest.fail(f"timed out waiting for {what}")


def _mid_run(wd: WorkDir, keys: list[str], exclude: set[int]) -> dict[str, Any] | None:
    """A run some live process is training, between its first checkpoint and its end."""
    for key in keys:
        p = read_json(wd.progress(key))
        if p and p["pid"] not in exclude and _alive(p["pid"]) and 10 <= p["step"] < p["steps"] - 10:
            return dict(p)
    return None


@pytest.mark.slow
def test_sigkill_worker_then_driver_then_resume(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "crash.toml", CRASH)
    keys = [r.key for r in plan_sweep(load_spec(sweep))]
    wd = WorkDir(tmp_path / "work" / "tiny")
    store = tmp_path / "runs.duckdb"
    args = ["sweep", "run", str(sweep), "--store", str(store), "--workdir", str(tmp_path / "work")]
    args += ["--checkpoint-every", "5", "--quiet"]
    driver = subprocess.Popen(
        [*scalinglab_cli(), *args],
        cwd=tmp_path,
        env=_env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # 1. SIGKILL the worker in the middle of a run
    first = _wait_for("a run in progress", lambda: _mid_run(wd, keys, set()), driver)
    os.kill(first["pid"], signal.SIGKILL)

    # 2. once a run is stored and another one is mid-way (on a fresh worker), SIGKILL the driver
    def stored_and_busy() -> dict[str, Any] | None:
        state = read_json(wd.state) or {}
        return _mid_run(wd, keys, {first["pid"]}) if state.get("stored") else None

    second = _wait_for("a stored run and another in progress", stored_and_busy, driver)
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=30)
    deadline = time.time() + 30  # its worker dies with it (PR_SET_PDEATHSIG)
    while _alive(second["pid"]) and time.time() < deadline:
        time.sleep(0.05)
    assert not _alive(second["pid"]), "the worker outlived its driver"
    assert len(stored_imports(store, "tiny")) < len(keys)

    status = run_cli(
        "sweep", "status", str(sweep), "--workdir", str(tmp_path / "work"), "--json", cwd=tmp_path
    )
    assert status.returncode == 0, status.stderr
    seen = json.loads(status.stdout)
    assert seen["driver"]["driver_alive"] is False
    assert {r["state"] for r in seen["runs"]} & {"interrupted", "finished", "pending"}

    # 3. resume: everything ends stored exactly once, nothing trained to completion twice
    done = run_cli(*args, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert sorted(outcome["skipped"] + outcome["recovered"] + outcome["trained"]) == sorted(keys)
    imports = stored_imports(store, "tiny")
    assert sorted(imports) == sorted(keys)
    with Store.open(store) as st:
        sources = list(st.list_imports()["source"])
        assert len(sources) == len(keys)  # one import per run, no duplicates
        for key, import_id in imports.items():
            curve = st.runs(import_id)
            steps = int(curve["steps"].iloc[0])
            evals = sorted(curve.dropna(subset=["val_loss"])["step"].astype(int))
            every = CRASH["train"]["eval_every"]
            assert evals == sorted({*range(every, steps + 1, every), steps}), key
    assert wd.completions() == {k: 1 for k in keys}
    resumed = [read_json(wd.result(k))["resumed_from_step"] for k in (first["key"], second["key"])]
    assert all(step > 0 for step in resumed), resumed  # both went on from their checkpoints


@pytest.mark.slow
def test_finished_results_are_stored_not_retrained(tmp_path: Path) -> None:
    """A worker finished runs whose results the driver never stored (here: a new, empty store
    with the same work directory): the next sweep run stores them without training."""
    sweep = write_sweep(
        tmp_path / "s.toml", variant(design={"sizes": [3000.0], "tokens_per_param": 1.0})
    )
    work = ["--workdir", str(tmp_path / "work"), "--quiet", "--json"]
    first = run_cli(
        "sweep", "run", str(sweep), "--store", str(tmp_path / "a.duckdb"), *work, cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr
    [key] = json.loads(first.stdout)["trained"]
    again = run_cli(
        "sweep", "run", str(sweep), "--store", str(tmp_path / "b.duckdb"), *work, cwd=tmp_path
    )
    out = json.loads(again.stdout)
    assert (out["recovered"], out["trained"]) == ([key], [])
    assert WorkDir(tmp_path / "work" / "tiny").completions() == {key: 1}
    third = run_cli(
        "sweep", "run", str(sweep), "--store", str(tmp_path / "b.duckdb"), *work, cwd=tmp_path
    )
    assert json.loads(third.stdout)["skipped"] == [key]
