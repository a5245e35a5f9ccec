"""Planning: FLOP conventions and compute-optimal allocation."""

from scalinglab.plan.compute_optimal import Allocation, Estimate, compute_optimal
from scalinglab.plan.flops import tokens_from_flops, training_flops

__all__ = ["Allocation", "Estimate", "compute_optimal", "tokens_from_flops", "training_flops"]
