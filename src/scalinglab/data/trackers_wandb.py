"""Read Weights & Biases runs: offline run folders, or a history file downloaded from the UI.

**Offline run folders** (``wandb/offline-run-*``, written by ``wandb.init(mode="offline")``) keep
everything in one ``run-<id>.wandb`` file. wandb (0.31) has no public reader for it, so the file's
framing is read here and each record is decoded with wandb's own protobuf schema
(``wandb.proto.wandb_internal_pb2.Record``). The framing is LevelDB's log format (LevelDB
``doc/log_format.md``): after a 7-byte header (``:W&B``, magic 0xBEE1, version), 32 KiB blocks
of chunks, each ``crc32c (4) | length (2, little-endian) | type (1)`` then the payload; a record
is one FULL chunk or FIRST, MIDDLE..., LAST. The checksum is not verified (no crc32c in the
standard library); a record that does not decode is an error naming the file.
The run record gives the name (``display_name``, else the run id) and config; ``config``
records update it; ``history`` records give the curves, at their ``_step``. Keys starting with
``_`` (``_step``, ``_runtime``, ``_timestamp``) and non-numeric values (media, tables) are not
metrics; nested config values are flattened with ``.`` (``optimizer.lr``).

**Downloaded history** (.csv, .json, .jsonl): a chart's "Export CSV" (``Step`` and one
``<run> - <metric>`` column per run, with ``__MIN``/``__MAX`` columns that are left out), or a
run's history table (``_step`` and one column per metric; an optional ``name`` column names the
run, else the file's stem does).
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path
from typing import Any

import pandas as pd

from scalinglab.data.readers import read_table
from scalinglab.data.trackers import TrackerRun, long_table, require, unique_names
from scalinglab.errors import DataError

_HEADER = b":W&B"
_HEADER_SIZE = 7
_BLOCK = 32768
_CHUNK = struct.Struct("<IHB")
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
_STEP_COLUMNS = ("_step", "Step", "step")
_NAME_COLUMNS = ("name", "Name", "run", "run_name")


def _records(path: Path) -> list[bytes]:
    """The records of a ``.wandb`` file (LevelDB log framing, see the module docstring)."""
    data = path.read_bytes()
    if not data.startswith(_HEADER):
        raise DataError(f"{path}: not a W&B run file (it does not start with ':W&B').")
    records: list[bytes] = []
    pos, parts = _HEADER_SIZE, b""
    while pos + _CHUNK.size <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _CHUNK.size:  # a block's tail too short for a chunk header is padding
            pos += left
            continue
        _, length, kind = _CHUNK.unpack_from(data, pos)
        payload = data[pos + _CHUNK.size : pos + _CHUNK.size + length]
        pos += _CHUNK.size + length
        if kind in (_FULL, _FIRST):
            parts = payload
        elif kind in (_MIDDLE, _LAST):
            parts += payload
        else:  # zero padding at the end of a block (or of a run still being written)
            pos += _BLOCK - pos % _BLOCK if pos % _BLOCK else 0
            continue
        if kind in (_FULL, _LAST):
            records.append(parts)
    return records


def _number(value: Any) -> float | None:
    """A JSON value as a finite float, else None (strings, media, tables, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), sub, out)
    elif isinstance(value, list):
        out[prefix] = json.dumps(value)
    else:
        out[prefix] = value


def _key(item: Any) -> str:
    return ".".join(item.nested_key) if item.nested_key else str(item.key)


def _config_items(updates: Any, params: dict[str, Any]) -> None:
    for item in updates:
        key = _key(item)
        if key.startswith("_"):  # _wandb: the client's own bookkeeping
            continue
        _flatten(key, json.loads(item.value_json), params)


def _history_points(record: Any, run: TrackerRun, path: Path) -> None:
    values = {_key(item): json.loads(item.value_json) for item in record.item}
    step = _number(values.get("_step"))
    if step is None:
        step = float(record.step.num)
    for key, value in values.items():
        number = _number(value)
        if key.startswith("_") or number is None or math.isnan(number):
            continue
        run.points.append((int(step), key, number))


