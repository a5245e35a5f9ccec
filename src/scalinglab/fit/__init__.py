"""Fitting: objectives, the multi-start engine, bootstrap, results."""

from scalinglab.fit.api import fit, fit_groups, predict
from scalinglab.fit.objectives import Objective
from scalinglab.fit.result import FitResult

__all__ = ["FitResult", "Objective", "fit", "fit_groups", "predict"]
