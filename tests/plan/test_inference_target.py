"""Inference-aware plans (Sardana et al. 2023) and the least compute for a target loss."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import HOFFMANN, make_fit
from hypothesis import given, settings
from hypothesis import strategies as st

from scalinglab.errors import FitError
from scalinglab.plan.allocation import allocate, compute_for_loss, inference_aware
from scalinglab.plan.surface import surface
from scalinglab.units import FlopConvention

FC = FlopConvention()


@settings(max_examples=40, deadline=None)
@given(
    alpha=st.floats(0.2, 0.6),
    beta=st.floats(0.2, 0.6),
    logA=st.floats(4.0, 8.0),
    logB=st.floats(4.0, 8.0),
    E=st.floats(0.5, 2.5),
    logC=st.floats(np.log(1e19), np.log(1e26)),
)
def test_inference_moves_to_smaller_models_and_more_tokens(
    alpha: float, beta: float, logA: float, logB: float, E: float, logC: float
) -> None:
    p = {"E": E, "A": float(np.exp(logA)), "B": float(np.exp(logB)), "alpha": alpha, "beta": beta}
    s = surface(make_fit("chinchilla", p))
    C = float(np.exp(logC))
    base = allocate(s, C, FC)
    D_opt = base.D[0]
    Ns, Ds = [], []
    for ratio in (0.0, 0.1, 1.0, 10.0, 100.0):  # inference tokens as multiples of D*
        pp = inference_aware(s, ratio * D_opt, FC, compute=C)
        Ns.append(pp.N.value)
        Ds.append(pp.D.value)
        assert pp.loss.value == pytest.approx(base.loss[0], rel=1e-12)
    # D_inf = 0: exactly the compute-optimal plan
    assert Ns[0] == pytest.approx(base.N[0], rel=1e-6)
    assert Ds[0] == pytest.approx(base.D[0], rel=1e-6)
    assert all(b < a * (1 + 1e-9) for a, b in itertools.pairwise(Ns))
    assert all(b > a * (1 - 1e-9) for a, b in itertools.pairwise(Ds))
    assert Ns[-1] < 0.99 * Ns[0] and Ds[-1] > 1.01 * Ds[0]


def test_inference_aware_saves_total_compute(hoffmann) -> None:  # type: ignore[no-untyped-def]
    s = surface(hoffmann)
    C, Dinf = 1e24, 2e13
    pp = inference_aware(s, Dinf, FC, compute=C)
    base = allocate(s, C, FC)
    naive_total = C + 2 * base.N[0] * Dinf
    assert pp.extra["total_compute"].value < naive_total
    assert pp.compute.value > C  # more training, much less inference
    assert pp.extra["inference_compute"].value == pytest.approx(2 * pp.N.value * Dinf)
    for e in (pp.N, pp.D, pp.extra["total_compute"]):
        assert e.low <= e.value <= e.high


def test_total_budget_mode() -> None:
    s = surface(make_fit("chinchilla", HOFFMANN))
    free = inference_aware(s, 0.0, FC, total_compute=1e23)
    base = allocate(s, 1e23, FC)
    assert free.N.value == pytest.approx(base.N[0], rel=1e-6)
    pp = inference_aware(s, 1e12, FC, total_compute=1e23)
    assert pp.extra["total_compute"].value == pytest.approx(1e23, rel=1e-9)
    assert pp.N.value < base.N[0] and pp.loss.value > base.loss[0]


def test_inference_aware_arguments() -> None:
    s = surface(make_fit("chinchilla", HOFFMANN))
    with pytest.raises(
        FitError, match=r"needs exactly one of compute .*target_loss, or total_compute"
    ):
        inference_aware(s, 1e12, FC, compute=1e22, target_loss=2.2)
    with pytest.raises(FitError, match=r"inference tokens must be a number >= 0, got -1\.0"):
        inference_aware(s, -1.0, FC, compute=1e22)


def test_target_loss_inverts_compute_optimal(hoffmann) -> None:  # type: ignore[no-untyped-def]
    s = surface(hoffmann)
    for C in (1e20, 1e23, 1e25):
        base = allocate(s, C, FC)
        pp = compute_for_loss(s, float(base.loss[0]), FC)
        assert pp.compute.value == pytest.approx(C, rel=1e-6)
        assert pp.N.value == pytest.approx(base.N[0], rel=1e-5)
        assert pp.compute.low < pp.compute.value < pp.compute.high


def test_target_at_or_below_E_is_an_error(hoffmann) -> None:  # type: ignore[no-untyped-def]
    s = surface(hoffmann)
    with pytest.raises(
        FitError,
        match=r"target loss 1\.6 is at or below the fitted irreducible loss E = 1\.69 \(95% interval \[1\.6\d*, 1\.7\d*\]\)",
    ):
        compute_for_loss(s, 1.6, FC)
    with pytest.raises(FitError, match=r"target loss 1\.69 is at or below"):
        compute_for_loss(s, 1.69, FC)


def test_target_near_E_has_unbounded_draws() -> None:
    fit = make_fit("chinchilla", HOFFMANN, rel_sd=0.05, n_draws=200)
    pp = compute_for_loss(surface(fit), 1.72, FC)
    assert np.isinf(pp.compute.high)
    assert any("no compute reaches it" in n for n in pp.notes)
