"""FLOP conventions: the one place where training compute is related to N and D.

C = 6 N D (Kaplan et al. 2020, section 2.1: about 2 FLOP per parameter per token forward and
4 backward, ignoring attention and embeddings). Every derivation of C from (N, D) or of D from
(C, N) in scalinglab goes through these functions.
"""

from __future__ import annotations

from typing import Any

FLOPS_PER_PARAM_TOKEN = 6.0


def training_flops(N: Any, D: Any) -> Any:
    """C = 6 N D, in FLOP (floats, arrays or Series alike)."""
    return FLOPS_PER_PARAM_TOKEN * N * D


def tokens_from_flops(C: Any, N: Any) -> Any:
    """D = C / (6 N), in tokens."""
    return C / (FLOPS_PER_PARAM_TOKEN * N)
