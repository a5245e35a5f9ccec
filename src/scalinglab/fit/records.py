"""The small frozen records a :class:`~scalinglab.fit.result.FitResult` is made of.

Each has one ``to_dict`` / ``from_dict`` pair; arrays are read-only and sequences are tuples,
so a result cannot be changed after the fit (``dataclasses.replace`` makes a new one).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from scalinglab.fit.codec import encode
from scalinglab.fit.objectives import Objective
from scalinglab.laws.base import FloatArray


def readonly(a: Any) -> FloatArray:
    """A read-only float copy of ``a``."""
    out = np.array(a, dtype=float, copy=True)
    out.setflags(write=False)
    return out


class FrozenMap(Mapping[str, Any]):
    """A read-only mapping over a private copy (picklable, unlike ``MappingProxyType``, so
    results cross process boundaries)."""

    __slots__ = ("_d",)

    def __init__(self, items: Mapping[str, Any] | None = None) -> None:
        self._d = dict(items or {})

    def __getitem__(self, key: str) -> Any:
        return self._d[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __repr__(self) -> str:
        return repr(self._d)

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMap, (self._d,))


def frozen_map(m: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A read-only mapping (a private copy)."""
    return m if isinstance(m, FrozenMap) else FrozenMap(m)


def num(v: Any) -> float:
    """A number read back from JSON, where null stands for NaN (e.g. no bootstrap interval)."""
    return math.nan if v is None else float(v)


def jsonable(obj: Any) -> Any:
    """JSON-safe copy: numpy scalars and arrays to Python, NaN/inf to None, tuples to lists
    (:func:`scalinglab.fit.codec.encode`)."""
    return encode(obj)


@dataclass(frozen=True)
class SearchSummary:
    """How the multi-start search went. ``spread``: max difference (internal coordinates) of
    each free parameter among the starts that reached the best objective."""

    starts: int
    starts_converged: int
    starts_pruned: int
    starts_at_best: int
    spread: Mapping[str, float]
    second_best_objective: float | None
    evaluations: int
    starts_stalled: int = 0  # stopped without meeting the convergence test (no progress)
    starts_failed: int = 0  # the law was never finite along the start's path
    starts_max_iter: int = 0  # stopped at the iteration limit

    def __post_init__(self) -> None:
        object.__setattr__(self, "spread", frozen_map(self.spread))

    def to_dict(self) -> dict[str, Any]:
        return {
            "starts": self.starts,
            "starts_converged": self.starts_converged,
            "starts_stalled": self.starts_stalled,
            "starts_failed": self.starts_failed,
            "starts_max_iter": self.starts_max_iter,
            "starts_pruned": self.starts_pruned,
            "starts_at_best": self.starts_at_best,
            "spread": dict(self.spread),
            "second_best_objective": self.second_best_objective,
            "evaluations": self.evaluations,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SearchSummary:
        return cls(**{k: d[k] for k in d})


@dataclass(frozen=True)
class JointSpec:
    """A joint fit's layout: groups of ``group_by`` share the ``shared`` parameters."""

    group_by: str
    groups: tuple[str, ...]
    shared: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"group_by": self.group_by, "groups": list(self.groups), "shared": list(self.shared)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> JointSpec:
        return cls(str(d["group_by"]), tuple(map(str, d["groups"])), tuple(map(str, d["shared"])))


@dataclass(frozen=True)
class FitSpec:
    """Everything that defines a fit besides its runs: refitting the same spec on other runs
    (a backtest's fit portion, a nested calibration origin) fits the same model.

    ``weights``: the runs column of per-run weights (None: equal). ``fixed``: parameters held
    at these natural values. ``n_boot``: bootstrap resamples (0: none). ``resample_by``: a
    column resampled whole. ``level``: the parameter intervals' level."""

    law: str
    objective: Objective = field(default_factory=Objective)
    fixed: Mapping[str, float] = field(default_factory=dict)
    weights: str | None = None
    n_boot: int = 1000
    resample_by: str | None = None
    level: float = 0.95
    seed: int = 0
    joint: JointSpec | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "fixed", frozen_map(self.fixed))

    def to_dict(self) -> dict[str, Any]:
        o = self.objective
        return {
            "law": self.law,
            "objective": {
                "kind": o.kind,
                "space": o.space,
                "delta": o.delta,
                "asymmetry": o.asymmetry,
            },
            "fixed": dict(self.fixed),
            "weights": self.weights,
            "n_boot": self.n_boot,
            "resample_by": self.resample_by,
            "level": self.level,
            "seed": self.seed,
            "joint": self.joint.to_dict() if self.joint else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FitSpec:
        o = d.get("objective") or {}
        return cls(
            law=str(d["law"]),
            objective=Objective(**o),
            fixed={str(k): float(v) for k, v in (d.get("fixed") or {}).items()},
            weights=d.get("weights"),
            n_boot=int(d.get("n_boot", 1000)),
            resample_by=d.get("resample_by"),
            level=float(d.get("level", 0.95)),
            seed=int(d.get("seed", 0)),
            joint=JointSpec.from_dict(d["joint"]) if d.get("joint") else None,
        )


@dataclass(frozen=True)
class Provenance:
    """Where a fit's runs came from and how they were chosen: the source (file, dataset or
    store id), the metric and its unit, the ``--where`` filter, the group (for one group of a
    grouped fit) and the column used as ``x``."""

    source: str | None = None
    metric: str | None = None
    metric_unit: str | None = None
    where: str | None = None
    group: str | None = None
    x: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _PROVENANCE_KEYS}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Provenance:
        d = d or {}
        return cls(**{k: (None if d.get(k) is None else str(d[k])) for k in _PROVENANCE_KEYS})


