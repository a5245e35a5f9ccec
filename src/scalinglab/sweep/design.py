"""Sweep design: from a :class:`SweepSpec` to the list of runs to train.

IsoFLOP grids (Hoffmann et al. 2022, arXiv:2203.15556, section 3.2, "approach 2"): for each
budget C, ``n_per_budget`` sizes log-spaced over N*(C)/spread .. N*(C) spread around the
compute-optimal N* of a Chinchilla law (a given fit, else the published approach-3 law, their
eq. 10: E = 1.69, A = 406.4, B = 410.7, alpha = 0.34, beta = 0.28), each trained on
D = C / 6N tokens (:mod:`scalinglab.units`). Ladders (Bhagia et al. 2024, arXiv:2412.04403):
a fixed D / N across sizes.

Tiny models are embedding-dominated, so here N is the NON-embedding parameter count (Kaplan
et al. 2020, arXiv:2001.08361, section 2.1, which found cleaner laws that way); every run also
reports N_total. D is rounded to whole optimizer steps (batch_size x seq_len tokens), and C is
recomputed from the rounded D.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from scalinglab.errors import ScalinglabError
from scalinglab.fit.result import FitResult
from scalinglab.laws.registry import get_law
from scalinglab.plan.compute_optimal import allocation_rows, compute_optimal
from scalinglab.plan.shape import ModelShape
from scalinglab.sweep.shapes import explicit_shape, tiny_shape
from scalinglab.sweep.spec import SweepError, SweepSpec, load_spec
from scalinglab.units import tokens_from_flops, training_flops

if TYPE_CHECKING:
    from scalinglab.train.config import TrainConfig

__all__ = ["PUBLISHED_CHINCHILLA", "PlannedRun", "SweepError", "SweepSpec", "check_corpus"]
__all__ += ["load_spec", "optimal_N", "plan_sweep"]

#: Hoffmann et al. 2022, eq. 10 (approach 3): L(N, D) = E + A/N^alpha + B/D^beta.
PUBLISHED_CHINCHILLA = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep. ``N``: non-embedding parameters; ``N_total``: with embeddings;
    ``D``: training tokens; ``C``: 6 N D FLOP; ``budget``: the isoflop budget it belongs to
    (FLOP; ``None`` in a ladder); ``key``: the config hash that names the run everywhere."""

    index: int
    key: str
    group: str
    budget: float | None
    shape: ModelShape
    N: int
    N_total: int
    D: int
    C: float
    steps: int
    lr: float
    seed: int
    config: TrainConfig

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "key": self.key,
            "group": self.group,
            "budget": self.budget,
            "n_layer": self.shape.n_layers,
            "n_head": self.shape.n_heads,
            "d_model": self.shape.d_model,
            "N": self.N,
            "N_total": self.N_total,
            "D": self.D,
            "C": self.C,
            "steps": self.steps,
            "lr": self.lr,
            "seed": self.seed,
            "config": self.config.to_dict(),
        }


def optimal_N(spec: SweepSpec, budget: float) -> float:
    """N*(C) (parameters) from the sweep's fit file, else from the published Chinchilla law."""
    if spec.design.fit is not None:
        try:
            return compute_optimal(FitResult.load(spec.design.fit), budget).N.value
        except ScalinglabError as exc:
            raise SweepError(
                f"[design.fit] {spec.design.fit}: {exc} Give a Chinchilla fit (scalinglab fit "
                "RUNS --law chinchilla --out FIT.json), or remove fit to centre the grid on the "
                "published law of Hoffmann et al. 2022."
            ) from exc
    law = get_law("chinchilla")
    params = np.array([[PUBLISHED_CHINCHILLA[n] for n in law.param_names]])
    N, _, _ = allocation_rows(law, params, budget)
    return float(N[0, 0])


def _targets(spec: SweepSpec) -> list[tuple[str, float | None, float]]:
    """(group, budget, asked N) for every size the design asks for (before LR and seeds)."""
    d = spec.design
    out: list[tuple[str, float | None, float]] = []
    if d.kind == "isoflop":
        for C in d.budgets:
            centre = optimal_N(spec, C)
            k = d.n_per_budget
            offsets = np.linspace(-1.0, 1.0, k) if k > 1 else np.zeros(1)
            out += [(f"C={C:.3g}", C, centre * d.spread**o) for o in offsets]
    else:
        out += [("ladder", None, float(n)) for n in d.sizes]
    return out


def _shapes(spec: SweepSpec) -> list[tuple[str, float | None, ModelShape]]:
    if spec.design.kind == "ladder" and spec.design.shapes:
        return [("ladder", None, explicit_shape(s, spec)) for s in spec.design.shapes]
    out: list[tuple[str, float | None, ModelShape]] = []
    for group, budget, N in _targets(spec):
        shape = tiny_shape(N, spec)
        if abs(shape.relative_error) > spec.shape.max_shape_error:
            where = f"budget {budget:.3g} FLOP" if budget is not None else "design.sizes"
            raise SweepError(
                f"{where}: N = {N:.4g} non-embedding parameters has no model shape within "
                f"{spec.shape.max_shape_error:.0%} (closest: n_layer={shape.n_layers}, "
                f"d_model={shape.d_model}, N={shape.params_non_embedding:,}). The budget is too "
                "small (or large) for any shape allowed by [shape]; raise the budget, widen "
                "[shape] aspect_ratio / max_layers, or lower d_multiple."
            )
        if not any(s == shape and g == group for g, _, s in out):
            out.append((group, budget, shape))
    return out


