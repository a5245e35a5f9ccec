"""Import runs from experiment trackers: TensorBoard, MLflow and Weights & Biases.

Each reader returns a raw *long* runs table, the form the trainer writes
(:meth:`scalinglab.train.result.TrainResult.runs_frame`): one row per run, step and metric, with
columns ``run_id``, the run's hyper-parameters (one column each, the same value on every row of
the run), ``step``, ``metric`` and ``value``. :func:`scalinglab.data.read_runs` accepts it
(``read_runs(table, mapping=...)``); :func:`read_tracker` does that in one call and records the
source as ``"<tracker>:<path>"`` in ``attrs["source"]``.

Each tracker is read with its own library, imported inside the reader, so that scalinglab does
not need it unless asked: the extras ``scalinglab[tensorboard]``, ``scalinglab[mlflow]`` and
``scalinglab[wandb]`` install them.

Hyper-parameters become columns under their own names (``n_params``, ``lr``); metrics keep the
tracker's names (``loss``, ``val/loss``). ``mapping`` (target <- source, as ``--map``) renames
both: ``{"N": "n_params", "val_loss": "val/loss"}``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pandas as pd

from scalinglab.data.ingest import build_runs
from scalinglab.data.validate import capped
from scalinglab.errors import DataError

__all__ = [
    "TRACKERS",
    "TrackerRun",
    "long_table",
    "read_mlflow",
    "read_tensorboard",
    "read_tracker",
    "read_wandb",
    "require",
]

#: Column names the long table uses itself; a hyper-parameter may not take one of them.
_LONG_COLUMNS = ("run_id", "step", "metric", "value")


@dataclass
class TrackerRun:
    """One run as read from a tracker: its name, hyper-parameters and scalar curves.

    ``points`` holds ``(step, metric, value)`` triples: step in the tracker's own unit (optimizer
    steps as logged), value as logged (TensorBoard stores float32).
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    points: list[tuple[int, str, float]] = field(default_factory=list)


