"""FitResult: a frozen, serialisable record of one fit, and FitSet: the fits of a ``--group-by``.

A result carries everything needed to trust, reproduce and reuse the fit: the law (name,
version, citation), the parameters with their percentile intervals and bootstrap draws, the
fit's full specification (objective, fixed parameters, weights, joint layout), the objective
value and information criteria, how the multi-start search went, warnings and parameters at a
bound, the runs it was fitted on and where they came from, the seed and the versions. It is
built of the frozen records of :mod:`scalinglab.fit.records`; arrays are read-only.

Every saved result has ``kind`` and ``format`` keys; :func:`load_fits` reads a fit or a fit
set, from a file or JSON text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalinglab._version import RESULT_FORMAT, __version__
from scalinglab.errors import NotFittedError
from scalinglab.fit.joint import joint_law
from scalinglab.fit.objectives import Objective
from scalinglab.fit.records import (
    BootstrapSummary,
    BoundFlag,
    Calibration,
    FitSpec,
    JointSpec,
    Provenance,
    SearchSummary,
    columns,
    frozen_map,
    jsonable,
    num,
    readonly,
)
from scalinglab.laws.base import FloatArray, Law
from scalinglab.laws.registry import get_law

__all__ = ["FitResult", "FitSet", "load_fits", "percentile_interval"]


@dataclass(frozen=True, eq=False)
class FitResult:
    law: str
    law_version: str
    citation: str
    formula: str
    params: Mapping[str, float]
    intervals: Mapping[str, tuple[float, float]]
    objective: float
    objective_text: str
    n_points: int
    search: SearchSummary
    warnings: tuple[str, ...]
    variables: tuple[str, ...]
    data: Mapping[str, Sequence[Any]]  # columns used: run_id, each variable, y, weight
    spec: FitSpec
    provenance: Provenance
    bootstrap: BootstrapSummary
    residuals: FloatArray  # fitted residuals in the objective's space (runs with weight > 0)
    at_bound: tuple[BoundFlag, ...] = ()
    aic: float = math.nan
    bic: float = math.nan
    covariance: FloatArray | None = None  # free parameters, from the bootstrap draws
    correlation: FloatArray | None = None
    calibration: Calibration | None = None
    created_at: str = ""
    package_version: str = __version__
    fit_id: str | None = field(default=None, compare=False)

    kind = "fit"  # the name of this kind of saved result

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", frozen_map(self.params))
        object.__setattr__(self, "intervals", frozen_map(self.intervals))
        object.__setattr__(self, "data", columns(self.data))
        object.__setattr__(self, "residuals", readonly(self.residuals))
        for name in ("covariance", "correlation"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, readonly(v))

    def __eq__(self, other: object) -> bool:
        """Equal when everything saved is equal (the store's ``fit_id`` aside)."""
        if not isinstance(other, FitResult):
            return NotImplemented
        a, b = self.to_dict(), other.to_dict()
        a.pop("fit_id"), b.pop("fit_id")
        return bool(a == b)

    __hash__ = None  # type: ignore[assignment]

    # ----- the spec's parts, by their usual names -----
    @property
    def fixed(self) -> Mapping[str, float]:
        return self.spec.fixed

    @property
    def level(self) -> float:
        return self.spec.level

    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def joint(self) -> JointSpec | None:
        return self.spec.joint

    @property
    def objective_spec(self) -> Objective:
        """The objective with its space resolved (the law's own when the spec names none)."""
        o = self.spec.objective
        return o if o.space is not None else replace(o, space=self.space)  # type: ignore[arg-type]

    @property
    def space(self) -> str:
        """The space of the objective's residuals: ``"log"`` or ``"linear"``."""
        return self.spec.objective.resolved_space(get_law(self.law))

    # ----- use -----
    def law_obj(self) -> Law:
        """The law; a joint or data-dependent law is rebuilt from the columns it was fitted on."""
        law = get_law(self.law)
        if self.joint:
            j = self.joint
            return joint_law(law, j.group_by, j.groups, j.shared)
        if law.specialize is not None:
            law = law.specialize(self.frame())
        return law

    def frame(self) -> pd.DataFrame:
        """The fitted runs' columns as a table (a copy)."""
        return pd.DataFrame({k: list(v) for k, v in self.data.items()})

    def theta(self) -> FloatArray:
        """Internal parameter vector (P,) of the point estimate."""
        return self.law_obj().to_internal(dict(self.params))

    def draws(self) -> FloatArray:
        """Bootstrap draws (K, P) in natural units (failed resamples removed)."""
        return self.bootstrap.usable(len(self.params))

    # ----- serialisation -----
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(
            {
                "kind": self.kind,
                "format": RESULT_FORMAT,
                "law": self.law,
                "law_version": self.law_version,
                "citation": self.citation,
                "formula": self.formula,
                "params": dict(self.params),
                "intervals": {k: list(v) for k, v in self.intervals.items()},
                "objective": self.objective,
                "objective_text": self.objective_text,
                "n_points": self.n_points,
                "aic": self.aic,
                "bic": self.bic,
                "search": self.search.to_dict(),
                "warnings": list(self.warnings),
                "at_bound": [b.to_dict() for b in self.at_bound],
                "variables": list(self.variables),
                "data": {k: list(v) for k, v in self.data.items()},
                "spec": self.spec.to_dict(),
                "provenance": self.provenance.to_dict(),
                "bootstrap": self.bootstrap.to_dict(),
                "residuals": self.residuals,
                "covariance": self.covariance,
                "correlation": self.correlation,
                "calibration": self.calibration.to_dict() if self.calibration else None,
                "created_at": self.created_at,
                "package_version": self.package_version,
                "fit_id": self.fit_id,
            }
        )
        return out

    def to_json(self, *, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(indent=1) + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FitResult:
        _check_format(d, cls.kind)
        unknown = set(d) - _FIT_KEYS
        if unknown:
            raise KeyError(f"unknown keys {sorted(unknown)}")
        _check_params(d)

        def matrix(v: Any) -> FloatArray | None:
            return None if v is None else np.array(v, dtype=float)

        return cls(
            law=str(d["law"]),
            law_version=str(d["law_version"]),
            citation=str(d["citation"]),
            formula=str(d["formula"]),
            params={str(k): float(v) for k, v in d["params"].items()},
            intervals={str(k): (num(v[0]), num(v[1])) for k, v in d["intervals"].items()},
            objective=num(d["objective"]),
            objective_text=str(d["objective_text"]),
            n_points=int(d["n_points"]),
            aic=num(d.get("aic")),
            bic=num(d.get("bic")),
            search=SearchSummary.from_dict(d["search"]),
            warnings=tuple(map(str, d["warnings"])),
            at_bound=tuple(BoundFlag.from_dict(b) for b in d.get("at_bound") or ()),
            variables=tuple(map(str, d["variables"])),
            data=d["data"],
            spec=FitSpec.from_dict(d["spec"]),
            provenance=Provenance.from_dict(d.get("provenance")),
            bootstrap=BootstrapSummary.from_dict(d["bootstrap"]),
            residuals=np.array([num(v) for v in d.get("residuals") or ()], dtype=float),
            covariance=matrix(d.get("covariance")),
            correlation=matrix(d.get("correlation")),
            calibration=Calibration.from_dict(d["calibration"]) if d.get("calibration") else None,
            created_at=str(d.get("created_at") or ""),
            package_version=str(d.get("package_version") or ""),
            fit_id=d.get("fit_id"),
        )

    @classmethod
    def from_json(cls, text: str, *, origin: str = "<json>") -> FitResult:
        return load_fit(origin, text=text)

    @classmethod
    def load(cls, path: str | Path) -> FitResult:
        return load_fit(path)

    def summary(self) -> dict[str, Any]:
        """The stable keys of ``scalinglab fit --json``."""
        out: dict[str, Any] = jsonable(
            {
                "law": self.law,
                "params": dict(self.params),
                "intervals": {k: list(v) for k, v in self.intervals.items()},
                "level": self.level,
                "objective": self.objective,
                "aic": self.aic,
                "bic": self.bic,
                "n_points": self.n_points,
                "starts": self.search.starts,
                "starts_converged": self.search.starts_converged,
                "starts_at_best": self.search.starts_at_best,
                "at_bound": [b.to_dict() for b in self.at_bound],
                "warnings": list(self.warnings),
                "group": self.provenance.group,
                "metric": self.provenance.metric,
                "fit_id": self.fit_id,
            }
        )
        return out

    def report(self) -> str:
        """Plain-text report."""
        p = self.provenance
        lines = [
            f"{self.formula}   [{self.law} v{self.law_version}]"
            + (f"   [{p.group}]" if p.group else ""),
            f"  {self.citation}",
            f"  metric {p.metric or '?'} ({p.metric_unit or 'unit not given'}),"
            f" {self.n_points} runs, objective {self.objective:.10g} ({self.objective_text})",
            f"  starts: {self.search.starts}, converged {self.search.starts_converged},"
            f" at the best optimum {self.search.starts_at_best}; AIC {self.aic:.5g},"
            f" BIC {self.bic:.5g}",
        ]
        pct = round(100 * self.level)
        for name, value in self.params.items():
            lo, hi = self.intervals.get(name, (math.nan, math.nan))
            tag = " (fixed)" if name in self.fixed else ""
            lines.append(f"  {name:>8} = {value:<12.6g} {pct}% [{lo:.6g}, {hi:.6g}]{tag}")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


_FIT_KEYS = {
    "kind", "format", "law", "law_version", "citation", "formula", "params", "intervals",
    "objective", "objective_text", "n_points", "aic", "bic", "search", "warnings", "at_bound",
    "variables", "data", "spec", "provenance", "bootstrap", "residuals", "covariance",
    "correlation", "calibration", "created_at", "package_version", "fit_id",
}  # fmt: skip


@dataclass(frozen=True)
class FitSet:
    """The separate fits of each group of ``group_by`` (``fit --group-by COL``), in order."""

    fits: tuple[FitResult, ...]
    group_by: str
    failed: tuple[tuple[str, str], ...] = ()  # (group, error message) of groups that failed

    kind = "fit_set"

    def __iter__(self) -> Iterator[FitResult]:
        return iter(self.fits)

    def __len__(self) -> int:
        return len(self.fits)

    def groups(self) -> list[str | None]:
        return [f.provenance.group for f in self.fits]

    def get(self, group: str) -> FitResult:
        for f in self.fits:
            if f.provenance.group == group:
                return f
        raise NotFittedError(
            f"no fit for group {group!r}; the groups are {', '.join(map(str, self.groups()))}."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "format": RESULT_FORMAT,
            "group_by": self.group_by,
            "fits": [f.to_dict() for f in self.fits],
            "failed": [list(x) for x in self.failed],
        }

    def to_json(self, *, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> FitSet:
        r = load_fits(path)
        return r if isinstance(r, FitSet) else cls((r,), r.provenance.group or "group")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FitSet:
        _check_format(d, cls.kind)
        return cls(
            tuple(FitResult.from_dict(f) for f in d["fits"]),
            str(d["group_by"]),
            tuple((str(g), str(m)) for g, m in d.get("failed") or ()),
        )


def _check_params(d: Mapping[str, Any]) -> None:
    """The parameters must be finite numbers, one per parameter of the law (a joint fit's
    names carry their group)."""
    law = get_law(str(d["law"]))  # FitError names an unknown law
    params = d["params"]
    if not isinstance(params, Mapping):
        raise NotFittedError(f"fit of {law.name!r}: 'params' must be an object of numbers.")
    bad = {
        k: v for k, v in params.items() if not isinstance(v, int | float) or not math.isfinite(v)
    }
    if bad:
        raise NotFittedError(
            f"fit of {law.name!r}: parameters {', '.join(f'{k}={v!r}' for k, v in bad.items())} "
            "are not finite numbers; refit."
        )
    if law.specialize is not None:
        return  # its parameter list depends on the fitted runs (e.g. one per mixture domain)
    base = {k.split("[", 1)[0] for k in params}
    if (not d.get("spec", {}).get("joint") and set(params) != set(law.param_names)) or (
        base - set(law.param_names)
    ):
        raise NotFittedError(
            f"fit of {law.name!r}: parameters {sorted(params)} are not the law's "
            f"({', '.join(law.param_names)}); the file was edited or belongs to another law."
        )


def _check_format(d: Mapping[str, Any], kind: str) -> None:
    if d.get("kind") != kind:
        raise NotFittedError(f"expected a saved {kind!r}, found kind {d.get('kind')!r}.")
    if d.get("format") != RESULT_FORMAT:
        raise NotFittedError(
            f"this {kind} was written in result format {d.get('format', 1)!r}; this scalinglab "
            f"reads format {RESULT_FORMAT}. Refit with this version."
        )


def parse_result(raw: Any, *, origin: str, kinds: tuple[str, ...]) -> Mapping[str, Any]:
    """Check that ``raw`` (parsed JSON) is a saved result of one of ``kinds``."""
    if not isinstance(raw, dict):
        raise NotFittedError(f"{origin}: not a scalinglab result (a JSON object is expected).")
    kind = raw.get("kind")
    if kind not in kinds:
        if "law" in raw and "params" in raw and kind is None:
            kind_msg = "a fit from an older scalinglab (no 'kind'); refit with this version"
        else:
            kind_msg = f"kind {kind!r}" if kind else "no 'kind' key"
        raise NotFittedError(
            f"{origin}: not a {' or '.join(kinds)} file ({kind_msg}); write one with "
            "`scalinglab fit ... --out fit.json`."
        )
    return raw


def read_json(text: str, *, origin: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise NotFittedError(f"{origin}: not a JSON result file ({exc}).") from None


def load_fits(source: str | Path, *, text: str | None = None) -> FitResult | FitSet:
    """A fit or a fit set from a JSON file (or from ``text``, naming ``source`` in errors)."""
    origin = str(source)
    if text is None:
        p = Path(source)
        if not p.is_file():
            raise NotFittedError(f"fit file {origin!r} does not exist.")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise NotFittedError(f"{origin}: not a fit file (not UTF-8 text).") from None
    raw = parse_result(read_json(text, origin=origin), origin=origin, kinds=("fit", "fit_set"))
    try:
        if raw["kind"] == "fit_set":
            return FitSet.from_dict(raw)
        return FitResult.from_dict(raw)
    except (TypeError, KeyError, ValueError, IndexError) as exc:
        raise NotFittedError(f"{origin}: fit file is incomplete or damaged ({exc!r}).") from None


def load_fit(source: str | Path, *, text: str | None = None) -> FitResult:
    """One fit (not a fit set) from a JSON file or text."""
    r = load_fits(source, text=text)
    if isinstance(r, FitSet):
        raise NotFittedError(
            f"{source}: holds {len(r)} fits (one per {r.group_by}); this needs one fit: "
            f"refit one group, e.g. --where \"{r.group_by} == '...'\"."
        )
    return r


def percentile_interval(draws: FloatArray, level: float) -> tuple[FloatArray, FloatArray]:
    """Percentile interval of each column of ``draws`` at ``level`` (e.g. 0.95)."""
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(draws, [a, 1.0 - a], axis=0)
    return lo, hi
