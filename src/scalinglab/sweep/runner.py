"""The sweep driver: plan, skip what is stored, train the rest, store each run as it finishes.

Crash safety, by construction:

* A run is named by its config hash (``TrainConfig.key()``), so a restarted driver plans the
  same keys and recognises every run it has seen.
* Runs already in the store (an import with source ``sweep:NAME:KEY``) are skipped.
* A run whose result file exists but is not stored (a worker finished it, then the driver died)
  is stored now, not retrained.
* Any other run trains from its last checkpoint (``WorkDir.checkpoint``) if it has one.
* Only this process writes the store, one transaction per run: the store never holds half a
  run, and a SIGKILL between runs loses nothing that the result files do not still hold.
* ``state.json`` (atomically replaced) tells ``scalinglab sweep status`` what the driver knows.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from scalinglab.data.store import resolve_store_path
from scalinglab.sweep.design import PlannedRun, check_corpus, plan_sweep
from scalinglab.sweep.progress import SweepProgress
from scalinglab.sweep.spec import SweepError, SweepSpec
from scalinglab.sweep.store import store_result, stored_imports
from scalinglab.sweep.workdir import WorkDir, atomic_write_json, read_json

logger = logging.getLogger(__name__)


class Runner(Protocol):
    def run(self, tasks: list[dict[str, Any]], tick: Any = ...) -> Any: ...


@dataclass(frozen=True)
class SweepOutcome:
    """What a ``sweep run`` did. ``skipped``: runs already stored; ``recovered``: finished runs
    stored from their result files; ``trained``: runs trained (or resumed) and stored now;
    ``failed``: key -> error message; ``notes``: data repetition and the like."""

    name: str
    planned: int
    skipped: tuple[str, ...]
    recovered: tuple[str, ...]
    trained: tuple[str, ...]
    failed: dict[str, str]
    workdir: str
    store: str
    seconds: float
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "planned": self.planned,
            "skipped": list(self.skipped),
            "recovered": list(self.recovered),
            "trained": list(self.trained),
            "failed": dict(self.failed),
            "workdir": self.workdir,
            "store": self.store,
            "seconds": self.seconds,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepOutcome:
        return cls(
            name=d["name"],
            planned=int(d["planned"]),
            skipped=tuple(d["skipped"]),
            recovered=tuple(d["recovered"]),
            trained=tuple(d["trained"]),
            failed=dict(d["failed"]),
            workdir=d["workdir"],
            store=d["store"],
            seconds=float(d["seconds"]),
            notes=tuple(d.get("notes", ())),
        )


def corpus_tokens(spec: SweepSpec) -> int:
    """Unique training tokens of the sweep's corpus (loads, and caches, the corpus)."""
    from scalinglab.sweep.worker import corpus_for

    return int(corpus_for(spec.data, spec.vocab_size).unique_tokens)


def prepare(spec: SweepSpec) -> tuple[list[PlannedRun], list[str]]:
    """The planned runs and the notes about data repetition; every check that can fail before
    training (shapes, budgets, corpus size) runs here."""
    runs = plan_sweep(spec)
    return runs, check_corpus(spec, runs, corpus_tokens(spec))


class _State:
    """The driver's state file, rewritten atomically after every change."""

    def __init__(self, wd: WorkDir, spec: SweepSpec, store: Path, total: int) -> None:
        self.wd = wd
        self.data: dict[str, Any] = {
            "name": spec.name,
            "store": str(store),
            "pid": os.getpid(),
            "started": time.time(),
            "total": total,
            "stored": [],
            "failed": {},
            "active": True,
        }

    def write(self, **changes: Any) -> None:
        self.data.update(changes)
        self.data["updated"] = time.time()
        atomic_write_json(self.wd.state, self.data)


def make_runner(workers: int, ray_address: str | None) -> Runner:
    """The local runner with ``workers`` processes, or the Ray runner when an address is given."""
    if workers < 1:
        raise SweepError(f"--workers must be at least 1, got {workers}.")
    if ray_address:
        from scalinglab.sweep.ray_runner import RayRunner

        return RayRunner(address=ray_address)
    from scalinglab.sweep.local import LocalRunner

    return LocalRunner(workers=workers)


