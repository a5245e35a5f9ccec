"""The law file ``discover`` saves: a text file every ``--law`` option accepts.

Format (``.law``; read by :func:`scalinglab.laws.registry.get_law` through
:func:`scalinglab.laws._saved.read_saved_law`): lines starting with ``#`` are comments (here:
where the law came from, its scores and fitted values); the first other non-blank line is the
law's registry name, a catalogue name (``chinchilla``) or a formula law's name
(``formula:E + A1/N^a1 + A2/D^a2``, optionally ``; {json overrides}``). The law's parameters,
bounds and starts are those the name implies (:mod:`scalinglab.laws.formula`).

A path ending in ``.toml`` gets the TOML law file of :mod:`scalinglab.laws.law_file` instead
(formula laws only: a catalogue law is already a name every command accepts).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from scalinglab.errors import DataError
from scalinglab.laws import formula, law_file
from scalinglab.laws._saved import SUFFIX
from scalinglab.laws.law_file import SUFFIX as TOML_SUFFIX
from scalinglab.laws.registry import get_law


def write_law_file(law: str, path: str | Path, comments: Sequence[str] = ()) -> Path:
    """Write law ``law`` (a name :func:`get_law` accepts; checked) to ``path`` with ``#``
    comment lines first. ``path`` must end in ``.law``."""
    p = Path(path)
    if p.suffix.lower() == TOML_SUFFIX:
        found = get_law(law)
        if not formula.is_formula(found.name):
            raise DataError(
                f"law file {str(p)!r}: the best law is the catalogue law {found.name!r}, which "
                f"has no formula file; use --law {found.name} or save it as best{SUFFIX}."
            )
        text = law_file.law_file_text(found)
        notes = "".join(f"# {c}\n" for c in comments for c in c.splitlines())
        p.write_text(notes + text, encoding="utf-8")
        return p
    if p.suffix.lower() != SUFFIX:
        raise DataError(
            f"law file {str(p)!r}: the name must end in {SUFFIX} or {TOML_SUFFIX} "
            f"(e.g. best{SUFFIX})."
        )
    name = get_law(law).name
    lines = [f"# {c}" for c in comments for c in c.splitlines()] + [name]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p
