"""Read TensorBoard event files (``events.out.tfevents.*``) with TensorBoard's own reader.

Every folder under the log directory that holds event files is one run, named by its path
relative to the log directory (the log directory's own name when the event files lie in it).
Scalars (``add_scalar``: ``simple_value`` summaries) give the curves, one point per tag and step;
hyper-parameters come from the hparams plugin's session-start record (``add_hparams``).

``torch.utils.tensorboard.SummaryWriter.add_hparams`` writes into a sub-folder named by the time
(``run/1712345678.123``) unless given ``run_name``; such a folder (its name a number, holding
hparams, its parent a run) is merged into its parent run, so the hyper-parameters land on the run
whose curves they describe.

Not read: TF2 ``tf.summary.scalar`` values stored as tensors, histograms, images, text.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from scalinglab.data.trackers import TrackerRun, long_table, require
from scalinglab.errors import DataError

_HPARAMS_PLUGIN = "hparams"
_SESSION_START = "_hparams_/session_start_info"


def _event_folders(root: Path) -> list[Path]:
    """Folders under ``root`` (itself included) holding event files, in sorted order."""
    found = [
        Path(folder)
        for folder, _, files in os.walk(root)
        if any(".tfevents." in f or f.startswith("events.out.tfevents") for f in files)
    ]
    return sorted(found)


def _hparam_value(value: Any) -> Any:
    """A ``google.protobuf.Value`` as a Python number, string or bool."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return float(value.number_value)
    if kind == "string_value":
        return str(value.string_value)
    if kind == "bool_value":
        return bool(value.bool_value)
    return None


def _read_folder(folder: Path, name: str) -> tuple[TrackerRun, bool]:
    """One folder's run and whether it held hparams."""
    accumulator = require(
        "tensorboard.backend.event_processing.event_accumulator",
        extra="tensorboard",
        what="--from tensorboard",
    )
    metadata = require(
        "tensorboard.plugins.hparams.metadata", extra="tensorboard", what="--from tensorboard"
    )
    # size_guidance 0 keeps every scalar event (the default keeps a 10,000-event sample)
    acc = accumulator.EventAccumulator(
        str(folder), size_guidance={accumulator.SCALARS: 0, accumulator.TENSORS: 0}
    )
    try:
        acc.Reload()
    except Exception as exc:  # a truncated or foreign file: name it rather than crash
        raise DataError(
            f"{folder}: TensorBoard cannot read the event files ({exc}). Remove or repair them."
        ) from exc
    run = TrackerRun(name)
    for tag in acc.Tags().get("scalars", []):
        run.points.extend((int(e.step), str(tag), float(e.value)) for e in acc.Scalars(tag))
    has_hparams = False
    try:
        content = acc.PluginTagToContent(_HPARAMS_PLUGIN)
    except KeyError:
        content = {}
    if _SESSION_START in content:
        info = metadata.parse_session_start_info_plugin_data(content[_SESSION_START])
        run.params = {str(k): _hparam_value(v) for k, v in info.hparams.items()}
        has_hparams = True
    return run, has_hparams


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_tensorboard(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The runs under the TensorBoard log directory ``path`` as a long runs table.

    Raises :class:`DataError` when ``path`` does not exist, holds no event files, or no run has
    a scalar.
    """
    root = Path(path)
    if not root.exists():
        raise DataError(f"{root}: no such folder. Pass the TensorBoard log directory.")
    if root.is_file():  # one event file: its folder is the run
        root = root.parent
        folders = [root]
    else:
        folders = _event_folders(root)
    if not folders:
        raise DataError(
            f"{root}: no TensorBoard event files (events.out.tfevents.*) under it. Pass the "
            "log directory that SummaryWriter wrote (its log_dir)."
        )
    runs: dict[str, TrackerRun] = {}
    hparams_only: list[str] = []
    for folder in folders:
        name = folder.relative_to(root).as_posix()
        run, has_hparams = _read_folder(folder, name)
        runs[name] = run
        parent = Path(name).parent.as_posix()
        if has_hparams and _is_number(Path(name).name) and parent != name:
            hparams_only.append(name)
    for name in hparams_only:
        parent = Path(name).parent.as_posix()
        if parent in runs and not runs[parent].params:
            child = runs.pop(name)
            runs[parent].params = child.params
            runs[parent].points.extend(child.points)
    if "." in runs:
        runs["."].name = root.resolve().name
    return long_table(list(runs.values()), source=f"tensorboard:{path}", where=str(path))
