"""Regenerate the fixtures and the reference images of the report tests.

    .venv/bin/python tests/report/make_baselines.py            # fixtures + baseline PNGs
    .venv/bin/python tests/report/make_baselines.py --images   # baseline PNGs only

Fixtures (tests/report/data/): a planted Chinchilla IsoFLOP sweep (seeded noise), its fit and
its backtest predictions, and three loss curves with one power-law fit. The image tests draw
from these files (not from a fresh fit), so the baselines change only when the plots do.
Look at every image in tests/report/baseline/ before committing new ones.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
BASELINE = HERE / "baseline"
TRUTH = {"E": 1.8, "A": 400.0, "B": 2000.0, "alpha": 0.34, "beta": 0.37}


def planted_runs(seed: int = 0) -> pd.DataFrame:
    """6 compute budgets x 9 model sizes around each optimum, 0.5% log-normal noise."""
    rng = np.random.default_rng(seed)
    rows = []
    t = TRUTH
    for C in np.geomspace(1e18, 1e21, 6):
        g = (t["alpha"] * t["A"] / (t["beta"] * t["B"])) ** (1 / (t["alpha"] + t["beta"]))
        n_opt = g * (C / 6) ** (t["beta"] / (t["alpha"] + t["beta"]))
        for f in np.geomspace(1 / 5, 5, 9):
            N = n_opt * f
            D = C / (6 * N)
            loss = t["E"] + t["A"] / N ** t["alpha"] + t["B"] / D ** t["beta"]
            rows.append({"N": N, "D": D, "C": C, "loss": loss * np.exp(rng.normal(0, 0.005))})
    out = pd.DataFrame(rows)
    out.insert(0, "run_id", [f"r{i:02d}" for i in range(len(out))])
    return out


def curve_runs(seed: int = 1) -> pd.DataFrame:
    """Three loss curves (run_id a, b, c) of 12 checkpoints each."""
    rng = np.random.default_rng(seed)
    rows = []
    for run, scale in (("a", 1.0), ("b", 1.3), ("c", 1.7)):
        for step in np.geomspace(100, 20000, 12):
            loss = 2.0 + 30.0 * scale * step**-0.45
            rows.append(
                {
                    "run_id": run,
                    "step": float(round(step)),
                    "loss": loss * np.exp(rng.normal(0, 0.004)),
                }
            )
    return pd.DataFrame(rows)


def make_fixtures() -> None:
    from scalinglab.data import read_runs, select_runs
    from scalinglab.fit import fit
    from scalinglab.report.build import backtest_for_report
    from scalinglab.trust.calibrate import calibrate

    DATA.mkdir(exist_ok=True)
    runs = planted_runs()
    runs.to_csv(DATA / "planted_runs.csv", index=False)
    sel = select_runs(read_runs(DATA / "planted_runs.csv"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = fit(
            sel,
            "chinchilla",
            n_boot=60,
            seed=0,
            provenance={
                "source": "planted_runs.csv",
                "metric": "loss",
                "metric_unit": "nats/token",
            },
        )
    r = calibrate(r, sel)  # what `scalinglab fit` saves: the fit with calibrated intervals
    r.save(DATA / "planted_fit.json")
    bt, _ = backtest_for_report(r, sel, n_boot=40, seed=0)
    bt.predictions.to_csv(DATA / "planted_backtest.csv", index=False)

    curves = curve_runs()
    curves.to_csv(DATA / "curve_runs.csv", index=False)
    one = (
        curves[curves["run_id"] == "b"].rename(columns={"step": "x"}).assign(y=lambda f: f["loss"])
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cf = fit(
            one.reset_index(drop=True),
            "power_law",
            n_boot=60,
            seed=0,
            provenance={"source": "curve_runs.csv", "metric": "loss", "x": "step"},
        )
    cf = calibrate(cf, one.reset_index(drop=True))
    cf.save(DATA / "curve_fit.json")


def make_images() -> None:
    sys.path.insert(0, str(HERE))
    from _fixtures import draw_all

    BASELINE.mkdir(exist_ok=True)
    for kind, fig in draw_all():
        from scalinglab.report.plots import save_figure

        save_figure(fig, BASELINE / f"{kind}.png")
        print(f"wrote {BASELINE / f'{kind}.png'}")


if __name__ == "__main__":
    if "--images" not in sys.argv:
        make_fixtures()
    make_images()
