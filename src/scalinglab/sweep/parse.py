"""Validation of a sweep file's tables into a :class:`~scalinglab.sweep.spec.SweepSpec`.

Every problem is collected (file, table and key, value, fix) and raised at once as one
:class:`~scalinglab.sweep.spec.SweepError`; unknown keys and tables get a did-you-mean
(:mod:`difflib`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any

from scalinglab.sweep.spec import (
    Design,
    ExplicitShape,
    LRSweep,
    ShapeRules,
    SweepError,
    SweepSpec,
    TrainDefaults,
)


def did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


_TABLES = ("sweep", "design", "lr", "shape", "train")
_SWEEP_KEYS = ("name", "data", "vocab_size", "seq_len", "seeds", "allow_repeat")
_DESIGN_KEYS: tuple[str, ...] = ("kind", "budgets", "n_per_budget", "spread", "fit", "sizes")
_DESIGN_KEYS += ("shapes", "tokens_per_param")
_KINDS = ("isoflop", "ladder")
_SCHEDULES = ("cosine", "wsd")
_POS = ("rope", "learned")


class _Parser:
    """Checks one sweep file, collecting every problem before raising."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.problems: list[str] = []

    def bad(self, where: str, text: str) -> None:
        self.problems.append(f"[{where}]: {text}")

    def table(self, raw: Mapping[str, Any], name: str, known: tuple[str, ...]) -> dict[str, Any]:
        t = raw.get(name, {})
        if not isinstance(t, Mapping):
            self.bad(name, f"must be a table, got {t!r}.")
            return {}
        for key in t:
            if key not in known:
                self.bad(
                    f"{name}.{key}",
                    f"unknown key{did_you_mean(key, list(known))}; known keys: {', '.join(known)}.",
                )
        return {k: v for k, v in t.items() if k in known}

    def number(
        self, t: dict[str, Any], where: str, key: str, default: Any, *, integer: bool = False
    ) -> Any:
        v = t.get(key, default)
        ok_type = isinstance(v, int) if integer else isinstance(v, int | float)
        if v is None or isinstance(v, bool) or not ok_type or not math.isfinite(v) or v <= 0:
            kind = "a positive integer" if integer else "a positive number"
            self.bad(f"{where}.{key}", f"must be {kind}, got {v!r}.")
            return default if default is not None else 1
        return v

    def numbers(
        self, t: dict[str, Any], where: str, key: str, *, integer: bool = False
    ) -> tuple[Any, ...]:
        v = t.get(key, [])
        if (
            not isinstance(v, list)
            or not all(
                isinstance(x, int | float)
                and not isinstance(x, bool)
                and math.isfinite(x)
                and x > 0
                for x in v
            )
            or (integer and not all(isinstance(x, int) for x in v))
        ):
            kind = "positive integers" if integer else "positive numbers"
            self.bad(f"{where}.{key}", f"must be a list of {kind}, got {v!r}.")
            return ()
        return tuple(float(x) if not integer else int(x) for x in v)

    def choice(
        self, t: dict[str, Any], where: str, key: str, default: str | None, options: tuple[str, ...]
    ) -> str:
        v = t.get(key, default)
        if v not in options:
            hint = did_you_mean(str(v), list(options)) if isinstance(v, str) else ""
            self.bad(f"{where}.{key}", f"must be one of {', '.join(options)}, got {v!r}{hint}.")
            return options[0]
        return str(v)

    def flag(self, t: dict[str, Any], where: str, key: str, default: bool) -> bool:
        v = t.get(key, default)
        if not isinstance(v, bool):
            self.bad(f"{where}.{key}", f"must be true or false, got {v!r}.")
            return default
        return v

    def text(self, t: dict[str, Any], where: str, key: str) -> str:
        v = t.get(key)
        if not isinstance(v, str) or not v.strip():
            self.bad(f"{where}.{key}", f"is required: a non-empty string, got {v!r}.")
            return "?"
        return v

    def spec(self, raw: Mapping[str, Any]) -> SweepSpec:
        for key in raw:
            if key not in _TABLES:
                self.bad(
                    key,
                    f"unknown table{did_you_mean(key, list(_TABLES))}; tables: {', '.join(_TABLES)}.",
                )
        s = self.table(raw, "sweep", _SWEEP_KEYS)
        name = self.text(s, "sweep", "name")
        if name != "?" and not all(c.isalnum() or c in "-_." for c in name):
            self.bad(
                "sweep.name",
                f"{name!r}: use letters, digits, '-', '_' and '.' only (it names a directory).",
            )
        seeds = tuple(int(x) for x in s.get("seeds", [0])) if _int_list(s.get("seeds", [0])) else ()
        if not seeds:
            self.bad(
                "sweep.seeds", f"must be a non-empty list of integers, got {s.get('seeds')!r}."
            )
        spec = SweepSpec(
            name=name,
            data=self.text(s, "sweep", "data"),
            vocab_size=self.number(s, "sweep", "vocab_size", None, integer=True),
            seq_len=self.number(s, "sweep", "seq_len", None, integer=True),
            seeds=seeds,
            allow_repeat=self.flag(s, "sweep", "allow_repeat", False),
            design=self.design(self.table(raw, "design", _DESIGN_KEYS)),
            lr=self.lr(self.table(raw, "lr", ("base", "multipliers", "values"))),
            shape=self.shape(self.table(raw, "shape", tuple(ShapeRules.__dataclass_fields__))),
            train=self.train(self.table(raw, "train", tuple(TrainDefaults.__dataclass_fields__))),
        )
        if self.problems:
            raise SweepError(
                f"{self.origin}: {len(self.problems)} problem(s) in the sweep file:\n  "
                + "\n  ".join(self.problems)
            )
        return spec

    def design(self, t: dict[str, Any]) -> Design:
        kind = self.choice(t, "design", "kind", None, _KINDS)
        fit = t.get("fit")
        if fit is not None and not isinstance(fit, str):
            self.bad("design.fit", f"must be the path of a Chinchilla fit JSON, got {fit!r}.")
            fit = None
        shapes = tuple(self.explicit_shape(i, x) for i, x in enumerate(t.get("shapes", [])))
        d = Design(
            kind=kind,
            budgets=self.numbers(t, "design", "budgets"),
            n_per_budget=self.number(t, "design", "n_per_budget", 5, integer=True),
            spread=self.number(t, "design", "spread", 4.0),
            fit=fit,
            sizes=self.numbers(t, "design", "sizes"),
            shapes=shapes,
            tokens_per_param=self.number(t, "design", "tokens_per_param", 20.0),
        )
        if kind == "isoflop" and not d.budgets:
            self.bad(
                "design.budgets",
                "an isoflop design needs budgets = [FLOP, ...], e.g. [1e12, 3e12].",
            )
        if kind == "isoflop" and (d.sizes or d.shapes):
            self.bad(
                "design", "sizes/shapes belong to a ladder; an isoflop design picks N from budgets."
            )
        if kind == "isoflop" and d.spread <= 1.0:
            self.bad(
                "design.spread",
                f"must be > 1 (the grid spans N*/spread .. N* spread), got {d.spread!r}.",
            )
        if kind == "ladder" and bool(d.sizes) == bool(d.shapes):
            self.bad(
                "design", "a ladder needs exactly one of sizes = [N, ...] or [[design.shapes]]."
            )
        if kind == "ladder" and (d.budgets or fit is not None):
            self.bad(
                "design", "budgets/fit belong to an isoflop design; a ladder uses tokens_per_param."
            )
        return d

    def explicit_shape(self, i: int, x: Any) -> ExplicitShape:
        where = f"design.shapes[{i}]"
        if not isinstance(x, Mapping):
            self.bad(where, f"must be a table with n_layer, n_head, d_model, got {x!r}.")
            return ExplicitShape(1, 1, 1)
        t = self.table({where: x}, where, ("n_layer", "n_head", "d_model"))
        sh = ExplicitShape(
            n_layer=self.number(t, where, "n_layer", None, integer=True),
            n_head=self.number(t, where, "n_head", None, integer=True),
            d_model=self.number(t, where, "d_model", None, integer=True),
        )
        if sh.d_model % sh.n_head:
            self.bad(
                where,
                f"d_model = {sh.d_model} is not divisible by n_head = {sh.n_head}; pick n_head among {_divisors(sh.d_model)}.",
            )
        elif (sh.d_model // sh.n_head) % 2:
            self.bad(
                where,
                f"head dimension d_model/n_head = {sh.d_model // sh.n_head} is odd; rotary embeddings need it even.",
            )
        return sh

    def lr(self, t: dict[str, Any]) -> LRSweep:
        if "multipliers" in t and "values" in t:
            self.bad("lr", "give multipliers (times base) or values, not both.")
        return LRSweep(
            base=self.number(t, "lr", "base", 3e-3),
            multipliers=self.numbers(t, "lr", "multipliers") if "multipliers" in t else (1.0,),
            values=self.numbers(t, "lr", "values"),
        )

    def shape(self, t: dict[str, Any]) -> ShapeRules:
        ar = t.get("aspect_ratio", [4.0, 64.0])
        if not (_num_list(ar) and len(ar) == 2 and 0 < ar[0] <= ar[1]):
            self.bad("shape.aspect_ratio", f"must be [low, high] with 0 < low <= high, got {ar!r}.")
            ar = [4.0, 64.0]
        rules = ShapeRules(
            head_dim=self.number(t, "shape", "head_dim", 16, integer=True),
            d_multiple=self.number(t, "shape", "d_multiple", 16, integer=True),
            aspect_ratio=(float(ar[0]), float(ar[1])),
            max_layers=self.number(t, "shape", "max_layers", 16, integer=True),
            max_shape_error=self.number(t, "shape", "max_shape_error", 0.25),
        )
        if rules.d_multiple % rules.head_dim:
            self.bad(
                "shape",
                f"d_multiple = {rules.d_multiple} must be a multiple of head_dim = {rules.head_dim} so that every width splits into whole heads.",
            )
        if rules.head_dim % 2:
            self.bad(
                "shape.head_dim",
                f"{rules.head_dim} is odd; rotary embeddings need an even head dimension.",
            )
        return rules

    def train(self, t: dict[str, Any]) -> TrainDefaults:
        d = TrainDefaults()
        fracs = {}
        for key in ("warmup_frac", "decay_frac", "min_lr_frac", "weight_decay"):
            v = t.get(key, getattr(d, key))
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v <= 1.0:
                self.bad(f"train.{key}", f"must be a number in [0, 1], got {v!r}.")
                v = getattr(d, key)
            fracs[key] = float(v)
        mup = t.get("mup_base_width")
        if mup is not None:
            mup = self.number(t, "train", "mup_base_width", None, integer=True)
        return TrainDefaults(
            batch_size=self.number(t, "train", "batch_size", d.batch_size, integer=True),
            schedule=self.choice(t, "train", "schedule", d.schedule, _SCHEDULES),
            grad_clip=self.number(t, "train", "grad_clip", d.grad_clip),
            eval_every=self.number(t, "train", "eval_every", d.eval_every, integer=True),
            eval_tokens=self.number(t, "train", "eval_tokens", d.eval_tokens, integer=True),
            device=self.text(t, "train", "device") if "device" in t else d.device,
            compile=self.flag(t, "train", "compile", d.compile),
            pos=self.choice(t, "train", "pos", d.pos, _POS),
            tie_embeddings=self.flag(t, "train", "tie_embeddings", d.tie_embeddings),
            mup_base_width=mup,
            min_steps=self.number(t, "train", "min_steps", d.min_steps, integer=True),
            **fracs,
        )


def _num_list(v: Any) -> bool:
    return isinstance(v, list) and all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in v
    )


def _int_list(v: Any) -> bool:
    return (
        isinstance(v, list)
        and bool(v)
        and all(isinstance(x, int) and not isinstance(x, bool) for x in v)
    )


def _divisors(n: int) -> str:
    return ", ".join(str(k) for k in range(1, n + 1) if n % k == 0 and k <= 64)


def parse_spec(raw: Mapping[str, Any], origin: str) -> SweepSpec:
    """The validated spec of a sweep file's tables (``origin`` names the file in messages)."""
    return _Parser(origin).spec(raw)
