"""`scalinglab backtest` through the real console script: JSON layout, pooled auto, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BACKTEST_KEYS = {
    "law",
    "group",
    "n_fit",
    "n_holdout",
    "rmse_log",
    "mare",
    "max_are",
    "coverage_90",
    "chosen",
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
    # pooled (the default): one law for every group, one of the listed candidates
    assert len({r["chosen"] for r in auto}) == 1 and auto[0]["chosen"] in {"chinchilla", "kaplan"}
    for r in auto:
        same = next(o for o in rows if o["law"] == r["chosen"] and o["group"] == r["group"])
        assert r["rmse_log"] == same["rmse_log"] and r["coverage_90"] == same["coverage_90"]
    assert all(r["chosen"] is None for r in rows if r["law"] != "auto")


def test_backtest_bad_auto_scope_is_a_user_error() -> None:
    proc = backtest_cli(*GROUPED, "--law", "auto", "--auto-scope", "everything")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "--auto-scope must be one of pooled, group, got 'everything'" in proc.stderr
