"""read_runs: file formats, mapping, wide and long form, and every validation error."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalinglab.data.ingest import build_runs, read_runs, write_runs
from scalinglab.errors import DataError

MAP = {"N": "params", "D": "tokens"}
WIDE = pd.DataFrame(
    {
        "params": [1e8, 2e8, 4e8],
        "tokens": [2e9, 4e9, 8e9],
        "loss": [3.5, 3.2, 3.0],
        "err_avg": [0.7, 0.6, 0.5],
        "dataset": ["c4", "rpj", "c4"],
    }
)
MAPPING = {"N": "params", "D": "tokens"}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def check_wide(df: pd.DataFrame) -> None:
    assert list(df.columns[:6]) == ["run_id", "N", "D", "C", "C_derived", "D_derived"]
    assert df["N"].tolist() == [1e8, 2e8, 4e8]
    assert df["C"].tolist() == [6 * 1e8 * 2e9, 6 * 2e8 * 4e9, 6 * 4e8 * 8e9]
    assert df["C_derived"].all() and not df["D_derived"].any()
    assert df.attrs["metrics"] == ["loss", "err_avg"]
    assert df["dataset"].tolist() == ["c4", "rpj", "c4"]
    assert df["loss"].dtype == np.float64


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json", "jsonl", "json-lines-in-json"])
def test_round_trip_formats(tmp_path: Path, fmt: str) -> None:
    if fmt == "csv":
        path = tmp_path / "runs.csv"
        WIDE.to_csv(path, index=False)
    elif fmt == "parquet":
        path = tmp_path / "runs.parquet"
        WIDE.to_parquet(path)
    elif fmt == "json":
        path = write(tmp_path / "runs.json", WIDE.to_json(orient="records"))
    else:
        path = tmp_path / ("runs.jsonl" if fmt == "jsonl" else "runs.json")
        write(path, WIDE.to_json(orient="records", lines=True))
    df = read_runs(path, mapping=MAPPING)
    check_wide(df)
    assert df["run_id"].tolist() == ["runs:1", "runs:2", "runs:3"]
    assert df.attrs["source"] == str(path)
    assert df.attrs["default_metric"] is None


def test_json_columns_object(tmp_path: Path) -> None:
    path = write(tmp_path / "runs.json", json.dumps(WIDE.to_dict(orient="list")))
    check_wide(read_runs(path, mapping=MAPPING))


def test_dataframe_source_and_present_run_id() -> None:
    df = read_runs(WIDE.assign(run_id=["a", "b", "c"]), mapping=MAPPING)
    check_wide(df)
    assert df["run_id"].tolist() == ["a", "b", "c"]
    assert df.attrs["source"] == "<dataframe>"


def test_run_id_keeps_leading_zeros(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "run_id,N,loss\n007,1e8,3.0\n")
    assert read_runs(path)["run_id"].tolist() == ["007"]


def test_explicit_metric_and_d_derivation(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "N,C,bleu,note\n1e8,1.2e18,30.5,x\n2e8,2.4e18,31.0,y\n")
    df = read_runs(path, metrics=["bleu"])
    assert df.attrs["metrics"] == ["bleu"]
    assert df["D"].tolist() == [2e9, 2e9]
    assert df["D_derived"].all() and not df["C_derived"].any()


def test_strings_stay_strings_numbers_become_float(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "N,D,loss,model,steps\n1,2,3,6 Enc,10\n1,3,3,1e8,20\n")
    df = read_runs(path)
    assert df["model"].tolist() == ["6 Enc", "1e8"]
    assert df["steps"].dtype == np.float64


def test_long_form_pivot(tmp_path: Path) -> None:
    path = write(
        tmp_path / "long.csv",
        "run_id,N,D,step,metric,value\n"
        "a,1e8,2e9,100,loss,3.5\na,1e8,2e9,100,err_avg,0.7\n"
        "a,1e8,2e9,200,loss,3.3\nb,2e8,4e9,100,loss,3.1\n",
    )
    df = read_runs(path)
    assert df.attrs["long_form"] is True
    assert sorted(df.attrs["metrics"]) == ["err_avg", "loss"]
    assert df[["run_id", "step"]].values.tolist() == [["a", 100.0], ["a", 200.0], ["b", 100.0]]
    assert df["loss"].tolist() == [3.5, 3.3, 3.1]
    assert df["err_avg"].isna().tolist() == [False, True, True]
    assert list(df.index) == [1, 3, 4]


def test_long_form_without_run_id_numbers_by_first_row(tmp_path: Path) -> None:
    path = write(tmp_path / "long.csv", "N,metric,value\n1e8,loss,3.5\n1e8,err,0.7\n2e8,loss,3.1\n")
    df = read_runs(path)
    assert df["run_id"].tolist() == ["long:1", "long:3"]


def test_long_form_exact_duplicates_dropped(tmp_path: Path) -> None:
    path = write(tmp_path / "long.csv", "run_id,metric,value\na,loss,3\na,loss,3\n")
    df = read_runs(path)
    assert len(df) == 1 and "dropped 1 exact duplicate rows" in df.attrs["notices"][0]


def test_exact_duplicates_dropped_with_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "runs.csv", "N,D,loss\n1,2,3\n1,2,3\n4,5,6\n1,2,3\n")
    with caplog.at_level(logging.WARNING, logger="scalinglab.data.ingest"):
        df = read_runs(path)
    assert len(df) == 2 and list(df.index) == [1, 3]
    assert df.attrs["notices"] == ["runs.csv: dropped 2 exact duplicate rows (rows 2, 4)"]
    assert "dropped 2 exact duplicate rows" in caplog.text


def test_write_runs_round_trip(tmp_path: Path) -> None:
    df = read_runs(WIDE, mapping=MAPPING)
    for name in ("out.csv", "out.parquet"):
        back = read_runs(write_runs(df, tmp_path / name))
        pd.testing.assert_frame_equal(back, df, check_index_type=False)


def test_write_runs_errors(tmp_path: Path) -> None:
    df = read_runs(WIDE, mapping=MAPPING)
    with pytest.raises(DataError, match=r"cannot export to '\.xlsx'; use a \.csv or \.parquet"):
        write_runs(df, tmp_path / "out.xlsx")
    with pytest.raises(DataError, match="cannot write"):
        write_runs(df, tmp_path / "missing-dir" / "out.csv")


# -- errors ----------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: no such file"):
        read_runs(tmp_path / "nope.csv")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a directory"):
        read_runs(tmp_path)


def test_unknown_extension(tmp_path: Path) -> None:
    path = write(tmp_path / "runs.xlsx", "x")
    with pytest.raises(DataError, match=r"unknown file type '\.xlsx'\. Supported: \.csv"):
        read_runs(path)


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"runs\.csv: the file is empty"):
        read_runs(write(tmp_path / "runs.csv", ""))


def test_header_only(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"runs\.csv: the file has no data rows"):
        read_runs(write(tmp_path / "runs.csv", "N,D,loss\n"))


def test_empty_dataframe() -> None:
    with pytest.raises(DataError, match="<dataframe>: the table has no data rows"):
        read_runs(pd.DataFrame({"loss": []}))


def test_unreadable_parquet(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"runs\.parquet: cannot be read as parquet"):
        read_runs(write(tmp_path / "runs.parquet", "not parquet at all"))


def test_unreadable_csv(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    path.write_bytes(b"N,loss\n\xff\xfe,1\n")
    with pytest.raises(
        DataError,
        match=r"runs\.csv: not UTF-8 text: rows 1 hold bytes that are not UTF-8 \(the first: byte 0xff\)\. ",
    ):
        read_runs(path)


def test_bad_json_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "r.jsonl", '{"N": 1}\n{oops\n{"N": 2}\n[\n')
    with pytest.raises(DataError, match="lines 2, 4 are not valid JSON"):
        read_runs(path)


def test_json_wrong_shape(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="expected an array of objects or JSON lines, got int"):
        read_runs(write(tmp_path / "r.json", "42"))
    with pytest.raises(DataError, match="rows 2 are not JSON objects"):
        read_runs(write(tmp_path / "r.json", '[{"N": 1}, 3]'))


def test_mapping_missing_column_suggests(tmp_path: Path) -> None:
    path = write(tmp_path / "runs.csv", "params,tokens,loss\n1,2,3\n")
    with pytest.raises(
        DataError,
        match=r"mapping N=param names column 'param', which is not in "
        r"the file \(did you mean 'params'\?\)",
    ):
        read_runs(path, mapping={"N": "param"})


def test_mapping_overwrite_and_reuse(tmp_path: Path) -> None:
    path = write(tmp_path / "runs.csv", "N,params,loss\n1,2,3\n")
    with pytest.raises(DataError, match="would replace the existing column 'N'"):
        read_runs(path, mapping={"N": "params"})
    with pytest.raises(DataError, match="uses a source column twice"):
        read_runs(path, mapping={"D": "params", "C": "params"})


def test_declared_metric_missing_suggests() -> None:
    with pytest.raises(
        DataError,
        match=r"declared metric 'Los' is not among the columns "
        r"\(did you mean 'loss'\?\)",
    ):
        read_runs(WIDE, metrics=["Los"])


def test_reserved_metric() -> None:
    with pytest.raises(DataError, match="'N' is a reserved column and cannot be a metric"):
        read_runs(WIDE, mapping=MAPPING, metrics=["N"])


def test_non_numeric_lists_all_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "runs.csv", "N,D,loss\n1,2,3\n1,2,3.1\nabc,2,3.2\n1,2,3.3\n1e,2,x\n")
    with pytest.raises(DataError) as info:
        read_runs(path)
    message = str(info.value)
    assert (
        "runs.csv: column 'N' has non-numeric values at rows 3, 5 (values: 'abc', '1e'). "
        "Fix or remove those cells."
    ) in message
    assert "column 'loss' has non-numeric values at rows 5 (values: 'x')" in message


def test_missing_values_in_n_and_metric(tmp_path: Path) -> None:
    path = write(tmp_path / "runs.csv", "N,D,loss\n1,2,3\n,2,3.1\n1,2,\n")
    with pytest.raises(DataError, match=r"column 'N' has missing values at rows 2\.") as info:
        read_runs(path)
    assert "column 'loss' has missing values at rows 3" in str(info.value)


def test_infinite_values(tmp_path: Path) -> None:
    path = write(tmp_path / "runs.csv", "N,D,loss,step\n1,inf,3,1\n1,2,-inf,inf\n")
    with pytest.raises(DataError, match=r"column 'D' has infinite values at rows 1") as info:
        read_runs(path)
    assert "column 'loss' has infinite values at rows 2" in str(info.value)
    assert "column 'step' has infinite values at rows 2" in str(info.value)


def test_non_positive(tmp_path: Path) -> None:
    path = write(tmp_path / "runs.csv", "N,D,C,loss\n0,2,1,3\n1,-2,1,3\n1,2,1,3\n")
    with pytest.raises(
        DataError,
        match=r"column 'N' has non-positive values at rows 1 "
        r"\(values: 0\.0\)\. N must be > 0 \(parameters\)",
    ) as info:
        read_runs(path)
    assert "column 'D' has non-positive values at rows 2 (values: -2.0)" in str(info.value)


def test_bad_flag_and_missing_run_id(tmp_path: Path) -> None:
    path = write(
        tmp_path / "runs.csv", "run_id,N,D,C,C_derived,loss\na,1,2,12,maybe,3\n,1,2,12,True,3\n"
    )
    with pytest.raises(DataError, match="column 'C_derived' must be true/false; rows 1") as info:
        read_runs(path)
    assert "column 'run_id' has missing values at rows 2" in str(info.value)


def test_conflicting_duplicates_list_pairs(tmp_path: Path) -> None:
    path = write(tmp_path / "runs.csv", "N,D,loss\n1,2,3.0\n5,6,1.0\n1,2,3.5\n5,6,1.1\n1,2,3.7\n")
    with pytest.raises(
        DataError,
        match=r"conflicting duplicates: rows 1 and 3; 1 and 5; 2 and 4 "
        r"have the same N, D but different metric values",
    ):
        read_runs(path)


def test_long_form_conflicts(tmp_path: Path) -> None:
    path = write(tmp_path / "long.csv", "run_id,metric,value\na,loss,3\nb,loss,2\na,loss,4\n")
    with pytest.raises(
        DataError, match="rows 1 and 3 have the same run_id, metric but different value"
    ):
        read_runs(path)


def test_long_form_problems(tmp_path: Path) -> None:
    path = write(tmp_path / "long.csv", "run_id,metric,value\na,,3\nb,loss,x\n")
    with pytest.raises(DataError, match="column 'metric' has missing values at rows 1") as info:
        read_runs(path)
    assert "column 'value' has non-numeric values at rows 2" in str(info.value)
    with pytest.raises(DataError, match="needs at least one identifying column"):
        read_runs(write(tmp_path / "l2.csv", "metric,value\nloss,3\n"))
    with pytest.raises(DataError, match=r"metric names \['N'\] are also column names"):
        read_runs(write(tmp_path / "l3.csv", "run_id,metric,value\na,N,3\n"))
    with pytest.raises(DataError, match="declared metric 'bleu' is not among the metric names"):
        read_runs(write(tmp_path / "l4.csv", "run_id,metric,value\na,loss,3\n"), metrics=["bleu"])


def test_default_metric_must_be_metric() -> None:
    with pytest.raises(DataError, match="default metric 'acc' is not a metric column"):
        build_runs(WIDE, name="x", stem="x", source="x", default_metric="acc", mapping=MAP)


def test_json_null_is_missing(tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", json.dumps([{"N": 1, "loss": 2}, {"N": None, "loss": 3}]))
    with pytest.raises(DataError, match="column 'N' has missing values at rows 2"):
        read_runs(path)
