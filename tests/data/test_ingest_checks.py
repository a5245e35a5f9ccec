"""Inputs that used to be accepted silently or reported badly: misspelt columns, another
separator, true/false or dates where numbers belong, 6ND overflow, duplicate headers, long
row lists, cells reported twice, non-UTF-8 bytes; and export output that must read back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalinglab.data.datasets import load_dataset
from scalinglab.data.ingest import read_runs, write_runs
from scalinglab.data.store import Store
from scalinglab.errors import DataError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("header", "match"),
    [
        (
            "n_params,D,loss",
            r"no column 'N' \(parameters\), but column 'n_params' looks like it: "
            r"add --map N=n_params \(or rename the column to N\)\.",
        ),
        (
            "N,tokens,loss",
            r"no column 'D' \(tokens\), but column 'tokens' looks like it: "
            r"add --map D=tokens",
        ),
        (
            "N,D,FLOPs,loss",
            r"no column 'C' \(FLOP\), but column 'FLOPs' looks like it: "
            r"add --map C=FLOPs",
        ),
        ("num_param,D,loss", r"no column 'N' \(parameters\), but column 'num_param' looks like it"),
    ],
)
def test_misspelt_canonical_column(tmp_path: Path, header: str, match: str) -> None:
    n_cols = header.count(",") + 1
    path = write(tmp_path / "r.csv", f"{header}\n" + ",".join(["3"] * n_cols) + "\n")
    with pytest.raises(DataError, match=rf"^r\.csv: {match}"):
        read_runs(path)


def test_mapped_lookalike_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "n_params,D,loss\n1e8,2e9,3\n")
    assert read_runs(path, mapping={"N": "n_params"})["C"].iloc[0] == pytest.approx(6 * 1e8 * 2e9)


@pytest.mark.parametrize(("sep", "label"), [(";", "';'"), ("\t", "tab"), ("|", "'|'")])
def test_other_separator(tmp_path: Path, sep: str, label: str) -> None:
    path = write(tmp_path / "r.csv", sep.join(["N", "D", "loss"]) + "\n" + sep.join("123") + "\n")
    with pytest.raises(
        DataError,
        match=rf"r\.csv: the header .* reads as one column: the file looks {label}-separated, "
        "but scalinglab reads comma-separated CSV",
    ):
        read_runs(path)


def test_bool_where_a_number_belongs(tmp_path: Path) -> None:
    records = [{"N": True, "loss": 3.0}, {"N": 2e8, "loss": False}, {"N": 3e8, "loss": 2.5}]
    path = write(tmp_path / "r.json", json.dumps(records))
    with pytest.raises(DataError) as info:
        read_runs(path)
    assert str(info.value).splitlines() == [
        "r.json: column 'N' holds true/false values at rows 1 (values: True); it must hold "
        "numbers. Fix the column or map another one onto it with --map.",
        "r.json: column 'loss' holds true/false values at rows 2 (values: False); it must hold "
        "numbers. Fix the column or map another one onto it with --map.",
    ]
    frame = pd.DataFrame({"N": [1e8, 2e8], "loss": [True, False]})
    with pytest.raises(DataError, match="column 'loss' holds true/false values at rows 1, 2"):
        read_runs(frame)


def test_dates_where_a_number_belongs(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"N": [1e8, 2e8], "D": pd.to_datetime(["2024-01-01", "2024-02-01"]), "loss": [3.0, 2.9]}
    )
    frame.to_parquet(tmp_path / "r.parquet")
    with pytest.raises(
        DataError, match=r"r\.parquet: column 'D' holds dates or times at rows 1, 2"
    ):
        read_runs(tmp_path / "r.parquet")


def test_derived_compute_overflow() -> None:
    frame = pd.DataFrame({"N": [1e8, 1e200, 1e300], "D": [1e9, 1e200, 1e10], "loss": [3, 2, 1]})
    with pytest.raises(
        DataError,
        match=r"^<dataframe>: derived C overflows \(is not finite\) at rows 2, 3 "
        r"\(N=1e\+200, D=1e\+200, C=inf; N=1e\+300, D=1e\+10, C=inf\)\. Check the units of N "
        r"and D\.$",
    ):
        read_runs(frame)
    tiny = pd.DataFrame({"N": [1e-320], "C": [1e300], "loss": [3.0]})
    with pytest.raises(DataError, match=r"derived D overflows .* at rows 1 .* units of C and N"):
        read_runs(tiny)


def test_duplicate_header(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "N,D,N,loss,loss\n1,2,3,4,5\n")
    with pytest.raises(
        DataError,
        match=r"r\.csv: the header names a column more than once: 'N' at columns 1, 3; "
        r"'loss' at columns 4, 5\. Rename or remove",
    ):
        read_runs(path)
    frame = pd.DataFrame([[1.0, 2.0, 3.0]], columns=["N", "loss", "N"])
    with pytest.raises(DataError, match="<dataframe>: the header names a column more than once"):
        read_runs(frame)
    doc = write(tmp_path / "r.json", '[{"N": 1, "N": 2, "loss": 3}]')
    with pytest.raises(DataError, match=r"r\.json: an object names key 'N' more than once"):
        read_runs(doc)
    lines = write(tmp_path / "r.jsonl", '{"N": 1, "loss": 3}\n{"N": 1, "loss": 3, "loss": 4}\n')
    with pytest.raises(DataError, match=r"r\.jsonl: lines 2 name a key more than once"):
        read_runs(lines)


def test_long_row_lists_are_capped(tmp_path: Path) -> None:
    rows = ["x" if i % 2 else "1" for i in range(2430)]
    path = write(tmp_path / "r.csv", "N,loss\n" + "".join(f"{v},3\n" for v in rows))
    with pytest.raises(DataError) as info:
        read_runs(path)
    message = str(info.value)
    assert message == (
        "r.csv: column 'N' has non-numeric values at rows 2, 4, 6, 8, 10, 12, 14, 16, 18, 20 "
        "and 1,205 more (values: 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x' and 1,205 "
        "more). Fix or remove those cells."
    )


def test_each_bad_cell_reported_once(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "N,D,loss\nabc,-inf,3\n1e8,2e9,x\n2e8,,inf\n")
    with pytest.raises(DataError) as info:
        read_runs(path)
    assert str(info.value).splitlines() == [
        "r.csv: column 'N' has non-numeric values at rows 1 (values: 'abc'). Fix or remove "
        "those cells.",
        "r.csv: column 'loss' has non-numeric values at rows 2 (values: 'x'). Fix or remove "
        "those cells.",
        "r.csv: column 'D' has missing values at rows 3. Fill in or remove those rows.",
        "r.csv: column 'D' has infinite values at rows 1 (values: -inf). Fix or remove those "
        "cells.",
        "r.csv: column 'loss' has infinite values at rows 3 (values: inf). Fix or remove those "
        "cells.",
    ]


def test_non_utf8_reported_by_row(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes("N,loss,note\n1e8,3,ok\n2e8,2.9,caf\xe9\n3e8,2.8,x\n".encode("latin-1"))
    with pytest.raises(
        DataError,
        match=r"^r\.csv: not UTF-8 text: rows 2 hold bytes that are not UTF-8 \(the first: byte "
        r"0xe9\)\. Save the file as UTF-8",
    ):
        read_runs(path)
    lines = tmp_path / "r.jsonl"
    lines.write_bytes(b'{"N": 1, "loss": 3}\n{"N": 2, "loss": 3, "n": "\xff"}\n')
    with pytest.raises(DataError, match=r"r\.jsonl: not UTF-8 text: lines 2 hold bytes"):
        read_runs(lines)
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbfN,loss\n1e8,3\n")
    assert read_runs(bom).columns.tolist()[:2] == ["run_id", "N"]


def same_table(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Same columns, values and metrics; rows renumbered and, for long form, metric columns
    placed last."""
    assert sorted(a.columns) == sorted(b.columns)
    pd.testing.assert_frame_equal(
        a.reset_index(drop=True), b[list(a.columns)].reset_index(drop=True)
    )
    assert a.attrs["metrics"] == b.attrs["metrics"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("name", ["chinchilla_epoch", "overtraining_downstream", "revisiting_lang"])
def test_export_reimports_the_same_table(tmp_path: Path, name: str, suffix: str) -> None:
    with Store.open(tmp_path / "s.duckdb") as st:
        import_id = st.import_runs(load_dataset(name), source=name)
        out = st.export_runs(tmp_path / f"out{suffix}", import_id=import_id)
        stored = st.runs(import_id)
    back = read_runs(out)
    same_table(stored, back)


def test_export_uses_long_form_when_wide_would_not_read_back(tmp_path: Path) -> None:
    path = write(
        tmp_path / "long.csv",
        "run_id,N,metric,value\na,1e8,loss,3\na,1e8,bleu,20\nb,2e8,loss,2.5\n",
    )
    runs = read_runs(path)  # b has no bleu; bleu is not a metric name scalinglab knows
    assert np.isnan(runs["bleu"].iloc[1])
    out = write_runs(runs, tmp_path / "out.csv")
    assert out.read_text(encoding="utf-8").splitlines()[0].endswith(",metric,value")
    same_table(runs, read_runs(out))


def test_export_refusals(tmp_path: Path) -> None:
    mixed = pd.concat([load_dataset("chinchilla_epoch"), load_dataset("revisiting_lang")])
    mixed.attrs = {"metrics": ["loss", "Loss"]}
    with pytest.raises(
        DataError,
        match=r"out\.csv: cannot export: column N is missing for 712 of 957 runs but present "
        r"for the others .* Export one import at a time \(--import-id\)\.",
    ):
        write_runs(mixed, tmp_path / "out.csv")
    runs = read_runs(pd.DataFrame({"N": [1e8, 2e8], "loss": [3.0, 2.0]}))
    runs.loc[2, "loss"] = np.nan
    with pytest.raises(DataError, match=r"cannot export: rows 2 have no metric value"):
        write_runs(runs, tmp_path / "out.csv")
    with pytest.raises(DataError, match=r"cannot export to '\.txt'; use a \.csv or \.parquet"):
        write_runs(runs, tmp_path / "out.txt")
    assert not (tmp_path / "out.csv").exists()
