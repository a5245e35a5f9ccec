"""Shared set-up of the Chinchilla benchmarks: data, the Besiroglu et al. 2024 grid, and a plain
numpy objective-and-gradient for scipy baselines (written independently of scalinglab's laws)."""

from __future__ import annotations

import itertools

import numpy as np
from scipy.special import huber

from scalinglab.data import load_dataset, select_runs

OPTIMUM = 1.0182740178e-3  # DESIGN.md: exhaustive, tightly converged search
DELTA = 1e-3


def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    runs = select_runs(load_dataset("chinchilla_epoch"), where="loss < 3.44")
    return runs["N"].to_numpy(float), runs["D"].to_numpy(float), runs["y"].to_numpy(float)


def grid() -> np.ndarray:
    """4,500 starts (e, a, b, alpha, beta): Besiroglu et al. 2024, section 2."""
    rows = itertools.product(
        [-1.0, -0.5, 0.0, 0.5, 1.0],
        range(0, 30, 5),
        range(0, 30, 5),
        [0.0, 0.5, 1.0, 1.5, 2.0],
        [0.0, 0.5, 1.0, 1.5, 2.0],
    )
    return np.array(list(rows), dtype=float)


def make_fg(N: np.ndarray, D: np.ndarray, L: np.ndarray, w: np.ndarray | None = None):  # type: ignore[no-untyped-def]
    """Fused Huber objective and gradient in (e, a, b, alpha, beta) for scipy."""
    lN, lD, lL = np.log(N), np.log(D), np.log(L)
    w = np.ones_like(lL) if w is None else w

    def fg(p: np.ndarray) -> tuple[float, np.ndarray]:
        e, a, b, al, be = p
        t1, t2 = a - al * lN, b - be * lD
        m = np.maximum(np.maximum(t1, t2), e)
        x0, x1, x2 = np.exp(e - m), np.exp(t1 - m), np.exp(t2 - m)
        s = x0 + x1 + x2
        r = m + np.log(s) - lL
        psi = w * np.clip(r, -DELTA, DELTA) / s
        g = np.array(
            [
                (psi * x0).sum(),
                (psi * x1).sum(),
                (psi * x2).sum(),
                -(psi * x1 * lN).sum(),
                -(psi * x2 * lD).sum(),
            ]
        )
        return float((w * huber(DELTA, r)).sum()), g

    return fg
