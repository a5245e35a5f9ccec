"""Fits built for planning tests: FitResult constructed directly from given parameters."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

from scalinglab.fit.given import fit_from_params
from scalinglab.fit.result import FitResult
from scalinglab.laws.registry import get_law

HOFFMANN = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def make_fit(
    law: str,
    params: Mapping[str, float],
    *,
    draws: np.ndarray | None = None,
    rel_sd: float = 0.0,
    n_draws: int = 200,
    seed: int = 0,
    data: Mapping[str, list[float]] | None = None,
) -> FitResult:
    """A FitResult for ``params`` without fitting. Draws: given, or ``params`` times
    log-normal noise of ``rel_sd`` (0: no draws)."""
    lw = get_law(law)
    names = lw.param_names
    p = np.array([params[n] for n in names], dtype=float)
    if draws is None and rel_sd > 0:
        rng = np.random.default_rng(seed)
        draws = p * np.exp(rel_sd * rng.standard_normal((n_draws, p.size)))
    return fit_from_params(law, params, draws=draws, data=data, seed=seed)


@pytest.fixture
def hoffmann() -> FitResult:
    return make_fit("chinchilla", HOFFMANN, rel_sd=0.02)
