"""Shared by laws of the Chinchilla form L = E + A / N^alpha + B / D^beta (Hoffmann et al. 2022,
eq. 2) with another meaning of N: ``precision`` (effective N) and ``sparse`` (average N)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scalinglab.laws.base import FloatArray


def scale_starts(
    y: FloatArray, N: FloatArray, D: FloatArray, exponents: Sequence[float]
) -> dict[str, list[float]]:
    """Start values of log E, log A and log B from the data: E below the lowest loss; A and B so
    that each term is ~ the observed spread at the geometric-mean N and D, for each exponent of
    ``exponents``."""
    ymin, ymax = float(np.min(y)), float(np.max(y))
    span = max(ymax - 0.5 * ymin, 1e-12 * ymax)
    lN = float(np.mean(np.log(N)))
    lD = float(np.mean(np.log(D)))
    return {
        "E": [float(np.log(ymin * f)) for f in (0.5, 0.9)],
        "A": [float(np.log(span / 2)) + x * lN for x in exponents],
        "B": [float(np.log(span / 2)) + x * lD for x in exponents],
    }
