"""The grammar of candidate laws that ``scalinglab discover`` searches.

A candidate is an optional offset ``E`` plus a sum of *atoms*, each a small positive, decreasing
function of one variable, of a product or ratio of two, or of two variables together:

========  =========================================  ============================================
atom      formula (parameter names get the atom's    source of the form
          position as a suffix: ``A1``, ``a1``...)
========  =========================================  ============================================
pow       ``A/v^a``                                   Hestness et al. 2017 (1712.00409); one term
                                                      of Hoffmann et al. 2022 (2203.15556) eq. 10
exp       ``A*exp(-v/s)``                             exponential saturation (Gadre et al. 2024,
                                                      2403.08540, eq. 5 in its own variable)
sat       ``A/(1 + (v/s)^a)``                         a logistic step in log v (saturation)
brk       ``A/v^a*(1 + v/d)^(-c)``                    broken power law with one break, smoothness
                                                      fixed (Caballero et al. 2022, 2210.14891)
log       ``A/log(v)^a``                              a power of log v (one-variable searches,
                                                      every v > 1; see below)
inter     ``A/(N^a*D^b)``                             a product law in two variables
sumpow    ``(A/N^a + B/D^b)^c``                       Kaplan et al. 2020 (2001.08361) eq. 1.5,
                                                      exponents free
kaplan    ``(A/N^a + B/D)^c``                         Kaplan et al. 2020 eq. 1.5 reparametrised:
                                                      A = N_c^(a_N/a_D), a = a_N/a_D, B = D_c
========  =========================================  ============================================

``v`` is a variable, or with two or more variables a product ``(N*D)`` (compute, C = 6ND up to
the constant) or a ratio ``(D/N)``, ``(N/D)`` (tokens per parameter, Gadre et al. 2024's M), for
the ``pow`` atom. Candidates have at most ``max_terms`` atoms (three only for sums of ``pow``
atoms with an offset, which covers Chinchilla plus a compute term); two-variable atoms stand
alone or with the offset. The catalogue's own laws are seeds that the search always scores
first (:func:`scalinglab.discover.search.catalogue_laws`).

The ``log`` atom is offered only when the search has one variable (a learning curve, a metric
against x). Measured on overtraining_models (N, D; the two largest model sizes held out): the
forms with ``A/log(N)^a`` and ``A/log(D)^a`` won the in-data evidence by 2.4 standard errors
over Chinchilla and extrapolated to 17x larger models 1.8x worse than the catalogue's best law
(``A/log(N/s)^a``, with a scale so that the units of N do not matter, did the same). A power of
log N is a power law whose exponent a/log N shrinks as N grows, a slow-down that the published
laws of model size and data (Kaplan et al. 2020, Hoffmann et al. 2022, Muennighoff et al. 2023,
Gadre et al. 2024) do not show and that a few hundred million parameters cannot test.

Starting points are made for each atom from the data (its parameters put the term at a
fraction of the median target at the variable's typical value), so that a candidate's starts
are on the data's scale whatever its units; a candidate's grid is the product of its atoms'
(and the offset's) starts, thinned to ``cap`` rows by a seeded draw when larger.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scalinglab.laws.base import FloatArray, Law

_LOG_CLIP = 700.0  # exp(700) ~ 1e304: a start's scale never overflows
ATOM_KINDS = ("pow", "exp", "sat", "brk", "log", "inter", "sumpow", "kaplan")
_PAIR_KINDS = ("inter", "sumpow", "kaplan")  # atoms of two variables (first two of vars)
_SINGLE_KINDS = ("exp", "sat", "brk", "log")  # atoms of one plain variable
#: a variable may not be called like a parameter of the grammar: ``E`` or one of these
#: letters followed by digits (``A1``, ``a2``...)
PARAM_LETTERS = ("A", "B", "a", "b", "c", "d", "s")


@dataclass(frozen=True)
class Atom:
    """One term of a candidate: ``kind`` of :data:`ATOM_KINDS` over ``num`` / ``den``
    (a variable is ``num=("N",)``; a product ``num=("N", "D")``; a ratio ``num=("D",),
    den=("N",)``; the two-variable atoms read ``num`` as their two variables)."""

    kind: str
    num: tuple[str, ...]
    den: tuple[str, ...] = ()

    @property
    def var(self) -> str:
        """The variable expression as written in a formula."""
        if not self.den and len(self.num) == 1:
            return self.num[0]
        if not self.den:
            return "(" + "*".join(self.num) + ")"
        return f"({'*'.join(self.num)}/{'*'.join(self.den)})"

    def text(self, i: int) -> str:
        v, (p, q) = self.var, self.num[:2] if self.kind in _PAIR_KINDS else ("", "")
        return {
            "pow": f"A{i}/{v}^a{i}",
            "exp": f"A{i}*exp(-{v}/s{i})",
            "sat": f"A{i}/(1 + ({v}/s{i})^a{i})",
            "brk": f"A{i}/{v}^a{i}*(1 + {v}/d{i})^(-c{i})",
            "log": f"A{i}/log({v})^a{i}",
            "inter": f"A{i}/({p}^a{i}*{q}^b{i})",
            "sumpow": f"(A{i}/{p}^a{i} + B{i}/{q}^b{i})^c{i}",
            "kaplan": f"(A{i}/{p}^a{i} + B{i}/{q})^c{i}",
        }[self.kind]

    @property
    def n_params(self) -> int:
        return {"pow": 2, "exp": 2, "sat": 3, "brk": 4, "log": 2, "inter": 3}.get(self.kind, 4)

    def values(self, X: Mapping[str, FloatArray]) -> FloatArray:
        """The atom's variable expression on the data (products and ratios multiplied out)."""
        out = np.ones_like(np.asarray(X[self.num[0]], dtype=float))
        for n in self.num:
            out = out * np.asarray(X[n], dtype=float)
        for d in self.den:
            out = out / np.asarray(X[d], dtype=float)
        return out

    def starts(self, i: int, X: Mapping[str, FloatArray], yref: float) -> list[dict[str, float]]:
        """Starting points (natural values) for the atom's parameters, on the data's scale."""
        if self.kind in _PAIR_KINDS:
            return _pair_starts(self.kind, i, _lgm(X[self.num[0]]), _lgm(X[self.num[1]]), yref)
        v = self.values(X)
        lgm, ly = _lgm(v), math.log(yref)
        qs = [float(np.quantile(v, q)) for q in (0.1, 0.25, 0.5, 0.75, 0.9)]
        out: list[dict[str, float]] = []
        if self.kind == "pow":
            for a, f in itertools.product((0.1, 0.3, 0.6, 1.0), (0.1, 0.5)):
                out.append({f"A{i}": _exp(ly + math.log(f) + a * lgm), f"a{i}": a})
        elif self.kind == "exp":
            for s, f in itertools.product((qs[0], qs[2], qs[4]), (0.1, 0.5)):
                out.append({f"A{i}": _exp(ly + math.log(f) + qs[2] / s), f"s{i}": s})
        elif self.kind == "sat":
            for s, a in itertools.product((qs[1], qs[2], qs[3]), (0.5, 2.0)):
                out.append({f"A{i}": yref, f"s{i}": s, f"a{i}": a})
        elif self.kind == "brk":
            for a, c, d in itertools.product((0.1, 0.5), (0.3, 1.0), (qs[1], qs[3])):
                la = ly + math.log(0.3) + a * lgm + c * math.log1p(math.exp(lgm) / d)
                out.append({f"A{i}": _exp(la), f"a{i}": a, f"c{i}": c, f"d{i}": d})
        else:  # log
            llg = math.log(max(lgm, 1e-12))
            for a, f in itertools.product((0.5, 1.0, 2.0, 4.0), (0.1, 0.5)):
                out.append({f"A{i}": _exp(ly + math.log(f) + a * llg), f"a{i}": a})
        return out


