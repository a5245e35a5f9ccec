"""Hyperparameters (published and fitted laws), model shapes, cost, FLOP conventions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import make_fit

from scalinglab.errors import FitError
from scalinglab.plan.compute_optimal import Estimate
from scalinglab.plan.cost import ACCELERATORS, accelerator, cost
from scalinglab.plan.hyper import hyperparameters
from scalinglab.plan.shape import model_shapes, non_embedding_params
from scalinglab.units import (
    FlopConvention,
    deepseek_flops_per_token,
    flop_convention,
    kaplan_forward_flops_per_token,
    kaplan_training_flops_per_token,
    tokens_from_flops,
    training_flops,
)

# ----- shapes -----


@pytest.mark.parametrize("N", [1.2e8, 1e9, 7e9, 7e10])
def test_shapes_close_and_valid(N: float) -> None:
    shapes = model_shapes(N, vocab=32000)
    assert len(shapes) == 5
    for s in shapes:
        assert abs(s.relative_error) < 0.05
        assert s.d_model % 128 == 0 and 32 <= s.aspect_ratio <= 256
        assert s.n_heads * s.head_dim == s.d_model and s.head_dim in (64, 128)
        assert s.params_total == s.params_non_embedding + 32000 * s.d_model
    errs = [abs(s.relative_error) for s in shapes]
    assert errs == sorted(errs)


def test_shape_counts() -> None:
    assert non_embedding_params(12, 768) == 12 * (12 * 768**2 + 13 * 768) + 2 * 768  # GPT-2 small
    s = model_shapes(1e9, n_includes_embeddings=False, tied_embeddings=False, multiple=64)[0]
    assert (
        abs(s.params_non_embedding / 1e9 - 1) < 0.02 and s.params_embedding == 2 * 32000 * s.d_model
    )


def test_shape_errors() -> None:
    with pytest.raises(
        FitError, match=r"model size must be a positive number of parameters, got -1"
    ):
        model_shapes(-1)
    with pytest.raises(FitError, match=r"vocabulary size must be a positive integer, got 0"):
        model_shapes(1e9, vocab=0)
    with pytest.raises(FitError, match=r"aspect_range must be \(low, high\)"):
        model_shapes(1e9, aspect_range=(300, 100))
    with pytest.raises(FitError, match=r"d_model multiple must be 64 or 128, got 100"):
        model_shapes(1e9, multiple=100)


# ----- hyperparameters -----


def _rows(N: float, D: float, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    f = np.linspace(0.8, 1.2, k)
    return np.concatenate([[N], N * f]), np.concatenate([[D], D / f])


def test_deepseek_published() -> None:
    N, D = _rows(7e9, 2e12)
    shape = model_shapes(7e9)[0]
    h = hyperparameters(N, D, shape, level=0.95, seq_len=4096)
    M = deepseek_flops_per_token(shape.n_layers, shape.d_model, 4096)
    C = M * 2e12
    assert h.lr.value == pytest.approx(0.3118 * C**-0.125)
    assert h.batch_tokens.value == pytest.approx(0.2920 * C**0.3271)
    assert "DeepSeek-AI 2024" in h.lr_source and "1e17 to 2e19" in h.lr_range
    assert any("outside the range" in w for w in h.warnings)  # C ~ 1e23 > 2e19


def test_li2025_published() -> None:
    N, D = _rows(3e8, 2e10)
    shape = model_shapes(3e8)[0]
    h = hyperparameters(N, D, shape, level=0.95, source="li2025")
    n_ne = shape.params_non_embedding
    assert h.lr.value == pytest.approx(1.79 * n_ne**-0.713 * 2e10**0.307)
    assert h.batch_tokens.value == pytest.approx(0.58 * 2e10**0.571)
    assert h.lr.low < h.lr.high
    assert not h.warnings


def test_fitted_hyperparameter_laws() -> None:
    lr = make_fit(
        "lr_opt",
        {"a": 1.79, "b": -0.713, "c": 0.307},
        rel_sd=0.01,
        n_draws=50,
        data={"N": [1e8, 1e9], "D": [1e9, 1e10], "y": [1e-3, 1e-3]},
    )
    bs = make_fit(
        "batch_opt",
        {"d": 0.58, "e": 0.571},
        rel_sd=0.01,
        n_draws=50,
        data={"D": [1e9, 1e10], "y": [1e5, 1e6]},
    )
    N, D = _rows(5e7, 5e9)
    shape = model_shapes(5e7)[0]
    h = hyperparameters(N, D, shape, level=0.95, lr_fit=lr, batch_fit=bs)
    n_ne = shape.params_non_embedding
    assert h.lr.value == pytest.approx(1.79 * n_ne**-0.713 * 5e9**0.307, rel=1e-9)
    assert h.batch_tokens.value == pytest.approx(0.58 * 5e9**0.571, rel=1e-9)
    assert h.lr_source.startswith("fitted 'lr_opt'") and h.lr.low < h.lr.value < h.lr.high
    assert any("N = " in w and "outside the range the fitted 'lr_opt'" in w for w in h.warnings)


def test_hyper_errors() -> None:
    N, D = _rows(1e9, 2e10)
    shape = model_shapes(1e9)[0]
    with pytest.raises(FitError, match=r"hyperparameter source 'openai' is unknown"):
        hyperparameters(N, D, shape, level=0.95, source="openai")
    with pytest.raises(FitError, match=r"sequence length must be a positive integer, got 0"):
        hyperparameters(N, D, shape, level=0.95, seq_len=0)
    wrong = make_fit("batch_opt", {"d": 0.58, "e": 0.571})
    with pytest.raises(
        FitError, match=r"the lr fit must be of law 'lr_opt' or 'lr_opt_compute'; got 'batch_opt'"
    ):
        hyperparameters(N, D, shape, level=0.95, lr_fit=wrong)


# ----- cost -----


def test_cost_arithmetic() -> None:
    c = cost(Estimate(1e24, 5e23, 2e24), accelerator_name="a100", mfu=0.5, gpus=1000)
    gh = 1e24 / (312e12 * 0.5) / 3600
    assert c.gpu_hours.value == pytest.approx(gh)
    assert c.gpu_hours.low == pytest.approx(gh / 2) and c.gpu_hours.high == pytest.approx(2 * gh)
    assert c.wall_hours.value == pytest.approx(gh / 1000)
    assert ACCELERATORS["h100"].peak_flops == 989e12
    custom = cost(Estimate(1e21, 1e21, 1e21), accelerator_name="mychip", peak_flops=1e15, mfu=1.0)
    assert (
        custom.gpu_hours.value == pytest.approx(1e21 / 1e15 / 3600)
        and custom.accelerator == "mychip"
    )


def test_cost_errors() -> None:
    e = Estimate(1e21, 1e21, 1e21)
    with pytest.raises(
        FitError, match=r"unknown accelerator 'h10'\. Did you mean 'h100'.*--peak-flops"
    ):
        accelerator("h10")
    with pytest.raises(FitError, match=r"peak FLOP/s must be a positive number, got -1"):
        accelerator("x", -1)
    for bad in (0.0, 1.5, math.nan):
        with pytest.raises(FitError, match=r"MFU must be in \(0, 1\]"):
            cost(e, mfu=bad)
    with pytest.raises(FitError, match=r"number of GPUs must be an integer >= 1, got 0"):
        cost(e, gpus=0)


# ----- FLOP conventions -----


def test_flop_conventions() -> None:
    assert training_flops(1e9, 2e10) == 1.2e20 and tokens_from_flops(1.2e20, 1e9) == 2e10
    # Kaplan et al. 2020 table 1: forward 2N + 2 n_layer n_ctx d_model; training 3x
    assert kaplan_forward_flops_per_token(1e8, 12, 1024, 768) == 2e8 + 2 * 12 * 1024 * 768
    assert kaplan_training_flops_per_token(1e8, 12, 1024, 768) == 3 * (2e8 + 2 * 12 * 1024 * 768)
    assert deepseek_flops_per_token(30, 4096, 4096) == 72 * 30 * 4096**2 + 12 * 30 * 4096 * 4096
    fc = FlopConvention("6ND+attention", n_ctx=2048, aspect_ratio=128.0)
    N = 12 * 24 * 3072**2  # 24 layers of width 3072: aspect 128
    assert float(fc.per_token(N)) == pytest.approx(6 * N + 6 * 24 * 2048 * 3072)
    assert float(fc.tokens(fc.flops(N, 1e9), N)) == pytest.approx(1e9)
    assert "table 1" in fc.describe() and fc.as_dict()["n_ctx"] == 2048


def test_flop_convention_errors() -> None:
    with pytest.raises(
        FitError, match=r"FLOP convention '8ND' is unknown; use one of 6ND, 6ND\+attention"
    ):
        flop_convention("8ND")
    with pytest.raises(FitError, match=r"n_ctx must be a positive number of tokens, got 0"):
        flop_convention("6ND+attention", n_ctx=0)
    with pytest.raises(FitError, match=r"aspect_ratio \(d_model/n_layer\) must be positive"):
        flop_convention("6ND+attention", aspect_ratio=-2)
