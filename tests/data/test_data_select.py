"""where expressions, metric choice, x column and group-by."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from scalinglab.data.datasets import load_dataset
from scalinglab.data.ingest import read_runs
from scalinglab.data.select import evaluate_where, group_runs, select_runs
from scalinglab.errors import DataError


@pytest.fixture(scope="module")
def runs() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "N": [1e7, 1e8, 1e9, 2e9],
            "D": [1e8, 3e9, 1e10, 1e11],
            "loss": [4.0, 3.4, 3.0, 2.5],
            "err_x": [0.9, 0.8, 0.7, 0.6],
            "dataset": ["rpj", "c4", "rpj", "c4"],
            "Seen Examples": [1e5, 1e6, 1e7, 1e8],
            "Training": [1, 1, 0, 0],
        }
    )
    return read_runs(frame)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("loss < 3.44", [2, 3, 4]),
        ("dataset == 'rpj'", [1, 3]),
        ("Training == 0", [3, 4]),
        ("N > 1e8 and D/N >= 20", [4]),
        ("3 < loss <= 3.5", [2]),
        ("`Seen Examples` > 1e6", [3, 4]),
        ("(dataset in ['c4']) & (N > 1e8)", [4]),
        ("dataset not in ['c4'] or not Training == 1", [1, 3, 4]),
        ("~(Training == 1) | (-loss > -3.5)", [2, 3, 4]),
        ("N * 2 ** 1 - 0 + D % 7 // 1 >= 0", [1, 2, 3, 4]),
        ("True", [1, 2, 3, 4]),
    ],
)
def test_where(runs: pd.DataFrame, expr: str, expected: list[int]) -> None:
    assert list(runs.index[evaluate_where(runs, expr)]) == expected


@pytest.mark.parametrize(
    ("expr", "match"),
    [
        ("los < 3", r"unknown column 'los' \(did you mean 'loss'\?\)"),
        ("loss <", r"syntax error .* at offset 6\n  loss <\n        \^"),
        ("`Seen < 3", "unmatched backtick at offset 0"),
        ("__import__('os')", r"Call is not allowed[\s\S]*\n  \^"),
        ("loss in 3", r"'in' needs a list"),
        ("loss is 3", "comparison Is is not allowed"),
        ("dataset < 3", "cannot evaluate"),
        ("loss + 1", "must be true/false for each run"),
        ("'abc'", "must be true/false"),
    ],
)
def test_where_errors(runs: pd.DataFrame, expr: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        evaluate_where(runs, expr)


def test_chinchilla_selection() -> None:
    selected = select_runs(load_dataset("chinchilla_epoch"), where="loss < 3.44")
    assert len(selected) == 240
    assert selected.attrs["metric"] == "loss" and selected.attrs["metric_unit"] == "nats/token"
    assert selected.attrs["where"] == "loss < 3.44"
    assert (selected["y"] == selected["loss"]).all()


def test_metric_choice(runs: pd.DataFrame) -> None:
    assert select_runs(runs).attrs["metric"] == "loss"  # two metrics, one named loss
    chosen = select_runs(runs, metric="err_x")
    assert chosen["y"].tolist() == [0.9, 0.8, 0.7, 0.6]
    assert chosen.attrs["metric_unit"] == "fraction"
    only = read_runs(pd.DataFrame({"N": [1.0], "bleu": [2.0]}), metrics=["bleu"])
    assert select_runs(only).attrs["metric"] == "bleu"


def test_metric_errors(runs: pd.DataFrame) -> None:
    two = read_runs(pd.DataFrame({"N": [1.0], "err_a": [0.1], "err_b": [0.2]}))
    with pytest.raises(DataError, match="choose a metric with --metric; metrics: err_a, err_b"):
        select_runs(two)
    with pytest.raises(DataError, match=r"unknown metric 'los' \(did you mean 'loss'\?\)"):
        select_runs(runs, metric="los")
    none = read_runs(pd.DataFrame({"N": [1.0], "los": [3.0]}))
    with pytest.raises(
        DataError,
        match=r"<dataframe>: no metric column among .* column 'los' looks like 'loss': add "
        r"--map loss=los\. Or choose a column with --metric\.",
    ):
        select_runs(none)
    with pytest.raises(DataError, match="metric column 'dataset' is not numeric at rows 1, 2"):
        select_runs(runs, metric="dataset")


def test_missing_and_infinite_y() -> None:
    frame = read_runs(pd.DataFrame({"N": [1.0, 2.0, 3.0], "extra": [1.0, None, float("inf")]}))
    with pytest.raises(DataError, match="metric 'extra' is missing at rows 2"):
        select_runs(frame, metric="extra")
    with pytest.raises(DataError, match="metric 'extra' is not finite at rows 3"):
        select_runs(frame, metric="extra", where="N != 2")


def test_long_form_drops_runs_without_metric(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("run_id,metric,value\na,loss,3\na,err,0.5\nb,loss,2\n", encoding="utf-8")
    long = read_runs(path)
    selected = select_runs(long, metric="err")
    assert selected["run_id"].tolist() == ["a"]
    assert selected.attrs["notices"] == [f"{path}: dropped 1 runs without metric 'err'"]
    with pytest.raises(DataError, match="no run has metric 'err'"):
        select_runs(long, metric="err", where="run_id == 'b'")


def test_empty_selection(runs: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="--where 'loss < 0' selected 0 of 4 runs"):
        select_runs(runs, where="loss < 0")


def test_x_column(runs: pd.DataFrame) -> None:
    assert select_runs(runs, x="N")["x"].tolist() == [1e7, 1e8, 1e9, 2e9]
    with pytest.raises(DataError, match=r"unknown x column 'n' \(did you mean 'N'\?\)"):
        select_runs(runs, x="n")
    bad = read_runs(pd.DataFrame({"loss": [1.0, 2.0, 3.0], "t": [1.0, 0.0, -1.0]}))
    with pytest.raises(
        DataError,
        match=r"x column 't' must be finite and > 0; rows 2, 3 have "
        r"0\.0, -1\.0",
    ):
        select_runs(bad, x="t")
    with pytest.raises(DataError, match="x column 'dataset' is not numeric"):
        select_runs(runs, x="dataset")


def test_group_runs(runs: pd.DataFrame) -> None:
    selected = select_runs(runs)
    groups = group_runs(selected, "dataset")
    assert [k for k, _ in groups] == ["dataset=c4", "dataset=rpj"]
    assert groups[0][1]["N"].tolist() == [1e8, 2e9]
    assert groups[0][1].attrs["metric"] == "loss"
    keys = [k for k, _ in group_runs(selected, "dataset, Training")]
    assert keys == [
        "dataset=c4,Training=0",
        "dataset=c4,Training=1",
        "dataset=rpj,Training=0",
        "dataset=rpj,Training=1",
    ]
    assert group_runs(selected, ["N"])[0][0] == "N=10000000"
    with pytest.raises(
        DataError,
        match=r"unknown --group-by column 'datset' \(did you mean "
        r"'dataset'\?\)",
    ):
        group_runs(selected, "datset")


def test_group_key_formats() -> None:
    frame = read_runs(
        pd.DataFrame({"run_id": ["a", "b", "c"], "loss": [1.0, 2.0, 3.0], "lr": [0.5, None, 0.5]})
    )
    frame["lr"] = frame["lr"].astype("float64")
    keys = [k for k, _ in group_runs(select_runs(frame), "lr")]
    assert keys == ["lr=0.5", "lr=nan"]


@pytest.mark.parametrize(
    ("expr", "match"),
    [
        (
            "9**9**9 > 0",
            r"^--holdout '9\*\*9\*\*9 > 0': 9 \*\* 387420489 is about 10\^3\.7e\+08, beyond the "
            r"float range \(10\^308\); use a smaller exponent\.",
        ),
        ("N < 10**400", r"^--holdout 'N < 10\*\*400': 10 \*\* 400 is about 10\^400, beyond"),
        ("N < 10**300 * 10**300 * 10**300", None),
        ("N < 10**308 * 10", None),
        ("N < 1" + "0" * 400, r"the number 10000000\.\.\.\(401 digits\) is beyond the float range"),
        ("'a' * 100000 == dataset", r"repetition would make 100,000 items; the limit is 10,000"),
        ("dataset * 5000 == 'a'", r"repetition would make 15,000 items"),
        ("(-8) ** 0.5 < N", r"the result .*j\) is not a real number"),
        ("1 % 0 < N", r"cannot evaluate: integer modulo by zero"),
        ("not " * 250 + "True", r"the expression has \d+ parts; the limit is 400\.$"),
        (
            "N > 1 " + "or N > 1 " * 400,
            r"^--holdout: the expression is 3,606 characters long; the limit is 2,000\.$",
        ),
    ],
)
def test_where_is_bounded(runs: pd.DataFrame, expr: str, match: str | None) -> None:
    """Huge powers are refused before they are computed, and every message names the option."""
    if match is None:  # int results beyond 2**53 are compared as floats, not refused
        assert evaluate_where(runs, expr, option="--holdout").all()
        return
    with pytest.raises(DataError, match=match) as info:
        evaluate_where(runs, expr, option="--holdout")
    assert str(info.value).startswith("--holdout")


def test_where_time_limit(runs: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    from scalinglab.data import select

    monkeypatch.setattr(select, "MAX_SECONDS", -1.0)
    with pytest.raises(DataError, match=r"^--where 'N > 1': evaluation took longer than -1 s"):
        evaluate_where(runs, "N > 1")
