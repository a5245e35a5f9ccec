"""Wall-time estimate of a sweep on this machine, from a short measured calibration.

The smallest and the largest run (by training FLOP per step, 6 N x tokens per step) are each
trained for ``short`` and ``long`` steps; the difference of the two wall times over
``long - short`` steps is the time per step without start-up, model building and the final
evaluation. Between the two, time per step is interpolated as a power of FLOP per step
(log-log line through the two points; small models do not reach the machine's peak, so the
exponent is usually below 1). Evaluations cost a forward pass, a third of a training step
per token (Kaplan et al. 2020, arXiv:2001.08361, section 2.1), over ``eval_tokens`` every
``eval_every`` steps. With W workers, runs are scheduled in plan order on the first free
worker, as the local runner does: an estimate, not a promise (workers share memory bandwidth,
and a busy machine is slower than at calibration).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, replace
from typing import Any

from scalinglab.sweep.design import PlannedRun

_FORWARD_FRACTION = 1.0 / 3.0


@dataclass(frozen=True)
class WallEstimate:
    """Seconds per run (plan order), the total in seconds for ``workers`` workers, and the
    measured calibration points (FLOP per step, seconds per step)."""

    per_run: tuple[float, ...]
    total_s: float
    workers: int
    points: tuple[tuple[float, float], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "per_run_s": list(self.per_run),
            "total_s": self.total_s,
            "workers": self.workers,
            "calibration": [{"flops_per_step": f, "s_per_step": s} for f, s in self.points],
        }


def _flops_per_step(r: PlannedRun) -> float:
    return r.C / r.steps


def _time(r: PlannedRun, steps: int, corpus: Any) -> float:
    from scalinglab.train.loop import train

    cfg = replace(
        r.config, tokens=steps * r.config.tokens_per_step, eval_every=steps + 1, eval_tokens=256
    )
    t0 = time.perf_counter()
    train(cfg, corpus=corpus)
    return time.perf_counter() - t0


def _per_step(r: PlannedRun, corpus: Any, short: int, long: int) -> float:
    t_short = _time(r, short, corpus)
    t_long = _time(r, long, corpus)
    diff = (t_long - t_short) / (long - short)
    return diff if diff > 0 else t_long / long  # noise swamped the difference: upper bound


def estimate_wall_time(
    runs: list[PlannedRun], *, workers: int = 1, short: int = 2, long: int = 6
) -> WallEstimate:
    """Measure, then extrapolate every run's wall time (seconds) by its FLOP per step."""
    from scalinglab.sweep.worker import corpus_for

    if not runs:
        return WallEstimate((), 0.0, workers, ())
    lo = min(runs, key=_flops_per_step)
    hi = max(runs, key=_flops_per_step)
    corpus = corpus_for(lo.config.data, lo.config.model.vocab_size)
    _time(lo, 1, corpus)  # warm-up: first-call costs (allocator, kernels) out of the timings
    points = [(_flops_per_step(lo), _per_step(lo, corpus, short, long))]
    if hi is not lo and _flops_per_step(hi) > points[0][0]:
        points.append((_flops_per_step(hi), _per_step(hi, corpus, short, long)))
    if len(points) == 2:
        (f0, s0), (f1, s1) = points
        b = math.log(s1 / s0) / math.log(f1 / f0)
    else:
        (f0, s0), b = points[0], 1.0
    per_run = []
    for r in runs:
        step_s = s0 * (_flops_per_step(r) / f0) ** b
        evals = r.steps // r.config.eval_every + 1
        eval_steps = evals * r.config.eval_tokens / r.config.tokens_per_step * _FORWARD_FRACTION
        per_run.append(step_s * (r.steps + eval_steps))
    return WallEstimate(tuple(per_run), _schedule(per_run, workers), workers, tuple(points))


def _schedule(per_run: list[float], workers: int) -> float:
    """Wall time when runs start in plan order on the first free worker (as the local runner
    does). Workers beyond the cores share them: their runs slow down by workers / cores."""
    cores = os.cpu_count() or 1
    slowdown = max(1.0, workers / cores)
    free = [0.0] * max(1, workers)
    for t in per_run:
        i = free.index(min(free))
        free[i] += t * slowdown
    return max(free)
