"""Speed of the multi-start Chinchilla fit against a plain scipy loop, same run, same grid.

Baseline (the issue's definition): for each of the 4,500 starts of Besiroglu et al. 2024,
``scipy.optimize.minimize(method="L-BFGS-B", jac=True)`` with a fused objective-and-gradient,
default options, no bounds; keep the best. Both must reach the optimum of DESIGN.md.

Ablation: how much of the speed-up is successive halving, which a scipy loop could use too?
The same schedule as the engine (:data:`scalinglab.fit.engine.HALVING`): every start runs
scipy for the first halving's iterations (``maxiter``), the best quarter of those still running
(ranked by objective, at least ``min_keep``) continues to the next halving point, and so on;
the survivors then run to scipy's convergence. A start that converges before a halving point is
kept as a candidate. Each stage restarts scipy from the stage's end point, so it loses its
L-BFGS memory there (scipy cannot pause a minimisation); the engine keeps it. The ratio of the
ablation's time to the engine's is what the batched optimiser alone is worth.

Last line: ``fit_speedup: X`` (baseline time / engine time, best of 3 engine runs).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize

from scalinglab.data import load_dataset, select_runs
from scalinglab.fit import fit
from scalinglab.fit.engine import HALVING

from _chinchilla import OPTIMUM, data, grid, make_fg

MIN_KEEP = 16  # the engine's default (scalinglab.fit.engine.multistart)

Fg = Callable[[np.ndarray], tuple[float, np.ndarray]]


def scipy_loop(fg: Fg, starts: np.ndarray) -> float:
    """The baseline: scipy from every start to its own convergence; the best objective."""
    best = np.inf
    for x0 in starts:
        r = minimize(fg, x0, jac=True, method="L-BFGS-B")
        best = min(best, float(r.fun))
    return best


def scipy_halving(fg: Fg, starts: np.ndarray) -> tuple[float, int]:
    """The ablation: scipy under the engine's successive-halving schedule. Returns the best
    objective and the number of scipy calls."""
    x = starts.copy()
    f = np.full(len(starts), np.inf)
    running = np.arange(len(starts))
    finished: list[int] = []
    calls, done_iter = 0, 0
    for at, frac in HALVING:
        still = []
        for i in running:
            r = minimize(fg, x[i], jac=True, method="L-BFGS-B", options={"maxiter": at - done_iter})
            calls += 1
            x[i], f[i] = r.x, float(r.fun)
            (still if r.status == 1 else finished).append(int(i))  # 1: stopped at maxiter
        done_iter = at
        run = np.array(still, dtype=int)
        keep_n = max(MIN_KEEP, math.ceil(frac * run.size))
        running = run[np.argsort(f[run], kind="stable")[:keep_n]]
    for i in running:
        r = minimize(fg, x[i], jac=True, method="L-BFGS-B")
        calls += 1
        x[i], f[i] = r.x, float(r.fun)
    cand = np.concatenate([np.array(finished, dtype=int), running])
    return float(np.min(f[cand])), calls


def main() -> None:
    N, D, L = data()
    starts = grid()
    runs = select_runs(load_dataset("chinchilla_epoch"), where="loss < 3.44")

    times, cpu = [], []
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        res = fit(runs, "chinchilla", grid=starts, n_boot=0)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    t_engine = min(times)

    fg = make_fg(N, D, L)
    t0, c0 = time.perf_counter(), time.process_time()
    best = scipy_loop(fg, starts)
    t_scipy, c_scipy = time.perf_counter() - t0, time.process_time() - c0

    t0, c0 = time.perf_counter(), time.process_time()
    best_halving, calls = scipy_halving(fg, starts)
    t_halving, c_halving = time.perf_counter() - t0, time.process_time() - c0

    # CPU seconds beside wall seconds: on a shared machine the wall time of a long loop
    # includes waiting for a core, CPU time does not
    print(
        f"engine: objective {res.objective:.13g}, {t_engine:.3f} s (best of 3: "
        f"{', '.join(f'{t:.3f}' for t in times)}; CPU {min(cpu):.3f} s)"
    )
    print(f"        params {res.params}")
    print(
        f"        starts {res.search.starts}, converged {res.search.starts_converged}, "
        f"pruned {res.search.starts_pruned}, at best {res.search.starts_at_best}"
    )
    print(f"scipy loop: objective {best:.13g}, {t_scipy:.3f} s (CPU {c_scipy:.3f} s)")
    print(
        f"scipy with halving: objective {best_halving:.13g}, {t_halving:.3f} s "
        f"(CPU {c_halving:.3f} s), {calls} scipy calls"
    )
    print(
        f"CPU-time ratios: scipy loop / engine {c_scipy / min(cpu):.1f}, "
        f"scipy with halving / engine {c_halving / min(cpu):.1f}"
    )
    for name, f in (("engine", res.objective), ("scipy", best), ("scipy-halving", best_halving)):
        status = "reaches" if f <= OPTIMUM + 1e-9 else "MISSES"
        print(f"{name} {status} the optimum {OPTIMUM} (+1e-9)")
    print(
        f"ablation: scipy with the same successive halving: {t_halving:.2f} s, objective "
        f"{best_halving:.13g}; the batched optimiser alone is {t_halving / t_engine:.1f}x faster"
    )
    print(f"fit_speedup: {t_scipy / t_engine:.1f}")


if __name__ == "__main__":
    main()
