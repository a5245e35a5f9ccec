"""Progress of a running sweep: rich bars on stderr for the driver, and a status table any other
process can build from the work directory alone (no store access, no lock held).
"""

from __future__ import annotations

import fcntl
import os
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from scalinglab.sweep.spec import SweepError
from scalinglab.sweep.workdir import WorkDir, read_json


class SweepProgress:
    """The driver's bars: runs done (with ETA) and one bar per training run (step, loss)."""

    def __init__(self, wd: WorkDir, total: int, done: int, *, quiet: bool = False) -> None:
        self.wd = wd
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[loss]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
            disable=quiet,
        )
        self.runs = self.bar.add_task("runs", total=total, completed=done, loss="")
        self.active: dict[str, TaskID] = {}

    def __enter__(self) -> SweepProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(None, None, None)

    def finished(self, key: str) -> None:
        """Run ``key`` is done (stored or failed)."""
        self.bar.advance(self.runs, 1)
        task = self.active.pop(key, None)
        if task is not None:
            self.bar.remove_task(task)

    def tick(self) -> None:
        """Refresh the per-run bars from the workers' progress files."""
        for p in self.wd.root.joinpath("runs").glob("*.progress.json"):
            info = read_json(p)
            key = p.name.split(".")[0]
            if not isinstance(info, dict) or info.get("step", 0) >= info.get("steps", 1):
                continue
            loss = info.get("loss")
            text = f"loss {loss:.3f}" if isinstance(loss, float) else ""
            if key not in self.active:
                self.active[key] = self.bar.add_task(
                    f"  {key}", total=info.get("steps", 1), loss=""
                )
            self.bar.update(self.active[key], completed=info.get("step", 0), loss=text)


def _running(wd: WorkDir, key: str) -> bool:
    """Whether some process holds run ``key``'s lock (tried without blocking, released at once)."""
    path = wd.lock(key)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


@dataclass(frozen=True)
class RunStatus:
    """One run's state: ``stored`` (in the store), ``finished`` (result written, not yet
    stored), ``running``, ``interrupted`` (a checkpoint, no process), ``failed`` or ``pending``."""

    key: str
    state: str
    step: int
    steps: int
    loss: float | None
    completions: int
    run: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "state": self.state,
            "step": self.step,
            "steps": self.steps,
            "loss": self.loss,
            "completions": self.completions,
            **{k: self.run[k] for k in ("group", "N", "N_total", "D", "C", "lr", "seed")},
        }


def sweep_status(wd: WorkDir) -> tuple[dict[str, Any], list[RunStatus]]:
    """(driver state, per-run status) from the work directory, read-only."""
    plan = read_json(wd.plan)
    if not isinstance(plan, dict):
        raise SweepError(
            f"{wd.root}: no sweep plan there; start the sweep with 'scalinglab sweep run FILE' "
            "(or pass the --workdir it used)."
        )
    state = read_json(wd.state) or {}
    stored = set(state.get("stored", []))
    failed = dict(state.get("failed", {}))
    counts = wd.completions()
    out = []
    for run in plan["runs"]:
        key = run["key"]
        prog = read_json(wd.progress(key)) or {}
        if key in stored:
            status = "stored"
        elif wd.result(key).exists():
            status = "finished"
        elif _running(wd, key):
            status = "running"
        elif key in failed:
            status = "failed"
        elif wd.checkpoint(key).exists():
            status = "interrupted"
        else:
            status = "pending"
        out.append(
            RunStatus(
                key=key,
                state=status,
                step=int(prog.get("step", run["steps"] if status in ("stored", "finished") else 0)),
                steps=int(run["steps"]),
                loss=prog.get("loss"),
                completions=counts.get(key, 0),
                run=run,
            )
        )
    state = dict(state)
    alive = state.get("pid") and state.get("active") and _pid_alive(int(state["pid"]))
    state["driver_alive"] = bool(alive)
    state["age_s"] = time.time() - float(state.get("updated", time.time()))
    return state, out


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
