"""scalinglab: fit, trust and plan with neural scaling laws."""

import logging as _logging

from scalinglab._version import SCHEMA_VERSION, __version__
from scalinglab.data import load_dataset, read_runs, select_runs
from scalinglab.fit import FitResult, Objective, fit, fit_groups, predict
from scalinglab.laws import get_law, list_laws
from scalinglab.plan import compute_optimal

# A library adds no handlers of its own (logging HOWTO, "Configuring Logging for a Library").
_logging.getLogger("scalinglab").addHandler(_logging.NullHandler())

__all__ = [
    "SCHEMA_VERSION",
    "FitResult",
    "Objective",
    "__version__",
    "compute_optimal",
    "fit",
    "fit_groups",
    "get_law",
    "list_laws",
    "load_dataset",
    "predict",
    "read_runs",
    "select_runs",
]
