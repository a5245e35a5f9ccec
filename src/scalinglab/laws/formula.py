"""Laws typed as formulas: ``formula_law("E + A/N^alpha + B/D^beta")`` is a :class:`Law`.

The text is parsed by Python's own parser (:mod:`ast`, which only builds a syntax tree and
never runs it) into a tree that is walked node by node into a sympy expression: only names,
numbers, ``+ - * / ^ **``, unary minus and the functions ``exp log sqrt tanh`` are accepted;
anything else (attributes, strings, calls of other functions, comparisons...) is a
:class:`FitError` that names the offending piece and its column. The Jacobian with respect to
every internal parameter is derived by sympy (``d f / d log p = p * d f / d p`` comes out of
the chain rule by differentiating in internal coordinates) and compiled once with
``sympy.lambdify(..., "numpy", cse=True)``, common subexpressions shared, to vectorised numpy
over parameter rows (S, 1) and data points (1, n).

Which names are what (defaults; ``variables=`` and ``params=`` override them):

* **variables** are the names that are runs columns: :data:`KNOWN_VARIABLES` (N, D, C, x, step,
  lr, batch...), or exactly the names given in ``variables=``. Each must be positive and finite.
* **exponents**: a parameter that appears in the exponent of a power (``N^alpha``,
  ``N^(-a*b)``) is fitted as is (linear coordinates), bounds [0, 5], starts 0.1, 0.3, 0.6, 1.0:
  write a decaying term as ``A/N^alpha`` or ``A*N^(-alpha)``, not ``A*N^alpha``.
* **scales**: every other parameter (an offset such as ``E``, a coefficient such as ``A``) is
  positive and fitted in log coordinates (``log=True``, lower bound 0). A coefficient starts at
  log values -5, 0, 5, ..., 25 (twelve decades, the Besiroglu et al. 2024 span plus the small
  ones); an *offset* (a parameter that is a term of the top-level sum on its own) starts at 10%,
  50% and 90% of the smallest target (the irreducible loss lies below every observed loss).
  A parameter that may be negative needs ``params={"b": {"log": False, "lower": None}}``.
* names that are neither a known column nor given in ``variables=`` are parameters; one that
  cannot be told apart from the others (``A*B/N``, or a runs column mistaken for a parameter)
  is rejected by a rank check of the Jacobian that names them.

``params={"E": {"lower": 1.0, "grid": [0.0, 0.5]}}`` overrides any of ``log``, ``lower``,
``upper``, ``grid`` (internal coordinates, as :class:`Param` documents), ``meaning`` and ``unit``;
the overrides may also carry a ``title`` and a ``citation`` (a law file's, :mod:`.law_file`).

The law's space is ``"log"`` (it returns ``log f``, the Jacobian divided by ``f``) unless
``target_space="linear"``; a non-positive prediction gives NaN, which the engine's objective
turns into an infinite loss (a start there loses, never wins), as for the built-in laws.

The law's name is ``formula:`` followed by the formula written out canonically (binary + and -
spaced, ``^`` for powers), plus ``; {json}`` of any overrides, so that
:func:`scalinglab.laws.registry.get_law` rebuilds the same law from a saved fit's name.
"""

from __future__ import annotations

import ast
import functools
import io
import json
import keyword
import math
import tokenize
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np

from scalinglab.errors import FitError
from scalinglab.laws.base import EXP_CLIP, FloatArray, Law, Param

PREFIX = "formula:"
# runs columns a formula may read without being told (units as the catalogue's laws use them)
KNOWN_VARIABLES = (
    "N", "D", "C", "x", "step", "lr", "batch", "unique_tokens", "M", "experts", "streams",
    "precision_bits",
)  # fmt: skip
FUNCTIONS = ("exp", "log", "sqrt", "tanh")
EXPONENT_GRID = (0.1, 0.3, 0.6, 1.0)
SCALE_GRID = (-5.0, 0.0, 5.0, 10.0, 15.0, 20.0, 25.0)
OFFSET_FRACTIONS = (0.1, 0.5, 0.9)
_OVERRIDE_KEYS = {"log", "lower", "upper", "grid", "meaning", "unit"}
SPEC_KEYS = ("variables", "params", "space", "title", "citation")
_ALLOWED_CHARS = set("+-*/^()., \t_") | set("0123456789")
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "^"}