def _pair_starts(kind: str, i: int, l1: float, l2: float, yref: float) -> list[dict[str, float]]:
    ly = math.log(yref)
    out: list[dict[str, float]] = []
    if kind == "inter":
        for a, b, f in itertools.product((0.1, 0.3, 0.6), (0.1, 0.3, 0.6), (0.1, 0.5)):
            out.append({f"A{i}": _exp(ly + math.log(f) + a * l1 + b * l2), f"a{i}": a, f"b{i}": b})
        return out
    bs = (0.2, 0.5, 1.0) if kind == "sumpow" else (1.0,)
    cs = (0.3, 1.0) if kind == "sumpow" else (0.05, 0.1, 0.3)
    for c, a, b in itertools.product(cs, (0.2, 0.5, 1.0), bs):
        inner = math.log(0.5) + ly / c  # each inner term about half of y^(1/c)
        row = {f"A{i}": _exp(inner + a * l1), f"a{i}": a, f"B{i}": _exp(inner + b * l2)}
        out.append({**row, f"c{i}": c} if kind == "kaplan" else {**row, f"b{i}": b, f"c{i}": c})
    return out


def _lgm(v: FloatArray) -> float:
    """log of the geometric mean of positive values."""
    return float(np.mean(np.log(np.asarray(v, dtype=float))))


