"""Planning: FLOP conventions, compute-optimal, inference-aware and data-constrained plans."""

from scalinglab.plan.compute_optimal import Allocation, Estimate, compute_optimal
from scalinglab.plan.cost import ACCELERATORS
from scalinglab.plan.isoflop import IsoflopResult, isoflop
from scalinglab.plan.planner import Plan, plan
from scalinglab.plan.shape import ModelShape, model_shapes
from scalinglab.units import FlopConvention, tokens_from_flops, training_flops

__all__ = [
    "ACCELERATORS",
    "Allocation",
    "Estimate",
    "FlopConvention",
    "IsoflopResult",
    "ModelShape",
    "Plan",
    "compute_optimal",
    "isoflop",
    "model_shapes",
    "plan",
    "tokens_from_flops",
    "training_flops",
]
