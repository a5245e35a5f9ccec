"""Fitting: objectives, the multi-start engine, bootstrap, results."""

from scalinglab.fit.api import fit, fit_spec
from scalinglab.fit.groups import fit_groups, fit_runs
from scalinglab.fit.objectives import Objective
from scalinglab.fit.records import FitSpec, Provenance
from scalinglab.fit.result import FitResult, FitSet, load_fits

__all__ = [
    "FitResult",
    "FitSet",
    "FitSpec",
    "Objective",
    "Provenance",
    "fit",
    "fit_groups",
    "fit_runs",
    "fit_spec",
    "load_fits",
]
