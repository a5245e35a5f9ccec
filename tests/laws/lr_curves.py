"""Synthetic loss curves under learning-rate schedules, for the `lr_schedule` law's tests.

Ground truth: the expected loss of SGD on a noisy quadratic model (NQM; Zhang et al. 2019,
"Which Algorithmic Choices Matter at Which Batch Sizes?", arXiv:1907.04164, section 3). Why
this and not the Tissue et al. formula itself: data drawn from the fitted law only test the
optimiser, while the NQM is an independent, mechanistic model in which the schedule acts the
way it does in LM training, so it tests the law's *form*:

* progress is driven by the area under the LR curve: mode k contracts by (1 - eta h_k)^2 per
  step, i.e. ~exp(-2 h_k S1), and a power-law spectrum of curvatures with more initial error
  in the flat directions turns that into a power law in S1;
* gradient noise keeps each mode at a floor ~ eta sigma^2 / 2 that falls when the LR is
  annealed, with a delay ~ 1 / (2 eta h_k) (here 250 to 25,000 steps): the loss drop at the
  end of a cosine or WSD decay, appearing with a lag as in LM training.

For K modes with curvature h_k and second moment v_k = E[x_k^2], and gradient noise of
variance sigma^2 h_k (the NQM's noise covariance is proportional to the curvature), exactly:

    v_k(t+1) = (1 - eta_t h_k)^2 v_k(t) + eta_t^2 sigma^2 h_k
    L(t)     = L_inf + 1/2 sum_k h_k v_k(t)

Observed losses carry seeded multiplicative noise exp(noise * z), z ~ N(0, 1). The first
FIT_FROM steps (warmup and the fast initial drop, which a power law in S1 does not describe)
are logged but given zero weight in the tests' fits.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

STEPS = 20_000  # steps per run
ETA = 1.0  # peak LR (dimensionless: the NQM's curvatures set its scale)
WARMUP = 500  # linear warmup steps, in every schedule
LOG_EVERY = 200  # a row every LOG_EVERY steps, from step LOG_EVERY
WSD_DECAY = 0.2  # WSD: linear decay to 0 over the last 20% of steps
FIT_FROM = 1_000  # rows before this step get zero weight in fits (5% of the run)

# the NQM: curvatures geomspace(H_MIN, H_MAX, N_MODES); initial second moments
# SCALE * h^-P_INIT / N_MODES; gradient-noise variance SIGMA2 * h; irreducible loss L_INF.
# Chosen so the loss falls from ~2.8 to ~2.1 (constant LR) with a noise floor of ~0.1 that
# annealing removes.
N_MODES = 100
H_MIN, H_MAX = 2e-5, 2e-3
P_INIT = 0.6
SCALE = 40.0
SIGMA2 = 10.0
L_INF = 2.0


def schedule(kind: str) -> FloatArray:
    """LR at steps 1..STEPS for ``kind`` in {"constant", "cosine", "wsd"}, after linear warmup
    (cosine: to 0 at the last step; WSD: constant, then linear to 0 over the last 20%)."""
    t = np.arange(1, STEPS + 1, dtype=float)
    warm = np.minimum(1.0, t / WARMUP)
    if kind == "constant":
        body = np.ones_like(t)
    elif kind == "cosine":
        frac = np.clip((t - WARMUP) / (STEPS - WARMUP), 0.0, 1.0)
        body = 0.5 * (1.0 + np.cos(math.pi * frac))
    elif kind == "wsd":
        start = STEPS * (1.0 - WSD_DECAY)
        body = np.clip((STEPS - t) / (STEPS - start), 0.0, 1.0)
    else:
        raise ValueError(f"unknown schedule {kind!r}")
    return ETA * warm * body


def nqm_loss(lrs: FloatArray) -> FloatArray:
    """Expected NQM loss after each step of the LR sequence ``lrs`` (steps 1..len(lrs))."""
    h = np.geomspace(H_MIN, H_MAX, N_MODES)  # eta h << 2: SGD is stable
    v = SCALE * h**-P_INIT / N_MODES
    noise = SIGMA2 * h
    out = np.empty(lrs.size)
    for i, e in enumerate(lrs):
        v = (1.0 - e * h) ** 2 * v + e * e * noise
        out[i] = 0.5 * float(h @ v)
    return L_INF + out


def curve(kind: str, *, noise: float = 0.002, seed: int = 0) -> pd.DataFrame:
    """Loss-curve rows (run_id, step, lr, y, weight) of one run, logged every LOG_EVERY steps;
    ``weight`` is 0 before FIT_FROM."""
    lrs = schedule(kind)
    loss = nqm_loss(lrs)
    idx = np.arange(LOG_EVERY - 1, STEPS, LOG_EVERY)
    z = np.random.default_rng(seed).standard_normal(idx.size)
    step = idx + 1
    return pd.DataFrame(
        {
            "run_id": kind,
            "step": step,
            "lr": lrs[idx],
            "y": loss[idx] * np.exp(noise * z),
            "weight": (step >= FIT_FROM).astype(float),
        }
    )
