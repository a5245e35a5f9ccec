"""A small decoder-only transformer (GPT) in PyTorch, readable in one sitting.

Shapes: B batch, T sequence length, C = d_model, H heads, hd = C / H head size, V vocabulary.

Architecture (GPT-2, Radford et al. 2019, with the usual modern choices):

* pre-norm residual blocks x + attn(LN(x)), x + mlp(LN(x)) (Xiong et al. 2020,
  arXiv:2002.04745) with LayerNorm (weight and bias) and a final LayerNorm;
* causal self-attention through ``torch.nn.functional.scaled_dot_product_attention``;
* positions: rotary embeddings applied to queries and keys (RoPE, Su et al. 2021,
  arXiv:2104.09864, eq. 34, base 10,000, channel pairs (i, i + hd/2)) or a learned table;
* MLP C -> 4C -> C with GELU (Hendrycks and Gimpel 2016, arXiv:1606.08415), biases everywhere,
  so the parameter count is exactly :meth:`ModelConfig.n_params`;
* output projection tied to the token embedding (Press and Wolf 2017, arXiv:1608.05859) or not.

Initialisation: every weight matrix and embedding ~ N(0, 0.02^2), biases 0, LayerNorm weight 1;
the two residual output projections of each block (attention ``proj``, MLP ``down``) get
std 0.02 / sqrt(2 n_layer) so the residual stream's variance does not grow with depth
(Radford et al. 2019, section 2.3).

muP-style width scaling (Yang et al. 2022, "Tensor Programs V", arXiv:2203.03466, table 3, Adam
column) when ``mup_base_width`` = b is set, with m = d_model / b the width multiplier: the
output logits are multiplied by 1/m, hidden matrices (everything inside the blocks that is a
matrix) are initialised with std 0.02 / sqrt(m) and trained with learning rate lr / m
(:func:`param_groups`), while embeddings, biases and norms keep lr. At m = 1 this is the
standard model; tuned at width b, the same lr then transfers to other widths. (The full muP
also scales attention logits by 1/hd instead of 1/sqrt(hd); this model keeps 1/sqrt(hd).)
"""

from __future__ import annotations

import math
from typing import Any

from scalinglab.train.config import ModelConfig, missing_torch

try:
    import torch
    import torch.nn.functional as F
    from torch import Tensor, nn
except ModuleNotFoundError as exc:  # the optional 'train' extra
    raise missing_torch() from exc

INIT_STD = 0.02
ROPE_BASE = 10_000.0