def _read_run_file(path: Path) -> tuple[TrackerRun, str]:
    """One ``.wandb`` file's run and its W&B run id."""
    pb = require("wandb.proto.wandb_internal_pb2", extra="wandb", what="--from wandb")
    run, run_id = TrackerRun(path.parent.name), path.stem.removeprefix("run-")
    for raw in _records(path):
        record = pb.Record()
        try:
            record.ParseFromString(raw)
        except Exception as exc:  # google.protobuf DecodeError
            raise DataError(
                f"{path}: a record does not decode ({exc}); the file is damaged."
            ) from exc
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run_id = record.run.run_id or run_id
            run.name = record.run.display_name or run_id
            _config_items(record.run.config.update, run.params)
        elif kind == "config":
            _config_items(record.config.update, run.params)
        elif kind == "history":
            _history_points(record.history, run, path)
    run.params["wandb_run_id"] = run_id
    return run, run_id


def _offline_runs(root: Path) -> pd.DataFrame:
    files = sorted(root.rglob("run-*.wandb"))
    if not files:
        raise DataError(
            f"{root}: no W&B run files (run-<id>.wandb) under it. Pass the wandb/ folder, one "
            "offline-run-* folder, or a history file downloaded from the W&B UI (.csv, .json)."
        )
    read = [_read_run_file(f) for f in files]
    names = unique_names((run.name, rid) for run, rid in read)
    for (run, _), name in zip(read, names, strict=True):
        run.name = name
    return long_table([run for run, _ in read], source=f"wandb:{root}", where=str(root))


def _history_file(path: Path) -> pd.DataFrame:
    """A history table downloaded from the W&B UI (see the module docstring)."""
    table = read_table(path)
    step_col = next((c for c in _STEP_COLUMNS if c in table.columns), None)
    if step_col is None:
        raise DataError(
            f"{path.name}: no step column ({', '.join(_STEP_COLUMNS)}) in the W&B history "
            f"file. Columns: {', '.join(map(str, table.columns))}. Export the run's history "
            "or a chart's CSV from the W&B UI."
        )
    steps = pd.to_numeric(table[step_col], errors="coerce")
    name_col = next((c for c in _NAME_COLUMNS if c in table.columns), None)
    runs: dict[str, TrackerRun] = {}
    for col in map(str, table.columns):
        if col in (step_col, name_col) or col.startswith("_") or col.endswith(("__MIN", "__MAX")):
            continue
        values = pd.to_numeric(table[col], errors="coerce")
        run_name, sep, metric = col.rpartition(" - ")
        for row in range(len(table)):
            if pd.isna(values.iloc[row]) or pd.isna(steps.iloc[row]):
                continue
            if not sep:
                run_name = str(table[name_col].iloc[row]) if name_col else path.stem
                metric = col
            run = runs.setdefault(run_name, TrackerRun(run_name))
            run.points.append((int(steps.iloc[row]), metric, float(values.iloc[row])))
    if not runs:
        raise DataError(
            f"{path.name}: no numeric metric values in the W&B history file. Columns: "
            f"{', '.join(map(str, table.columns))}."
        )
    return long_table(list(runs.values()), source=f"wandb:{path}", where=path.name)


def read_wandb(path: str | os.PathLike[str]) -> pd.DataFrame:
    """W&B runs as a long runs table: from offline run folders under ``path`` (a ``wandb/``
    folder, one run's folder or its ``.wandb`` file) or a downloaded history file (.csv,
    .json, .jsonl). Raises :class:`DataError` when there is nothing to read."""
    root = Path(path)
    if not root.exists():
        raise DataError(f"{root}: no such file or folder. Pass the wandb/ folder or a file.")
    if root.is_file() and root.suffix == ".wandb":
        run, _ = _read_run_file(root)
        return long_table([run], source=f"wandb:{path}", where=str(path))
    if root.is_file():
        return _history_file(root)
    return _offline_runs(root)
