"""Synthetic loss curves under learning-rate schedules, for the `lr_schedule` law's tests.

Ground truth: the expected loss of SGD on a noisy quadratic model (NQM; Zhang et al. 2019,
"Which Algorithmic Choices Matter at Which Batch Sizes?", arXiv:1907.04164, section 3). Why
this and not the Tissue et al. formula itself: a test that draws data from the fitted law only
checks the optimiser, while the NQM is an independent, mechanistic model in which the schedule
acts the way it does in LM training, so it tests the law's *form*:

* progress is driven by the area under the LR curve: mode k contracts by (1 - eta h_k)^2 per
  step, i.e. ~exp(-2 h_k S1), and a power-law spectrum of curvatures h_k turns that into a
  power law in S1;
* gradient noise keeps each mode at a floor ~ eta sigma^2 / 2 that falls when the LR is
  annealed, with a delay ~ 1 / (2 eta h_k): the loss drop at the end of a cosine or WSD decay.

For K modes with curvature h_k and second moment v_k = E[x_k^2] (gradient noise of variance
sigma^2 h_k, as in the NQM), exactly:

    v_k(t+1) = (1 - eta_t h_k)^2 v_k(t) + eta_t^2 sigma^2 h_k
    L(t)     = L_inf + 1/2 sum_k h_k v_k(t)

Observed losses carry seeded multiplicative noise exp(noise * z), z ~ N(0, 1).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

STEPS = 4000  # steps per run
ETA = 1.0  # peak LR (dimensionless: the NQM's curvatures set its scale)
WARMUP = 100  # linear warmup steps, in every schedule
LOG_EVERY = 20  # a row every LOG_EVERY steps (from step LOG_EVERY)
WSD_DECAY = 0.2  # WSD: linear decay to 0 over the last 20% of steps
MIN_LR = 0.0


def schedule(kind: str, steps: int = STEPS, eta: float = ETA) -> FloatArray:
    """LR at steps 1..steps for ``kind`` in {"constant", "cosine", "wsd"}, after linear warmup."""
    t = np.arange(1, steps + 1, dtype=float)
    warm = np.minimum(1.0, t / WARMUP)
    if kind == "constant":
        body = np.ones_like(t)
    elif kind == "cosine":
        frac = np.clip((t - WARMUP) / (steps - WARMUP), 0.0, 1.0)
        body = MIN_LR + (1 - MIN_LR) * 0.5 * (1 + np.cos(math.pi * frac))
    elif kind == "wsd":
        start = steps * (1 - WSD_DECAY)
        body = np.clip((steps - t) / (steps - start), 0.0, 1.0)
    else:
        raise ValueError(f"unknown schedule {kind!r}")
    return eta * warm * body


def nqm_loss(lrs: FloatArray, *, n_modes: int = 100, sigma2: float = 0.02) -> FloatArray:
    """Expected NQM loss after each step of the LR sequence ``lrs`` (steps 1..len(lrs))."""
    h = np.geomspace(1e-4, 0.5, n_modes)  # curvatures; eta h < 2 keeps SGD stable
    v = h**-0.6 / n_modes  # initial error: more of it in the flat directions (slow to learn)
    out = np.empty(lrs.size)
    for i, e in enumerate(lrs):
        v = (1.0 - e * h) ** 2 * v + e * e * sigma2 * h
        out[i] = 0.5 * float(h @ v)
    return 1.0 + out  # L_inf = 1


def curve(kind: str, *, run_id: str | None = None, noise: float = 0.002, seed: int = 0) -> pd.DataFrame:
    """Loss-curve rows (run_id, step, lr, y) of one run, logged every LOG_EVERY steps."""
    lrs = schedule(kind)
    loss = nqm_loss(lrs)
    idx = np.arange(LOG_EVERY - 1, STEPS, LOG_EVERY)
    z = np.random.default_rng(seed).standard_normal(idx.size)
    return pd.DataFrame(
        {
            "run_id": run_id or kind,
            "step": idx + 1,
            "lr": lrs[idx],
            "y": loss[idx] * np.exp(noise * z),
        }
    )
