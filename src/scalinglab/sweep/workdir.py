"""The sweep work directory: checkpoints, results, progress and the completion ledger.

Layout (``root`` is ``.scalinglab/sweeps/NAME`` by default)::

    plan.json            the planned runs (written by the driver before training)
    state.json           the driver's view: stored / pending / failed runs, updated as it goes
    ledger.jsonl         one line per training that ran to completion (worker appends)
    runs/KEY.ckpt        the trainer's checkpoint (atomic, resumable)
    runs/KEY.result.json the finished run's TrainResult (atomic; the driver stores it)
    runs/KEY.progress.json  step, steps, loss of a running run (atomic, a few times a second)
    runs/KEY.lock        an exclusive lock held while a process trains KEY

Every JSON file is written to a temporary name and renamed over the old one (POSIX rename is
atomic), so a reader (``scalinglab sweep status``) never sees half a file and a SIGKILL at any
moment leaves either the old or the new version. The lock (``flock``) is released by the kernel
when its holder dies, so a run orphaned by a killed driver is never trained by two processes at
once: the second waits, then finds the result.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_ROOT = Path(".scalinglab") / "sweeps"


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (temporary file, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f, allow_nan=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    """The JSON in ``path``, or ``None`` when it does not exist (or vanished meanwhile)."""
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class WorkDir:
    """Paths of one sweep's work directory."""

    root: Path

    @classmethod
    def for_sweep(cls, name: str, base: str | os.PathLike[str] | None = None) -> WorkDir:
        """``base/NAME`` (``base`` defaults to ``.scalinglab/sweeps`` in the current directory)."""
        return cls(Path(base) / name if base is not None else DEFAULT_ROOT / name)

    def create(self) -> WorkDir:
        (self.root / "runs").mkdir(parents=True, exist_ok=True)
        return self

    @property
    def plan(self) -> Path:
        return self.root / "plan.json"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def ledger(self) -> Path:
        return self.root / "ledger.jsonl"

    def checkpoint(self, key: str) -> Path:
        return self.root / "runs" / f"{key}.ckpt"

    def result(self, key: str) -> Path:
        return self.root / "runs" / f"{key}.result.json"

    def progress(self, key: str) -> Path:
        return self.root / "runs" / f"{key}.progress.json"

    def lock(self, key: str) -> Path:
        return self.root / "runs" / f"{key}.lock"

    def record_completion(self, key: str) -> None:
        """Append one ledger line: ``key`` was trained to its last step (O_APPEND writes of one
        short line are not interleaved between processes)."""
        line = json.dumps({"key": key, "pid": os.getpid(), "time": time.time()}) + "\n"
        fd = os.open(self.ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def completions(self) -> dict[str, int]:
        """How many times each run was trained to completion (from the ledger)."""
        counts: dict[str, int] = {}
        if not self.ledger.exists():
            return counts
        for line in self.ledger.read_text().splitlines():
            if line.strip():
                key = str(json.loads(line)["key"])
                counts[key] = counts.get(key, 0) + 1
        return counts

    @contextmanager
    def driver_lock(self) -> Iterator[None]:
        """Hold the sweep's driver lock; :class:`SweepError` at once if another driver holds it
        (two drivers would each store the runs they collect)."""
        from scalinglab.sweep.spec import SweepError

        fd = os.open(self.root / "driver.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SweepError(
                    f"{self.root}: another driver is running this sweep; watch it with "
                    "'scalinglab sweep status', or wait for it to finish."
                ) from None
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    @contextmanager
    def run_lock(self, key: str) -> Iterator[None]:
        """Hold the exclusive lock of run ``key`` (blocks while another process holds it)."""
        fd = os.open(self.lock(key), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
