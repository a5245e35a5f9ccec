"""Concrete transformer shapes close to a parameter count N.

Parameter count of a GPT-2-style decoder (as in nanoGPT's ``model.py``), with biases and
LayerNorms: per layer 4 d^2 + 4 d (attention: QKV and output projections) + 8 d^2 + 5 d (MLP
with 4d hidden units) + 4 d (two LayerNorms) = 12 d^2 + 13 d, plus 2 d for the final LayerNorm.
12 n_layer d_model^2 is Kaplan et al. 2020's approximation (eq. 2.1). Embeddings: V d_model for
a tied input/output embedding (2 V d_model untied); positional embeddings are not counted
(rotary position embeddings have none).

Candidates: d_model a multiple of ``multiple`` (128 by default), n_heads = d_model / head_dim
with head_dim 128 where it divides d_model, else 64, and d_model / n_layers within
``aspect_range`` (default [32, 256]); the ``count`` closest to N in |log(params / N)|.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scalinglab.errors import FitError

SOURCE = (
    "transformer parameter count 12 n_layer d^2 + 13 n_layer d + 2 d (+ V d embeddings; "
    "Kaplan et al. 2020 eq. 2.1, nanoGPT model.py)"
)


@dataclass(frozen=True)
class ModelShape:
    d_model: int
    n_layers: int
    n_heads: int
    head_dim: int
    params_non_embedding: int
    params_embedding: int
    params_total: int
    relative_error: float  # (matched count - N) / N

    @property
    def aspect_ratio(self) -> float:
        return self.d_model / self.n_layers

    def as_dict(self) -> dict[str, object]:
        return {
            "d_model": self.d_model,
            "n_layers": self.n_layers,
            "n_heads": self.n_heads,
            "head_dim": self.head_dim,
            "aspect_ratio": self.aspect_ratio,
            "params_non_embedding": self.params_non_embedding,
            "params_embedding": self.params_embedding,
            "params_total": self.params_total,
            "relative_error": self.relative_error,
        }


def non_embedding_params(n_layers: int, d_model: int) -> int:
    return n_layers * (12 * d_model**2 + 13 * d_model) + 2 * d_model


def model_shapes(
    N: float,
    *,
    vocab: int = 32000,
    aspect_range: tuple[float, float] = (32.0, 256.0),
    multiple: int = 128,
    n_includes_embeddings: bool = True,
    tied_embeddings: bool = True,
    count: int = 5,
) -> tuple[ModelShape, ...]:
    """The ``count`` shapes whose parameter count is closest to ``N``.

    ``n_includes_embeddings``: whether N counts the embedding parameters (as Hoffmann et al.
    2022 count them) or not (Kaplan et al. 2020)."""
    if not (math.isfinite(N) and N > 0):
        raise FitError(f"model size must be a positive number of parameters, got {N!r}.")
    if not (isinstance(vocab, int) and vocab > 0):
        raise FitError(f"vocabulary size must be a positive integer, got {vocab!r}.")
    lo_r, hi_r = aspect_range
    if not 0 < lo_r <= hi_r:
        raise FitError(
            f"aspect_range must be (low, high) with 0 < low <= high, got {aspect_range!r}."
        )
    if multiple not in (64, 128):
        raise FitError(f"d_model multiple must be 64 or 128, got {multiple!r}.")
    d = np.arange(1, 513, dtype=np.int64) * multiple  # d_model up to 65,536 (or 32,768)
    L = np.arange(1, 1025, dtype=np.int64)
    dd, LL = np.meshgrid(d, L, indexing="ij")
    ok = (dd / LL >= lo_r) & (dd / LL <= hi_r)
    dd, LL = dd[ok], LL[ok]
    ne = LL * (12 * dd**2 + 13 * dd) + 2 * dd
    emb = (1 if tied_embeddings else 2) * vocab * dd
    matched = ne + emb if n_includes_embeddings else ne
    err = np.abs(np.log(matched / N))
    order = np.lexsort((np.abs(np.log(dd / LL) - math.log(64.0)), err))[:count]
    out = []
    for i in order:
        dm = int(dd[i])
        hd = 128 if dm % 128 == 0 else 64
        out.append(
            ModelShape(
                d_model=dm,
                n_layers=int(LL[i]),
                n_heads=dm // hd,
                head_dim=hd,
                params_non_embedding=int(ne[i]),
                params_embedding=int(emb[i]),
                params_total=int(ne[i] + emb[i]),
                relative_error=float(matched[i] / N - 1.0),
            )
        )
    return tuple(out)
