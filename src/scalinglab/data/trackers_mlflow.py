"""Read MLflow runs with MLflow's own client (``mlflow.tracking.MlflowClient``).

The source is a tracking folder (``mlruns/``, the file store), a ``.db`` file (read as
``sqlite:///``, which needs the full ``mlflow`` package rather than ``mlflow-skinny``) or any
tracking URI MLflow accepts. Each run gives its params (strings in MLflow; numbers are converted
when the table is read) and the full history of every metric (``get_metric_history``: one point
per logged step). The run is named by its ``run_name``, with the first 8 characters of its run id
appended where two runs share a name; columns ``mlflow_experiment`` and ``mlflow_run_id`` keep
where it came from.

MLflow 3.x refuses the file store unless ``MLFLOW_ALLOW_FILE_STORE=true``; it is set only while
a folder the caller named is read, and restored afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from scalinglab.data.trackers import TrackerRun, long_table, require, unique_names
from scalinglab.errors import DataError

_PAGE = 1000
_FILE_STORE_FLAG = "MLFLOW_ALLOW_FILE_STORE"


def _tracking_uri(path_or_uri: str | os.PathLike[str]) -> tuple[str, bool]:
    """The tracking URI for ``path_or_uri`` and whether it is a local file store."""
    text = os.fspath(path_or_uri)
    if "://" in text or text.startswith(("file:", "sqlite:")):
        return text, text.startswith("file:")
    path = Path(text)
    if not path.exists():
        raise DataError(
            f"{text}: no such folder or file. Pass an MLflow tracking folder (mlruns/), a "
            "sqlite .db file or a tracking URI (sqlite:///mlflow.db, http://host:5000)."
        )
    if path.is_file():
        return f"sqlite:///{path.resolve()}", False
    # MLflow's FileStore writes a .trash folder into any folder it opens: check first
    if not any((sub / "meta.yaml").is_file() for sub in path.iterdir() if sub.is_dir()):
        raise DataError(
            f"{text}: not an MLflow tracking folder (no experiment folder with a meta.yaml in "
            "it). Pass the mlruns/ folder itself, or a tracking URI."
        )
    return path.resolve().as_uri(), True


@contextmanager
def _allow_file_store(on: bool) -> Iterator[None]:
    old = os.environ.get(_FILE_STORE_FLAG)
    if on:
        os.environ[_FILE_STORE_FLAG] = "true"
    try:
        yield
    finally:
        if on and old is None:
            os.environ.pop(_FILE_STORE_FLAG, None)
        elif on and old is not None:
            os.environ[_FILE_STORE_FLAG] = old


def _all_runs(client: Any, experiment_ids: list[str]) -> list[Any]:
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(experiment_ids, max_results=_PAGE, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _to_run(client: Any, run: Any, name: str, experiment: str) -> TrackerRun:
    out = TrackerRun(name)
    out.params = {str(k): v for k, v in run.data.params.items()}
    out.params["mlflow_experiment"] = experiment
    out.params["mlflow_run_id"] = run.info.run_id
    for key in sorted(run.data.metrics):
        history = client.get_metric_history(run.info.run_id, key)
        out.points.extend((int(m.step), str(key), float(m.value)) for m in history)
    return out


def read_mlflow(
    path_or_uri: str | os.PathLike[str], *, experiment: str | None = None
) -> pd.DataFrame:
    """MLflow runs as a long runs table (one row per run, metric and logged step).

    ``experiment`` keeps only the runs of the experiment of that name (default: every active
    experiment). Raises :class:`DataError` when MLflow cannot open the store, the experiment does
    not exist, or there are no runs with metrics.
    """
    tracking = require("mlflow.tracking", extra="mlflow", what="--from mlflow")
    uri, file_store = _tracking_uri(path_or_uri)
    where = os.fspath(path_or_uri)
    with _allow_file_store(file_store):
        try:
            client = tracking.MlflowClient(tracking_uri=uri)
            experiments = {e.experiment_id: e.name for e in client.search_experiments()}
            if experiment is not None:
                experiments = {k: v for k, v in experiments.items() if v == experiment}
                if not experiments:
                    raise DataError(
                        f"{where}: no MLflow experiment named {experiment!r}. Leave out the "
                        "experiment to read them all."
                    )
            found = _all_runs(client, list(experiments))
            if not found:
                raise DataError(
                    f"{where}: MLflow finds no runs there (experiments: "
                    f"{', '.join(sorted(experiments.values())) or 'none'}). Pass the folder "
                    "that holds the experiments (mlruns/) or the tracking URI the runs used."
                )
            names = unique_names((r.info.run_name or r.info.run_id, r.info.run_id) for r in found)
            runs = [
                _to_run(client, r, name, experiments[r.info.experiment_id])
                for r, name in zip(found, names, strict=True)
            ]
        except DataError:
            raise
        except Exception as exc:  # MlflowException and the store's own errors
            hint = (
                " sqlite stores need the full mlflow package (pip install mlflow), not "
                "mlflow-skinny."
                if uri.startswith("sqlite:")
                else ""
            )
            raise DataError(
                f"{where}: MLflow cannot read the tracking store {uri} "
                f"({type(exc).__name__}: {exc}). Check the path or URI.{hint}"
            ) from exc
    return long_table(runs, source=f"mlflow:{where}", where=where)
