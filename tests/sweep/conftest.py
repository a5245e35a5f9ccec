"""Fixtures of the sweep tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from sweep_helpers import TINY, write_sweep


@pytest.fixture
def tiny_file(tmp_path: Path) -> Path:
    return write_sweep(tmp_path / "tiny.toml", TINY)
