"""Planted laws for the recovery tests: noisy data drawn from catalogue laws (seeded), and the
check that a discovered law is equivalent to the planted one.

Equivalence is judged by predictions, as the issue allows ("equal predictions over the data
range"): the discovered law, fitted on the noisy runs, must predict the noise-free planted law
within ``TOLERANCE`` (relative, max over a dense grid spanning the data range in every
variable). With multiplicative noise of ``NOISE`` (0.5%) per run, a wrong form misses by far
more than 1%.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalinglab.discover.result import DiscoverResult
from scalinglab.fit.variables import law_variables
from scalinglab.laws import get_law

NOISE = 0.005
TOLERANCE = 0.01
Fn = Callable[[dict[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class Planted:
    name: str
    variables: tuple[str, ...]
    truth: Fn
    ranges: dict[str, tuple[float, float]]
    points: int  # per variable


def _kaplan(X: dict[str, np.ndarray]) -> np.ndarray:
    # Kaplan et al. 2020 (2001.08361) eq. 1.5 with the paper's fitted constants (section 1.2)
    n_c, a_n, d_c, a_d = 8.8e13, 0.076, 5.4e13, 0.095
    return ((n_c / X["N"]) ** (a_n / a_d) + d_c / X["D"]) ** a_d


def _bnsl(X: dict[str, np.ndarray]) -> np.ndarray:
    # Caballero et al. 2022 (2210.14891) eq. 1 with one break inside the data range
    x = X["x"]
    return 1.0 + 10.0 * x**-0.1 * (1 + (x / 1e5) ** (1 / 0.5)) ** (-0.4 * 0.5)


PLANTED = (
    Planted(
        "power law with offset (Hestness et al. 2017)",
        ("x",),
        lambda X: 1.5 + 20.0 * X["x"] ** -0.35,
        {"x": (1e3, 1e7)},
        30,
    ),
    Planted(
        "chinchilla (Hoffmann et al. 2022)",
        ("N", "D"),
        lambda X: 1.82 + 482.0 / X["N"] ** 0.348 + 2085.0 / X["D"] ** 0.366,
        {"N": (1e7, 1e10), "D": (1e9, 1e12)},
        7,
    ),
    Planted(
        "kaplan (Kaplan et al. 2020)", ("N", "D"), _kaplan, {"N": (1e7, 1e10), "D": (1e8, 1e11)}, 7
    ),
    Planted("bnsl, one break (Caballero et al. 2022)", ("x",), _bnsl, {"x": (1e3, 1e8)}, 40),
    Planted(
        "exponential saturation (Gadre et al. 2024 eq. 5 form)",
        ("x",),
        lambda X: 0.5 + 2.0 * np.exp(-X["x"] / 3e4),
        {"x": (1e3, 2e5)},
        30,
    ),
    Planted(
        "compute power law E + A/(N D)^a",
        ("N", "D"),
        lambda X: 1.7 + 700.0 / (X["N"] * X["D"]) ** 0.15,
        {"N": (1e7, 1e10), "D": (1e9, 1e12)},
        7,
    ),
)


def _grid(p: Planted, points: int) -> dict[str, np.ndarray]:
    axes = [np.geomspace(*p.ranges[v], points) for v in p.variables]
    mesh = list(itertools.product(*axes))
    return {v: np.array([m[i] for m in mesh]) for i, v in enumerate(p.variables)}


def runs_of(p: Planted, seed: int) -> pd.DataFrame:
    """Noisy runs from the planted law: a log-spaced grid, multiplicative noise NOISE."""
    X = _grid(p, p.points)
    rng = np.random.default_rng(seed)
    y = p.truth(X) * np.exp(rng.normal(0.0, NOISE, X[p.variables[0]].size))
    return pd.DataFrame({**X, "y": y})


def equivalent(p: Planted, result: DiscoverResult) -> tuple[bool, float]:
    """Whether the best law predicts the noise-free planted law within TOLERANCE over the data
    range (and the max relative deviation)."""
    best = result.leaderboard[0]
    law = get_law(best.law)
    X = _grid(p, 25 if len(p.variables) == 1 else 12)
    frame = pd.DataFrame({**X, "y": p.truth(X)})
    if law.specialize is not None:
        law = law.specialize(frame)
    theta = law.to_internal(best.params)
    pred = law.predict(theta[None, :], law_variables(frame, law, "planted grid"))[0]
    dev = float(np.max(np.abs(pred / p.truth(X) - 1.0)))
    return dev <= TOLERANCE, dev
