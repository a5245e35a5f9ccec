"""Inter-process locks that let many readers and one writer share a store file.

DuckDB lets one process open a database file for writing, and a read-only open fails while that
process holds it (https://duckdb.org/docs/current/connect/concurrency). scalinglab therefore
serialises access itself, with two sidecar files next to the store and ``flock(2)`` on them:

- ``PATH.lock``, the *entry* lock. A writer holds it exclusively for its whole write and records
  its pid in it; a reader takes it shared only for the instant it needs to get in. So a waiting
  writer stops new readers from entering, and a stream of readers cannot starve it.
- ``PATH.rlock``, the *read* lock. Readers hold it shared while they read; a writer, already
  holding the entry lock, takes it exclusively, which waits only for the reads in progress.

``flock`` locks belong to an open file and vanish when the process dies (even by SIGKILL), so a
crashed process never leaves a stale lock. Waits poll with a short back-off until a deadline and
then raise :class:`~scalinglab.errors.StoreError` naming the holder's pid when it is known.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from scalinglab.errors import StoreError

_FIRST_SLEEP = 0.002
_MAX_SLEEP = 0.05


def sidecars(path: Path) -> tuple[Path, Path]:
    """The entry lock and read lock files of the store at ``path``."""
    return path.with_name(path.name + ".lock"), path.with_name(path.name + ".rlock")


def _holder(entry: Path) -> str:
    try:
        text = entry.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return "unknown"
    return text if text.isdigit() else "unknown"


def _busy(path: Path, waited: float, *, writer: bool, entry: Path) -> StoreError:
    if writer:
        what = f"is being written by another process (pid {_holder(entry)})"
    else:
        what = "is being read by other processes"
    return StoreError(
        f"store {path} {what}; waited {waited:.1f} s; try again or use --store another file."
    )


def _acquire(
    fd: int, mode: int, *, deadline: float, start: float, path: Path, readers: bool = False
) -> None:
    """``flock(fd, mode)``, polling until ``deadline`` (time.monotonic()).

    ``readers`` says that the lock waited for is held by readers (for the timeout message).
    """
    sleep = _FIRST_SLEEP
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            now = time.monotonic()
            if now >= deadline:
                entry = sidecars(path)[0]
                raise _busy(path, now - start, writer=not readers, entry=entry) from None
            time.sleep(min(sleep, max(0.0, deadline - now)))
            sleep = min(sleep * 2, _MAX_SLEEP)


def _open(path: Path, *, write: bool) -> int:
    flags = (os.O_RDWR | os.O_CREAT) if write else os.O_RDONLY
    return os.open(path, flags | os.O_CLOEXEC, 0o666)


@contextmanager
def write_lock(path: Path, *, timeout: float) -> Iterator[None]:
    """Hold the store at ``path`` exclusively (waiting up to ``timeout`` s for the others)."""
    entry, read = sidecars(path)
    start = time.monotonic()
    deadline = start + timeout
    with ExitStack() as stack:
        try:
            fds = [_open(entry, write=True), _open(read, write=True)]
        except OSError as exc:
            raise StoreError(
                f"store {path} cannot be written: its lock file cannot be created ({exc}). "
                "Check the folder's permissions or use --store another file."
            ) from exc
        for fd in fds:
            stack.callback(os.close, fd)
        _acquire(fds[0], fcntl.LOCK_EX, deadline=deadline, start=start, path=path)
        os.ftruncate(fds[0], 0)
        os.pwrite(fds[0], str(os.getpid()).encode(), 0)
        stack.callback(os.ftruncate, fds[0], 0)  # runs before the fd is closed
        _acquire(fds[1], fcntl.LOCK_EX, deadline=deadline, start=start, path=path, readers=True)
        yield


@contextmanager
def read_lock(path: Path, *, timeout: float) -> Iterator[None]:
    """Hold the store at ``path`` shared, against writers (waiting up to ``timeout`` s).

    Where the lock files do not exist and cannot be created (a read-only folder), no writer can
    use them either, and the read goes ahead without them.
    """
    entry, read = sidecars(path)
    start = time.monotonic()
    deadline = start + timeout
    fds: list[int] = []
    with ExitStack() as stack:
        for lock in (entry, read):
            try:
                fd = _open(lock, write=True)
            except OSError:
                try:
                    fd = _open(lock, write=False)
                except OSError:
                    break
            stack.callback(os.close, fd)
            fds.append(fd)
        if len(fds) == 2:
            _acquire(fds[0], fcntl.LOCK_SH, deadline=deadline, start=start, path=path)
            try:
                _acquire(fds[1], fcntl.LOCK_SH, deadline=deadline, start=start, path=path)
            finally:
                fcntl.flock(fds[0], fcntl.LOCK_UN)
        yield
