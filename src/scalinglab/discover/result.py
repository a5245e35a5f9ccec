"""What ``discover`` returns: the leaderboard and the search's bookkeeping (frozen, JSON-able)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


def _num(v: Any) -> float:
    return math.nan if v is None else float(v)


def _json_num(v: float) -> float | None:
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class LeaderRow:
    """One law on the leaderboard.

    ``law`` is the name :func:`scalinglab.laws.get_law` accepts (a catalogue name or
    ``formula:...``), ``formula`` the form as written, ``source`` ``grammar`` or ``catalogue``.
    Errors are RMSE of log values (natural log, so 0.01 is about 1% relative error):
    ``nested`` the geometric mean over the rolling origins (and groups) inside the search data,
    ``in_fit`` on the search data when fitted on all of it, ``heldout`` on the user's holdout
    (NaN without one), both averaged over groups. ``params``: the fitted values (natural
    units) on the search data, of the only group (empty with several groups)."""

    law: str
    formula: str
    source: str
    n_params: int
    nested: float
    score: float
    in_fit: float = math.nan
    heldout: float = math.nan
    params: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("nested", "score", "in_fit", "heldout"):
            d[k] = _json_num(d[k])
        d["params"] = dict(self.params)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LeaderRow:
        return cls(
            law=str(d["law"]),
            formula=str(d["formula"]),
            source=str(d["source"]),
            n_params=int(d["n_params"]),
            nested=_num(d["nested"]),
            score=_num(d["score"]),
            in_fit=_num(d.get("in_fit")),
            heldout=_num(d.get("heldout")),
            params={str(k): float(v) for k, v in dict(d.get("params") or {}).items()},
        )


@dataclass(frozen=True)
class DiscoverResult:
    """A law search's outcome.

    ``leaderboard``: the laws no other law beats on both parameters and nested error (the
    Pareto front) in score order, plus the best catalogue law wherever it ranks, after the law
    the search returns, ``best``, the first row: the best score, or the best catalogue law when
    the best-scoring grammar form does not beat it significantly (``choice`` says which). ``n_candidates`` laws were planned, ``n_scored`` were scored
    before the budget ran out (``complete`` when all were), ``n_fits`` point fits took
    ``search_s`` seconds (``seconds`` in all, with the leaders' final fits)."""

    variables: tuple[str, ...]
    holdout: str | None
    groups: tuple[str, ...]
    leaderboard: tuple[LeaderRow, ...]
    best: str
    best_catalogue: str | None
    n_candidates: int
    n_scored: int
    complete: bool
    n_fits: int
    search_s: float
    seconds: float
    seed: int
    budget_s: float
    penalty: float
    workers: int
    #: why ``best`` is the law it is, when the best score was not kept (or was, narrowly)
    choice: str = ""

    @property
    def candidates_per_s(self) -> float:
        return self.n_scored / self.search_s if self.search_s > 0 else math.nan

    @property
    def fits_per_s(self) -> float:
        return self.n_fits / self.search_s if self.search_s > 0 else math.nan

    def row(self, law: str | None) -> LeaderRow | None:
        return next((r for r in self.leaderboard if r.law == law), None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["leaderboard"] = [r.to_dict() for r in self.leaderboard]
        d["variables"], d["groups"] = list(self.variables), list(self.groups)
        d["candidates_per_s"] = _json_num(self.candidates_per_s)
        d["fits_per_s"] = _json_num(self.fits_per_s)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DiscoverResult:
        return cls(
            variables=tuple(str(v) for v in d["variables"]),
            holdout=None if d.get("holdout") is None else str(d["holdout"]),
            groups=tuple(str(g) for g in d["groups"]),
            leaderboard=tuple(LeaderRow.from_dict(r) for r in d["leaderboard"]),
            best=str(d["best"]),
            best_catalogue=None if d.get("best_catalogue") is None else str(d["best_catalogue"]),
            n_candidates=int(d["n_candidates"]),
            n_scored=int(d["n_scored"]),
            complete=bool(d["complete"]),
            n_fits=int(d["n_fits"]),
            search_s=float(d["search_s"]),
            seconds=float(d["seconds"]),
            seed=int(d["seed"]),
            budget_s=float(d["budget_s"]),
            penalty=float(d["penalty"]),
            workers=int(d["workers"]),
            choice=str(d.get("choice", "")),
        )
