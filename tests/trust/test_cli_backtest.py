"""`scalinglab backtest` through the real console script: JSON layout, pooled auto, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BACKTEST_KEYS = {
    "law",
    "group",
    "n_fit",
    "n_holdout",
    "rmse_log",
    "mare",
    "max_are",
    "coverage_90",
    "interval_score",
    "chosen",
    "weights",
}


def backtest_cli(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "scalinglab"
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run(
        [str(script), "backtest", *args], capture_output=True, text=True, timeout=600, env=env
    )


GROUPED = (
    "overtraining_models", "--metric", "loss_c4_val", "--where", "token_multiplier <= 80",
    "--group-by", "dataset", "--holdout", "top 2 by C", "--bootstrap", "10",
)  # fmt: skip


def test_backtest_json_one_object_per_law_and_group_with_pooled_auto() -> None:
    proc = backtest_cli(
        *GROUPED, "--law", "chinchilla", "--law", "kaplan", "--law", "auto", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert all(BACKTEST_KEYS <= set(r) for r in rows)
    groups = sorted({r["group"] for r in rows})
    assert len(groups) == 3 and all(g.startswith("dataset=") for g in groups)
    assert sorted((r["law"], r["group"]) for r in rows) == sorted(
        (law, g) for law in ("chinchilla", "kaplan", "auto") for g in groups
    )
    assert all(r["n_holdout"] == 2 for r in rows)
    auto = [r for r in rows if r["law"] == "auto"]
    # pooled (the default): one weight set for every group over the listed candidates, the
    # largest weight first and named as chosen
    assert len({r["weights"] for r in auto}) == 1
    weights = {n: float(v) for n, v in (p.split() for p in auto[0]["weights"].split(", "))}
    assert set(weights) <= {"chinchilla", "kaplan"} and sum(weights.values()) == pytest.approx(
        1, abs=2e-3
    )
    assert auto[0]["chosen"] == max(weights, key=weights.get)
    assert all(r["chosen"] is None and r["weights"] is None for r in rows if r["law"] != "auto")


def test_backtest_bad_auto_scope_is_a_user_error() -> None:
    proc = backtest_cli(*GROUPED, "--law", "auto", "--auto-scope", "everything")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "--auto-scope must be one of pooled, group, got 'everything'" in proc.stderr