_PROVENANCE_KEYS = ("source", "metric", "metric_unit", "where", "group", "x")


@dataclass(frozen=True, eq=False)
class BootstrapSummary:
    """The bootstrap: ``n`` resamples asked, how many ``converged``, how many stopped at the
    iteration limit still moving along a flat ridge (``at_limit``: their draws are kept and
    the fit's warnings say so), and ``draws`` (n, P) in natural units with NaN rows for
    refits that failed."""

    n: int = 0
    seed: int = 0
    resample_by: str | None = None
    converged: int = 0
    at_limit: int = 0
    draws: FloatArray = field(default_factory=lambda: readonly(np.empty((0, 0))))

    def __post_init__(self) -> None:
        object.__setattr__(self, "draws", readonly(self.draws))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BootstrapSummary):
            return NotImplemented
        return bool(self.to_dict() == other.to_dict())

    __hash__ = None  # type: ignore[assignment]

    def usable(self, n_params: int) -> FloatArray:
        """Draws (K, P) of the refits that succeeded (NaN rows removed)."""
        d = self.draws
        if d.size == 0:
            return np.empty((0, n_params))
        return d[np.all(np.isfinite(d), axis=1)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "seed": self.seed,
            "resample_by": self.resample_by,
            "converged": self.converged,
            "at_limit": self.at_limit,
            "draws": jsonable(self.draws),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BootstrapSummary:
        rows = [[num(v) for v in row] for row in d.get("draws") or []]
        return cls(
            n=int(d.get("n", 0)),
            seed=int(d.get("seed", 0)),
            resample_by=d.get("resample_by"),
            converged=int(d.get("converged", 0)),
            at_limit=int(d.get("at_limit", 0)),
            draws=np.array(rows, dtype=float) if rows else np.empty((0, 0)),
        )


@dataclass(frozen=True)
class Calibration:
    """The nested rolling-origin backtest that calibrates prediction intervals
    (:mod:`scalinglab.trust.calibrate`): one row of z-scores per held-back run, one column per
    level of ``levels``; ``axis`` is the extrapolation axis; ``note`` says why there is no
    scale when there is none."""

    method: str
    levels: tuple[float, ...]
    z: tuple[tuple[float, ...], ...] = ()
    axis: str | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "levels": list(self.levels),
            "z": [list(r) for r in self.z],
            "axis": self.axis,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Calibration:
        return cls(
            method=str(d["method"]),
            levels=tuple(float(v) for v in d["levels"]),
            z=tuple(tuple(num(v) for v in row) for row in d.get("z") or ()),
            axis=d.get("axis"),
            note=str(d.get("note") or ""),
        )


Side = Literal["lower", "upper"]


@dataclass(frozen=True)
class BoundFlag:
    """A fitted parameter that sits at one of its bounds (the data do not pin it down)."""

    param: str
    side: Side
    bound: float

    def to_dict(self) -> dict[str, Any]:
        return {"param": self.param, "side": self.side, "bound": self.bound}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BoundFlag:
        return cls(str(d["param"]), d["side"], float(d["bound"]))


def columns(data: Mapping[str, Sequence[Any]]) -> Mapping[str, tuple[Any, ...]]:
    """Read-only columns (name -> tuple of values)."""
    return FrozenMap({str(k): tuple(v) for k, v in data.items()})
