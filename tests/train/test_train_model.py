"""The GPT model: exact parameter count, causality, RoPE, muP scaling, parameter groups."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from scalinglab.train.config import ModelConfig  # noqa: E402
from scalinglab.train.model import GPT, apply_rope, param_groups, rope_tables  # noqa: E402


@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig(vocab_size=300, n_layer=2, n_head=2, d_model=32, seq_len=32),
        ModelConfig(300, 3, 4, 64, 16, pos="learned", tie_embeddings=False),
        ModelConfig(300, 1, 1, 24, 8, pos="learned", mup_base_width=8),
    ],
)
def test_n_params_equals_built_model(cfg: ModelConfig) -> None:
    model = GPT(cfg)
    total = sum(p.numel() for p in model.parameters())
    embedding = model.wte.weight.numel()
    embedding += 0 if model.head is None else model.head.weight.numel()
    embedding += 0 if model.wpe is None else model.wpe.weight.numel()
    assert cfg.n_params(True) == total
    assert cfg.n_params(False) == total - embedding


def test_causal_and_shapes() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=50, n_layer=2, n_head=2, d_model=16, seq_len=12)
    model = GPT(cfg)
    idx = torch.randint(0, 50, (3, 12))
    logits, loss = model(idx, torch.randint(0, 50, (3, 12)))
    assert logits.shape == (3, 12, 50) and loss is not None and loss.ndim == 0
    changed = idx.clone()
    changed[:, 8:] = (changed[:, 8:] + 1) % 50  # change the future only
    later, _ = model(changed)
    torch.testing.assert_close(later[:, :8], logits[:, :8])
    assert not torch.allclose(later[:, 8:], logits[:, 8:])
    # fresh init (std 0.02) predicts nearly uniformly: loss ~ log V on random targets
    assert abs(loss.item() - math.log(50)) < 0.1


def test_rope_preserves_norms_and_is_relative() -> None:
    cos, sin = rope_tables(8, 4)
    x = torch.randn(1, 1, 8, 4)
    rotated = apply_rope(x, cos, sin)
    torch.testing.assert_close(rotated.norm(dim=-1), x.norm(dim=-1))
    # the same q, k at positions (i, j) and (i + s, j + s) give the same dot product
    q = torch.randn(4).expand(1, 1, 8, 4)
    k = torch.randn(4).expand(1, 1, 8, 4)
    rq, rk = apply_rope(q, cos, sin)[0, 0], apply_rope(k, cos, sin)[0, 0]
    assert torch.dot(rq[5], rk[2]).item() == pytest.approx(torch.dot(rq[6], rk[3]).item(), rel=1e-5)


def test_mup_scales_logits_init_and_hidden_lr() -> None:
    base = ModelConfig(vocab_size=64, n_layer=1, n_head=2, d_model=16, seq_len=8, mup_base_width=16)
    wide = ModelConfig(vocab_size=64, n_layer=1, n_head=2, d_model=64, seq_len=8, mup_base_width=16)
    torch.manual_seed(0)
    m_wide = GPT(wide)
    assert GPT(base).logit_scale == 1.0 and m_wide.logit_scale == 0.25
    up_std = m_wide.blocks[0].mlp.up.weight.std().item()
    assert up_std == pytest.approx(0.02 / math.sqrt(4), rel=0.1)
    groups = param_groups(m_wide, lr=1e-2, weight_decay=0.1)
    hidden = next(g for g in groups if g["lr_scale"] != 1.0)
    assert hidden["lr_scale"] == 0.25 and hidden["lr"] == pytest.approx(2.5e-3)
    no_decay = next(g for g in groups if g["weight_decay"] == 0.0)
    assert all(p.dim() == 1 for p in no_decay["params"])
    n_grouped = sum(p.numel() for g in groups for p in g["params"])
    assert n_grouped == wide.n_params(True)
