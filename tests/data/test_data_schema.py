"""Units, metric names and the one place where C = 6ND / D = C/(6N) are derived."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scalinglab.data.schema import derive_compute, is_metric_name, metric_unit


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("loss", "nats/token"),
        ("val_loss", "nats/token"),
        ("train_loss", "nats/token"),
        ("loss_c4_val", "nats/token"),
        ("c4_loss", "nats/token"),
        ("log_perplexity", "nats/token"),
        ("err_avg_17", "fraction"),
        ("acc_boolq", "fraction"),
        ("top1_error", "fraction"),
        ("Loss", "task unit"),
        ("bleu", "task unit"),
    ],
)
def test_metric_unit(name: str, unit: str) -> None:
    assert metric_unit(name) == unit


def test_is_metric_name() -> None:
    assert is_metric_name("loss_openlm") and is_metric_name("acc_piqa")
    assert not is_metric_name("params") and not is_metric_name("lossy")


def test_derive_c_and_d() -> None:
    df = pd.DataFrame({"N": [1e8, 2e8], "D": [2e9, np.nan], "C": [np.nan, 2.4e18]})
    out = derive_compute(df)
    assert out["C"].tolist() == [6 * 1e8 * 2e9, 2.4e18]
    assert out["D"].tolist() == [2e9, 2.4e18 / (6 * 2e8)]
    assert out["C_derived"].tolist() == [True, False]
    assert out["D_derived"].tolist() == [False, True]
    assert "C_derived" not in df.columns  # input untouched


def test_derive_without_n_adds_missing_columns() -> None:
    out = derive_compute(pd.DataFrame({"loss": [1.0]}))
    assert out[["N", "D", "C"]].isna().all().all()
    assert not out["C_derived"].any() and not out["D_derived"].any()


def test_derive_keeps_existing_flags_and_source_derived() -> None:
    df = pd.DataFrame({"N": [1.0], "D": [2.0], "C": [12.0], "C_derived": [True]})
    out = derive_compute(df, derived_in_source=["D"])
    assert out["C_derived"].tolist() == [True] and out["D_derived"].tolist() == [True]


def test_derive_rejects_unknown_derived_column() -> None:
    with pytest.raises(ValueError, match="accepts 'C' and 'D', not 'N'"):
        derive_compute(pd.DataFrame({"N": [1.0]}), derived_in_source=["N"])
