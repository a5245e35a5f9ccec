"""Canonical runs-table schema: reserved columns, units, metric units and the 6ND convention.

A runs table is a :class:`pandas.DataFrame` with one row per evaluated run (or checkpoint, with
``step``). Its reserved columns and their units:

========================  =========================================================================
column                    meaning
========================  =========================================================================
``run_id``                string identifier of the run
``N``                     parameters (as the source counts them; a data card says whether
                          embeddings count); float, may be missing (NaN) when unknown
``D``                     training tokens seen; float, may be missing
``C``                     training compute in FLOP; float, may be missing
``C_derived``             True where ``C`` was computed as 6ND rather than measured
``D_derived``             True where ``D`` was computed as C/(6N) rather than measured
``group``                 optional grouping label (dataset, architecture family)
``seed``, ``step``        optional; ``step`` makes loss curves rows of the same table
``lr``, ``batch_size``    optional hyper-parameters
``unique_tokens``         optional; distinct tokens when data are repeated
========================  =========================================================================

Every other column of the source is kept under its own name. Metric columns (LM losses, error
rates, accuracies) stay as columns; their unit comes from :func:`metric_unit`.

:func:`derive_compute` is the only place in scalinglab where C = 6ND (Kaplan et al. 2020, Sec. 2.1;
Hoffmann et al. 2022, Sec. 3) or D = C/(6N) is applied.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

import numpy as np
import pandas as pd

from scalinglab.units import tokens_from_flops, training_flops

logger = logging.getLogger(__name__)

#: FLOP per parameter per training token: 2 for the forward pass, 4 for the backward pass.

#: Columns the runs table always has, in this order.
CANONICAL_COLUMNS: tuple[str, ...] = ("run_id", "N", "D", "C", "C_derived", "D_derived")
#: Optional reserved columns, placed after the canonical ones when present.
OPTIONAL_COLUMNS: tuple[str, ...] = ("group", "seed", "step", "lr", "batch_size", "unique_tokens")
RESERVED_COLUMNS: tuple[str, ...] = CANONICAL_COLUMNS + OPTIONAL_COLUMNS
#: Reserved columns that must hold numbers.
NUMERIC_COLUMNS: tuple[str, ...] = (
    "N",
    "D",
    "C",
    "seed",
    "step",
    "lr",
    "batch_size",
    "unique_tokens",
)
#: Columns that must be finite and strictly positive wherever the source has them.
POSITIVE_COLUMNS: tuple[str, ...] = ("N", "D", "C")
#: Boolean flag columns.
FLAG_COLUMNS: tuple[str, ...] = ("C_derived", "D_derived")

UNITS: dict[str, str] = {
    "N": "parameters",
    "D": "tokens",
    "C": "FLOP",
    "step": "optimizer steps",
    "lr": "learning rate",
    "batch_size": "sequences per step",
    "unique_tokens": "tokens",
}

NATS_PER_TOKEN = "nats/token"
FRACTION = "fraction"
TASK_UNIT = "task unit"

_LOSS_NAMES = frozenset({"loss", "val_loss", "train_loss", "log_perplexity"})


def is_metric_name(name: str) -> bool:
    """Whether a wide-file column is recognised as a metric by its name alone.

    Recognised: ``loss``, ``val_loss``, ``train_loss``, and names starting with ``loss_``,
    ``err_``, ``acc_`` or ending with ``_loss``. Other metrics must be declared explicitly.
    """
    return (
        name in {"loss", "val_loss", "train_loss"}
        or name.startswith(("loss_", "err_", "acc_"))
        or name.endswith("_loss")
    )


def metric_unit(name: str) -> str:
    """Unit of a metric, from its name.

    LM losses (``loss``, ``val_loss``, ``train_loss``, ``loss_*``, ``*_loss``, ``log_perplexity``)
    are in nats per token; ``err_*``, ``acc_*`` and ``*_error`` are fractions in [0, 1]; anything
    else is in the task's own unit.
    """
    if name in _LOSS_NAMES or name.startswith("loss_") or name.endswith("_loss"):
        return NATS_PER_TOKEN
    if name.startswith(("err_", "acc_")) or name.endswith("_error"):
        return FRACTION
    return TASK_UNIT


def derive_compute(df: pd.DataFrame, *, derived_in_source: Collection[str] = ()) -> pd.DataFrame:
    """Fill in C = 6ND or D = C/(6N) and set the ``C_derived`` / ``D_derived`` flags.

    ``df`` must already hold numeric ``N``, ``D`` and ``C`` columns, NaN meaning "not in the
    source". Per row: when C is missing and N and D are known, C = 6ND and ``C_derived`` is True;
    when D is missing and N and C are known, D = C/(6N) and ``D_derived`` is True. Flags already
    present in ``df`` (a table that was derived before) are kept. ``derived_in_source`` names
    columns ("C", "D") that the source itself derived (e.g. a data card saying tokens = C/6N);
    they are flagged True where present. Returns a new frame; ``df`` is not modified.
    """
    out = df.copy()
    for col in ("N", "D", "C"):
        if col not in out.columns:
            out[col] = np.nan
        out[col] = out[col].astype("float64")
    for flag in FLAG_COLUMNS:
        if flag in out.columns:
            out[flag] = out[flag].fillna(False).astype(bool)
        else:
            out[flag] = False
    n, d, c = out["N"], out["D"], out["C"]
    need_c = c.isna() & n.notna() & d.notna()
    need_d = d.isna() & n.notna() & c.notna()
    out.loc[need_c, "C"] = training_flops(n[need_c], d[need_c])
    out.loc[need_c, "C_derived"] = True
    out.loc[need_d, "D"] = tokens_from_flops(c[need_d], n[need_d])
    out.loc[need_d, "D_derived"] = True
    for col in derived_in_source:
        if col not in ("C", "D"):
            raise ValueError(f"derived_in_source accepts 'C' and 'D', not {col!r}")
        flag = f"{col}_derived"
        out.loc[out[col].notna(), flag] = True
    if need_c.any() or need_d.any():
        logger.debug("derived C for %d rows and D for %d rows", need_c.sum(), need_d.sum())
    return out