def is_formula(name: str) -> bool:
    """True when ``name`` is a formula law's name or a formula (it contains an operator)."""
    return name.startswith(PREFIX) or any(c in name for c in "+-*/^()")


def formula_law(
    text: str,
    *,
    variables: Sequence[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    target_space: Literal["log", "linear"] | None = None,
    name: str | None = None,
) -> Law:
    """A :class:`Law` from a formula (see the module docstring for the defaults).

    ``name`` is a title for reports only: the law's registry name is always derived from the
    formula and overrides, so that a saved fit reloads it."""
    spec: dict[str, Any] = {}
    if variables is not None:
        spec["variables"] = list(variables)
    if params:
        spec["params"] = {k: dict(v) for k, v in params.items()}
    if target_space is not None:
        spec["space"] = target_space
    law = law_from_name(law_name(canonical(text), spec))
    return law if name is None else replace(law, title=name)


def law_name(formula: str, spec: Mapping[str, Any]) -> str:
    """The registry name of the law of a canonical formula with overrides ``spec``."""
    extra = f"; {json.dumps(dict(spec), sort_keys=True)}" if spec else ""
    return f"{PREFIX}{formula}{extra}"


def law_from_name(name: str) -> Law:
    """The law called ``name``: ``formula:TEXT[; {json overrides}]`` or a bare formula."""
    body = name[len(PREFIX) :] if name.startswith(PREFIX) else name
    text, _, extra = body.partition(";")
    try:
        spec = json.loads(extra) if extra.strip() else {}
    except json.JSONDecodeError as exc:
        raise FitError(
            f"formula law {name!r}: the overrides after ';' are not JSON ({exc})."
        ) from None
    if not isinstance(spec, dict) or set(spec) - set(SPEC_KEYS):
        raise FitError(
            f"formula law {name!r}: overrides must be a JSON object with keys "
            f"{', '.join(SPEC_KEYS)}."
        )
    return _cached(canonical(text), json.dumps(spec, sort_keys=True))


@functools.lru_cache(maxsize=256)
def _cached(formula: str, spec: str) -> Law:
    """One law per canonical formula and overrides (sympy's work is done once)."""
    return _build(formula, json.loads(spec))


# ----- parsing -----
def _check_chars(text: str) -> None:
    if not text.strip():
        raise FitError("empty formula: write one such as 'E + A/N^alpha + B/D^beta'.")
    for i, ch in enumerate(text):
        if not (ch.isalpha() and ch.isascii()) and ch not in _ALLOWED_CHARS:
            raise FitError(
                f"formula {text!r}: character {ch!r} at column {i + 1} is not allowed; use "
                f"names, numbers, + - * / ^ ( ) and the functions {', '.join(FUNCTIONS)}."
            )


def canonical(text: str) -> str:
    """The formula written out canonically: binary + and - spaced, nothing else, ``^`` for
    ``**`` (a :class:`FitError` for a character that no formula may contain)."""
    _check_chars(text)
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(text.replace("**", "^")).readline))
    except (tokenize.TokenError, SyntaxError) as exc:
        raise FitError(f"formula {text!r}: {exc}; check the parentheses.") from None
    out: list[str] = []
    prev_operand = False
    for t in toks:
        if t.type in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT):
            continue
        if t.string in "+-" and prev_operand:
            out.append(f" {t.string} ")
        else:
            out.append(t.string)
        prev_operand = t.type in (tokenize.NAME, tokenize.NUMBER) or t.string == ")"
    return "".join(out)


