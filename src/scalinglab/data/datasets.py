"""Registry of the datasets bundled with scalinglab, with the column mapping of each.

Each dataset is a CSV file with a data card (Markdown) beside it in ``scalinglab/data/datasets``;
the card states provenance, units and licence and travels with any export.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from scalinglab.data import ingest
from scalinglab.errors import DataError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class DatasetSpec:
    """A bundled dataset and how its columns map onto the runs schema.

    ``mapping`` is target <- source. ``metrics`` are declared explicitly (names that
    :func:`~scalinglab.data.schema.is_metric_name` recognises are metrics anyway).
    ``derived`` names canonical columns ("C", "D") that the source computed rather than
    measured. ``join`` is ``(other filename, key column, columns taken from it)``: a left join
    done before mapping.
    """

    name: str
    filename: str
    card: str
    mapping: Mapping[str, str]
    metrics: tuple[str, ...]
    default_metric: str | None
    description: str
    derived: tuple[str, ...] = ()
    join: tuple[str, str, tuple[str, ...]] | None = None


_OVERTRAINING_MAP = {"run_id": "run_name", "N": "params", "D": "tokens", "C": "flops"}

_REGISTRY: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="chinchilla_epoch",
            filename="chinchilla_epoch.csv",
            card="chinchilla_epoch.md",
            mapping={"N": "params", "D": "tokens", "C": "flops"},
            metrics=("loss",),
            default_metric="loss",
            derived=("D",),
            description="245 Chinchilla runs (N, D, C, final loss) digitised from Hoffmann et al. "
            "2022 Fig. 4 by Epoch AI 2024; tokens derived as C/(6N).",
        ),
        DatasetSpec(
            name="overtraining_models",
            filename="overtraining_models.csv",
            card="overtraining_models.md",
            mapping=_OVERTRAINING_MAP,
            metrics=(),
            default_metric="loss_c4_val",
            description="104 over-trained LMs (Gadre et al. 2024) on C4, RedPajama, RefinedWeb: "
            "N, D, C and validation loss on 8 evaluation sets.",
        ),
        DatasetSpec(
            name="overtraining_downstream",
            filename="overtraining_downstream.csv",
            card="overtraining_downstream.md",
            mapping=_OVERTRAINING_MAP,
            metrics=(),
            default_metric="err_avg_17",
            join=(
                "overtraining_models.csv",
                "run_name",
                (
                    "params",
                    "tokens",
                    "flops",
                    "dataset",
                    "architecture",
                    "token_multiplier",
                    "loss_c4_val",
                ),
            ),
            description="Downstream accuracy on 46 tasks and average errors of the 104 "
            "over-trained LMs (Gadre et al. 2024), joined with their N, D, C and C4 loss.",
        ),
        DatasetSpec(
            name="revisiting_lang",
            filename="revisiting_lang.csv",
            card="revisiting_lang.md",
            mapping={},
            metrics=("Loss",),
            default_metric="Loss",
            description="20 language learning curves (NMT, LM, BIG-Bench) from Alabdulmohsin "
            "et al. 2022; no N or D; 687 exact duplicate rows dropped.",
        ),
    )
}


def dataset_names() -> list[str]:
    """Names of the bundled datasets, sorted."""
    return sorted(_REGISTRY)


def list_datasets() -> list[DatasetSpec]:
    """Specs of all bundled datasets, sorted by name."""
    return [_REGISTRY[n] for n in dataset_names()]


def get_dataset(name: str) -> DatasetSpec:
    """The spec of a bundled dataset; :class:`DataError` with a suggestion when unknown."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise DataError(
            f"unknown dataset {name!r}{ingest.suggest(name, _REGISTRY)}. "
            f"Bundled datasets: {', '.join(dataset_names())}."
        ) from None


def _read_bundled(filename: str) -> pd.DataFrame:
    resource = resources.files("scalinglab.data") / "datasets" / filename
    with resources.as_file(resource) as path:
        return ingest.read_table(Path(path))


def load_dataset(
    name: str, *, mapping: Mapping[str, str] | None = None, metrics: Sequence[str] = ()
) -> pd.DataFrame:
    """Load a bundled dataset as a canonical runs table.

    ``mapping`` and ``metrics`` are added to the dataset's own (a user mapping for the same
    target wins).
    """
    spec = get_dataset(name)
    raw = _read_bundled(spec.filename)
    if spec.join is not None:
        other_file, key, columns = spec.join
        other = _read_bundled(other_file)[[key, *columns]]
        raw = raw.merge(other, on=key, how="left", validate="one_to_one", sort=False)
        unmatched = raw[columns[0]].isna()
        if unmatched.any():  # a broken bundle, not user input
            raise DataError(f"{name}: {int(unmatched.sum())} rows have no match in {other_file}.")
    return ingest.build_runs(
        raw,
        name=name,
        stem=name,
        source=name,
        mapping={**spec.mapping, **(mapping or {})},
        metrics=[*spec.metrics, *metrics],
        default_metric=spec.default_metric,
        derived_in_source=spec.derived,
    )


def dataset_card(name: str) -> str:
    """The Markdown data card of a bundled dataset."""
    spec = get_dataset(name)
    resource = resources.files("scalinglab.data") / "datasets" / spec.card
    return resource.read_text(encoding="utf-8")


def export_dataset(name: str, path: str | os.PathLike[str]) -> Path:
    """Write a bundled dataset's canonical runs table to a .csv or .parquet file.

    The data card is written beside it (same stem, ``.md``) so provenance travels with the data.
    """
    out = ingest.write_runs(load_dataset(name), path)
    out.with_suffix(".md").write_text(dataset_card(name), encoding="utf-8")
    return out
