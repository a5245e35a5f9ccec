"""Configuration of one training run: model shape and training recipe (no torch here).

Every hyperparameter of a run lives in :class:`TrainConfig` (with its :class:`ModelConfig`), as in
nanoGPT; the config is saved inside every checkpoint and its hash, :meth:`TrainConfig.key`, is
the run's identity in a sweep and in the store (``run_id``).

Parameter count (built exactly this way by :mod:`scalinglab.train.model`; a test checks
``n_params`` against the built model): per block, two LayerNorms (2 d each, weight and bias),
attention QKV and output projections with biases (4 d^2 + 4 d) and a 4x GELU MLP with biases
(8 d^2 + 5 d), i.e. 12 d^2 + 13 d; a final LayerNorm (2 d). This is the count of
:func:`scalinglab.plan.shape.non_embedding_params` (Kaplan et al. 2020, arXiv:2001.08361,
eq. 2.1, plus biases and norms). Embedding parameters: the token embedding V d, the output
projection V d when it is not tied, and the learned position table seq_len d (RoPE has none).

Training FLOP: C = 6 N D with N the non-embedding parameters (Kaplan et al. 2020, section 2.1,
through :func:`scalinglab.units.training_flops`); :attr:`TrainConfig.flops_attention` adds the
attention term, 6 n_layer n_ctx d_model per token (Kaplan et al. 2020, table 1).
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from dataclasses import asdict, dataclass, fields
from typing import Any

from scalinglab.errors import ScalinglabError
from scalinglab.units import kaplan_training_flops_per_token, training_flops

POSITIONS = ("rope", "learned")
SCHEDULES = ("cosine", "wsd")
_FLOAT_FIELDS = ("lr", "warmup_frac", "decay_frac", "min_lr_frac", "weight_decay", "grad_clip")


class TrainConfigError(ScalinglabError):
    """A training configuration that cannot be trained (bad shape, budget or option)."""


def _fail(what: str, value: object, fix: str) -> TrainConfigError:
    return TrainConfigError(f"{what} is {value!r}; {fix}")


def _positive_ints(obj: object, names: tuple[str, ...], where: str) -> None:
    """Check positive integers (numpy integers accepted and stored as int, so keys match)."""
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
            raise _fail(f"{where}{name}", value, "give a positive integer.")
        object.__setattr__(obj, name, int(value))


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the decoder-only transformer.

    ``vocab_size``: tokens in the vocabulary; ``seq_len``: context length in tokens; ``pos``:
    ``"rope"`` (rotary, Su et al. 2021, arXiv:2104.09864) or ``"learned"`` position embeddings;
    ``mup_base_width``: None for standard parametrisation, else the width d_model at which
    muP-scaled learning rates were tuned (Yang et al. 2022, arXiv:2203.03466).
    """

    vocab_size: int
    n_layer: int
    n_head: int
    d_model: int
    seq_len: int
    pos: str = "rope"
    tie_embeddings: bool = True
    mup_base_width: int | None = None

    def __post_init__(self) -> None:
        _positive_ints(self, ("vocab_size", "n_layer", "n_head", "d_model", "seq_len"), "model ")
        if self.d_model % self.n_head:
            raise _fail(
                "model d_model",
                self.d_model,
                f"it must be a multiple of n_head = {self.n_head} (head size d_model / n_head).",
            )
        if self.pos == "rope" and (self.d_model // self.n_head) % 2:
            raise _fail(
                "head size d_model / n_head",
                self.d_model // self.n_head,
                "RoPE rotates pairs of channels, so it must be even; change n_head or use pos='learned'.",
            )
        if self.pos not in POSITIONS:
            raise _fail("model pos", self.pos, f"use one of {', '.join(POSITIONS)}.")
        base = self.mup_base_width
        if base is not None:
            if isinstance(base, bool) or not isinstance(base, numbers.Integral) or base <= 0:
                raise _fail("mup_base_width", base, "give a positive width or None.")
            object.__setattr__(self, "mup_base_width", int(base))

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    def n_params(self, with_embeddings: bool) -> int:
        """Parameters of the built model; embeddings (token, untied output, learned positions)
        counted only when ``with_embeddings``."""
        d = self.d_model
        non_embedding = self.n_layer * (12 * d * d + 13 * d) + 2 * d
        if not with_embeddings:
            return non_embedding
        embedding = self.vocab_size * d * (1 if self.tie_embeddings else 2)
        if self.pos == "learned":
            embedding += self.seq_len * d
        return non_embedding + embedding

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return cls(**_known(cls, data, "model"))


def _known(cls: type, data: dict[str, Any], where: str) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise TrainConfigError(
            f"{where} config has unknown keys {unknown}; known keys: {', '.join(sorted(names))}."
        )
    return dict(data)


@dataclass(frozen=True)
class TrainConfig:
    """One training run.

    ``tokens``: training tokens D (the run takes ``tokens // (batch_size * seq_len)`` steps);
    ``batch_size``: sequences per step; ``lr``: peak learning rate (muP: at the base width);
    ``schedule``: ``"cosine"`` (linear warmup, cosine decay to ``min_lr_frac * lr``) or
    ``"wsd"`` (warmup, stable, linear decay over the last ``decay_frac`` of the steps);
    ``warmup_frac``/``decay_frac``: fractions of the steps; ``weight_decay``: AdamW's decoupled
    decay on matrices and embeddings; ``grad_clip``: max global gradient L2 norm (0 = off);
    ``eval_every``: steps between held-out evaluations (the last step is always evaluated);
    ``eval_tokens``: held-out tokens per evaluation; ``data``: corpus spec (see
    :func:`scalinglab.train.data.load_corpus`); ``device``: ``"auto"`` (CUDA when available),
    ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; ``compile``: wrap the model in ``torch.compile``.
    """

    model: ModelConfig
    tokens: int
    batch_size: int
    lr: float
    schedule: str = "cosine"
    warmup_frac: float = 0.05
    decay_frac: float = 0.2
    min_lr_frac: float = 0.1
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    seed: int = 0
    eval_every: int = 50
    eval_tokens: int = 16384
    data: str = "synthetic:zipf"
    device: str = "auto"
    compile: bool = False

    def __post_init__(self) -> None:
        for name in _FLOAT_FIELDS:  # 1 and 1.0 must give the same key()
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise _fail(name, value, "give a number.")
            object.__setattr__(self, name, float(value))
        _positive_ints(self, ("tokens", "batch_size", "eval_every", "eval_tokens"), "")
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral):
            raise _fail("seed", self.seed, "give an integer.")
        object.__setattr__(self, "seed", int(self.seed))
        if self.steps < 1:
            raise _fail(
                "tokens",
                self.tokens,
                f"one step takes batch_size * seq_len = {self.tokens_per_step} tokens; "
                "give at least that many.",
            )
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise _fail("lr", self.lr, "give a positive learning rate.")
        if self.schedule not in SCHEDULES:
            raise _fail("schedule", self.schedule, f"use one of {', '.join(SCHEDULES)}.")
        for name in ("warmup_frac", "decay_frac", "min_lr_frac"):
            value = getattr(self, name)
            if not (0.0 <= value <= 1.0):
                raise _fail(name, value, "give a fraction in [0, 1].")
        if self.schedule == "wsd" and self.warmup_frac + self.decay_frac > 1.0:
            raise _fail(
                "warmup_frac + decay_frac",
                self.warmup_frac + self.decay_frac,
                "the WSD warmup and decay cannot overlap; make their sum <= 1.",
            )
        for name in ("weight_decay", "grad_clip"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise _fail(name, value, "give a number >= 0 (0 turns it off).")

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.model.seq_len

    @property
    def steps(self) -> int:
        """Optimiser steps: tokens // (batch_size * seq_len)."""
        return self.tokens // self.tokens_per_step

    @property
    def tokens_trained(self) -> int:
        """Tokens the run actually sees (D): steps * batch_size * seq_len <= tokens."""
        return self.steps * self.tokens_per_step

    @property
    def flops(self) -> float:
        """C = 6 N D in FLOP, N non-embedding, D = :attr:`tokens_trained`."""
        return float(training_flops(self.model.n_params(False), self.tokens_trained))

    @property
    def flops_per_token_attention(self) -> float:
        """Training FLOP per token with attention, 6 N + 6 n_layer n_ctx d_model (Kaplan table 1)."""
        m = self.model
        return float(
            kaplan_training_flops_per_token(m.n_params(False), m.n_layer, m.seq_len, m.d_model)
        )

    @property
    def flops_attention(self) -> float:
        """Training FLOP including attention: D * :attr:`flops_per_token_attention`."""
        return self.flops_per_token_attention * self.tokens_trained

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["model"] = self.model.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        raw = _known(cls, data, "train")
        if "model" not in raw:
            raise TrainConfigError("train config has no 'model' key; give the model shape.")
        model = raw["model"]
        raw["model"] = model if isinstance(model, ModelConfig) else ModelConfig.from_dict(model)
        return cls(**raw)

    def key(self) -> str:
        """First 16 hex digits of the SHA-256 of the canonical JSON of the full config."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def missing_torch() -> TrainConfigError:
    """The error when PyTorch, the optional ``train`` extra, is not installed."""
    return TrainConfigError(
        "training needs PyTorch, an optional dependency: run `scripts/setup train` (it installs "
        "the CPU build torch==2.13.0 first) or `pip install 'scalinglab[train]'`."
    )
