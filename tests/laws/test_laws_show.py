"""`scalinglab laws show` prints a law's notes (``Law.notes``), through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import scalinglab
from scalinglab.laws.registry import get_law


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    main = Path(scalinglab.__file__).parent / "__main__.py"
    entry = (
        [sys.executable, "-m", "scalinglab"]
        if main.exists()
        else [str(Path(sys.executable).parent / "scalinglab")]
    )
    env = {k: v for k, v in os.environ.items() if k != "SCALINGLAB_STORE"}
    env["COLUMNS"] = "200"  # rich wraps to the terminal width
    return subprocess.run(
        [*entry, *args], capture_output=True, text=True, timeout=300, env=env, check=False
    )


@pytest.mark.parametrize("name", ["chinchilla", "lr_opt_compute"])
def test_laws_show_prints_the_notes(name: str) -> None:
    notes = get_law(name).notes
    assert notes  # both laws have notes: what C and N count
    proc = _run("laws", "show", name)
    assert proc.returncode == 0, proc.stderr
    lines = [ln.strip() for ln in proc.stdout.splitlines()]
    shown = " ".join(" ".join(lines).split())  # rich may still wrap a long line
    assert f"notes: {' '.join(notes.split())}" in shown
    proc = _run("laws", "show", name, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["notes"] == notes


def test_laws_show_without_notes_prints_no_notes_line() -> None:
    assert get_law("kaplan").notes == ""
    proc = _run("laws", "show", "kaplan")
    assert proc.returncode == 0, proc.stderr
    assert "notes:" not in proc.stdout
    assert "[(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D" in proc.stdout


@pytest.mark.parametrize(
    ("name", "arxiv"),
    [
        ("repeated_sampling", "2407.21787"),
        ("passuntil", "2310.03262"),
        ("data_filtering", "2404.07177"),
        ("critical_batch", "1812.06162"),
    ],
)
def test_laws_show_prints_the_newer_laws(name: str, arxiv: str) -> None:
    """The laws of test-time compute, task pass rates, data filtering and batch size are listed
    and shown with their formula, parameters and citation."""
    law = get_law(name)
    proc = _run("laws", "show", name, "--json")
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["formula"] == law.formula and f"arXiv:{arxiv}" in shown["citation"]
    assert [p["name"] for p in shown["params"]] == list(law.param_names)
    proc = _run("laws", "show", name)
    assert proc.returncode == 0, proc.stderr
    assert arxiv in " ".join(proc.stdout.split()) and law.formula.split()[0] in proc.stdout
    listed = _run("laws", "list", "--json")
    assert name in [r["name"] for r in json.loads(listed.stdout)]
