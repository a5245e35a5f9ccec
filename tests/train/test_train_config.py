"""Run configuration, FLOP counts and LR schedules (no torch needed)."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import numpy as np
import pytest

from scalinglab.train.config import ModelConfig, TrainConfig, TrainConfigError
from scalinglab.train.schedule import lr_at, lr_schedule

MODEL = ModelConfig(vocab_size=512, n_layer=2, n_head=2, d_model=32, seq_len=32)


def config(**kw: object) -> TrainConfig:
    base: dict[str, object] = {"model": MODEL, "tokens": 32 * 8 * 100, "batch_size": 8, "lr": 1e-2}
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def test_import_does_not_load_torch() -> None:
    code = "import sys, scalinglab.train; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_n_params_by_hand() -> None:
    # d = 32: per layer 12 d^2 + 13 d = 12,704; two layers + final norm 2 d = 25,472
    assert MODEL.n_params(False) == 2 * (12 * 32 * 32 + 13 * 32) + 64 == 25_472
    assert MODEL.n_params(True) == 25_472 + 512 * 32
    untied = ModelConfig(512, 2, 2, 32, 32, pos="learned", tie_embeddings=False)
    assert untied.n_params(True) == 25_472 + 2 * 512 * 32 + 32 * 32


def test_steps_tokens_and_flops() -> None:
    cfg = config(tokens=32 * 8 * 100 + 17)  # a partial step is not trained
    assert cfg.steps == 100
    assert cfg.tokens_trained == 25_600
    assert cfg.flops == 6 * 25_472 * 25_600
    # Kaplan et al. 2020 table 1: 6 N + 6 n_layer n_ctx d_model per token
    assert cfg.flops_attention == (6 * 25_472 + 6 * 2 * 32 * 32) * 25_600


def test_key_round_trip_and_sensitivity() -> None:
    cfg = config()
    again = TrainConfig.from_dict(cfg.to_dict())
    assert again == cfg and again.key() == cfg.key() and len(cfg.key()) == 16
    assert config(lr=1).key() == config(lr=1.0).key()
    assert (
        config(tokens=np.int64(25_600), lr=np.float32(0.01)).key()
        == config(lr=np.float32(0.01)).key()
    )
    assert config(seed=1).key() != cfg.key()
    assert config(model=ModelConfig(512, 2, 2, 32, 32, pos="learned")).key() != cfg.key()


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"tokens": 100}, "one step takes batch_size \\* seq_len = 256 tokens"),
        ({"lr": -1.0}, "lr is -1.0"),
        ({"lr": "fast"}, "lr is 'fast'; give a number"),
        ({"schedule": "linear"}, "use one of cosine, wsd"),
        ({"warmup_frac": 1.5}, "warmup_frac is 1.5"),
        ({"schedule": "wsd", "warmup_frac": 0.5, "decay_frac": 0.6}, "cannot overlap"),
        ({"grad_clip": -1.0}, "grad_clip is -1.0"),
        ({"batch_size": 0}, "batch_size is 0"),
        ({"tokens": 1e6}, "tokens is 1000000.0; give a positive integer"),
        ({"seed": "zero"}, "seed is 'zero'; give an integer"),
    ],
)
def test_bad_train_config(kw: dict[str, object], match: str) -> None:
    with pytest.raises(TrainConfigError, match=match):
        config(**kw)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((512, 2, 3, 32, 32), "multiple of n_head = 3"),
        ((512, 2, 32, 32, 32), "RoPE rotates pairs"),
        ((512, 0, 2, 32, 32), "n_layer is 0"),
    ],
)
def test_bad_model_config(args: tuple[int, ...], match: str) -> None:
    with pytest.raises(TrainConfigError, match=match):
        ModelConfig(*args)


def test_bad_pos_mup_and_keys() -> None:
    with pytest.raises(TrainConfigError, match="use one of rope, learned"):
        ModelConfig(512, 2, 2, 32, 32, pos="alibi")
    with pytest.raises(TrainConfigError, match="mup_base_width is 0"):
        ModelConfig(512, 2, 2, 32, 32, mup_base_width=0)
    with pytest.raises(TrainConfigError, match="unknown keys \\['lrr'\\]"):
        TrainConfig.from_dict({**config().to_dict(), "lrr": 1.0})
    with pytest.raises(TrainConfigError, match="no 'model' key"):
        TrainConfig.from_dict({"tokens": 1000, "batch_size": 1, "lr": 1.0})


def test_cosine_schedule_by_hand() -> None:
    # 100 steps, 5 warmup steps, peak 1e-2, floor 1e-3
    cfg = config()
    assert lr_at(cfg, 1) == pytest.approx(1e-2 / 5)
    assert lr_at(cfg, 5) == pytest.approx(1e-2)
    mid = 5 + 95 / 2  # p = 1/2: halfway between peak and floor
    assert lr_at(cfg, int(mid)) == pytest.approx(
        1e-3 + 9e-3 * 0.5 * (1 + math.cos(math.pi * 47 / 95))
    )
    assert lr_at(cfg, 100) == pytest.approx(1e-3)
    lrs = lr_schedule(cfg)
    assert len(lrs) == 100 and max(lrs) == pytest.approx(1e-2)
    assert all(a >= b for a, b in itertools.pairwise(lrs[5:]))  # never rises after warmup


def test_wsd_schedule_by_hand() -> None:
    cfg = config(schedule="wsd", warmup_frac=0.1, decay_frac=0.2)  # 10 warmup, decay 81..100
    assert lr_at(cfg, 10) == pytest.approx(1e-2)
    assert lr_at(cfg, 50) == lr_at(cfg, 80) == pytest.approx(1e-2)
    assert lr_at(cfg, 90) == pytest.approx(1e-2 - 9e-3 * 10 / 20)
    assert lr_at(cfg, 100) == pytest.approx(1e-3)
