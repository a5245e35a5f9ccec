"""Law files: a formula law (:mod:`.formula`) written down as a small TOML file.

``--law my_law.toml`` works wherever a law name does (``fit``, ``backtest``, ``report``,
``laws show``); :func:`scalinglab.laws.registry.get_law` reads the file. A law file::

    name = "Chinchilla, approach 3"                  # optional: a title for reports
    formula = "E + A/N^alpha + B/D^beta"             # required
    citation = "Hoffmann et al. 2022, arXiv:2203.15556, eq. 10"   # optional
    variables = ["N", "D"]                           # optional: else the known runs columns
    target_space = "log"                             # optional: "log" (default) or "linear"

    [params.E]                                       # optional, one table per parameter
    meaning = "irreducible loss"
    unit = "nats per token"
    log = true                                       # fitted as log E (then lower >= 0)
    lower = 0.0                                      # bounds on the value itself
    upper = 10.0
    grid = [-1.0, 0.0, 1.0]                          # starts, internal coordinates (log E)

Every key is checked: an unknown key, a value of the wrong type, a bound that is not a number
or not below the upper one, a grid value outside the bounds and a parameter that the formula
does not have are each a :class:`FitError` naming the file, the key, the value and the fix.

The law read is the formula law itself, so a saved fit records the formula and the file's
settings in its law name (``formula:...; {json}``) and reloads without the file.
:func:`law_file_text` writes the file of a formula law back (the settings it was given as
keys, the defaults inferred from the formula as comments), so that reading the text gives
the same law. The TOML written is the small subset these files need (strings, numbers,
booleans, arrays, ``[params.NAME]`` tables); strings are escaped as TOML's basic strings.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from scalinglab.errors import FitError
from scalinglab.laws import formula
from scalinglab.laws.base import Law, Param

SUFFIX = ".toml"
# file key -> (key of the formula law's overrides, what the value must be)
_TOP = {
    "formula": ("", 'a string such as "E + A/N^alpha + B/D^beta"'),
    "name": ("title", "a string (a title for reports)"),
    "citation": ("citation", "a string (authors, year, arXiv id, equation)"),
    "variables": ("variables", 'an array of runs column names, e.g. ["N", "D"]'),
    "target_space": ("space", '"log" or "linear"'),
    "params": ("params", "tables [params.NAME], one per parameter"),
}
_PARAM = {
    "meaning": "a string",
    "unit": "a string",
    "log": "true or false",
    "lower": "a number",
    "upper": "a number",
    "grid": "a non-empty array of numbers (internal coordinates: log of the value if log)",
}


def is_law_file(name: str) -> bool:
    """True when ``name`` names a law file (ends in ``.toml``, any case)."""
    return name.strip().lower().endswith(SUFFIX)


def read_law_file(path: str | Path) -> Law:
    """The formula law a TOML law file describes (a :class:`FitError` naming the file, key,
    value and fix for anything wrong in it)."""
    where = f"law file {str(path)!r}"
    text, spec = _read_spec(Path(path), where)
    try:
        law = formula.law_from_name(formula.law_name(text, spec))
    except FitError as exc:
        raise FitError(f"{where}: {exc}") from None
    _check_grids(law, spec.get("params", {}), where)
    return law


def _read_spec(path: Path, where: str) -> tuple[str, dict[str, Any]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FitError(f"{where}: no such file; give the path of a TOML law file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FitError(f"{where}: cannot be read ({exc}).") from None
    except tomllib.TOMLDecodeError as exc:
        raise FitError(f"{where}: not valid TOML ({exc}); fix the line it names.") from None
    for key, value in data.items():
        if key not in _TOP:
            raise FitError(
                f"{where}: unknown key {key!r} (= {_show(value)}); the keys are "
                f"{', '.join(_TOP)}. Remove or rename it."
            )
    if "formula" not in data:
        raise FitError(
            f"{where}: no 'formula' key; add one, e.g. formula = \"E + A/N^alpha + B/D^beta\"."
        )
    spec: dict[str, Any] = {}
    for key, value in data.items():
        if key == "params":
            params = _params(value, where)
            if params:
                spec["params"] = params
            continue
        _check_top(key, value, where)
        if key != "formula":
            spec[_TOP[key][0]] = value
    try:
        text = formula.canonical(data["formula"])
    except FitError as exc:
        raise FitError(f"{where}: key 'formula': {exc}") from None
    return text, spec


def _check_top(key: str, value: Any, where: str) -> None:
    ok = isinstance(value, str) and bool(value.strip())
    if key == "variables":
        ok = (
            isinstance(value, list)
            and bool(value)
            and all(isinstance(v, str) and v.isidentifier() for v in value)
        )
    elif key == "target_space":
        ok = value in ("log", "linear")
    if not ok:
        raise FitError(f"{where}: key {key!r} = {_show(value)} must be {_TOP[key][1]}.")


def _params(value: Any, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise FitError(
            f"{where}: key 'params' = {_show(value)} must be {_TOP['params'][1]}, e.g. "
            "[params.E] with lower = 0.0 on the next line."
        )
    out: dict[str, dict[str, Any]] = {}
    for name, table in value.items():
        for k, v in table.items():
            if k not in _PARAM:
                raise FitError(
                    f"{where}: unknown key {k!r} (= {_show(v)}) in [params.{name}]; the keys "
                    f"are {', '.join(_PARAM)}. Remove or rename it."
                )
            if not _valid(k, v):
                raise FitError(f"{where}: key params.{name}.{k} = {_show(v)} must be {_PARAM[k]}.")
        lo, hi = table.get("lower"), table.get("upper")
        if lo is not None and hi is not None and not lo < hi:
            raise FitError(
                f"{where}: [params.{name}] lower = {lo!r} is not below upper = {hi!r}; "
                "swap or fix them."
            )
        if table:  # an empty table overrides nothing
            out[name] = dict(table)
    return out


def _valid(key: str, value: Any) -> bool:
    def number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool) and not math.isnan(v)

    if key in ("meaning", "unit"):
        return isinstance(value, str)
    if key == "log":
        return isinstance(value, bool)
    if key == "grid":
        return (
            isinstance(value, list)
            and bool(value)
            and all(number(g) and math.isfinite(g) for g in value)
        )
    return number(value)


def _check_grids(law: Law, overrides: Mapping[str, Mapping[str, Any]], where: str) -> None:
    """Each grid given in the file lies within its parameter's bounds (internal coordinates)."""
    for name, table in overrides.items():
        if "grid" not in table:
            continue
        p = law.param(name)
        lo, hi = p.internal_bounds()
        bad = [g for g in p.grid if not lo <= g <= hi]
        if bad:
            coords = "log of the value" if p.log else "the value"
            raise FitError(
                f"{where}: params.{name}.grid has {bad} outside the bounds [{lo:g}, {hi:g}] "
                f"({coords}, as log = {str(p.log).lower()}); move the starts inside the bounds."
            )