def run_sweep(
    spec: SweepSpec,
    *,
    store: str | os.PathLike[str] | None = None,
    workdir: str | os.PathLike[str] | None = None,
    workers: int = 1,
    ray_address: str | None = None,
    checkpoint_every: int = 50,
    quiet: bool = False,
    runner: Runner | None = None,
) -> SweepOutcome:
    """Train every run of ``spec`` not yet stored and store each as it finishes.

    ``store``: the DuckDB store (see :func:`resolve_store_path`); ``workdir``: the parent of the
    sweep's work directory (default ``.scalinglab/sweeps``); ``workers``: local processes;
    ``ray_address``: run on Ray instead (``local``, ``auto`` or ``HOST:PORT``);
    ``checkpoint_every``: steps between checkpoints. Failed runs are listed in the outcome;
    running the same sweep again retries them."""
    runs, notes = prepare(spec)
    wd = WorkDir.for_sweep(spec.name, workdir).create()
    with wd.driver_lock():
        return _drive(
            spec,
            runs,
            notes,
            wd,
            store,
            runner or make_runner(workers, ray_address),
            checkpoint_every=checkpoint_every,
            quiet=quiet,
        )


def _drive(
    spec: SweepSpec,
    runs: list[PlannedRun],
    notes: list[str],
    wd: WorkDir,
    store: str | os.PathLike[str] | None,
    runner: Runner,
    *,
    checkpoint_every: int,
    quiet: bool,
) -> SweepOutcome:
    t0 = time.time()
    atomic_write_json(wd.plan, {"spec": spec.to_dict(), "runs": [r.to_dict() for r in runs]})
    store_path = resolve_store_path(store)
    have = set(stored_imports(store_path, spec.name))
    by_key = {r.key: r for r in runs}
    state = _State(wd, spec, store_path, len(runs))
    stored = [k for k in by_key if k in have]
    state.write(stored=stored)
    recovered = []
    for r in runs:
        result = None if r.key in have else read_json(wd.result(r.key))
        if result is not None:
            store_result(store_path, spec.name, r, result)
            recovered.append(r.key)
            stored.append(r.key)
            state.write(stored=stored)
    todo = [r for r in runs if r.key not in stored]
    tasks = [_task(r, wd, checkpoint_every) for r in todo]
    trained, failed = _train(runner, tasks, by_key, wd, state, quiet, store_path)
    state.write(active=False)
    skipped = tuple(k for k in by_key if k in have)
    return SweepOutcome(
        name=spec.name,
        planned=len(runs),
        skipped=skipped,
        recovered=tuple(recovered),
        trained=tuple(trained),
        failed=failed,
        workdir=str(wd.root),
        store=str(store_path),
        seconds=time.time() - t0,
        notes=tuple(notes),
    )


def _task(r: PlannedRun, wd: WorkDir, checkpoint_every: int) -> dict[str, Any]:
    return {
        "key": r.key,
        "config": r.config.to_dict(),
        "root": str(wd.root.resolve()),
        "checkpoint_every": checkpoint_every,
    }


def _train(
    runner: Runner,
    tasks: list[dict[str, Any]],
    by_key: dict[str, PlannedRun],
    wd: WorkDir,
    state: _State,
    quiet: bool,
    store_path: Path,
) -> tuple[list[str], dict[str, str]]:
    trained: list[str] = []
    failed: dict[str, str] = {}
    stored: list[str] = list(state.data["stored"])
    total = len(by_key)
    with SweepProgress(wd, total, total - len(tasks), quiet=quiet) as bar:
        for key, err in runner.run(tasks, tick=bar.tick):
            if err is not None:
                failed[key] = err
                logger.warning("run %s failed: %s", key, err)
            else:
                result = read_json(wd.result(key))
                if result is None:
                    failed[key] = "the worker reported success but wrote no result file"
                else:
                    store_result(store_path, state.data["name"], by_key[key], result)
                    trained.append(key)
                    stored.append(key)
            state.write(stored=stored, failed=failed)
            bar.finished(key)
    return trained, failed
