"""Helpers for the sweep tests: sweep files written from dicts, and the real console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

#: A tiny sweep on the synthetic language: seconds to train on one core.
TINY: dict[str, Any] = {
    "sweep": {
        "name": "tiny",
        "data": "synthetic:zipf?tokens=60000&seed=1",
        "vocab_size": 64,
        "seq_len": 16,
    },
    "design": {"kind": "ladder", "sizes": [3000.0, 12000.0], "tokens_per_param": 2.0},
    "shape": {"head_dim": 8, "d_multiple": 8, "aspect_ratio": [2.0, 64.0]},
    "train": {
        "batch_size": 4,
        "eval_every": 10,
        "eval_tokens": 512,
        "device": "cpu",
        "min_steps": 5,
    },
}


def toml_text(d: dict[str, Any]) -> str:
    """A sweep dict as TOML (tables of scalars, lists and [[design.shapes]] only)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, list | tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)

    lines: list[str] = []
    for table, body in d.items():
        lines.append(f"[{table}]")
        nested = {
            k: v for k, v in body.items() if isinstance(v, list) and v and isinstance(v[0], dict)
        }
        lines += [f"{k} = {value(v)}" for k, v in body.items() if k not in nested]
        for k, items in nested.items():
            for item in items:
                lines.append(f"[[{table}.{k}]]")
                lines += [f"{ik} = {value(iv)}" for ik, iv in item.items()]
    return "\n".join(lines) + "\n"


def write_sweep(path: Path, d: dict[str, Any]) -> Path:
    path.write_text(toml_text(d))
    return path


def variant(**tables: dict[str, Any]) -> dict[str, Any]:
    """TINY with some keys of some tables replaced (a value None removes the key)."""
    out = {k: dict(v) for k, v in TINY.items()}
    for table, changes in tables.items():
        t = out.setdefault(table, {})
        for k, v in changes.items():
            if v is None:
                t.pop(k, None)
            else:
                t[k] = v
    return out


def scalinglab_cli() -> list[str]:
    script = Path(sys.executable).parent / "scalinglab"
    return [str(script)] if script.exists() else [sys.executable, "-m", "scalinglab"]


def run_cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real console script, with this checkout's sources first on the path."""
    env = {k: v for k, v in os.environ.items() if k != "SCALINGLAB_STORE"}
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    env["COLUMNS"] = "250"
    return subprocess.run(
        [*scalinglab_cli(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
