import numpy as np
import pandas as pd
import pytest

from scalinglab.errors import DataError
from scalinglab.trust.holdout import Holdout, axis_values


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "N": [1e7, 1e7, 1e8, 1e8, 1e9, 1e9, 1e10],
            "D": [1e9, 2e9, 1e9, 2e9, 1e9, 2e9, 1e9],
            "Training": [1, 1, 1, 1, 1, 0, 0],
        }
    )


def test_top_k_distinct_values_keeps_sizes_whole():
    m = Holdout.parse("top 2 by N").mask(frame())
    assert m.tolist() == [False, False, False, False, True, True, True]


def test_top_percent_by_derived_compute():
    f = frame()
    m = Holdout.parse("top 30% by C").mask(f)
    C = 6 * f["N"] * f["D"]
    # ceil(0.3 * 7) = 3 largest compute values
    assert m.sum() == 3
    assert set(np.flatnonzero(m)) == set(np.argsort(C.to_numpy())[-3:])
    assert np.allclose(axis_values(f, "C"), C)


def test_expression_holdout():
    m = Holdout.parse("Training == 0").mask(frame())
    assert m.tolist() == [False] * 5 + [True, True]


@pytest.mark.parametrize(
    ("spec", "msg"),
    [
        ("top 0 by N", "percentage in \\(0, 100\\) or a whole"),
        ("top 150% by N", "percentage"),
        ("top 2.5 by N", "whole number"),
        ("top twenty by N", "expected 'top P% by COLUMN'"),
    ],
)
def test_bad_specs(spec, msg):
    with pytest.raises(DataError, match=msg):
        Holdout.parse(spec)


def test_too_many_distinct_values_and_unknown_column():
    with pytest.raises(DataError, match="only 4 distinct values of N"):
        Holdout.parse("top 4 by N").mask(frame())
    with pytest.raises(DataError, match="holdout column 'params' is not in the runs"):
        Holdout.parse("top 1 by params").mask(frame())
