"""Data-constrained plans (Muennighoff et al. 2023)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import HOFFMANN, make_fit

from scalinglab.errors import FitError
from scalinglab.plan.allocation import allocate
from scalinglab.plan.data_constrained import data_constrained, data_constrained_loss
from scalinglab.plan.surface import surface
from scalinglab.units import FlopConvention

FC = FlopConvention()


@pytest.mark.parametrize("C", [1e20, 1e23, 1e25])
def test_ample_unique_data_gives_the_unconstrained_plan(C: float) -> None:
    s = surface(make_fit("chinchilla", HOFFMANN, rel_sd=0.02, n_draws=100))
    base = allocate(s, C, FC)
    pp, warn, src = data_constrained(s, C, 10 * base.D.max(), FC)
    assert pp.N.value == pytest.approx(base.N[0], rel=1e-6)
    assert pp.D.value == pytest.approx(base.D[0], rel=1e-6)
    assert pp.loss.value == pytest.approx(base.loss[0], rel=1e-9)
    assert pp.extra["epochs"].value < 1 and not warn
    assert "published by Muennighoff et al. 2023" in src


def test_scarce_data_repeats_and_costs_loss() -> None:
    s = surface(make_fit("chinchilla", HOFFMANN))
    C = 1e24
    base = allocate(s, C, FC)
    pp, _, _ = data_constrained(s, C, base.D[0] / 8, FC)
    assert pp.extra["epochs"].value > 1
    assert pp.loss.value > base.loss[0]
    # Muennighoff et al.: excess parameters lose value faster than repeated tokens
    # (R*_N < R*_D), so the best use of scarce data is more epochs on a smaller model
    assert pp.N.value < base.N[0] and pp.D.value > base.D[0]
    assert pp.extra["useful_epochs"].value == pytest.approx(1 + 15.4 * math.log(2))


def test_loss_equals_chinchilla_on_fresh_data_and_no_excess_parameters() -> None:
    s = surface(make_fit("chinchilla", HOFFMANN))
    D = np.array([[2e10]])
    h = HOFFMANN
    G = (h["alpha"] * h["A"] / (h["beta"] * h["B"])) ** (1 / (h["alpha"] + h["beta"]))
    N_opt = G * (G * 2e10) ** (h["beta"] / h["alpha"])  # 2e10 tokens are optimal for N_opt
    for N in (N_opt / 100, N_opt / 3, N_opt):
        L_dc = data_constrained_loss(s, np.array([[N]]), D, 1e12)
        assert L_dc[0, 0] == pytest.approx(s.loss(np.array([[N]]), D)[0, 0], rel=1e-12)
    # far more parameters than the data can use: excess parameters are discounted
    big = np.array([[1e12]])
    assert data_constrained_loss(s, big, D, 1e12)[0, 0] > s.loss(big, D)[0, 0]


def test_too_many_epochs_warns() -> None:
    s = surface(make_fit("chinchilla", HOFFMANN))
    _, warn, _ = data_constrained(s, 1e25, 1e10, FC)
    assert warn and "beyond" in warn[0] and "more unique data would pay" in warn[0]


def test_bad_requests() -> None:
    s = surface(make_fit("chinchilla", HOFFMANN))
    with pytest.raises(FitError, match=r"unique tokens must be a positive number of tokens, got 0"):
        data_constrained(s, 1e22, 0, FC)
    with pytest.raises(FitError, match=r"repetition threshold must be in \(0, 1\), got 1\.5"):
        data_constrained(s, 1e22, 1e10, FC, threshold=1.5)
    k = surface(
        make_fit("kaplan", {"N_c": 8.8e13, "D_c": 5.4e13, "alpha_N": 0.076, "alpha_D": 0.095})
    )
    with pytest.raises(FitError, match=r"needs a Chinchilla-type fit .*'kaplan'"):
        data_constrained(k, 1e22, 1e10, FC)
