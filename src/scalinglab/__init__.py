"""scalinglab: fit, trust and plan with neural scaling laws.

The names below are loaded on first use (PEP 562), so ``import scalinglab.data`` loads the data
layer alone and ``scalinglab --help`` starts without the numerical stack it does not need.
"""

from __future__ import annotations

import importlib
import logging as _logging
import sys
import types
from typing import Any

from scalinglab._version import SCHEMA_VERSION, __version__

# A library adds no handlers of its own (logging HOWTO, "Configuring Logging for a Library").
_logging.getLogger("scalinglab").addHandler(_logging.NullHandler())

_WHERE = {
    "load_dataset": "scalinglab.data",
    "read_runs": "scalinglab.data",
    "select_runs": "scalinglab.data",
    "FitResult": "scalinglab.fit",
    "FitSet": "scalinglab.fit",
    "Objective": "scalinglab.fit",
    "fit": "scalinglab.fit",
    "fit_groups": "scalinglab.fit",
    "fit_runs": "scalinglab.fit",
    "load_fits": "scalinglab.fit",
    "get_law": "scalinglab.laws",
    "list_laws": "scalinglab.laws",
    "compute_optimal": "scalinglab.plan",
    "backtest": "scalinglab.trust",
    "calibrate": "scalinglab.trust",
    "predict": "scalinglab.trust",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'scalinglab' has no attribute {name!r}")


class _Package(types.ModuleType):
    """``scalinglab.fit`` names the fitting function, as it always has (``sl.fit(runs, law)``),
    although a subpackage has the same name: the import system's binding of the subpackage
    to this attribute is ignored (``import scalinglab.fit.api`` still works through
    ``sys.modules``)."""

    @property
    def fit(self) -> Any:
        return importlib.import_module("scalinglab.fit").fit

    @fit.setter
    def fit(self, value: Any) -> None:
        pass


sys.modules[__name__].__class__ = _Package

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
