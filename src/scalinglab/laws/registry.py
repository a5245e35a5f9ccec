"""Discovery of laws: every module of :mod:`scalinglab.laws` that defines ``LAW`` is one.

Adding a law is adding one module; nothing else needs to change. Modules are imported on the
first lookup, not when the package is imported.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import pkgutil

from scalinglab.errors import FitError
from scalinglab.laws import _saved, formula, law_file
from scalinglab.laws.base import Law

# formula, law_file: laws built from text or a TOML file (get_law)
_NOT_LAWS = {"base", "registry", "formula", "law_file"}


@functools.cache
def _catalogue() -> dict[str, Law]:
    import scalinglab.laws as pkg

    laws: dict[str, Law] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name in _NOT_LAWS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"scalinglab.laws.{info.name}")
        law = getattr(module, "LAW", None)
        if isinstance(law, Law):
            laws[law.name] = law
    return dict(sorted(laws.items()))


def list_laws() -> list[Law]:
    return list(_catalogue().values())


def get_law(name: str | Law) -> Law:
    """The law called ``name`` (a registered law, a formula, or a TOML law file ending in
    ``.toml``); a :class:`FitError` naming the closest ones if unknown."""
    if isinstance(name, Law):
        return name
    laws = _catalogue()
    if name in laws:
        return laws[name]
    if law_file.is_law_file(name):  # checked before formulas: a path may hold '/' or '-'
        return law_file.read_law_file(name)
    if _saved.is_saved_law(name):  # a law file written by `scalinglab discover --out F.law`
        return get_law(_saved.read_saved_law(name))
    if formula.is_formula(name):  # "formula:E + A/N^alpha" or a bare formula (cached)
        return formula.law_from_name(name)
    close = difflib.get_close_matches(name, list(laws), n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise FitError(
        f"unknown law {name!r}.{hint} Known laws: {', '.join(laws)} (see `scalinglab laws list`)."
    )
