"""Compute-optimal plan at C = 1e24 FLOP from the Epoch AI re-digitised Chinchilla runs.

Fits ``chinchilla`` to ``chinchilla_epoch`` without its 5 highest-loss runs (``loss < 3.44``),
1,000 bootstrap resamples, seed 0, and prints N*(1e24), D*(1e24) and D*/N* with 95% intervals,
beside the same numbers from Hoffmann et al. 2022's published approach-3 parameters and from
Besiroglu et al. 2024's re-fit (their table 1). Besiroglu et al. 2024 (arXiv:2404.10102) report
that their re-fit implies about 20 tokens per parameter, in line with Hoffmann et al.'s
approaches 1 and 2 and with Chinchilla itself (70B parameters, 1.4T tokens), and that the
published approach-3 parameters imply a much higher ratio.

Run: ``.venv/bin/python bench/plan_chinchilla.py``. The last line is
``tokens_per_param_1e24: X``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from scalinglab.data import load_dataset, select_runs
from scalinglab.fit import fit
from scalinglab.laws.registry import get_law
from scalinglab.plan import compute_optimal, plan
from scalinglab.plan.allocation import optimal_allocation
from scalinglab.plan.surface import Surface
from scalinglab.units import FlopConvention

C = 1e24


def fmt(e: object) -> str:
    v, lo, hi = (getattr(e, k) for k in ("value", "low", "high"))
    return f"{v:.4g}  [{lo:.4g}, {hi:.4g}]"


def published(name: str) -> tuple[float, float, float]:
    law = get_law("chinchilla")
    p = law.published[name]
    s = Surface(law, law.param_names, np.array([[p[n] for n in law.param_names]]), 0.95)
    a = optimal_allocation(s, C, FlopConvention())
    return a.N.value, a.D.value, a.tokens_per_param.value


def main() -> None:
    runs = select_runs(load_dataset("chinchilla_epoch"), where="loss < 3.44")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit(runs, "chinchilla", n_boot=1000, seed=0, workers=2)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    p = plan(result, compute=C)
    t_plan = time.perf_counter() - t0
    co = compute_optimal(result, C)
    assert co.N == p.N and co.D == p.D
    print(
        f"fit: {len(runs)} runs, {result.bootstrap['converged']}/1000 bootstrap fits, {t_fit:.1f} s"
    )
    print("params: " + ", ".join(f"{k}={v:.6g}" for k, v in result.params.items()))
    print(f"plan at C = {C:.0e} FLOP (C = 6ND), 95% intervals from the bootstrap ({t_plan:.2f} s):")
    print(f"  N*    = {fmt(p.N)} parameters")
    print(f"  D*    = {fmt(p.D)} tokens")
    print(f"  D*/N* = {fmt(p.point.tokens_per_param)}")
    print(f"  loss  = {fmt(p.loss)}")
    for name, label in (
        ("besiroglu2024", "Besiroglu et al. 2024 table 1"),
        ("hoffmann2022", "Hoffmann et al. 2022 eq. 10"),
    ):
        N, D, r = published(name)
        print(f"  {label}: N* = {N:.4g}, D* = {D:.4g}, D*/N* = {r:.3g}")
    print("  Besiroglu et al. 2024: their re-fit implies about 20 tokens per parameter")
    print(f"tokens_per_param_1e24: {p.point.tokens_per_param.value:.4g}")


if __name__ == "__main__":
    main()
