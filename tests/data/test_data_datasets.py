"""Bundled datasets load with their documented shapes and mappings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from scalinglab.data import datasets
from scalinglab.data.datasets import (
    dataset_card,
    export_dataset,
    get_dataset,
    list_datasets,
    load_dataset,
)
from scalinglab.data.ingest import read_runs
from scalinglab.errors import DataError


@pytest.mark.parametrize(
    ("name", "rows", "default"),
    [
        ("chinchilla_epoch", 245, "loss"),
        ("overtraining_models", 104, "loss_c4_val"),
        ("overtraining_downstream", 104, "err_avg_17"),
        ("revisiting_lang", 712, "Loss"),
    ],
)
def test_dataset_rows(name: str, rows: int, default: str) -> None:
    df = load_dataset(name)
    assert len(df) == rows
    assert df.attrs["default_metric"] == default and default in df.attrs["metrics"]
    assert df.attrs["source"] == name


def test_chinchilla_flags() -> None:
    df = read_runs("chinchilla_epoch")  # a dataset name works as a source
    assert df["D_derived"].all() and not df["C_derived"].any()
    assert df.attrs["metrics"] == ["loss"]
    assert df["run_id"].iloc[0] == "chinchilla_epoch:1"


def test_overtraining_models() -> None:
    df = load_dataset("overtraining_models")
    assert df.attrs["metrics"][0] == "loss_openlm" and len(df.attrs["metrics"]) == 8
    assert set(df["dataset"]) == {"c4_original", "rpj", "rw_original"}
    assert df["run_id"].iloc[0] == "c4_original-d=96_l=8_h=4-0.25"
    assert not df["C_derived"].any() and not df["D_derived"].any()
    assert df["N"].iloc[0] == 10569312.0


def test_overtraining_downstream_join() -> None:
    df = load_dataset("overtraining_downstream")
    models = load_dataset("overtraining_models").set_index("run_id")
    joined = df.set_index("run_id")
    assert (joined["N"] == models.loc[joined.index, "N"]).all()
    assert (joined["loss_c4_val"] == models.loc[joined.index, "loss_c4_val"]).all()
    metrics = df.attrs["metrics"]
    assert {"err_avg_46", "err_avg_17", "loss_c4_val", "acc_piqa"} <= set(metrics)
    assert len(metrics) == 49  # 2 averages, 46 tasks, C4 loss
    assert {"dataset", "architecture", "token_multiplier"} <= set(df.columns)


def test_revisiting_lang() -> None:
    df = load_dataset("revisiting_lang")
    assert df.attrs["notices"][0].startswith("revisiting_lang: dropped 687 exact duplicate rows")
    assert df["N"].isna().all() and df["C"].isna().all()
    assert {"Domain", "Task", "Model", "Seen Examples", "Training"} <= set(df.columns)
    assert df["run_id"].iloc[0] == "revisiting_lang:1"


def test_registry_and_cards() -> None:
    assert [s.name for s in list_datasets()] == sorted(s.name for s in list_datasets())
    assert get_dataset("chinchilla_epoch").mapping["N"] == "params"
    assert dataset_card("chinchilla_epoch").startswith("# chinchilla_epoch.csv")
    with pytest.raises(
        DataError,
        match=r"unknown dataset 'chinchila' \(did you mean "
        r"'chinchilla_epoch'\?\)",
    ):
        get_dataset("chinchila")


def test_user_mapping_added() -> None:
    df = load_dataset("revisiting_lang", mapping={"step": "Seen Examples"})
    assert df["step"].iloc[0] == 500000.0


def test_export_dataset_round_trip(tmp_path: Path) -> None:
    out = export_dataset("revisiting_lang", tmp_path / "rl.csv")
    assert (tmp_path / "rl.md").read_text(encoding="utf-8").startswith("# revisiting_lang")
    back = read_runs(out, metrics=["Loss"])
    original = load_dataset("revisiting_lang")
    assert len(back) == len(original)
    pd.testing.assert_series_equal(back["Loss"], original["Loss"], check_index=False)
    assert back["run_id"].tolist() == original["run_id"].tolist()


def test_broken_join_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    real = datasets._read_bundled

    def fake(filename: str) -> pd.DataFrame:
        frame = real(filename)
        return frame.iloc[1:] if filename == "overtraining_models.csv" else frame

    monkeypatch.setattr(datasets, "_read_bundled", fake)
    with pytest.raises(DataError, match=r"1 rows have no match in overtraining_models\.csv"):
        load_dataset("overtraining_downstream")
