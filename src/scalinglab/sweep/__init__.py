"""Sweeps: design the small training runs a scaling law needs, train them locally or on Ray,
crash-safe, and store every loss curve (torch and ray are imported only when runs train)."""

from scalinglab.sweep.design import PlannedRun, plan_sweep
from scalinglab.sweep.spec import SweepError, SweepSpec, load_spec

__all__ = ["PlannedRun", "SweepError", "SweepSpec", "load_spec", "plan_sweep"]
