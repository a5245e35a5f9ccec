"""The loop on the README's example sweep: train it, fit L(N) = E + A N^-alpha (Hestness et al.
2017) against non-embedding N, and backtest the largest run from the smaller ones.

Run by hand (a few minutes on a 2-core CPU):

    PYTHONPATH=src python bench/sweep_loop.py [--workers 2] [--workdir DIR]

Prints the wall time, each run's final held-out loss, the fitted exponent with its 95%
bootstrap interval, and the relative error of the largest run's loss predicted by a fit on the
others. Last line: ``sweep_backtest_rel_err: X``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import scalinglab as sl
from scalinglab.sweep import load_spec
from scalinglab.sweep.runner import run_sweep
from scalinglab.sweep.store import final_runs, sweep_runs

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sweep_tiny.toml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=None, help="keep the runs here (default: temp)")
    args = ap.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="sweep_loop_"))
    root.mkdir(parents=True, exist_ok=True)
    spec = load_spec(EXAMPLE)
    store = root / "runs.duckdb"
    t0 = time.perf_counter()
    out = run_sweep(spec, store=store, workdir=root / "work", workers=args.workers)
    wall = time.perf_counter() - t0
    print(
        f"sweep {spec.name!r}: {out.planned} runs, {len(out.trained)} trained, "
        f"{len(out.skipped)} already stored, wall {wall:.1f} s with {args.workers} worker(s)"
    )
    if out.failed:
        raise SystemExit(f"failed runs: {out.failed}")
    final = final_runs(sweep_runs(store, spec.name))
    for row in final.itertuples(index=False):
        print(
            f"  N={row.N:>9,.0f} (total {row.N_total:>9,.0f})  D={row.D:>11,.0f}  "
            f"val_loss={row.loss:.4f}"
        )
    runs = sl.select_runs(sl.read_runs(final), metric="loss", x="N")
    res = sl.fit(runs, "power_law", n_boot=200, seed=0)
    lo, hi = res.intervals["alpha"]
    print(
        f"fit on all {len(runs)} runs: L(N) = {res.params['E']:.3f} + "
        f"{res.params['A']:.3g} N^-{res.params['alpha']:.3f}; alpha 95% [{lo:.3f}, {hi:.3f}]"
    )
    largest = runs["N"].idxmax()
    small = sl.fit(runs.drop(index=largest), "power_law", n_boot=0, seed=0)
    pred = float(sl.predict(small, {"x": [float(runs.loc[largest, "N"])]})["value"].iloc[0])
    obs = float(runs.loc[largest, "y"])
    rel = abs(pred - obs) / obs
    print(
        f"backtest: fit on the {len(runs) - 1} smaller runs (alpha {small.params['alpha']:.3f}) "
        f"predicts {pred:.4f} at N={runs.loc[largest, 'N']:,.0f}; observed {obs:.4f}"
    )
    print(f"fitted_alpha: {res.params['alpha']:.4f}")
    print(f"sweep_backtest_rel_err: {rel:.4f}")


if __name__ == "__main__":
    main()
