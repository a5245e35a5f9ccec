"""The data-scaled starting values shared by laws of the form floor + scale * x^(-exponent).

Hoffmann et al. 2022 (arXiv:2203.15556, section 3.3) and Besiroglu et al. 2024
(arXiv:2404.10102, section 2) start L-BFGS from a grid; a fixed grid misses when the target's
units differ from theirs, so these laws place two axes of their grid at the data instead:

* the floor (E, L0, ...) a fraction of the lowest observation: ``log(min(y) * f)``;
* each scale so that its term ``scale * x^-exponent`` equals (a multiple of) the observed spread
  ``max(y) - min(y) / 2`` at the geometric-mean x, for each exponent of the law's grid:
  ``log(factor * spread) + exponent * mean(log x)``.

The grid is a product, so each scale is also tried with the other exponents: mismatched pairs
cost a few wasted starts only. Not a law module: the registry skips names starting with ``_``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scalinglab.laws.base import FloatArray


def spread(y: FloatArray) -> float:
    """The reducible part of the observations, ``max(y) - min(y)/2`` (target units), kept
    positive (at least 1e-12 max(y)) so that its log is finite."""
    ymin, ymax = float(np.min(y)), float(np.max(y))
    return max(ymax - 0.5 * ymin, 1e-12 * ymax)


def floor_starts(y: FloatArray, fractions: Sequence[float]) -> list[float]:
    """Starts of a log floor parameter below the lowest observation: log(min(y) * f)."""
    ymin = float(np.min(y))
    return [float(np.log(ymin * f)) for f in fractions]


def log_mid(x: FloatArray) -> float:
    """mean(log x): the log of the geometric mean of a positive variable."""
    return float(np.mean(np.log(x)))


def term_starts(
    y: FloatArray, x: FloatArray, exponents: Sequence[float], *, factor: float = 1.0
) -> list[float]:
    """Starts of log(scale) of a term scale * x^-exponent: the term equals ``factor`` times the
    spread of ``y`` at the geometric-mean ``x``, one start per exponent of ``exponents``."""
    base = float(np.log(factor * spread(y)))
    lx = log_mid(x)
    return [base + e * lx for e in exponents]


def chinchilla_starts(
    y: FloatArray, N: FloatArray, D: FloatArray, exponents: Sequence[float]
) -> dict[str, list[float]]:
    """Starts of log E, log A and log B of a law of the Chinchilla form E + A/N^alpha +
    B/D^beta (Hoffmann et al. 2022, eq. 2): E at half and 0.9 of the lowest loss, each term
    half the spread at the geometric-mean N (D)."""
    return {
        "E": floor_starts(y, (0.5, 0.9)),
        "A": term_starts(y, N, exponents, factor=0.5),
        "B": term_starts(y, D, exponents, factor=0.5),
    }
