"""Learning-rate schedules: linear warmup, then cosine decay or warmup-stable-decay (WSD).

Steps count from 1 (the LR of step s is the one its update uses); with S steps, W =
round(warmup_frac S) warmup steps and eta_min = min_lr_frac * eta_max:

* warmup, s <= W: eta = eta_max s / W (linear from eta_max / W; Goyal et al. 2017,
  arXiv:1706.02677, section 2.2);
* cosine, s > W: eta = eta_min + (eta_max - eta_min) (1 + cos(pi p)) / 2 with
  p = (s - W) / (S - W), so the last step uses eta_min (Loshchilov and Hutter 2017,
  arXiv:1608.03983, eq. 5, one cycle without restarts);
* WSD: eta_max until the decay starts at step S - K, K = round(decay_frac S), then linear to
  eta_min at step S: eta = eta_max - (eta_max - eta_min) (s - (S - K)) / K (Hu et al. 2024,
  MiniCPM, arXiv:2404.06395, section 4.1; Hägele et al. 2024, arXiv:2405.18392, compare decay
  shapes and find linear close to the best).

Plain Python floats, no torch: the same function gives the trainer's LR and the tests' hand
computation, and the LR per step goes into the loss curve for the ``lr_schedule`` law.
"""

from __future__ import annotations

import math

from scalinglab.train.config import TrainConfig


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Learning rate used at optimiser step ``step`` (1 <= step <= cfg.steps)."""
    S = cfg.steps
    peak = cfg.lr
    low = cfg.min_lr_frac * peak
    warmup = round(cfg.warmup_frac * S)
    if step <= warmup:
        return peak * step / warmup
    if cfg.schedule == "cosine":
        p = (step - warmup) / (S - warmup)
        return low + (peak - low) * 0.5 * (1.0 + math.cos(math.pi * p))
    decay = round(cfg.decay_frac * S)
    start = S - decay
    if step <= start:
        return peak
    return peak - (peak - low) * (step - start) / decay


def lr_schedule(cfg: TrainConfig) -> list[float]:
    """The LR of every step 1..cfg.steps."""
    return [lr_at(cfg, s) for s in range(1, cfg.steps + 1)]
