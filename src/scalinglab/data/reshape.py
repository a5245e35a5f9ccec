"""Reshape a raw runs table: rename columns (``--map``), drop exact duplicate rows, report
conflicting duplicates, and pivot long form (``metric``, ``value``) to wide.

Long form becomes one row per distinct combination of the other columns, numbered by its first
row; exact duplicates are dropped with a notice (the one automatic fix), never silently.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import pandas as pd

from scalinglab.data import schema
from scalinglab.data.validate import Problems, capped, rows_text, suggest
from scalinglab.errors import DataError

logger = logging.getLogger(__name__)


def apply_mapping(
    df: pd.DataFrame, mapping: Mapping[str, str] | None, *, name: str
) -> pd.DataFrame:
    """Rename source columns to their targets (``mapping`` is target <- source)."""
    if not mapping:
        return df
    columns = [str(c) for c in df.columns]
    problems: list[str] = []
    for target, src in mapping.items():
        if src not in columns:
            problems.append(
                f"{name}: mapping {target}={src} names column {src!r}, which is not "
                f"in the file{suggest(src, columns)}. Columns: {', '.join(columns)}."
            )
        elif target != src and target in columns and target not in mapping.values():
            problems.append(
                f"{name}: mapping {target}={src} would replace the existing column "
                f"{target!r}. Map or rename that column too."
            )
    if len(set(mapping.values())) != len(mapping):
        problems.append(f"{name}: the mapping uses a source column twice: {dict(mapping)}.")
    if problems:
        raise DataError("\n".join(problems))
    return df.rename(columns={src: target for target, src in mapping.items()})


def drop_exact_duplicates(df: pd.DataFrame, *, name: str, notices: list[str]) -> pd.DataFrame:
    dup = df.duplicated(keep="first")
    if not dup.any():
        return df
    rows = list(df.index[dup])
    notice = f"{name}: dropped {len(rows)} exact duplicate rows (rows {rows_text(rows)})"
    logger.warning("%s", notice)
    notices.append(notice)
    return df.loc[~dup]


def check_conflicts(df: pd.DataFrame, ident: Sequence[str], problems: Problems, what: str) -> None:
    if not ident:
        return
    clash = df.duplicated(subset=list(ident), keep=False)
    if not clash.any():
        return
    pairs: list[str] = []
    for _, group in df.loc[clash].groupby(list(ident), dropna=False, sort=False):
        first, *others = list(group.index)
        pairs.extend(f"{first} and {other}" for other in others)
    problems.add(
        f"conflicting duplicates: rows {capped(pairs, sep='; ')} have the same "
        f"{', '.join(ident)} but different {what}. Remove one row of each pair or add a "
        "column that tells them apart (run_id, seed, step)."
    )


def pivot_long(
    df: pd.DataFrame, *, stem: str, problems: Problems
) -> tuple[pd.DataFrame, list[str]]:
    ident = [c for c in df.columns if c not in ("metric", "value")]
    if not ident:
        problems.add(
            "long form (metric, value) needs at least one identifying column such as "
            "run_id, N or step."
        )
        problems.raise_if_any()
    if "run_id" not in df.columns:
        # one run per distinct combination of the other columns, numbered by its first row
        gid = df.groupby(ident, dropna=False, sort=False).ngroup()
        first_row = pd.Series(df.index, index=df.index).groupby(gid).transform("min")
        df = df.assign(run_id=[f"{stem}:{r}" for r in first_row])
        ident = ["run_id", *ident]
    key = df.groupby(ident, dropna=False, sort=False).ngroup()
    first = df.loc[~key.duplicated(), ident]
    values = (
        df.assign(_key=key.to_numpy())
        .pivot(index="_key", columns="metric", values="value")
        .set_axis(first.index, axis=0)
    )
    values.columns = [str(c) for c in values.columns]
    clash = [c for c in values.columns if c in ident or c in schema.RESERVED_COLUMNS]
    if clash:
        problems.add(f"metric names {clash} are also column names; rename the metric or column.")
        problems.raise_if_any()
    return pd.concat([first, values], axis=1), list(values.columns)