def require(module: str, *, extra: str, what: str) -> ModuleType:
    """Import ``module`` or raise a :class:`DataError` saying which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DataError(
            f"{what} needs the {module.split('.')[0]!r} package, which is not installed "
            f"({exc}). Install it with: pip install 'scalinglab[{extra}]'."
        ) from exc


def long_table(runs: Sequence[TrackerRun], *, source: str, where: str) -> pd.DataFrame:
    """The long runs table of ``runs`` (one row per run, step and metric).

    ``where`` names the input in messages. Raises :class:`DataError` when no run has a scalar
    value or a hyper-parameter takes a name the table uses itself.
    """
    clash = sorted({f"{run.name}: {k!r}" for run in runs for k in run.params if k in _LONG_COLUMNS})
    if clash:
        raise DataError(
            f"{where}: hyper-parameters named like the table's own columns "
            f"({', '.join(_LONG_COLUMNS)}): {capped(clash)}. Rename them in the tracker."
        )
    empty = [run.name for run in runs if not run.points]
    if len(empty) == len(runs):
        raise DataError(
            f"{where}: no scalar values (metrics) were logged in {len(runs)} run(s) "
            f"({capped(empty)}). Log the loss as a scalar (e.g. add_scalar / log_metric / "
            "wandb.log) and point at the folder that holds those runs."
        )
    _check_repeats(runs, where)
    names = sorted({k for run in runs for k in run.params})
    rows: list[dict[str, Any]] = []
    for run in runs:
        params = {k: run.params.get(k) for k in names}
        for step, metric, value in run.points:
            rows.append(
                {"run_id": run.name, **params, "step": step, "metric": metric, "value": value}
            )
    table = pd.DataFrame(rows, columns=["run_id", *names, "step", "metric", "value"])
    table.attrs["source"] = source
    table.attrs["notices"] = (
        [f"{where}: runs without scalar values, left out: {capped(empty)}"] if empty else []
    )
    return table


def _check_repeats(runs: Sequence[TrackerRun], where: str) -> None:
    """A metric logged twice at one step of a run with different values is an error (which
    one is the curve?); exact repeats are dropped later with a notice."""
    repeats: list[str] = []
    for run in runs:
        seen: dict[tuple[int, str], float] = {}
        for step, metric, value in run.points:
            before = seen.setdefault((step, metric), value)
            if before != value:
                repeats.append(f"{run.name}: {metric!r} at step {step} ({before!r}, {value!r})")
    if repeats:
        raise DataError(
            f"{where}: metrics logged more than once at the same step with different values "
            f"(a restarted run that logged those steps again?): {capped(repeats)}. Keep one "
            "attempt's logs (move the other's files away) or log each attempt as its own run."
        )


def unique_names(names: Iterable[tuple[str, str]]) -> list[str]:
    """Run names, made unique by appending the first 8 characters of the tracker's run id
    where two runs share a display name: ``[(name, id), ...] -> [name or name-id8, ...]``."""
    pairs = list(names)
    counts: dict[str, int] = {}
    for name, _ in pairs:
        counts[name] = counts.get(name, 0) + 1
    return [name if counts[name] == 1 else f"{name}-{rid[:8]}" for name, rid in pairs]


def read_tensorboard(path: str | os.PathLike[str]) -> pd.DataFrame:
    """TensorBoard event files under ``path`` as a long runs table (see module docstring)."""
    from scalinglab.data.trackers_tensorboard import read_tensorboard as read

    return read(path)


def read_mlflow(
    path_or_uri: str | os.PathLike[str], *, experiment: str | None = None
) -> pd.DataFrame:
    """MLflow runs (a tracking folder or a tracking URI) as a long runs table."""
    from scalinglab.data.trackers_mlflow import read_mlflow as read

    return read(path_or_uri, experiment=experiment)


def read_wandb(path: str | os.PathLike[str]) -> pd.DataFrame:
    """W&B offline run folders or a downloaded history (CSV/JSON) as a long runs table."""
    from scalinglab.data.trackers_wandb import read_wandb as read

    return read(path)


#: Tracker name (``--from``) -> reader returning the long runs table.
TRACKERS: dict[str, Callable[[str | os.PathLike[str]], pd.DataFrame]] = {
    "tensorboard": read_tensorboard,
    "mlflow": read_mlflow,
    "wandb": read_wandb,
}


def _rename_metrics(
    table: pd.DataFrame, mapping: Mapping[str, str] | None
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Apply the mapping entries whose source is a metric name (long-form values, not columns);
    return the table and the remaining entries (columns) for :func:`build_runs`."""
    if not mapping:
        return table, {}
    metric_names = set(table["metric"].astype(str))
    renames = {src: target for target, src in mapping.items() if src in metric_names}
    rest = {target: src for target, src in mapping.items() if src not in renames}
    if renames:
        table = table.assign(metric=table["metric"].replace(renames))
    return table, rest


def read_tracker(
    tracker: str,
    path: str | os.PathLike[str],
    *,
    mapping: Mapping[str, str] | None = None,
    metrics: Sequence[str] = (),
) -> pd.DataFrame:
    """Runs from a tracker as the canonical wide runs table (one row per run and step).

    ``tracker`` is ``"tensorboard"``, ``"mlflow"`` or ``"wandb"``; ``mapping`` renames
    hyper-parameters and metrics (target <- source, e.g. ``{"N": "n_params"}``);
    ``attrs["source"]`` is ``"<tracker>:<path>"``.
    """
    reader = TRACKERS.get(tracker)
    if reader is None:
        raise DataError(
            f"--from {tracker!r}: unknown tracker. Choose one of: {', '.join(TRACKERS)}."
        )
    raw = reader(path)
    source = str(raw.attrs["source"])
    table, rest = _rename_metrics(raw, mapping)
    runs = build_runs(
        table,
        name=source,
        stem=tracker,
        source=source,
        mapping=rest,
        metrics=metrics,
    )
    runs.attrs["notices"] = [*raw.attrs.get("notices", []), *runs.attrs["notices"]]
    return runs
