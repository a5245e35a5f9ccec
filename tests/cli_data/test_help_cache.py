"""``scalinglab --help`` from its cache prints exactly what the app prints, and the cache key
changes with what the text depends on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def help_text(cache: Path, **env: str) -> str:
    e = {k: v for k, v in os.environ.items() if k != "SCALINGLAB_NO_HELP_CACHE"}
    e.update(SCALINGLAB_CACHE=str(cache), COLUMNS="100", **env)
    proc = subprocess.run(
        [sys.executable, "-m", "scalinglab", "--help"], capture_output=True, text=True, env=e
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_cached_help_equals_the_apps_own(tmp_path: Path) -> None:
    direct = help_text(tmp_path, SCALINGLAB_NO_HELP_CACHE="1")
    assert not (tmp_path / "help").exists()  # the switch turns the cache off
    first = help_text(tmp_path)  # a miss: rendered by the app and written
    files = list((tmp_path / "help").glob("*.txt"))
    assert len(files) == 1
    again = help_text(tmp_path)  # a hit
    assert direct == first == again
    assert "Usage: python -m scalinglab" in again and "sweep" in again and "fit" in again


def test_key_follows_width_and_version(monkeypatch: pytest.MonkeyPatch) -> None:
    from scalinglab.cli import help_cache

    monkeypatch.setenv("COLUMNS", "100")
    base = help_cache.help_key()
    monkeypatch.setenv("COLUMNS", "120")
    assert help_cache.help_key() != base
    monkeypatch.setenv("COLUMNS", "100")
    assert help_cache.help_key() == base
    monkeypatch.setattr(help_cache, "__version__", "0.0.0-other")
    assert help_cache.help_key() != base


def test_unwritable_cache_still_prints(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where the cache folder should be
    assert "Usage:" in help_text(blocker)
