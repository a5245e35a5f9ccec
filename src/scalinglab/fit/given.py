"""A fit made of given parameter values: a published law, or a planted one in a test."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from scalinglab.fit.records import BootstrapSummary, FitSpec, Provenance, SearchSummary
from scalinglab.fit.result import FitResult, percentile_interval
from scalinglab.laws.base import FloatArray, Law
from scalinglab.laws.registry import get_law


def fit_from_params(
    law: str | Law,
    params: Mapping[str, float],
    *,
    draws: FloatArray | None = None,
    data: Mapping[str, Sequence[Any]] | None = None,
    level: float = 0.95,
    seed: int = 0,
    source: str = "given parameters",
) -> FitResult:
    """A fit made of given parameter values (a published law, or a planted one in a test), with
    optional parameter ``draws`` (K, P) standing for the bootstrap. It has no runs unless
    ``data`` gives their columns, and no objective (NaN)."""
    lw = get_law(law)
    p = {n: float(params[n]) for n in lw.param_names}
    d = np.empty((0, len(p))) if draws is None else np.asarray(draws, dtype=float)
    if d.shape[0] >= 2:
        lo, hi = percentile_interval(d, level)
        intervals = {n: (float(a), float(b)) for n, a, b in zip(p, lo, hi, strict=True)}
    else:
        intervals = {n: (math.nan, math.nan) for n in p}
    return FitResult(
        law=lw.name,
        law_version=lw.version,
        citation=lw.citation,
        formula=lw.formula,
        params=p,
        intervals=intervals,
        objective=math.nan,
        objective_text="none (parameters given)",
        n_points=len(next(iter(data.values()))) if data else 0,
        search=SearchSummary(0, 0, 0, 0, {}, None, 0),
        warnings=(),
        variables=lw.variables,
        data=dict(data or {}),
        spec=FitSpec(law=lw.name, n_boot=d.shape[0], level=level, seed=seed),
        provenance=Provenance(source=source),
        bootstrap=BootstrapSummary(d.shape[0], seed, None, d.shape[0], 0, d),
        residuals=np.empty(0),
    )
