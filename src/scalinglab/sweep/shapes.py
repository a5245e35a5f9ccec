"""Model shapes for tiny sweeps, counted with the trainer's own parameter formula.

:func:`scalinglab.plan.shape.model_shapes` searches d_model in multiples of 64 or 128 with
d_model / n_layer >= 32, which leaves almost nothing below ~1e6 parameters. Here the same
search runs on a finer grid (``[shape]`` of the sweep file: d_model a multiple of
``d_multiple``, heads of ``head_dim``, aspect ratio range, ``max_layers``): candidates are
ranked with the GPT count of :func:`scalinglab.plan.shape.non_embedding_params` (12 L d^2 +
13 L d + 2 d; Kaplan et al. 2020 eq. 2.1), and the best few are recounted exactly with
``ModelConfig.n_params`` of the trainer, whose model is the one that will train. N is the
non-embedding count; among shapes within 10% of N (all equally good: D = C / 6N uses the exact
count), the aspect ratio nearest the middle (in log) of the allowed range wins.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from scalinglab.plan.shape import ModelShape, non_embedding_params
from scalinglab.sweep.spec import ExplicitShape, SweepSpec

if TYPE_CHECKING:
    from scalinglab.train.config import ModelConfig

_MAX_D = 8192
_RECOUNT = 40
#: counts within 10% of the asked N are equally good; the aspect ratio decides among them
_CLOSE = math.log(1.1)


def model_config(spec: SweepSpec, n_layer: int, n_head: int, d_model: int) -> ModelConfig:
    """The trainer's ModelConfig for a shape under the sweep's options."""
    from scalinglab.train.config import ModelConfig

    return ModelConfig(
        vocab_size=spec.vocab_size,
        n_layer=n_layer,
        n_head=n_head,
        d_model=d_model,
        seq_len=spec.seq_len,
        pos=spec.train.pos,
        tie_embeddings=spec.train.tie_embeddings,
        mup_base_width=spec.train.mup_base_width,
    )


def _shape(spec: SweepSpec, n_layer: int, n_head: int, d_model: int, asked: float) -> ModelShape:
    cfg = model_config(spec, n_layer, n_head, d_model)
    ne = int(cfg.n_params(with_embeddings=False))
    total = int(cfg.n_params(with_embeddings=True))
    return ModelShape(
        d_model=d_model,
        n_layers=n_layer,
        n_heads=n_head,
        head_dim=d_model // n_head,
        params_non_embedding=ne,
        params_embedding=total - ne,
        params_total=total,
        relative_error=ne / asked - 1.0 if asked > 0 else 0.0,
    )


def tiny_shape(N: float, spec: SweepSpec) -> ModelShape:
    """The allowed shape whose non-embedding count is closest to ``N`` (in |log ratio|)."""
    r = spec.shape
    d = np.arange(1, _MAX_D // r.d_multiple + 1, dtype=np.int64) * r.d_multiple
    L = np.arange(1, r.max_layers + 1, dtype=np.int64)
    dd, LL = (a.ravel() for a in np.meshgrid(d, L, indexing="ij"))
    ok = (dd / LL >= r.aspect_ratio[0]) & (dd / LL <= r.aspect_ratio[1])
    dd, LL = dd[ok], LL[ok]
    if dd.size == 0:
        dd, LL = d[:1], L[:1]  # the aspect range admits nothing: the error below names it
    approx = non_embedding_params(LL, dd)  # type: ignore[arg-type]
    mid = 0.5 * (math.log(r.aspect_ratio[0]) + math.log(r.aspect_ratio[1]))
    order = np.lexsort((np.abs(np.log(dd / LL) - mid), np.abs(np.log(approx / N))))
    best: ModelShape | None = None
    best_key = (math.inf, math.inf)
    for i in order[:_RECOUNT]:
        dm, nl = int(dd[i]), int(LL[i])
        s = _shape(spec, nl, dm // r.head_dim, dm, N)
        err = abs(math.log(s.params_non_embedding / N))
        key = (max(err, _CLOSE), abs(math.log(dm / nl) - mid))
        if key < best_key:
            best, best_key = s, key
    assert best is not None  # order is never empty: dd has at least one element
    return best


def explicit_shape(s: ExplicitShape, spec: SweepSpec) -> ModelShape:
    """A hand-given shape with its exact counts (relative_error 0)."""
    shape = _shape(spec, s.n_layer, s.n_head, s.d_model, 0.0)
    return shape
