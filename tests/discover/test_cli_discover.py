"""`scalinglab discover` through the real console script: leaderboard, JSON, law file, errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "scalinglab"
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, timeout=600, env=env, cwd=cwd
    )


@pytest.fixture
def runs_csv(tmp_path: Path) -> Path:
    # E + A exp(-x/s) with 0.5% noise: 0.5 + 2 exp(-x / 3e4)
    x = np.geomspace(1e3, 2e5, 24)
    y = (0.5 + 2.0 * np.exp(-x / 3e4)) * np.exp(np.random.default_rng(0).normal(0, 0.005, 24))
    path = tmp_path / "runs.csv"
    pd.DataFrame({"steps": x, "loss": y}).to_csv(path, index=False)
    return path


FAST = ("--max-candidates", "5", "--seeds", "power_law", "--workers", "1", "--quiet")


@pytest.mark.slow
def test_leaderboard_law_file_and_fit_with_it(runs_csv: Path, tmp_path: Path) -> None:
    proc = cli(
        "discover", str(runs_csv), "--vars", "x", "--x", "steps", "--target", "loss",
        "--holdout", "top 4 by x", "--out", "best.law", *FAST, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "discover: leaderboard" in out and "best catalogue law:" in out
    assert "candidates/s" in out and "held-out" in out
    text = (tmp_path / "best.law").read_text()
    law = [line for line in text.splitlines() if not line.startswith("#")]
    best = out.split("best: ")[1].splitlines()[0].strip()
    assert len(law) == 1 and best in law[0]
    fit = cli("fit", str(runs_csv), "--x", "steps", "--metric", "loss", "--law", "best.law",
              "--bootstrap", "5", "--no-store", "--json", cwd=tmp_path)  # fmt: skip
    assert fit.returncode == 0, fit.stderr
    assert json.loads(fit.stdout)["law"] == law[0]  # the fit records the law, not the file


def test_json_is_the_result(runs_csv: Path, tmp_path: Path) -> None:
    proc = cli("discover", str(runs_csv), "--vars", "x", "--x", "steps", "--json", *FAST,
               cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["variables"] == ["x"] and d["n_scored"] == 5 and d["n_candidates"] > 5
    assert d["best"] == d["leaderboard"][0]["law"] and d["candidates_per_s"] > 0
    assert {r["source"] for r in d["leaderboard"]} <= {"grammar", "catalogue"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--vars", "N,D"), "the runs have no values of N"),
        (("--vars", "steps2"), "no such column"),
        (("--vars", "x,,D"), "separated by commas"),
        (("--vars", "x,x"), "given twice"),
        (("--vars", "x", "--seeds", "chinchilla"), "not catalogue laws of x"),
        (("--vars", "x", "--budget", "ten minutes"), "positive time"),
        (("--vars", "x", "--out", "best.txt"), r"ends in \.law"),
        (("--vars", "x", "--out", "nowhere/best.law"), "does not exist"),
        (("--vars", "x", "--holdout", "top 200% by x"), "percentage"),
    ],
)
def test_bad_input_is_an_error_with_exit_2(
    runs_csv: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    proc = cli("discover", str(runs_csv), "--x", "steps", *FAST, *args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error:") and "Traceback" not in proc.stderr
    assert re.search(message, proc.stderr), proc.stderr
