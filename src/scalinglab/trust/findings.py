"""What ``diagnose`` finds: one :class:`Finding` per problem, gathered in a :class:`Diagnosis`
(the saved result of ``scalinglab diagnose``, with one ``to_dict``/``from_dict`` pair)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from scalinglab._version import RESULT_FORMAT
from scalinglab.fit.records import FrozenMap, jsonable
from scalinglab.fit.result import parse_result


@dataclass(frozen=True)
class Finding:
    """One problem: ``kind`` (e.g. ``inverse_scaling``), ``severity`` (``"warning"`` or
    ``"info"``), a message for people and the numbers behind it."""

    kind: str
    severity: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", FrozenMap(self.details))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(
            {
                "kind": self.kind,
                "severity": self.severity,
                "message": self.message,
                "details": dict(self.details),
            }
        )
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Finding:
        return cls(str(d["kind"]), str(d["severity"]), str(d["message"]), d.get("details") or {})


@dataclass(frozen=True)
class Diagnosis:
    """The findings of each group (``None`` for an ungrouped table), in order."""

    findings: tuple[tuple[str | None, Finding], ...] = ()

    kind = "diagnosis"

    def __iter__(self) -> Iterator[Finding]:
        return (f for _, f in self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def records(self) -> list[dict[str, Any]]:
        return [{"group": g, **f.as_dict()} for g, f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "format": RESULT_FORMAT, "findings": self.records()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Diagnosis:
        raw = parse_result(d, origin="diagnosis", kinds=(cls.kind,))
        return cls(tuple((r.get("group"), Finding.from_dict(r)) for r in raw["findings"]))
