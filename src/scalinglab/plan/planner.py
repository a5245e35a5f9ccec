"""``plan(fit, compute=..., ...) -> Plan``: a fitted scaling law turned into a training plan.

Which plan is recommended (the top-level N, D, loss, compute of :class:`Plan`):

* ``compute`` given: the compute-optimal allocation at that training budget; with
  ``unique_tokens`` the data-constrained plan (Muennighoff et al. 2023) instead; else with
  ``inference_tokens`` > 0 the inference-aware plan (Sardana et al. 2023) that reaches the
  compute-optimal loss at the least training + inference FLOPs.
* only ``target_loss`` given: the least compute reaching it (inference-aware when
  ``inference_tokens`` > 0).

The other plans asked for are reported beside it (``plans``), as is an IsoFLOP (approach 2)
analysis of sweep runs when given. Learning rate, batch size, model shapes and cost are for the
recommended run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from scalinglab._version import RESULT_FORMAT
from scalinglab.errors import FitError
from scalinglab.fit.codec import decode, encode
from scalinglab.fit.result import FitResult, parse_result
from scalinglab.plan import data_constrained as dc
from scalinglab.plan.allocation import (
    PlanPoint,
    check_compute,
    compute_for_loss,
    inference_aware,
    optimal_allocation,
)
from scalinglab.plan.compute_optimal import Estimate
from scalinglab.plan.cost import Cost, cost
from scalinglab.plan.hyper import Hyperparameters, hyperparameters
from scalinglab.plan.isoflop import IsoflopResult, isoflop
from scalinglab.plan.shape import SOURCE as SHAPE_SOURCE
from scalinglab.plan.shape import ModelShape, model_shapes
from scalinglab.plan.surface import Surface, surface
from scalinglab.units import FlopConvention, flop_convention

QUANTITIES = ("N", "D", "tokens_per_param", "loss", "compute")


@dataclass(frozen=True)
class Plan:
    """A training plan with intervals at ``level``. See the module docstring."""

    law: str
    level: float
    recommended: str
    point: PlanPoint
    plans: dict[str, PlanPoint]
    hyper: Hyperparameters
    shapes: tuple[ModelShape, ...]
    cost: Cost
    flop_convention: FlopConvention
    isoflop: IsoflopResult | None = None
    warnings: tuple[str, ...] = ()
    sources: tuple[str, ...] = field(default=())

    @property
    def N(self) -> Estimate:
        return self.point.N

    @property
    def D(self) -> Estimate:
        return self.point.D

    @property
    def loss(self) -> Estimate:
        return self.point.loss

    @property
    def compute(self) -> Estimate:
        return self.point.compute

    kind = "plan"  # the name of this kind of saved result

    def to_dict(self) -> dict[str, Any]:
        """Every field, to be read back by :meth:`from_dict` (``as_dict`` is the summary
        ``plan --json`` prints)."""
        out: dict[str, Any] = {"kind": self.kind, "format": RESULT_FORMAT, **encode(self)}
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Plan:
        raw = parse_result(d, origin="plan", kinds=(cls.kind,))
        if raw.get("format") != RESULT_FORMAT:
            raise FitError(
                f"plan written in result format {raw.get('format')!r}; this reads {RESULT_FORMAT}."
            )
        plan_: Plan = decode(cls, {k: v for k, v in raw.items() if k not in ("kind", "format")})
        return plan_

    def as_dict(self) -> dict[str, object]:
        p = self.point
        out: dict[str, object] = {
            "law": self.law,
            "level": self.level,
            "recommended": self.recommended,
            "method": p.method,
        }
        for q in QUANTITIES:
            out[q] = getattr(p, q).as_dict()
        out.update({k: v.as_dict() for k, v in p.extra.items()})
        out["lr"] = self.hyper.lr.as_dict()
        out["batch_tokens"] = self.hyper.batch_tokens.as_dict()
        out["gpu_hours"] = self.cost.gpu_hours.as_dict()
        out["wall_hours"] = self.cost.wall_hours.as_dict()
        out["plans"] = {k: v.as_dict() for k, v in self.plans.items()}
        out["isoflop"] = None if self.isoflop is None else self.isoflop.as_dict(p.compute.value)
        out["hyperparameters"] = self.hyper.as_dict()
        out["shapes"] = [s.as_dict() for s in self.shapes]
        out["cost"] = self.cost.as_dict()
        out["flop_convention"] = self.flop_convention.as_dict()
        out["warnings"] = list(self.warnings)
        out["sources"] = list(self.sources)
        return out


def plan(
    fit: FitResult,
    *,
    compute: float | None = None,
    target_loss: float | None = None,
    inference_tokens: float = 0.0,
    unique_tokens: float | None = None,
    flops: FlopConvention | str = "6ND",
    accelerator: str | None = "h100",
    peak_flops: float | None = None,
    mfu: float = 0.4,
    gpus: int = 1,
    vocab: int = 32000,
    seq_len: int = 2048,
    n_includes_embeddings: bool = True,
    hyper_source: str = "deepseek2024",
    lr_fit: FitResult | None = None,
    batch_fit: FitResult | None = None,
    isoflop_runs: pd.DataFrame | None = None,
    repetition_threshold: float = 0.5,
    level: float | None = None,
    seed: int = 0,
) -> Plan:
    """Plan a training run from ``fit`` (a law of N and D, e.g. chinchilla).

    ``compute``: training budget, FLOP. ``target_loss``: a loss to reach (the fit's unit).
    ``inference_tokens``: tokens the model will process over its life (0: ignore inference).
    ``unique_tokens``: unique training tokens available (``None``: unlimited). ``flops``: a
    :class:`FlopConvention` or its name. ``accelerator``/``peak_flops``/``mfu``/``gpus``: for
    the cost. ``vocab``, ``seq_len``, ``n_includes_embeddings``: for the model shapes and
    DeepSeek's FLOP count. ``lr_fit``/``batch_fit``: fitted hyperparameter laws (else the
    published ones of ``hyper_source``). ``isoflop_runs``: sweep runs (N, C or D, loss) for an
    approach-2 analysis reported beside the parametric plan. ``level``: interval level
    (``None``: the fit's). ``seed``: for the IsoFLOP bootstrap.
    """
    fc = flops if isinstance(flops, FlopConvention) else flop_convention(flops, n_ctx=seq_len)
    s = surface(fit, level=level)
    Dinf = _check_request(compute, target_loss, inference_tokens)
    d = _Draft(
        warn=[f"fit: {w}" for w in fit.warnings],
        sources=[f"loss law: {fit.citation}", f"FLOP convention: {fc.describe()}"],
    )
    if compute is not None:
        _budget_plans(d, s, check_compute(compute), fc, Dinf, unique_tokens, repetition_threshold)
    if target_loss is not None:
        _target_plans(d, s, target_loss, fc, Dinf, compute)
    chosen = d.plans[d.recommended]
    for k, pp in d.plans.items():
        d.warn += [f"{k}: {n}" for n in pp.notes if "draws" in n]
    shapes = model_shapes(chosen.N.value, vocab=vocab, n_includes_embeddings=n_includes_embeddings)
    d.sources.append(f"model shapes: {SHAPE_SOURCE}")
    # per-row N, D of the recommended plan for the hyperparameters
    assert chosen.rows is not None
    hyp = hyperparameters(
        chosen.rows.N,
        chosen.rows.D,
        shapes[0],
        level=s.level,
        seq_len=seq_len,
        source=hyper_source,
        lr_fit=lr_fit,
        batch_fit=batch_fit,
    )
    d.warn += list(hyp.warnings)
    d.sources += [f"learning rate: {hyp.lr_source}", f"batch size: {hyp.batch_source}"]
    cst = cost(
        chosen.compute, accelerator_name=accelerator, peak_flops=peak_flops, mfu=mfu, gpus=gpus
    )
    d.sources.append(f"cost: {cst.accelerator} {cst.peak_flops:.4g} FLOP/s ({cst.note})")
    iso = None if isoflop_runs is None else _isoflop(d, isoflop_runs, s.level, fc, seed)
    return Plan(
        law=fit.law,
        level=s.level,
        recommended=d.recommended,
        point=chosen,
        plans=d.plans,
        hyper=hyp,
        shapes=shapes,
        cost=cst,
        flop_convention=fc,
        isoflop=iso,
        warnings=tuple(dict.fromkeys(d.warn)),
        sources=tuple(dict.fromkeys(d.sources)),
    )


def _check_request(
    compute: float | None, target_loss: float | None, inference_tokens: float
) -> float:
    """Inference tokens as a float, once a budget or a target is given and they are >= 0."""
    if compute is None and target_loss is None:
        raise FitError("give a training budget (compute=..., FLOP) or a target_loss to plan for.")
    if not (math.isfinite(float(inference_tokens)) and float(inference_tokens) >= 0):
        raise FitError(f"inference tokens must be a number >= 0, got {inference_tokens!r}.")
    return float(inference_tokens)


@dataclass
class _Draft:
    """The plans computed so far, which one is recommended, and the warnings and sources."""

    warn: list[str]
    sources: list[str]
    plans: dict[str, PlanPoint] = field(default_factory=dict)
    recommended: str = ""


_SARDANA = "inference-aware plan: Sardana et al. 2023, arXiv:2401.00448"


def _isoflop(
    d: _Draft, runs: pd.DataFrame, level: float, fc: FlopConvention, seed: int
) -> IsoflopResult:
    """Approach 2 on the sweep ``runs``, reported beside the parametric plan."""
    iso = isoflop(runs, level=level, flops=fc, seed=seed)
    d.warn += [f"isoflop: {w}" for w in iso.warnings]
    d.sources.append("IsoFLOP: Hoffmann et al. 2022, arXiv:2203.15556, section 3.2 (approach 2)")
    return iso


def _budget_plans(
    d: _Draft,
    s: Surface,
    C: float,
    fc: FlopConvention,
    Dinf: float,
    unique_tokens: float | None,
    threshold: float,
) -> None:
    """The plans for a training budget C (FLOP): compute-optimal, then inference-aware (when
    ``Dinf`` > 0) and data-constrained (with ``unique_tokens``), the last one recommended."""
    d.plans["compute_optimal"] = optimal_allocation(s, C, fc)
    d.recommended = "compute_optimal"
    cf = s.law.closed_form_allocation
    if cf is not None and fc.name == "6ND":
        d.sources.append(f"compute-optimal N*, D*: {cf.source}")
    if Dinf > 0:
        d.plans["inference_aware"] = inference_aware(s, Dinf, fc, compute=C)
        d.sources.append(_SARDANA)
        d.recommended = "inference_aware"
    if unique_tokens is not None:
        pp, w, src = dc.data_constrained(s, C, unique_tokens, fc, threshold=threshold)
        d.plans["data_constrained"] = pp
        d.warn += w
        d.sources.append(f"data-constrained plan: {dc.SOURCE}; {src}")
        if Dinf > 0:
            d.warn.append(
                "inference-aware and data-constrained plans are computed separately (their "
                "combination is not modelled); the data-constrained one is recommended."
            )
        d.recommended = "data_constrained"


def _target_plans(
    d: _Draft,
    s: Surface,
    target_loss: float,
    fc: FlopConvention,
    Dinf: float,
    compute: float | None,
) -> None:
    """The least compute reaching ``target_loss``; without a budget it is recommended (or the
    inference-aware plan when ``Dinf`` > 0), with one a warning says when the budget falls
    short."""
    d.plans["target_loss"] = compute_for_loss(s, target_loss, fc)
    if compute is None:
        d.recommended = "target_loss"
        if Dinf > 0:
            d.plans["inference_aware"] = inference_aware(s, Dinf, fc, target_loss=target_loss)
            d.sources.append(_SARDANA)
            d.recommended = "inference_aware"
        return
    need = d.plans["target_loss"].compute.value
    if need > float(compute):
        d.warn.append(
            f"the target loss {target_loss:g} needs {need:.3g} FLOP, more than the "
            f"budget {float(compute):.3g} FLOP."
        )
