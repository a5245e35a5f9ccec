"""Runs data: schema and units, ingest and validation, selection, the DuckDB store, datasets."""

from scalinglab.data.datasets import (
    DatasetSpec,
    dataset_card,
    export_dataset,
    get_dataset,
    list_datasets,
    load_dataset,
)
from scalinglab.data.ingest import read_runs, write_runs
from scalinglab.data.schema import derive_compute, metric_unit
from scalinglab.data.select import group_runs, select_runs
from scalinglab.data.store import Store, resolve_store_path

__all__ = [
    "DatasetSpec",
    "Store",
    "dataset_card",
    "derive_compute",
    "export_dataset",
    "get_dataset",
    "group_runs",
    "list_datasets",
    "load_dataset",
    "metric_unit",
    "read_runs",
    "resolve_store_path",
    "select_runs",
    "write_runs",
]
