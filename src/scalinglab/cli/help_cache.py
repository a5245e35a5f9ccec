"""A cache of ``scalinglab --help``'s rendering.

The key covers everything the text depends on: the package version, the size and modification
time of every CLI source file, the program name, whether stdout is a terminal and its width,
and the environment variables rich and typer read (colour and width). A miss renders the help
with the real app, writes it atomically under ``$SCALINGLAB_CACHE`` (default
``~/.cache/scalinglab``) and prints it; a cache that cannot be written is skipped silently, as
the help was printed anyway. ``SCALINGLAB_NO_HELP_CACHE=1`` turns the cache off.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

from scalinglab._version import __version__

ENV_KEYS = ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TERM", "COLORTERM", "TERMINAL_WIDTH")


def cache_dir() -> Path:
    root = os.environ.get("SCALINGLAB_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "scalinglab") / "help"


def _width(tty: bool) -> str:
    return str(shutil.get_terminal_size().columns) if tty else os.environ.get("COLUMNS", "")


def help_key() -> str:
    """The cache key of the help text this process would print."""
    h = hashlib.sha256(f"{__version__}|{Path(sys.argv[0]).name}".encode())
    for p in sorted(Path(__file__).parent.glob("*.py")):
        st = p.stat()
        h.update(f"|{p.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    tty = sys.stdout.isatty()
    h.update(f"|tty={tty}|width={_width(tty)}".encode())
    for k in ENV_KEYS:
        h.update(f"|{k}={os.environ.get(k)}".encode())
    return h.hexdigest()[:32]


class _Capture(io.StringIO):
    """Stands in for stdout while the app renders: a terminal exactly when stdout is one."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def render_help() -> str:
    """``scalinglab --help`` as the app prints it to this stdout."""
    from scalinglab.cli.application import app

    real, tty = sys.stdout, sys.stdout.isatty()
    buf = _Capture(tty)
    columns = os.environ.get("COLUMNS")
    if tty and columns is None:
        os.environ["COLUMNS"] = _width(tty)  # a StringIO has no terminal size to read
    sys.stdout = buf
    try:
        app(["--help"])
    except SystemExit:
        pass
    finally:
        sys.stdout = real
        if tty and columns is None:
            os.environ.pop("COLUMNS", None)
    return buf.getvalue()


def print_help() -> None:
    path = cache_dir() / f"{help_key()}.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = render_help()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
        except OSError:
            pass  # no cache this time; the help is printed all the same
    sys.stdout.write(text)
    sys.stdout.flush()
