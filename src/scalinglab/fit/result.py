"""FitResult: a frozen, serialisable record of one fit.

It carries everything needed to trust, reproduce and reuse the fit: the law (name, version,
citation), the parameters with their percentile intervals and bootstrap draws, the objective and
its value, how the multi-start search went, warnings, the runs it was fitted on, the seed and
the package and schema versions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scalinglab._version import SCHEMA_VERSION, __version__
from scalinglab.errors import NotFittedError
from scalinglab.laws.base import FloatArray, Law
from scalinglab.laws.registry import get_law


@dataclass(frozen=True)
class SearchSummary:
    """How the multi-start search went."""

    starts: int
    starts_converged: int
    starts_pruned: int
    starts_at_best: int
    spread: dict[str, float]  # max difference, internal coordinates, among starts at the best
    second_best_objective: float | None
    evaluations: int


@dataclass(frozen=True)
class FitResult:
    law: str
    law_version: str
    citation: str
    formula: str
    params: dict[str, float]
    fixed: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    level: float
    objective: float
    objective_spec: dict[str, Any]
    objective_text: str
    n_points: int
    search: SearchSummary
    warnings: tuple[str, ...]
    variables: tuple[str, ...]
    data: dict[str, list[Any]]  # columns used: run_id, each variable, y, weight
    selection: dict[str, Any]  # source, metric, metric_unit, where, group, x
    bootstrap: dict[str, Any]  # n, seed, resample_by, converged, draws (K x P natural values)
    covariance: list[list[float]] | None
    correlation: list[list[float]] | None
    calibration: dict[str, Any] | None
    seed: int
    created_at: str
    package_version: str = __version__
    schema_version: int = SCHEMA_VERSION
    joint: dict[str, Any] | None = None  # group_by, groups, shared: a joint fit's layout
    fit_id: str | None = field(default=None, compare=False)

    # ----- use -----
    def law_obj(self) -> Law:
        """The law; a data-dependent law is rebuilt from the columns it was fitted on."""
        law = get_law(self.law)
        if self.joint:
            from scalinglab.fit.joint import joint_law

            j = self.joint
            return joint_law(law, j["group_by"], j["groups"], j["shared"])
        if law.specialize is not None:
            import pandas as pd

            law = law.specialize(pd.DataFrame(self.data))
        return law

    def theta(self) -> FloatArray:
        """Internal parameter vector (P,) of the point estimate."""
        return self.law_obj().to_internal(self.params)

    def draws(self) -> FloatArray:
        """Bootstrap draws (K, P) in natural units (failed resamples removed)."""
        d = np.asarray(self.bootstrap.get("draws") or [], dtype=float)
        if d.size == 0:
            return np.empty((0, len(self.params)))
        return d[np.all(np.isfinite(d), axis=1)]

    # ----- serialisation -----
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = _clean(asdict(self))
        return out

    def to_json(self, *, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(indent=1) + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FitResult:
        d = dict(d)
        version = d.get("schema_version")
        if version != SCHEMA_VERSION:
            raise NotFittedError(
                f"fit was written with schema version {version!r}; this scalinglab reads "
                f"version {SCHEMA_VERSION}. Refit with this version."
            )
        d["search"] = SearchSummary(**d["search"])
        d["intervals"] = {k: (_num(v[0]), _num(v[1])) for k, v in d["intervals"].items()}
        d["warnings"] = tuple(d["warnings"])
        d["variables"] = tuple(d["variables"])
        return cls(**d)

    @classmethod
    def from_json(cls, text: str, *, origin: str = "<json>") -> FitResult:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise NotFittedError(f"{origin}: not a fit file (invalid JSON: {exc}).") from exc
        if not isinstance(raw, dict) or "law" not in raw or "params" not in raw:
            raise NotFittedError(
                f"{origin}: not a scalinglab fit file (no 'law'/'params'); "
                "write one with `scalinglab fit ... --out fit.json`."
            )
        try:
            return cls.from_dict(raw)
        except (TypeError, KeyError) as exc:
            raise NotFittedError(f"{origin}: fit file is incomplete or damaged ({exc}).") from exc

    @classmethod
    def load(cls, path: str | Path) -> FitResult:
        p = Path(path)
        if not p.exists():
            raise NotFittedError(f"fit file {str(p)!r} does not exist.")
        return cls.from_json(p.read_text(encoding="utf-8"), origin=str(p))

    def summary(self) -> dict[str, Any]:
        """The stable keys of ``scalinglab fit --json``."""
        out: dict[str, Any] = _clean(
            {
                "law": self.law,
                "params": self.params,
                "intervals": {k: list(v) for k, v in self.intervals.items()},
                "level": self.level,
                "objective": self.objective,
                "n_points": self.n_points,
                "starts": self.search.starts,
                "starts_converged": self.search.starts_converged,
                "starts_at_best": self.search.starts_at_best,
                "warnings": list(self.warnings),
                "group": self.selection.get("group"),
                "metric": self.selection.get("metric"),
                "fit_id": self.fit_id,
                "schema_version": self.schema_version,
            }
        )
        return out

    def report(self) -> str:
        """Plain-text report."""
        lines = [
            f"{self.formula}   [{self.law} v{self.law_version}]",
            f"  {self.citation}",
            f"  metric {self.selection.get('metric')!s} ({self.selection.get('metric_unit')!s}),"
            f" {self.n_points} runs, objective {self.objective:.10g} ({self.objective_text})",
            f"  starts: {self.search.starts}, converged {self.search.starts_converged},"
            f" at the best optimum {self.search.starts_at_best}",
        ]
        pct = round(100 * self.level)
        for name, value in self.params.items():
            lo, hi = self.intervals.get(name, (math.nan, math.nan))
            tag = " (fixed)" if name in self.fixed else ""
            lines.append(f"  {name:>8} = {value:<12.6g} {pct}% [{lo:.6g}, {hi:.6g}]{tag}")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _num(v: Any) -> float:
    """A number read back from JSON, where null stands for NaN (e.g. no bootstrap interval)."""
    return math.nan if v is None else float(v)


def _clean(obj: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, NaN/inf to None, tuples to lists."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, np.generic):
        return _clean(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def percentile_interval(draws: FloatArray, level: float) -> tuple[FloatArray, FloatArray]:
    """Percentile interval of each column of ``draws`` at ``level`` (e.g. 0.95)."""
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(draws, [a, 1.0 - a], axis=0)
    return lo, hi


def columns_of(values: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    return {k: list(v) for k, v in values.items()}
