"""Read a runs file as it is: CSV, Parquet, JSON or JSON lines, before any conversion.

Row numbers in messages are 1-based data rows (the CSV header does not count). Text files must be
UTF-8 (a byte-order mark is allowed); other bytes are reported by row, not by byte offset. A
header that names a column twice, or a CSV that is not comma-separated (read as one column), is
an error, never a silently renamed or merged column.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from scalinglab.data.validate import capped, rows_text
from scalinglab.errors import DataError

SUPPORTED_EXTENSIONS: tuple[str, ...] = (".csv", ".parquet", ".pq", ".json", ".jsonl", ".ndjson")
_SUPPORTED_TEXT = (
    ".csv, .parquet/.pq, .json (an array of objects, or JSON lines), .jsonl/.ndjson (JSON lines)"
)
_OTHER_SEPARATORS = {";": "';'", "\t": "tab", "|": "'|'"}


def read_table(path: Path) -> pd.DataFrame:
    """Read a runs file as it is, every CSV cell as a string (conversion happens later)."""
    name = path.name
    if not path.exists():
        raise DataError(f"{path}: no such file. Check the path, or pass a bundled dataset name.")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a runs file.")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise DataError(
            f"{name}: unknown file type {suffix or '(no extension)'!r}. "
            f"Supported: {_SUPPORTED_TEXT}."
        )
    if path.stat().st_size == 0:
        raise DataError(f"{name}: the file is empty. It needs a header and at least one row.")
    try:
        if suffix == ".csv":
            frame = _read_csv(path)
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = _read_json(path, lines=suffix in (".jsonl", ".ndjson"))
    except DataError:
        raise
    except (ValueError, OSError) as exc:
        # pandas' ParserError/EmptyDataError and pyarrow's ArrowInvalid derive from ValueError.
        kind = "CSV" if suffix == ".csv" else suffix.lstrip(".")
        raise DataError(f"{name}: cannot be read as {kind}: {exc}") from exc
    if len(frame) == 0:
        raise DataError(f"{name}: the file has no data rows.")
    check_header(frame.columns, name=name)
    return frame


def decode_utf8(path: Path, *, header: bool) -> str:
    """The file's text; non-UTF-8 bytes are an error naming the rows (or lines) they are on.

    ``header`` says that line 1 is a header, so that line k is data row k - 1.
    """
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    bad: list[str] = []
    first = ""
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            if not first:
                first = f"byte 0x{line[exc.start]:02x}"
            bad.append("header" if header and number == 1 else str(number - header))
    where = "rows" if header else "lines"
    raise DataError(
        f"{path.name}: not UTF-8 text: {where} {capped(bad)} hold bytes that are not UTF-8 "
        f"(the first: {first}). "
        "Save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)."
    )


def _read_csv(path: Path) -> pd.DataFrame:
    text = decode_utf8(path, header=True)
    header = next(csv.reader(io.StringIO(text)), [])
    check_header(header, name=path.name)
    if len(header) == 1:
        for sep, label in _OTHER_SEPARATORS.items():
            if sep in header[0]:
                raise DataError(
                    f"{path.name}: the header {header[0]!r} reads as one column: the file looks "
                    f"{label}-separated, but scalinglab reads comma-separated CSV. Save it with "
                    "commas (e.g. pandas: pd.read_csv(f, sep=';').to_csv(out, index=False))."
                )
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=True)


def check_header(columns: Any, *, name: str) -> None:
    """A column named twice is an error (pandas would rename the second 'N.1')."""
    names = [str(c) for c in columns]
    twice = [c for c, k in Counter(names).items() if k > 1]
    if twice:
        where = "; ".join(
            f"{c!r} at columns {', '.join(str(i + 1) for i, n in enumerate(names) if n == c)}"
            for c in twice
        )
        raise DataError(
            f"{name}: the header names a column more than once: {where}. Rename or remove the "
            "duplicates so that each column is read once."
        )


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _DuplicateKey(sorted({k for k in keys if keys.count(k) > 1}))
    return dict(pairs)


class _DuplicateKey(ValueError):
    def __init__(self, keys: list[str]) -> None:
        super().__init__(", ".join(repr(k) for k in keys))
        self.keys = keys


def _read_json(path: Path, *, lines: bool) -> pd.DataFrame:
    name = path.name
    text = decode_utf8(path, header=False)
    records: Any
    if not lines:
        try:
            records = json.loads(text, object_pairs_hook=_no_duplicate_keys)
        except _DuplicateKey as exc:
            raise DataError(
                f"{name}: an object names key {exc} more than once; each key must appear once."
            ) from None
        except (json.JSONDecodeError, RecursionError):
            lines = True  # not one document: try JSON lines before giving up
    if lines:
        records = _json_lines(name, text)
    if isinstance(records, dict) and all(isinstance(v, list) for v in records.values()):
        return pd.DataFrame(records)  # {"column": [values...]}
    if not isinstance(records, list):
        raise DataError(
            f"{name}: expected an array of objects or JSON lines, got {type(records).__name__}."
        )
    not_objects = [i for i, r in enumerate(records, start=1) if not isinstance(r, dict)]
    if not_objects:
        raise DataError(
            f"{name}: rows {rows_text(not_objects)} are not JSON objects. Each row must "
            'be an object such as {"N": 1e8, "D": 2e9, "loss": 3.1}.'
        )
    return pd.DataFrame.from_records(records)


def _json_lines(name: str, text: str) -> list[Any]:
    records: list[Any] = []
    bad: list[int] = []
    doubled: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line, object_pairs_hook=_no_duplicate_keys))
        except _DuplicateKey:
            doubled.append(number)
        except (json.JSONDecodeError, RecursionError):
            bad.append(number)
    if bad:
        raise DataError(
            f"{name}: lines {rows_text(bad)} are not valid JSON. Expected one JSON object per "
            "line (JSON lines) or a single array of objects."
        )
    if doubled:
        raise DataError(
            f"{name}: lines {rows_text(doubled)} name a key more than once; each key must "
            "appear once per object."
        )
    return records
