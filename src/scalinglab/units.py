"""Units and FLOP conventions: the one place where training compute is related to N and D.

Default, ``"6ND"``: C = 6 N D (Kaplan et al. 2020, arXiv:2001.08361, section 2.1: about 2 FLOP
per parameter per token forward and 4 backward, ignoring attention and embeddings). Every
derivation of C from (N, D) or of D from (C, N) in scalinglab goes through this module.

Option, ``"6ND+attention"``: Kaplan et al. 2020, table 1, count per token C_forward = 2N +
2 n_layer n_ctx d_attn (the attention-score and attention-value products over a context of
n_ctx tokens), and training costs three forward passes (backward = 2 x forward), so

    C = D (6 N + 6 n_layer n_ctx d_model)          (d_attn = d_model).

A plan only knows N, so the shape is inferred from N and an aspect ratio r = d_model / n_layer
with N = 12 n_layer d_model^2 (Kaplan et al. 2020, eq. 2.1, non-embedding parameters):
d_model = (r N / 12)^(1/3) and n_layer d_model = d_model^2 / r.

DeepSeek-AI 2024 (arXiv:2401.02954, eq. 2) use instead M = 72 n_layer d_model^2 +
12 n_layer d_model l_seq non-embedding training FLOPs per token and C = M D; their
hyperparameter laws are stated in that C (:func:`deepseek_flops_per_token`).

This module is a leaf: it imports nothing else from scalinglab except the errors, so ``data``,
``laws``, ``trust`` and ``plan`` may all use it (DESIGN.md, "Layers").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from scalinglab.errors import FitError

FLOPS_PER_PARAM_TOKEN = 6.0
# Kaplan et al. 2020, table 1: a training step costs 3 forward passes (forward + 2x backward).
TRAINING_OVER_FORWARD = 3.0

ConventionName = Literal["6ND", "6ND+attention"]
CONVENTIONS: tuple[str, ...] = ("6ND", "6ND+attention")


def training_flops(N: Any, D: Any) -> Any:
    """C = 6 N D, in FLOP (floats, arrays or Series alike)."""
    return FLOPS_PER_PARAM_TOKEN * N * D


def tokens_from_flops(C: Any, N: Any) -> Any:
    """D = C / (6 N), in tokens."""
    return C / (FLOPS_PER_PARAM_TOKEN * N)


def kaplan_forward_flops_per_token(N: Any, n_layer: Any, n_ctx: Any, d_model: Any) -> Any:
    """Forward FLOP per token, 2N + 2 n_layer n_ctx d_model (Kaplan et al. 2020, table 1).

    ``N``: non-embedding parameters; ``n_ctx``: context length in tokens.
    """
    return 2.0 * N + 2.0 * n_layer * n_ctx * d_model


def kaplan_training_flops_per_token(N: Any, n_layer: Any, n_ctx: Any, d_model: Any) -> Any:
    """Training FLOP per token: 3 x the forward count (Kaplan et al. 2020, section 2.1)."""
    return TRAINING_OVER_FORWARD * kaplan_forward_flops_per_token(N, n_layer, n_ctx, d_model)


def deepseek_flops_per_token(n_layer: Any, d_model: Any, seq_len: Any) -> Any:
    """M = 72 n_layer d_model^2 + 12 n_layer d_model l_seq: DeepSeek's non-embedding training
    FLOP per token (DeepSeek-AI 2024, arXiv:2401.02954, eq. 2). Their compute is C = M D."""
    return 72.0 * n_layer * d_model**2 + 12.0 * n_layer * d_model * seq_len


@dataclass(frozen=True)
class FlopConvention:
    """How training compute C relates to N (parameters) and D (tokens): C = D * per_token(N).

    ``name``: ``"6ND"`` (default) or ``"6ND+attention"``. ``n_ctx`` (tokens) and
    ``aspect_ratio`` (d_model / n_layer) are used only by ``"6ND+attention"``.
    """

    name: ConventionName = "6ND"
    n_ctx: int = 2048
    aspect_ratio: float = 128.0

    def per_token(self, N: Any) -> Any:
        """Training FLOP per token of a model of N parameters."""
        base = FLOPS_PER_PARAM_TOKEN * np.asarray(N, dtype=float)
        if self.name == "6ND":
            return base
        d_model = (self.aspect_ratio * np.asarray(N, dtype=float) / 12.0) ** (1.0 / 3.0)
        layer_width = d_model**2 / self.aspect_ratio  # n_layer * d_model
        return base + FLOPS_PER_PARAM_TOKEN * self.n_ctx * layer_width

    def flops(self, N: Any, D: Any) -> Any:
        """C for N parameters trained on D tokens."""
        return self.per_token(N) * D

    def tokens(self, C: Any, N: Any) -> Any:
        """D = C / per_token(N)."""
        return C / self.per_token(N)

    def max_params(self, C: Any) -> Any:
        """An upper bound on N for budget C: the N that one training token would use up.

        Every convention here costs at least 6 FLOP per parameter per token, so C / 6 bounds N
        from above for all of them (a search over N needs no larger bracket)."""
        return C / FLOPS_PER_PARAM_TOKEN

    def describe(self) -> str:
        if self.name == "6ND":
            return "C = 6 N D (Kaplan et al. 2020, section 2.1)"
        return (
            f"C = D (6 N + 6 n_layer n_ctx d_model), n_ctx = {self.n_ctx}, "
            f"d_model/n_layer = {self.aspect_ratio:g} (Kaplan et al. 2020, table 1)"
        )

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"name": self.name, "formula": self.describe()}
        if self.name != "6ND":
            out.update(n_ctx=self.n_ctx, aspect_ratio=self.aspect_ratio)
        return out


def flop_convention(
    name: str = "6ND", *, n_ctx: int = 2048, aspect_ratio: float = 128.0
) -> FlopConvention:
    """A validated :class:`FlopConvention`; :class:`FitError` for an unknown name or bad shape."""
    if name not in CONVENTIONS:
        raise FitError(f"FLOP convention {name!r} is unknown; use one of {', '.join(CONVENTIONS)}.")
    if not (isinstance(n_ctx, int) and n_ctx > 0):
        raise FitError(f"n_ctx must be a positive number of tokens, got {n_ctx!r}.")
    if not (np.isfinite(aspect_ratio) and aspect_ratio > 0):
        raise FitError(f"aspect_ratio (d_model/n_layer) must be positive, got {aspect_ratio!r}.")
    return FlopConvention(name=name, n_ctx=n_ctx, aspect_ratio=float(aspect_ratio))  # type: ignore[arg-type]
