"""A sweep's runs in the store: one import per finished run, source ``sweep:NAME:KEY``.

The driver alone writes: one transaction per run (:meth:`Store.import_runs`), so the store
holds a run completely or not at all, and the import's source says which run it is; "is run KEY
stored?" is "is there an import with source sweep:NAME:KEY?". The store is opened for each
write and closed at once, so other processes (``scalinglab runs list``) can open it in between.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from scalinglab.data.ingest import read_runs
from scalinglab.data.store import Store
from scalinglab.sweep.design import PlannedRun

SOURCE_PREFIX = "sweep:"

#: Columns added to each run's rows: where it sits in the sweep.
SWEEP_COLUMNS = ("sweep", "group", "budget", "seed", "n_layer", "n_head", "d_model")


def source_of(name: str, key: str) -> str:
    return f"{SOURCE_PREFIX}{name}:{key}"


def stored_imports(store: str | os.PathLike[str], name: str) -> dict[str, str]:
    """``{run key: import id}`` for the runs of sweep ``name`` in the store (none if the store
    file does not exist yet)."""
    if not Path(store).exists():
        return {}
    with Store.open(store) as st:
        imports = st.list_imports()
    prefix = source_of(name, "")
    return {
        str(src)[len(prefix) :]: str(iid)
        for src, iid in zip(imports["source"], imports["import_id"], strict=True)
        if str(src).startswith(prefix)
    }


def annotate(frame: pd.DataFrame, run: PlannedRun, name: str) -> pd.DataFrame:
    """The trainer's (raw, long-form) runs frame plus the run's place in the sweep
    (:data:`SWEEP_COLUMNS`; columns the trainer already gives are kept as they are)."""
    out = frame.copy()
    values: dict[str, Any] = {
        "sweep": name,
        "group": run.group,
        "budget": float("nan") if run.budget is None else run.budget,
        "seed": float(run.seed),
        "n_layer": float(run.shape.n_layers),
        "n_head": float(run.shape.n_heads),
        "d_model": float(run.shape.d_model),
    }
    for col, v in values.items():
        if col not in out.columns:
            out[col] = v
    return out


def store_result(
    store: str | os.PathLike[str], name: str, run: PlannedRun, result: dict[str, Any]
) -> str:
    """Import one finished run (its TrainResult dict) in one transaction; the import id."""
    from scalinglab.train.result import TrainResult

    raw = annotate(TrainResult.from_dict(result).runs_frame(), run, name)
    frame = read_runs(raw)
    with Store.open(store) as st:
        return st.import_runs(frame, source=source_of(name, run.key))


def sweep_runs(store: str | os.PathLike[str], name: str) -> pd.DataFrame:
    """Every stored row (whole loss curves) of sweep ``name``, one table."""
    ids = stored_imports(store, name)
    if not ids:
        from scalinglab.sweep.spec import SweepError

        raise SweepError(
            f"{store}: no runs of sweep {name!r} are stored; run 'scalinglab sweep run FILE' first."
        )
    with Store.open(store) as st:
        parts = [st.runs(i) for i in ids.values()]
    return pd.concat(parts, ignore_index=True)


def final_runs(curves: pd.DataFrame, metric: str = "val_loss") -> pd.DataFrame:
    """One row per run: its last evaluation of ``metric`` (held-out loss by default), with N
    (non-embedding), N_total, D, C, the peak lr and the sweep columns; the value is in column
    ``loss`` (nats per token)."""
    have = curves.dropna(subset=[metric]) if metric in curves.columns else curves.iloc[:0]
    if have.empty:
        from scalinglab.sweep.spec import SweepError

        cols = ", ".join(str(c) for c in curves.columns)
        raise SweepError(f"the sweep's runs have no {metric!r} values; columns: {cols}.")
    step = "step" if "step" in have.columns else None
    last = have.sort_values(step) if step else have
    last = last.groupby("run_id", sort=False).tail(1)
    keep = [
        c
        for c in ("run_id", "N", "N_total", "D", "C", "steps", "batch_size", *SWEEP_COLUMNS)
        if c in last.columns
    ]
    table = last[keep].copy()
    # the run's learning rate is its peak; the last step's lr is the schedule's floor
    if "peak_lr" in last.columns or "lr" in last.columns:
        table["lr"] = last["peak_lr"] if "peak_lr" in last.columns else last["lr"]
    table["loss"] = last[metric].to_numpy()
    first = [c for c in ("run_id", "N", "N_total", "D", "C", "lr") if c in table.columns]
    table = table[first + [c for c in table.columns if c not in first]]
    return table.sort_values(["N", "D"]).reset_index(drop=True)
