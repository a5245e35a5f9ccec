"""`scalinglab sweep` through the real console script: bad sweep files exit 2 with a message
before anything trains, and the whole loop sweep run -> export -> fit -> plan -> next sweep."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sweep_helpers import run_cli, variant, write_sweep

from scalinglab.fit.result import FitResult
from scalinglab.plan.compute_optimal import compute_optimal
from scalinglab.sweep import load_spec
from scalinglab.sweep.design import optimal_N


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"train": {"batch_sise": 8}},
            "[train.batch_sise]: unknown key (did you mean 'batch_size'?)",
        ),
        (
            {
                "design": {
                    "kind": "isoflop",
                    "budgets": [1e4],
                    "sizes": None,
                    "tokens_per_param": None,
                }
            },
            "budget 1e+04 FLOP: N = ",
        ),
        (
            {"design": {"sizes": None, "shapes": [{"n_layer": 2, "n_head": 5, "d_model": 48}]}},
            "d_model = 48 is not divisible by n_head = 5",
        ),
        (
            {"design": {"tokens_per_param": 40.0}},
            "need more tokens than the corpus",
        ),
    ],
    ids=["unknown-key", "budget-too-small", "impossible-shape", "corpus-too-small"],
)
def test_bad_sweep_file_exits_2_before_training(
    tmp_path: Path, changes: dict[str, dict[str, object]], message: str
) -> None:
    sweep = write_sweep(tmp_path / "bad.toml", variant(**changes))
    res = run_cli("sweep", "run", str(sweep), "--store", str(tmp_path / "s.duckdb"), cwd=tmp_path)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert res.stderr.startswith("error: ") and message in " ".join(res.stderr.split())
    assert "Traceback" not in res.stderr
    # nothing trained, nothing stored
    assert not (tmp_path / ".scalinglab").exists() and not (tmp_path / "s.duckdb").exists()


def test_corpus_repeat_allowed_is_a_note_with_epochs(tmp_path: Path) -> None:
    d = variant(design={"tokens_per_param": 40.0}, sweep={"allow_repeat": True})
    res = run_cli(
        "sweep",
        "plan",
        str(write_sweep(tmp_path / "r.toml", d)),
        "--no-calibrate",
        "--json",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    [note] = json.loads(res.stdout)["notes"]
    assert "epochs over 54,398 unique tokens" in note and "data-constrained" in note


@pytest.mark.slow
def test_plan_prints_runs_and_a_calibrated_estimate(tmp_path: Path, tiny_file: Path) -> None:
    res = run_cli("sweep", "plan", str(tiny_file), "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    runs = out["runs"]
    assert [r["N"] for r in runs] == sorted(r["N"] for r in runs) and len(runs) == 2
    assert all(
        r["N_total"] == r["N"] + 64 * r["d_model"] and r["C"] == 6 * r["N"] * r["D"] for r in runs
    )
    est = out["estimate"]
    assert len(est["per_run_s"]) == 2 and est["total_s"] == pytest.approx(sum(est["per_run_s"]))
    assert all(p["s_per_step"] > 0 for p in est["calibration"])
    text = run_cli("sweep", "plan", str(tiny_file), "--no-calibrate", cwd=tmp_path)
    assert all(r["key"] in text.stdout for r in runs)


LOOP = variant(
    design={
        "kind": "isoflop",
        "budgets": [2e8, 5e8],
        "n_per_budget": 3,
        "spread": 2.0,
        "sizes": None,
        "tokens_per_param": None,
    },
    train={"eval_every": 25},
    shape={"max_shape_error": 0.35},
    sweep={"data": "synthetic:zipf?tokens=200000&seed=1"},
)


@pytest.mark.slow
def test_sweep_run_then_fit_then_plan_then_next_sweep(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "loop.toml", LOOP)
    store = ["--store", str(tmp_path / "runs.duckdb")]
    ran = run_cli("sweep", "run", str(sweep), *store, "--quiet", "--json", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert len(json.loads(ran.stdout)["trained"]) == 6
    assert run_cli("sweep", "export", str(sweep), "final.csv", *store, cwd=tmp_path).returncode == 0
    final = pd.read_csv(tmp_path / "final.csv")
    assert len(final) == 6 and set(final["group"]) == {"C=2e+08", "C=5e+08"}
    assert (final["loss"] > 0).all() and (final["C"] <= 5.2e8).all()
    fit = run_cli(
        "fit",
        "final.csv",
        "--law",
        "chinchilla",
        "--bootstrap",
        "0",
        "--no-calibrate",
        "--out",
        "fit.json",
        "--no-store",
        "--quiet",
        cwd=tmp_path,
    )
    assert fit.returncode == 0, fit.stderr
    planned = run_cli("plan", "fit.json", "--compute", "1e10", "--json", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout)["N"]["value"] > 0
    # the next sweep centres its grid on the fitted optimum
    nxt = json.loads(json.dumps(LOOP))
    nxt["design"].update(budgets=[1e10], fit=str(tmp_path / "fit.json"), n_per_budget=1)
    nxt["shape"] = dict(nxt["shape"], max_shape_error=10.0)
    nxt["sweep"] = dict(nxt["sweep"], allow_repeat=True)
    res = run_cli(
        "sweep",
        "plan",
        str(write_sweep(tmp_path / "next.toml", nxt)),
        "--no-calibrate",
        "--json",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    centre = compute_optimal(FitResult.load(tmp_path / "fit.json"), 1e10).N.value
    assert optimal_N(load_spec(tmp_path / "next.toml"), 1e10) == centre
    [run] = json.loads(res.stdout)["runs"]
    assert run["budget"] == 1e10 and abs(6 * run["N"] * run["D"] / 1e10 - 1) < 0.01


def test_sweep_without_torch_is_a_user_error() -> None:
    """Without the optional train extra, a sweep command says how to install it (exit 2)."""
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # as if PyTorch were not installed\n"
        "from scalinglab.cli import main\n"
        "sys.argv = ['scalinglab', 'sweep', 'plan', 'examples/sweep_tiny.toml']\n"
        "main()\n"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "training needs PyTorch" in proc.stderr and "scripts/setup train" in proc.stderr
