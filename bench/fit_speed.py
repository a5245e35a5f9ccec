"""Speed of the multi-start Chinchilla fit against a plain scipy loop, same run, same grid.

Baseline (the issue's definition): for each of the 4,500 starts of Besiroglu et al. 2024,
``scipy.optimize.minimize(method="L-BFGS-B", jac=True)`` with a fused objective-and-gradient,
default options, no bounds; keep the best. Both must reach the optimum of DESIGN.md.
Last line: ``fit_speedup: X`` (baseline time / engine time, best of 3 engine runs).
"""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import minimize

from scalinglab.data import load_dataset, select_runs
from scalinglab.fit import fit

from _chinchilla import OPTIMUM, data, grid, make_fg


def main() -> None:
    N, D, L = data()
    starts = grid()
    runs = select_runs(load_dataset("chinchilla_epoch"), where="loss < 3.44")

    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        res = fit(runs, "chinchilla", grid=starts, n_boot=0)
        times.append(time.perf_counter() - t0)
    t_engine = min(times)

    fg = make_fg(N, D, L)
    t0 = time.perf_counter()
    best = np.inf
    for x0 in starts:
        r = minimize(fg, x0, jac=True, method="L-BFGS-B")
        best = min(best, float(r.fun))
    t_scipy = time.perf_counter() - t0

    print(f"engine: objective {res.objective:.13g}, {t_engine:.3f} s (best of 3: {times})")
    print(f"        params {res.params}")
    print(
        f"        starts {res.search.starts}, converged {res.search.starts_converged}, "
        f"pruned {res.search.starts_pruned}, at best {res.search.starts_at_best}"
    )
    print(f"scipy loop: objective {best:.13g}, {t_scipy:.3f} s")
    for name, f in (("engine", res.objective), ("scipy", best)):
        status = "reaches" if f <= OPTIMUM + 1e-9 else "MISSES"
        print(f"{name} {status} the optimum {OPTIMUM} (+1e-9)")
    print(f"fit_speedup: {t_scipy / t_engine:.1f}")


if __name__ == "__main__":
    main()
