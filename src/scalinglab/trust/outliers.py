"""Runs whose fitted residuals lie far outside the rest, by a robust z-score.

The modified z-score of Iglewicz and Hoaglin (1993), |z| > 3.5 flagged: see
:mod:`scalinglab.fit.residuals`, where the score lives so that ``fit`` can warn about such runs.

The residuals are those of the fit (``FitResult.residuals``: observed minus fitted target in
the objective's space, log loss for the Chinchilla law, runs with weight > 0), so "far" is
measured in the space the fit minimised. A flagged run is a question to ask of the data (a
diverged or under-trained run, a mis-recorded size), never dropped here: Besiroglu et al. 2024
(arXiv:2404.10102, section 2) drop the five highest-loss Chinchilla runs by hand (loss >= 3.44).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalinglab.errors import DataError, FitError
from scalinglab.fit.records import FrozenMap
from scalinglab.fit.residuals import MAD_SCALE, Z_THRESHOLD, flagged, outlier_scores, robust_z
from scalinglab.fit.result import FitResult
from scalinglab.trust.findings import Finding


@dataclass(frozen=True)
class Outlier:
    """One flagged run: its id, its fitted residual (objective space), its robust z-score and
    its values (law variables and ``y``, in the data's units)."""

    run_id: str
    residual: float
    z: float
    values: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", FrozenMap(self.values))

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "residual": self.residual,
            "z": self.z,
            "values": dict(self.values),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Outlier:
        return cls(
            str(d["run_id"]), float(d["residual"]), float(d["z"]), dict(d.get("values") or {})
        )


def _fitted_rows(result: FitResult) -> np.ndarray:
    """Indices of the rows of ``result.data`` the residuals belong to (weight > 0)."""
    n = len(result.data.get("y") or ())
    weights = result.data.get("weight")
    rows = np.arange(n) if weights is None else np.flatnonzero(np.asarray(weights, float) > 0)
    if rows.size != result.residuals.size:
        raise FitError(
            f"fit {result.fit_id}: {result.residuals.size} residuals for {rows.size} fitted runs "
            "in its data; the fit has no per-run residuals to score (refit the runs)."
        )
    return rows


def fit_outliers(result: FitResult, *, threshold: float = Z_THRESHOLD) -> tuple[Outlier, ...]:
    """The runs of ``result`` whose residual has |robust z| > ``threshold``, largest first."""
    if not (math.isfinite(threshold) and threshold > 0):
        raise DataError(f"outlier threshold {threshold!r} must be a positive number, e.g. 3.5.")
    rows = _fitted_rows(result)
    z = outlier_scores(result.residuals)
    ids = result.data.get("run_id") or [str(i) for i in range(len(result.data["y"]))]
    columns = [c for c in (*result.variables, "y") if c in result.data]
    out = []
    for k in flagged(result.residuals, threshold):
        i = int(rows[k])
        values = {c: float(result.data[c][i]) for c in columns}
        out.append(Outlier(str(ids[i]), float(result.residuals[k]), float(z[k]), values))
    return tuple(sorted(out, key=lambda o: -abs(o.z)))


def outlier_findings(result: FitResult, *, threshold: float = Z_THRESHOLD) -> list[Finding]:
    """One ``outlier`` finding per flagged run (for ``diagnose``)."""
    return [
        Finding(
            "outlier",
            "warning",
            f"run {o.run_id}: residual {o.residual:.4g} ({result.space} space) has robust z = "
            f"{o.z:.3g}, beyond {threshold:g} (Iglewicz and Hoaglin 1993): check it (diverged, "
            "under-trained, mis-recorded) and exclude it with --where if it does not belong.",
            {"run_id": o.run_id, "residual": o.residual, "z": o.z},
        )
        for o in fit_outliers(result, threshold=threshold)
    ]


__all__ = ("MAD_SCALE", "Z_THRESHOLD", "Outlier", "fit_outliers", "outlier_findings", "robust_z")