def _exp(x: float) -> float:
    return math.exp(min(max(x, -_LOG_CLIP), _LOG_CLIP))


@dataclass(frozen=True)
class Candidate:
    """A law the search scores: a grammar form (``atoms``, ``offset``) or a catalogue law
    (``catalogue`` is its registry name). ``law_name`` is what :func:`get_law` accepts."""

    law_name: str
    n_params: int
    atoms: tuple[Atom, ...] = ()
    offset: bool = False
    catalogue: str | None = None

    @property
    def source(self) -> str:
        return "catalogue" if self.catalogue else "grammar"

    def formula(self) -> str:
        if self.catalogue:
            return self.catalogue
        return formula_text(self.atoms, self.offset)

    def starts(
        self, law: Law, X: Mapping[str, FloatArray], y: FloatArray, *, cap: int, seed: int
    ) -> FloatArray | None:
        """The start grid (internal coordinates, rows in ``law.params`` order), or ``None`` for a
        catalogue law (its own grid is used). At most ``cap`` rows, drawn with a generator
        seeded by ``seed`` and the formula (the same rows whatever the order of the search)."""
        if self.catalogue:
            return None
        yref = float(np.median(y))
        axes: list[list[dict[str, float]]] = [
            a.starts(i + 1, X, yref) for i, a in enumerate(self.atoms)
        ]
        if self.offset:
            ymin = float(np.min(y))
            axes.insert(0, [{"E": f * ymin} for f in (0.1, 0.5, 0.9)])
        combos = list(itertools.product(*axes))
        if len(combos) > cap:
            rng = np.random.default_rng([seed, zlib.crc32(self.law_name.encode())])
            pick = np.sort(rng.choice(len(combos), size=cap, replace=False))
            combos = [combos[j] for j in pick]
        rows = []
        for combo in combos:
            merged: dict[str, float] = {}
            for part in combo:
                merged.update(part)
            rows.append(law.to_internal(merged))
        out: FloatArray = np.unique(np.array(rows, dtype=float), axis=0)
        return out


def formula_text(atoms: Sequence[Atom], offset: bool) -> str:
    terms = (["E"] if offset else []) + [a.text(i + 1) for i, a in enumerate(atoms)]
    return " + ".join(terms)


def atoms_for(variables: Sequence[str], X: Mapping[str, FloatArray]) -> list[Atom]:
    """Every atom the data allow: ``pow`` of each variable and (two or more variables) of the
    products and ratios of the first two; ``exp``, ``sat``, ``brk`` of each variable; ``log``
    of a single variable above 1 everywhere; the two-variable atoms of the first two."""
    out = [Atom("pow", (v,)) for v in variables]
    if len(variables) >= 2:
        p, q = variables[0], variables[1]
        out += [Atom("pow", (p, q)), Atom("pow", (q,), (p,)), Atom("pow", (p,), (q,))]
    for kind in _SINGLE_KINDS:
        for v in variables:
            if kind == "log" and (len(variables) > 1 or not np.all(np.asarray(X[v]) > 1.0)):
                continue
            out.append(Atom(kind, (v,)))
    if len(variables) >= 2:
        out += [Atom(k, (variables[0], variables[1])) for k in _PAIR_KINDS]
    return out


def grammar(
    variables: Sequence[str], X: Mapping[str, FloatArray], *, max_terms: int = 2
) -> list[tuple[tuple[Atom, ...], bool]]:
    """The grammar's forms as (atoms, offset), simplest first (by number of parameters, then
    by formula text): every single atom and every pair of distinct single-term atoms, with and
    without the offset; with ``max_terms >= 3``, sums of three ``pow`` atoms with the offset;
    the two-variable atoms alone, with the offset only."""
    atoms = atoms_for(variables, X)
    single = [a for a in atoms if a.kind not in _PAIR_KINDS]
    pair = [a for a in atoms if a.kind in _PAIR_KINDS]
    forms: list[tuple[tuple[Atom, ...], bool]] = []
    for n in range(1, min(max_terms, 2) + 1):
        for combo in itertools.combinations(single, n):
            forms += [(combo, False), (combo, True)]
    if max_terms >= 3:
        pows = [a for a in single if a.kind == "pow"]
        forms += [(c, True) for c in itertools.combinations(pows, 3)]
    forms += [((a,), off) for a in pair for off in (False, True)]
    return sorted(forms, key=lambda f: (_k(f), formula_text(*f)))


def _k(form: tuple[tuple[Atom, ...], bool]) -> int:
    return sum(a.n_params for a in form[0]) + int(form[1])