def _tokens(spec: SweepSpec, budget: float | None, N: int) -> tuple[int, int]:
    """(D, steps): D = C/6N (isoflop) or tokens_per_param N (ladder), in whole steps."""
    per_step = spec.train.batch_size * spec.seq_len
    raw = tokens_from_flops(budget, N) if budget is not None else spec.design.tokens_per_param * N
    steps = math.floor(float(raw) / per_step + 0.5)
    if steps < spec.train.min_steps:
        where = f"budget {budget:.3g} FLOP" if budget is not None else "design.tokens_per_param"
        raise SweepError(
            f"{where}: the N = {N:,} model would train {raw:,.0f} tokens = {steps} steps of "
            f"{per_step:,} tokens (batch_size {spec.train.batch_size} x seq_len {spec.seq_len}), "
            f"fewer than train.min_steps = {spec.train.min_steps}. Raise the budget, or lower "
            "train.batch_size or train.min_steps."
        )
    return steps * per_step, steps


def _config(spec: SweepSpec, shape: ModelShape, D: int, lr: float, seed: int) -> TrainConfig:
    from scalinglab.train.config import ModelConfig, TrainConfig

    t = spec.train
    model = ModelConfig(
        vocab_size=spec.vocab_size,
        n_layer=shape.n_layers,
        n_head=shape.n_heads,
        d_model=shape.d_model,
        seq_len=spec.seq_len,
        pos=t.pos,
        tie_embeddings=t.tie_embeddings,
        mup_base_width=t.mup_base_width,
    )
    return TrainConfig(
        model=model,
        tokens=D,
        batch_size=t.batch_size,
        lr=lr,
        schedule=t.schedule,
        warmup_frac=t.warmup_frac,
        decay_frac=t.decay_frac,
        min_lr_frac=t.min_lr_frac,
        weight_decay=t.weight_decay,
        grad_clip=t.grad_clip,
        seed=seed,
        eval_every=t.eval_every,
        eval_tokens=t.eval_tokens,
        data=spec.data,
        device=t.device,
        compile=t.compile,
    )


def plan_sweep(spec: SweepSpec) -> list[PlannedRun]:
    """Every run of the sweep: sizes x learning rates x seeds, in a stable order (by budget or
    size, then LR, then seed). Raises :class:`SweepError` before anything trains."""
    runs: list[PlannedRun] = []
    seen: set[str] = set()
    for group, budget, shape in _shapes(spec):
        N = shape.params_non_embedding
        D, steps = _tokens(spec, budget, N)
        for lr in spec.lr.rates():
            for seed in spec.seeds:
                cfg = _config(spec, shape, D, lr, seed)
                key = cfg.key()
                if key in seen:
                    continue
                seen.add(key)
                runs.append(
                    PlannedRun(
                        index=len(runs),
                        key=key,
                        group=group,
                        budget=budget,
                        shape=shape,
                        N=N,
                        N_total=shape.params_total,
                        D=D,
                        C=float(training_flops(N, D)),
                        steps=steps,
                        lr=lr,
                        seed=seed,
                        config=cfg,
                    )
                )
    return runs


def check_corpus(spec: SweepSpec, runs: list[PlannedRun], train_tokens: int) -> list[str]:
    """Compare every run's D with the corpus's ``train_tokens`` (unique training tokens).

    Without ``allow_repeat`` a run needing more tokens than exist is a :class:`SweepError`;
    with it, the notes say how many epochs each such run makes (repeated data: the
    data-constrained law of Muennighoff et al. 2023, arXiv:2305.16264, applies)."""
    over = [r for r in runs if r.D > train_tokens]
    if not over:
        return []
    worst = max(over, key=lambda r: r.D)
    epochs = worst.D / train_tokens
    if not spec.allow_repeat:
        raise SweepError(
            f"sweep {spec.name!r}: {len(over)} run(s) need more tokens than the corpus "
            f"{spec.data!r} holds ({train_tokens:,} unique training tokens); the largest, "
            f"{worst.key} (N = {worst.N:,}), needs D = {worst.D:,}, {epochs:.2f} epochs. "
            "Use a larger corpus, smaller budgets, or set allow_repeat = true in [sweep] "
            "(the data then repeats and the data-constrained law, Muennighoff et al. 2023, "
            "applies)."
        )
    return [
        f"{len(over)} run(s) repeat the data (up to {epochs:.2f} epochs over "
        f"{train_tokens:,} unique tokens, run {worst.key}); fit them with the data-constrained "
        "law (Muennighoff et al. 2023, arXiv:2305.16264), passing unique_tokens."
    ]


def fmt_flops(C: float) -> str:
    """A FLOP count to 3 significant digits."""
    return f"{C:.3g}" if math.isfinite(C) else "-"