def rope_tables(seq_len: int, head_dim: int) -> tuple[Tensor, Tensor]:
    """cos and sin of the rotation angles t * base^(-2i/hd), each (T, hd/2)."""
    inv_freq = ROPE_BASE ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float32), inv_freq)  # (T, hd/2)
    return angles.cos(), angles.sin()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate channel pairs (i, i + hd/2) of x (B, H, T, hd) by the position's angle."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]  # (B, H, T, hd/2) each
    cos, sin = cos[: x.shape[-2]].to(x.dtype), sin[: x.shape[-2]].to(x.dtype)  # (T, hd/2)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)  # (B, H, T, hd)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.rope = cfg.pos == "rope"
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(self, x: Tensor, cos: Tensor | None, sin: Tensor | None) -> Tensor:
        B, T, C = x.shape
        H = self.n_head
        q, k, v = self.qkv(x).split(C, dim=2)  # (B, T, C) each
        q = q.view(B, T, H, C // H).transpose(1, 2)  # (B, H, T, hd)
        k = k.view(B, T, H, C // H).transpose(1, 2)  # (B, H, T, hd)
        v = v.view(B, T, H, C // H).transpose(1, 2)  # (B, H, T, hd)
        if cos is not None and sin is not None:
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, hd)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        out: Tensor = self.proj(y)
        return out


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.up = nn.Linear(cfg.d_model, 4 * cfg.d_model)
        self.down = nn.Linear(4 * cfg.d_model, cfg.d_model)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.down(F.gelu(self.up(x)))  # (B, T, 4C) -> (B, T, C)
        return out


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = MLP(cfg)

    def forward(self, x: Tensor, cos: Tensor | None, sin: Tensor | None) -> Tensor:
        x = x + self.attn(self.ln1(x), cos, sin)  # (B, T, C)
        out: Tensor = x + self.mlp(self.ln2(x))  # (B, T, C)
        return out


class GPT(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        C = cfg.d_model
        self.wte = nn.Embedding(cfg.vocab_size, C)
        self.wpe = nn.Embedding(cfg.seq_len, C) if cfg.pos == "learned" else None
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(C)
        self.head = None if cfg.tie_embeddings else nn.Linear(C, cfg.vocab_size, bias=False)
        # logits multiplier: 1/m under muP (m = d_model / base width), else 1
        self.logit_scale = (cfg.mup_base_width / C) if cfg.mup_base_width else 1.0
        if cfg.pos == "rope":
            cos, sin = rope_tables(cfg.seq_len, cfg.head_dim)
            self.register_buffer("rope_cos", cos, persistent=False)  # (T, hd/2)
            self.register_buffer("rope_sin", sin, persistent=False)  # (T, hd/2)
        else:
            self.rope_cos = self.rope_sin = None
        self._init_weights()

    def _init_weights(self) -> None:
        width_mult = self.cfg.d_model / (self.cfg.mup_base_width or self.cfg.d_model)
        hidden_std = INIT_STD / math.sqrt(width_mult)
        for name, p in self.named_parameters():
            if p.dim() < 2:  # LayerNorm weights 1, biases 0
                is_norm_weight = name.endswith(("ln1.weight", "ln2.weight", "ln_f.weight"))
                nn.init.constant_(p, 1.0 if is_norm_weight else 0.0)
            elif name.startswith("blocks."):
                residual = name.endswith(("attn.proj.weight", "mlp.down.weight"))
                scale = 1.0 / math.sqrt(2 * self.cfg.n_layer) if residual else 1.0
                nn.init.normal_(p, 0.0, hidden_std * scale)
            else:  # embeddings and the untied output projection
                nn.init.normal_(p, 0.0, INIT_STD)

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Logits (B, T, V) for token ids ``idx`` (B, T), and the mean cross-entropy in nats per
        token against ``targets`` (B, T) when given."""
        B, T = idx.shape
        x = self.wte(idx)  # (B, T, C)
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(T, device=idx.device))  # (B, T, C) + (T, C)
        for block in self.blocks:
            x = block(x, self.rope_cos, self.rope_sin)  # (B, T, C)
        x = self.ln_f(x)
        weight = self.wte.weight if self.head is None else self.head.weight  # (V, C)
        logits = F.linear(x, weight) * self.logit_scale  # (B, T, V)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.float().view(B * T, -1), targets.reshape(B * T))
        return logits, loss


def param_groups(model: GPT, lr: float, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups. Weight decay on matrices and embeddings only, not on biases and
    norms (as in nanoGPT); under muP the hidden matrices get ``lr_scale`` = base / d_model.
    Each group carries ``lr_scale``: the trainer sets its LR to lr(step) * lr_scale."""
    cfg = model.cfg
    hidden_scale = (cfg.mup_base_width / cfg.d_model) if cfg.mup_base_width else 1.0
    hidden: list[nn.Parameter] = []
    other_decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for name, p in model.named_parameters():
        if p.dim() < 2:
            no_decay.append(p)
        elif name.startswith("blocks."):
            hidden.append(p)
        else:
            other_decay.append(p)
    groups = [
        (hidden, weight_decay, hidden_scale),
        (other_decay, weight_decay, 1.0),
        (no_decay, 0.0, 1.0),
    ]
    return [
        {"params": params, "weight_decay": wd, "lr_scale": scale, "lr": lr * scale}
        for params, wd, scale in groups
        if params
    ]
