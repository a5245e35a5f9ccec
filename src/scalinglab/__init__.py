"""scalinglab: fit, trust and plan with neural scaling laws."""

import logging as _logging

from scalinglab._version import SCHEMA_VERSION, __version__
from scalinglab.data import load_dataset, read_runs, select_runs
from scalinglab.fit import FitResult, FitSet, Objective, fit, fit_groups, fit_runs, load_fits
from scalinglab.laws import get_law, list_laws
from scalinglab.plan import compute_optimal
from scalinglab.trust import backtest, calibrate, predict

# A library adds no handlers of its own (logging HOWTO, "Configuring Logging for a Library").
_logging.getLogger("scalinglab").addHandler(_logging.NullHandler())

__all__ = [
    "SCHEMA_VERSION",
    "FitResult",
    "FitSet",
    "Objective",
    "__version__",
    "backtest",
    "calibrate",
    "compute_optimal",
    "fit",
    "fit_groups",
    "fit_runs",
    "get_law",
    "list_laws",
    "load_dataset",
    "load_fits",
    "predict",
    "read_runs",
    "select_runs",
]