def _show(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# ----- writing -----
def law_file_text(law: Law) -> str:
    """The TOML law file of a formula law: reading it back gives the same law (same name).
    Settings the law was given are keys; the values inferred from the formula are comments.
    A :class:`FitError` for a law that is not a formula law."""
    text, spec = spec_of(law)
    lines = ["# scalinglab law file: use it with --law FILE.toml (scalinglab.laws.law_file)"]
    if "title" in spec:
        lines.append(f"name = {_toml(spec['title'])}")
    lines.append(f"formula = {_toml(text)}")
    if "citation" in spec:
        lines.append(f"citation = {_toml(spec['citation'])}")
    variables = spec.get("variables")
    lines.append(
        f"variables = {_toml(variables)}"
        if variables is not None
        else f"# variables = {_toml(list(law.variables))}  (inferred from the formula)"
    )
    lines.append(
        f"target_space = {_toml(spec['space'])}"
        if "space" in spec
        else f"# target_space = {_toml(law.space)}  (the default)"
    )
    given = spec.get("params", {})
    # offsets without a grid start from the data (formula.OFFSET_FRACTIONS of the least target)
    from_data = set(law.data_grid({}, np.ones(1))) if law.data_grid is not None else set()
    for p in law.params:
        lines += ["", f"[params.{p.name}]", *_param_lines(p, given.get(p.name, {}))]
        if p.name in from_data:
            lines[-1] += "; the fit starts from the data instead"
    return "\n".join(lines) + "\n"


def _param_lines(p: Param, given: Mapping[str, Any]) -> list[str]:
    inferred = {
        "meaning": p.meaning,
        "unit": p.unit,
        "log": p.log,
        "lower": p.lower,
        "upper": p.upper,
        "grid": list(p.grid),
    }
    out = []
    for key in _PARAM:
        if key in given:
            out.append(f"{key} = {_toml(_as_read(key, given[key]))}")
        elif inferred[key] is not None:
            out.append(f"# {key} = {_toml(inferred[key])}  (inferred)")
    return out


def _as_read(key: str, value: Any) -> Any:
    """An override as a law file states it: the formula law accepts some values a file cannot
    hold (None: no bound; a non-string meaning; 0/1 for log), written as their equivalents."""
    if key in ("lower", "upper") and value is None:
        return -math.inf if key == "lower" else math.inf
    if key in ("meaning", "unit") and not isinstance(value, str):
        return str(value)
    if key == "log" and not isinstance(value, bool):
        return bool(value)
    return value


def write_law_file(law: Law, path: str | Path) -> Path:
    """Write :func:`law_file_text` of ``law`` to ``path`` (UTF-8); returns the path."""
    out = Path(path)
    out.write_text(law_file_text(law), encoding="utf-8")
    return out


def spec_of(law: Law) -> tuple[str, dict[str, Any]]:
    """(canonical formula, overrides) of a formula law, as its name records them."""
    if not law.name.startswith(formula.PREFIX):
        raise FitError(
            f"law {law.name!r} is not a formula law; only a formula law (e.g. "
            "'E + A/N^alpha') can be written as a law file."
        )
    text, _, extra = law.name[len(formula.PREFIX) :].partition(";")
    return text.strip(), (json.loads(extra) if extra.strip() else {})


def _toml(value: Any) -> str:
    """A TOML value: basic strings escaped, floats as Python's repr (valid TOML), arrays."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return '"' + "".join(_ESCAPES.get(c, _escape(c)) for c in value) + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise FitError(f"cannot write {value!r} to a law file: not a string, number or array.")


_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _escape(c: str) -> str:
    # other control characters (U+0000-U+001F, U+007F) are written as a \\u escape with four
    # hex digits, as TOML basic strings require
    return f"\\u{ord(c):04X}" if ord(c) < 0x20 or ord(c) == 0x7F else c
