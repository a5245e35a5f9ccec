"""A sweep, declared: the TOML file and the frozen :class:`SweepSpec` it becomes.

A sweep file has five tables (every key optional unless marked)::

    [sweep]   name*, data*, vocab_size*, seq_len*, seeds = [0], allow_repeat = false
    [design]  kind* = "isoflop" | "ladder"
              isoflop: budgets* (FLOP), n_per_budget = 5, spread = 4.0, fit (a Chinchilla fit
                       JSON, relative to the sweep file; default: the published parameters of
                       Hoffmann et al. 2022)
              ladder:  sizes (non-embedding N) or shapes ([[design.shapes]] n_layer, n_head,
                       d_model), tokens_per_param = 20 (D / N)
    [lr]      base = 3e-3, multipliers = [1.0] | values = [...]
    [shape]   head_dim = 16, d_multiple = 16, aspect_ratio = [4.0, 64.0], max_layers = 16,
              max_shape_error = 0.25
    [train]   batch_size, schedule, warmup_frac, decay_frac, min_lr_frac, weight_decay,
              grad_clip, eval_every, eval_tokens, device, compile, pos, tie_embeddings,
              mup_base_width, min_steps

Every problem is a :class:`SweepError` naming the file, the table and key, the value and the
fix; unknown keys get a did-you-mean. Units: budgets in FLOP, sizes in parameters (without
embeddings), tokens in tokens, learning rates per step.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from scalinglab.errors import ScalinglabError
from scalinglab.train.config import ModelConfig, TrainConfig


class SweepError(ScalinglabError):
    """A sweep file or sweep request is invalid, or a sweep cannot be carried out."""


@dataclass(frozen=True)
class ExplicitShape:
    """A model shape given by hand in a ladder: layers, heads and width."""

    n_layer: int
    n_head: int
    d_model: int


@dataclass(frozen=True)
class Design:
    """What to train. ``budgets`` in FLOP (isoflop), ``sizes`` in non-embedding parameters
    (ladder), ``tokens_per_param`` = D / N (ladder), ``spread``: the isoflop grid spans
    N*/spread .. N* spread in log space, ``fit``: a Chinchilla fit file centring the grid
    (``None``: Hoffmann et al. 2022's published law)."""

    kind: str
    budgets: tuple[float, ...] = ()
    n_per_budget: int = 5
    spread: float = 4.0
    fit: str | None = None
    sizes: tuple[float, ...] = ()
    shapes: tuple[ExplicitShape, ...] = ()
    tokens_per_param: float = 20.0


@dataclass(frozen=True)
class LRSweep:
    """Learning rates tried for every size: ``values`` if given, else ``base`` x ``multipliers``."""

    base: float = 3e-3
    multipliers: tuple[float, ...] = (1.0,)
    values: tuple[float, ...] = ()

    def rates(self) -> tuple[float, ...]:
        return self.values or tuple(self.base * m for m in self.multipliers)


@dataclass(frozen=True)
class ShapeRules:
    """How a parameter count becomes a shape: d_model a multiple of ``d_multiple``, heads of
    ``head_dim``, d_model / n_layer within ``aspect_ratio``, at most ``max_layers``; a match
    further than ``max_shape_error`` (relative) from the asked N is an error."""

    head_dim: int = 16
    d_multiple: int = 16
    aspect_ratio: tuple[float, float] = (4.0, 64.0)
    max_layers: int = 16
    max_shape_error: float = 0.25


def _defaults(*classes: type) -> dict[str, Any]:
    """Field defaults of the trainer's config classes: one source for the sweep file's."""
    return {f.name: f.default for c in classes for f in fields(c) if f.default is not MISSING}


_TRAIN = _defaults(TrainConfig, ModelConfig)


@dataclass(frozen=True)
class TrainDefaults:
    """Options passed to every run's TrainConfig (defaults: the trainer's own). ``batch_size``
    in sequences; ``eval_every`` in steps; ``eval_tokens`` in tokens; ``min_steps``: fewer
    optimizer steps is an error."""

    batch_size: int = 16
    schedule: str = _TRAIN["schedule"]
    warmup_frac: float = _TRAIN["warmup_frac"]
    decay_frac: float = _TRAIN["decay_frac"]
    min_lr_frac: float = _TRAIN["min_lr_frac"]
    weight_decay: float = _TRAIN["weight_decay"]
    grad_clip: float = _TRAIN["grad_clip"]
    eval_every: int = _TRAIN["eval_every"]
    eval_tokens: int = _TRAIN["eval_tokens"]
    device: str = _TRAIN["device"]
    compile: bool = _TRAIN["compile"]
    pos: str = _TRAIN["pos"]
    tie_embeddings: bool = _TRAIN["tie_embeddings"]
    mup_base_width: int | None = _TRAIN["mup_base_width"]
    min_steps: int = 20


@dataclass(frozen=True)
class SweepSpec:
    """A whole sweep (see the module docstring for the file format)."""

    name: str
    data: str
    vocab_size: int
    seq_len: int
    design: Design
    seeds: tuple[int, ...] = (0,)
    allow_repeat: bool = False
    lr: LRSweep = field(default_factory=LRSweep)
    shape: ShapeRules = field(default_factory=ShapeRules)
    train: TrainDefaults = field(default_factory=TrainDefaults)

    def to_dict(self) -> dict[str, Any]:
        """The nested tables of the sweep file (``None`` values left out)."""
        d = asdict(self)
        out: dict[str, Any] = {
            "sweep": {k: d[k] for k in ("name", "data", "vocab_size", "seq_len", "allow_repeat")}
        }
        out["sweep"]["seeds"] = list(self.seeds)
        for table in ("design", "lr", "shape", "train"):
            out[table] = _plain(d[table])
        if self.lr.values:
            del out["lr"]["multipliers"]
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, origin: str = "<dict>") -> SweepSpec:
        """Validate the tables of a sweep file; :class:`SweepError` names every problem."""
        from scalinglab.sweep.parse import parse_spec

        return parse_spec(d, origin)


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep TOML file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise SweepError(f"{p}: cannot read the sweep file ({exc.strerror}).") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"{p}: not valid TOML: {exc}.") from exc
    spec = SweepSpec.from_dict(raw, origin=str(p))
    fit = spec.design.fit
    if fit is not None and not Path(fit).is_absolute():  # relative to the sweep file
        spec = replace(spec, design=replace(spec.design, fit=str(p.parent / fit)))
    return spec


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items() if x is not None and x != ()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v