def parse(text: str) -> Any:
    """The sympy expression of ``text`` (a :class:`FitError` naming what is wrong and where)."""
    import sympy

    _check_chars(text)
    # '^' is written '**' for Python's parser; cols maps a column of src back to text's
    src, cols = "", []
    for i, ch in enumerate(text):
        src += "**" if ch == "^" else ch
        cols += [i, i] if ch == "^" else [i]
    cols.append(len(text))
    try:
        tree = ast.parse(src.strip() and f"({src})", mode="eval")
    except SyntaxError as exc:
        col = cols[max(0, min((exc.offset or 2) - 2, len(cols) - 1))] + 1
        raise FitError(
            f"formula {text!r}: syntax error at column {col} ({exc.msg}); write e.g. "
            "'E + A/N^alpha + B/D^beta'."
        ) from None
    symbols: dict[str, Any] = {}

    def where(node: ast.AST) -> str:
        c = getattr(node, "col_offset", 1) - 1
        return f"at column {cols[max(0, min(c, len(cols) - 1))] + 1}"

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            a, b = walk(node.left), walk(node.right)
            op = type(node.op)
            if op is ast.Add:
                return a + b
            if op is ast.Sub:
                return a - b
            if op is ast.Mult:
                return a * b
            if op is ast.Div:
                return a / b
            return a**b
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            v = walk(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            v = node.value
            return sympy.Integer(v) if isinstance(v, int) else sympy.Float(repr(v))
        if isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                raise FitError(f"formula {text!r}: function {node.id} {where(node)} needs (...).")
            if node.id.startswith("_") or keyword.iskeyword(node.id):
                raise FitError(f"formula {text!r}: name {node.id!r} {where(node)} is reserved.")
            return symbols.setdefault(node.id, sympy.Symbol(node.id, real=True))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            fn = node.func.id
            if fn not in FUNCTIONS:
                raise FitError(
                    f"formula {text!r}: unknown function {fn!r} {where(node)}; the functions "
                    f"are {', '.join(FUNCTIONS)}."
                )
            if len(node.args) != 1 or node.keywords:
                raise FitError(f"formula {text!r}: {fn}() {where(node)} takes one argument.")
            return getattr(sympy, fn)(walk(node.args[0]))
        raise FitError(
            f"formula {text!r}: {type(node).__name__.lower()} {where(node)} is not allowed; use "
            f"names, numbers, + - * / ^ and {', '.join(FUNCTIONS)}."
        )

    return walk(tree.body)


# ----- the law -----
def _kinds(expr: Any, params: Sequence[Any]) -> tuple[set[str], set[str]]:
    """(exponent parameters, offset parameters) of the expression, by shape."""
    import sympy

    exponents: set[str] = set()
    for pw in expr.atoms(sympy.Pow):
        exponents |= {s.name for s in pw.exp.free_symbols}
    terms = expr.args if isinstance(expr, sympy.Add) else (expr,)
    offsets = {t.name for t in terms if isinstance(t, sympy.Symbol)}
    names = {p.name for p in params}
    return exponents & names, offsets & names


def _build(formula: str, spec: Mapping[str, Any]) -> Law:
    import sympy

    expr = parse(formula)
    if expr.has(sympy.zoo, sympy.oo, -sympy.oo, sympy.nan):
        raise FitError(f"formula {formula!r} is not finite ({expr}): a division by zero or log(0)?")
    names = sorted(s.name for s in expr.free_symbols)
    given = spec.get("variables")
    if given is not None:
        missing = [v for v in given if v not in names]
        if missing:
            raise FitError(
                f"formula {formula!r}: variables {missing} do not appear in it; its names are "
                f"{', '.join(names)}."
            )
    seen = list(dict.fromkeys(_appearance(formula)))
    var_names = list(given) if given is not None else [n for n in seen if n in KNOWN_VARIABLES]
    if not var_names:
        raise FitError(
            f"formula {formula!r} reads no runs column: use one of {', '.join(KNOWN_VARIABLES)} "
            "or name the variables (variables=[...])."
        )
    syms = {s.name: s for s in expr.free_symbols}
    # order of appearance, scales first, then exponents (Chinchilla's own order, E A B alpha beta)
    order = [n for n in seen if n in syms and n not in var_names]
    if not order:
        raise FitError(
            f"formula {formula!r} has no parameter to fit: every name is a variable "
            f"({', '.join(var_names)})."
        )
    exps, offsets = _kinds(expr, [syms[n] for n in order])
    order = [n for n in order if n not in exps] + [n for n in order if n in exps]
    overrides = dict(spec.get("params", {}))
    unknown = set(overrides) - set(order)
    if unknown:
        raise FitError(
            f"formula {formula!r}: overrides name {sorted(unknown)}, not parameters; the "
            f"parameters are {', '.join(order)}."
        )
    params = tuple(_param(n, n in exps, n in offsets, overrides.get(n, {})) for n in order)
    space = spec.get("space", "log")
    if space not in ("log", "linear"):
        raise FitError(f"formula {formula!r}: target space {space!r}; use 'log' or 'linear'.")
    evaluate = _compile(formula, expr, params, [syms[v] for v in var_names], syms, space)
    data_offsets = tuple(
        p.name
        for p in params
        if p.name in offsets and "grid" not in overrides.get(p.name, {}) and p.log
    )

    def data_grid(X: Mapping[str, FloatArray], y: FloatArray) -> Mapping[str, Sequence[float]]:
        pos = np.asarray(y, dtype=float)
        pos = pos[np.isfinite(pos) & (pos > 0)]
        if not data_offsets or pos.size == 0:
            return {}
        lo = float(np.log(pos.min()))
        return {n: tuple(lo + math.log(f) for f in OFFSET_FRACTIONS) for n in data_offsets}

    law = Law(
        name=law_name(formula, spec),
        version="1",
        title=str(spec.get("title", f"formula law {formula}")),
        formula=formula,
        citation=str(spec.get("citation", "user formula (scalinglab.laws.formula)")),
        variables=tuple(var_names),
        params=params,
        evaluate=evaluate,
        space=space,
        positive_target=space == "log",
        data_grid=data_grid,
        paired_rows=True,
        notes="Parameters and starts inferred from the formula's shape (scalinglab.laws.formula).",
    )
    _check_identifiable(law)
    return law


def _check_identifiable(law: Law) -> None:
    """A :class:`FitError` when some parameters only ever act together (e.g. ``A*B/N``): the
    Jacobian, at two seeded random points (parameters near 1, variables over 1..1e4), has a
    null direction; the parameters with weight in it are named."""
    rng = np.random.default_rng(0)
    nulls = []
    for _ in range(2):
        X = {v: np.exp(rng.uniform(0.0, math.log(1e4), 64)) for v in law.variables}
        theta = np.array(
            [[rng.uniform(-1, 1) if p.log else rng.uniform(0.2, 0.8) for p in law.params]]
        )
        _, J = law.evaluate(theta, X)
        M = np.stack([np.broadcast_to(j, (1, 64))[0] for j in J], axis=1)
        norms = np.linalg.norm(M, axis=0)
        if not (np.all(np.isfinite(M)) and np.all(norms > 0)):
            return  # not finite or flat somewhere: inconclusive here, the fit will say
        _, sv, vt = np.linalg.svd(M / norms)
        if sv[-1] > 1e-10 * sv[0]:
            return
        nulls.append(vt[-1])
    names = [p.name for p, w in zip(law.params, nulls[-1], strict=True) if abs(w) > 1e-3]
    raise FitError(
        f"formula {law.formula!r}: parameters {', '.join(names)} cannot be identified (only a "
        "combination of them changes the prediction); merge them into one parameter, or, "
        "if one is a runs column, name the variables (e.g. "
        f"'{law.formula}; {{\"variables\": [...]}}')."
    )


def _appearance(formula: str) -> list[str]:
    toks = tokenize.generate_tokens(io.StringIO(formula).readline)
    return [t.string for t in toks if t.type == tokenize.NAME and t.string not in FUNCTIONS]


def _param(name: str, exponent: bool, offset: bool, over: Mapping[str, Any]) -> Param:
    bad = set(over) - _OVERRIDE_KEYS
    if bad:
        raise FitError(
            f"parameter {name!r}: unknown override keys {sorted(bad)}; use "
            f"{', '.join(sorted(_OVERRIDE_KEYS))}."
        )
    if exponent:
        base = Param(name, "exponent", "1", log=False, lower=0.0, upper=5.0, grid=EXPONENT_GRID)
    else:
        meaning = "offset (positive)" if offset else "coefficient (positive)"
        base = Param(name, meaning, "target unit", log=True, lower=0.0, grid=SCALE_GRID)
    log = bool(over.get("log", base.log))
    lower, upper = over.get("lower", base.lower), over.get("upper", base.upper)
    if log and lower is not None and lower < 0:
        raise FitError(f"parameter {name!r}: log=True needs a lower bound >= 0, got {lower}.")
    grid = over.get("grid", base.grid if log == base.log else (0.0,))
    return Param(
        name,
        str(over.get("meaning", base.meaning)),
        str(over.get("unit", base.unit)),
        log=log,
        lower=None if lower is None else float(lower),
        upper=None if upper is None else float(upper),
        grid=tuple(float(g) for g in grid),
    )


def _compile(
    formula: str,
    expr: Any,
    params: Sequence[Param],
    variables: Sequence[Any],
    syms: Mapping[str, Any],
    space: str,
) -> Any:
    """``evaluate`` of the law: f and its Jacobian in internal coordinates, compiled once."""
    import sympy

    internal = [sympy.Symbol(f"theta_{i}", real=True) for i in range(len(params))]
    subs = {
        syms[p.name]: (sympy.exp(t) if p.log else t) for p, t in zip(params, internal, strict=True)
    }
    g = expr.subs(subs)
    jac = [sympy.diff(g, t) for t in internal]
    for p, d in zip(params, jac, strict=True):
        if d.has(sympy.Derivative, sympy.Subs, sympy.zoo, sympy.nan):
            raise FitError(
                f"formula {formula!r} is not differentiable in {p.name!r} (d/d{p.name} = {d})."
            )
    fn = sympy.lambdify([*internal, *variables], [g, *jac], modules="numpy", cse=True, dummify=True)
    log_idx = [i for i, p in enumerate(params) if p.log]
    var_names = [v.name for v in variables]

    def evaluate(
        theta: FloatArray, X: Mapping[str, FloatArray]
    ) -> tuple[FloatArray, list[FloatArray]]:
        theta = np.array(theta, dtype=float, ndmin=2)
        if log_idx:  # exp(700) ~ 1e304: far-off starts must not overflow to inf
            theta[:, log_idx] = np.clip(theta[:, log_idx], -EXP_CLIP, EXP_CLIP)
        cols = [theta[:, i : i + 1] for i in range(theta.shape[1])]
        xs = [np.asarray(X[v], dtype=float) for v in var_names]
        xs = [x[None, :] if x.ndim == 1 else x for x in xs]
        shape = np.broadcast_shapes((theta.shape[0], 1), *(x.shape for x in xs))
        with np.errstate(all="ignore"):
            out = fn(*cols, *xs)
            f = np.broadcast_to(np.asarray(out[0], dtype=float), shape)
            J = [np.broadcast_to(np.asarray(j, dtype=float), shape) for j in out[1:]]
            if space == "log":
                fpos = np.where(f > 0, f, np.nan)  # non-positive predictions: NaN -> inf loss
                inv = 1.0 / fpos
                return np.log(fpos), [j * inv for j in J]
        return np.array(f), [np.array(j) for j in J]

    return evaluate
