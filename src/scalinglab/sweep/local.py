"""The local runner: N persistent worker processes on this machine.

Each worker is a ``spawn``-ed process (no fork of a driver that may hold torch threads) that
receives tasks over its own pipe and answers ``("done", key, None)`` or ``("error", key, msg)``;
the result itself is on disk (see :mod:`scalinglab.sweep.worker`). A worker that dies (SIGKILL,
out of memory) is detected through its sentinel: its run goes back to the queue (it resumes from
its checkpoint) up to ``max_attempts`` times, and a fresh worker replaces it. On Linux workers
ask the kernel to kill them when the driver dies (``PR_SET_PDEATHSIG``), so a killed driver
leaves no orphan training on; the run lock covers the platforms without it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from scalinglab.sweep.worker import train_task

#: (key, error message or None) for each finished task.
Finished = tuple[str, str | None]
_POLL_S = 0.25


def _die_with_parent() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # not Linux: the run lock still prevents double training
        pass


def _worker_main(conn: Connection, threads: int) -> None:
    _die_with_parent()
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # the task itself will report that the train extra is missing
        pass
    while True:
        task = conn.recv()
        if task is None:
            return
        try:
            train_task(task)
            conn.send(("done", task["key"], None))
        except Exception as exc:  # reported to the driver, which records the run as failed
            conn.send(("error", task["key"], f"{type(exc).__name__}: {exc}"))


@dataclass
class _Slot:
    proc: Any
    conn: Connection
    task: dict[str, Any] | None = None


@dataclass
class LocalRunner:
    """Runs tasks on ``workers`` processes (``threads`` torch threads each, default: the cores
    shared out). ``max_attempts``: a run whose worker died that many times is reported failed."""

    workers: int = 1
    threads: int | None = None
    max_attempts: int = 3
    attempts: dict[str, int] = field(default_factory=dict)

    def _spawn(self) -> _Slot:
        ctx = mp.get_context("spawn")
        ours, theirs = ctx.Pipe()
        threads = self.threads or max(1, (os.cpu_count() or 1) // self.workers)
        proc = ctx.Process(target=_worker_main, args=(theirs, threads), daemon=True)
        proc.start()
        theirs.close()
        return _Slot(proc, ours)

    def run(
        self, tasks: list[dict[str, Any]], tick: Callable[[], None] = lambda: None
    ) -> Iterator[Finished]:
        """Yield (key, error) as tasks finish; ``tick`` is called about 4 times a second."""
        queue = deque(tasks)
        slots = [self._spawn() for _ in range(min(self.workers, len(tasks)))]
        try:
            while queue or any(s.task is not None for s in slots):
                for s in slots:
                    if s.task is None and queue:
                        s.task = queue.popleft()
                        s.conn.send(s.task)
                busy = [s for s in slots if s.task is not None]
                wait([s.conn for s in busy] + [s.proc.sentinel for s in busy], timeout=_POLL_S)
                for i, s in enumerate(slots):
                    if s.task is None:
                        continue
                    msg = self._message(s)
                    if msg is not None:
                        s.task = None
                        yield msg
                    elif not s.proc.is_alive():
                        yield from self._died(s, queue)
                        slots[i] = self._spawn()
                tick()
        finally:
            for s in slots:
                self._stop(s)

    @staticmethod
    def _message(s: _Slot) -> Finished | None:
        try:
            if not s.conn.poll():
                return None
            kind, key, err = s.conn.recv()
        except (EOFError, OSError):
            return None
        return (str(key), None if kind == "done" else str(err))

    def _died(self, s: _Slot, queue: deque[dict[str, Any]]) -> Iterator[Finished]:
        assert s.task is not None
        key = str(s.task["key"])
        self.attempts[key] = self.attempts.get(key, 0) + 1  # deaths so far
        code = s.proc.exitcode
        if self.attempts[key] >= self.max_attempts:
            yield (key, f"its worker died {self.max_attempts} times (last exit code {code})")
        else:
            queue.appendleft(s.task)  # resumes from its checkpoint
        s.task = None

    @staticmethod
    def _stop(s: _Slot) -> None:
        try:
            if s.proc.is_alive() and s.task is None:
                s.conn.send(None)
                s.proc.join(timeout=5)
        except (OSError, BrokenPipeError):
            pass
        if s.proc.is_alive():
            s.proc.kill()
        s.proc.join(timeout=5)
        s.conn.close()
