"""Law discovery against the catalogue, on held-out runs the search never sees.

Datasets and holdouts (the extrapolation benchmark's, bench/extrapolation.py):
  chinchilla_epoch   loss < 3.44 (without its 5 under-trained runs), top 20% by C held out;
                     variables N, D.
  overtraining_models  RedPajama, loss_c4_val, the two largest model sizes held out (the
                     1.4B and 6.9B models, the runs with N > 1e9 of the extrapolation
                     benchmark's task b'); variables N, D.
  revisiting_lang    20 learning curves (one law form for all, parameters per curve), x = seen
                     examples, ``Training == 0`` held out; variable x.

For each, ``discover`` searches on the rest (nested rolling-origin scoring, seed 0, 2 workers,
a per-dataset budget), and the discovered law, fitted on all the searched runs, predicts the
held-out ones. Each catalogue law that applies is fitted the same way (same engine, same runs);
the *best catalogue law* is the one with the lowest held-out error (chosen with hindsight, a
stricter comparison than the catalogue law the search itself would pick, also printed). The
ratio is held-out RMSE(log) discovered / best catalogue (averaged over the curves for
revisiting_lang). Last line: ``discover_vs_catalogue: X``, the mean ratio over the datasets.
Run: ``.venv/bin/python bench/discover.py`` (about 10 minutes on 2 cores).
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.data import load_dataset, select_runs
from scalinglab.discover import discover
from scalinglab.discover.grammar import Candidate
from scalinglab.discover.score import Settings, full_job
from scalinglab.discover.search import catalogue_laws, make_parts

warnings.simplefilter("ignore")
WORKERS = 2
BUDGET_S = 300.0


def tasks() -> list[dict[str, Any]]:
    gadre = select_runs(
        load_dataset("overtraining_models"), metric="loss_c4_val", where="dataset == 'rpj'"
    )
    return [
        {
            "name": "chinchilla_epoch (top 20% by C)",
            "runs": select_runs(load_dataset("chinchilla_epoch"), where="loss < 3.44"),
            "vars": ["N", "D"],
            "holdout": "top 20% by C",
            "group_by": None,
        },
        {
            "name": "overtraining_models rpj (top 2 by N)",
            "runs": gadre,
            "vars": ["N", "D"],
            "holdout": "top 2 by N",
            "group_by": None,
        },
        {
            "name": "revisiting_lang (20 curves, Training == 0)",
            "runs": select_runs(load_dataset("revisiting_lang"), x="Seen Examples"),
            "vars": ["x"],
            "holdout": "Training == 0",
            "group_by": "Domain,Task,Model",
        },
    ]


def catalogue_heldout(t: dict[str, Any]) -> dict[str, float]:
    """Held-out RMSE(log) (mean over groups) of every catalogue law that applies."""
    parts = make_parts(t["runs"], t["vars"], t["holdout"], t["group_by"])
    frame = pd.concat([p.search for p in parts], ignore_index=True)
    out = {}
    for law in catalogue_laws(frame, t["vars"]):
        full = full_job(
            (Candidate(law.name, len(law.params), catalogue=law.name), parts, Settings())
        )
        finite = [e for e in full.heldout if math.isfinite(e)]
        out[law.name] = float(np.mean(finite)) if len(finite) == len(full.heldout) else math.nan
    return out


def main() -> None:
    t0 = time.perf_counter()
    ratios = []
    for t in tasks():
        r = discover(
            t["runs"],
            t["vars"],
            holdout=t["holdout"],
            group_by=t["group_by"],
            budget_s=BUDGET_S,
            seed=0,
            workers=WORKERS,
        )
        cat = catalogue_heldout(t)
        best_cat = min((n for n in cat if math.isfinite(cat[n])), key=lambda n: cat[n])
        best = r.leaderboard[0]
        ratio = best.heldout / cat[best_cat]
        ratios.append(ratio)
        print(f"== {t['name']}")
        print(f"  discovered: {best.formula}  [{best.source}, {best.n_params} parameters]")
        if r.choice:
            print(f"  choice: {r.choice}")
        print(
            f"  held-out RMSE(log): discovered {best.heldout:.5f}; best catalogue law "
            f"{best_cat} {cat[best_cat]:.5f}; ratio {ratio:.3f}"
        )
        picked = r.row(r.best_catalogue)
        if picked is not None:
            print(
                f"  catalogue law with the lowest nested error: {picked.formula} (held-out "
                f"{picked.heldout:.5f}); every catalogue law: "
                + ", ".join(f"{n} {v:.5f}" for n, v in cat.items())
            )
        print(
            f"  nested RMSE(log): discovered {best.nested:.5f}"
            + (f", best catalogue by nested {picked.nested:.5f}" if picked else "")
        )
        print(
            f"  search: {r.n_scored}/{r.n_candidates} candidates "
            f"({'complete' if r.complete else 'stopped by the budget'}), {r.n_fits} fits in "
            f"{r.search_s:.0f} s: {r.candidates_per_s:.2f} candidates/s, {r.fits_per_s:.1f} "
            f"fits/s on {r.workers} workers; total {r.seconds:.0f} s"
        )
        print(
            "  leaderboard: " + " | ".join(f"{x.formula} ({x.nested:.4f})" for x in r.leaderboard)
        )
    print(f"total {time.perf_counter() - t0:.0f} s")
    print(f"discover_vs_catalogue: {float(np.mean(ratios)):.3f}")


if __name__ == "__main__":
    main()
