"""Reading a saved law file (``.law``, written by ``scalinglab discover``): ``#`` comment
lines, then one line with the law's registry name (see
:mod:`scalinglab.discover.lawfile` for the format)."""

from __future__ import annotations

from pathlib import Path

from scalinglab.errors import FitError

SUFFIX = ".law"


def is_saved_law(name: str) -> bool:
    """True when ``name`` names a law file (it ends in ``.law``)."""
    return name.lower().endswith(SUFFIX)


def read_saved_law(path: str) -> str:
    """The law name stored in the law file at ``path`` (a :class:`FitError` naming the file
    when it cannot be read or holds no law)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FitError(
            f"law file {path!r} cannot be read ({exc}); give a file written by "
            "`scalinglab discover --out FILE.law`, or a law name."
        ) from None
    names = [s for s in (line.strip() for line in text.splitlines()) if s and s[0] != "#"]
    if len(names) != 1:
        raise FitError(
            f"law file {path!r}: expected one line with a law name (and # comments), found "
            f"{len(names)}; write e.g. 'formula:E + A1/N^a1'."
        )
    if is_saved_law(names[0]):
        raise FitError(f"law file {path!r} names another law file ({names[0]!r}); give a law.")
    return names[0]
