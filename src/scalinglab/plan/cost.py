"""Cost of a training run: GPU-hours and wall time for an accelerator at an assumed MFU.

GPU-seconds = C / (peak FLOP/s x MFU); wall time = GPU-seconds / number of GPUs. Peak
throughputs are the vendors' dense (no sparsity) bf16/fp16 tensor-core figures; MFU (model FLOP
utilisation, Chowdhery et al. 2022, arXiv:2204.02311, appendix B) is an assumption the user
states: 0.3-0.5 is typical of large dense runs.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

import numpy as np

from scalinglab.errors import FitError
from scalinglab.plan.compute_optimal import Estimate


@dataclass(frozen=True)
class Accelerator:
    name: str
    peak_flops: float  # FLOP/s per device, dense
    note: str


ACCELERATORS: dict[str, Accelerator] = {
    "v100": Accelerator("NVIDIA V100 SXM2", 125e12, "fp16 tensor core, dense (datasheet)"),
    "a100": Accelerator("NVIDIA A100 SXM", 312e12, "bf16 tensor core, dense (datasheet)"),
    "h100": Accelerator("NVIDIA H100 SXM", 989e12, "bf16 tensor core, dense (datasheet)"),
    "h100-pcie": Accelerator("NVIDIA H100 PCIe", 756e12, "bf16 tensor core, dense (datasheet)"),
    "h200": Accelerator("NVIDIA H200 SXM", 989e12, "bf16 tensor core, dense (datasheet)"),
    "b200": Accelerator("NVIDIA B200", 2250e12, "bf16 tensor core, dense (datasheet)"),
    "mi300x": Accelerator("AMD Instinct MI300X", 1307e12, "bf16 matrix, dense (datasheet)"),
    "tpu-v4": Accelerator("Google TPU v4", 275e12, "bf16 per chip (Cloud TPU docs)"),
    "tpu-v5p": Accelerator("Google TPU v5p", 459e12, "bf16 per chip (Cloud TPU docs)"),
}


@dataclass(frozen=True)
class Cost:
    accelerator: str
    peak_flops: float
    mfu: float
    gpus: int
    gpu_hours: Estimate
    wall_hours: Estimate
    note: str

    def as_dict(self) -> dict[str, object]:
        return {
            "accelerator": self.accelerator,
            "peak_flops": self.peak_flops,
            "mfu": self.mfu,
            "gpus": self.gpus,
            "gpu_hours": self.gpu_hours.as_dict(),
            "wall_hours": self.wall_hours.as_dict(),
            "wall_days": _scale(self.wall_hours, 1 / 24).as_dict(),
            "formula": "GPU-hours = C / (peak x MFU) / 3600; wall = GPU-hours / gpus",
            "note": self.note,
        }


def _scale(e: Estimate, f: float) -> Estimate:
    return Estimate(e.value * f, e.low * f, e.high * f)


def accelerator(name: str | None, peak_flops: float | None = None) -> Accelerator:
    """The accelerator called ``name``, or a custom one from ``peak_flops`` (FLOP/s)."""
    if peak_flops is not None:
        p = float(peak_flops)
        if not (math.isfinite(p) and p > 0):
            raise FitError(f"peak FLOP/s must be a positive number, got {peak_flops!r}.")
        label = name or "custom"
        return Accelerator(label, p, "peak FLOP/s given by the user")
    key = (name or "h100").lower()
    if key not in ACCELERATORS:
        close = difflib.get_close_matches(key, list(ACCELERATORS), n=2)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise FitError(
            f"unknown accelerator {name!r}.{hint} Known: {', '.join(ACCELERATORS)}; "
            "or give its peak with --peak-flops FLOP/s."
        )
    return ACCELERATORS[key]


def cost(
    compute: Estimate,
    *,
    accelerator_name: str | None = "h100",
    peak_flops: float | None = None,
    mfu: float = 0.4,
    gpus: int = 1,
) -> Cost:
    """GPU-hours and wall hours of ``compute`` FLOP (with its interval)."""
    acc = accelerator(accelerator_name, peak_flops)
    if not (isinstance(mfu, int | float) and math.isfinite(mfu) and 0 < mfu <= 1):
        raise FitError(f"MFU must be in (0, 1] (e.g. 0.4), got {mfu!r}.")
    if not (isinstance(gpus, int | np.integer) and gpus >= 1):
        raise FitError(f"number of GPUs must be an integer >= 1, got {gpus!r}.")
    per_hour = acc.peak_flops * mfu * 3600.0
    gh = Estimate(compute.value / per_hour, compute.low / per_hour, compute.high / per_hour)
    return Cost(
        accelerator=acc.name,
        peak_flops=acc.peak_flops,
        mfu=float(mfu),
        gpus=int(gpus),
        gpu_hours=gh,
        wall_hours=_scale(gh, 1.0 / int(gpus)),
        note=f"{acc.note}; MFU {mfu:g} assumed",
    )
