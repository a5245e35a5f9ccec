"""Tracker imports: files written by each tracker's own library, read back value by value."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from scalinglab.cli import runs as runs_cli
from scalinglab.data.ingest import read_runs
from scalinglab.data.trackers import TrackerRun, long_table, read_tracker, require
from scalinglab.errors import DataError

# what the fake trainings log: step -> (loss, val/loss); values not exact in float32 on purpose
STEPS = (0, 10, 25)


def curve(scale: float) -> dict[int, tuple[float, float]]:
    return {s: (scale * (3.1 - 0.01 * s), scale * (3.3 - 0.013 * s)) for s in STEPS}


def check_curves(
    runs: pd.DataFrame, expected: dict[str, dict[int, tuple[float, float]]], rel: float
) -> None:
    """Every logged (run, step, loss, val loss) is a row of the wide runs table, and no more."""
    assert sorted(set(runs["run_id"])) == sorted(expected)
    assert len(runs) == sum(len(c) for c in expected.values())
    for run_id, points in expected.items():
        rows = runs[runs["run_id"] == run_id].set_index("step")
        assert sorted(rows.index) == sorted(points)
        for step, (loss, val) in points.items():
            assert rows.loc[step, "loss"] == pytest.approx(loss, rel=rel)
            assert rows.loc[step, "val_loss"] == pytest.approx(val, rel=rel)


def first(runs: pd.DataFrame, run_id: str, column: str) -> Any:
    values = runs.loc[runs["run_id"] == run_id, column]
    assert values.nunique(dropna=False) == 1  # a hyper-parameter is the same at every step
    return values.iloc[0]


# --- TensorBoard -------------------------------------------------------------------------


def write_tensorboard(logdir: Path) -> dict[str, dict[int, tuple[float, float]]]:
    tb = pytest.importorskip("torch.utils.tensorboard")
    expected = {"small": curve(1.0), "big/seed1": curve(0.8)}
    hparams = {
        "small": {"n_params": 1.5e6, "lr": 3e-4, "opt": "adam"},
        "big/seed1": {"n_params": 2.5e7, "lr": 1e-4, "opt": "sgd"},
    }
    for name, points in expected.items():
        writer = tb.SummaryWriter(str(logdir / name))
        for step, (loss, val) in points.items():
            writer.add_scalar("loss", loss, step)
            writer.add_scalar("val/loss", val, step)
        # "small": the hparams in the run's own folder; "big/seed1": torch's default, a
        # time-named sub-folder that the reader merges into the run
        run_name = "." if name == "small" else None
        writer.add_hparams(hparams[name], {"hparam/final": points[STEPS[-1]][0]}, run_name=run_name)
        writer.close()
    return expected


def test_tensorboard_every_value_comes_back(tmp_path: Path) -> None:
    expected = write_tensorboard(tmp_path / "logs")
    runs = read_tracker(
        "tensorboard", tmp_path / "logs", mapping={"N": "n_params", "val_loss": "val/loss"}
    )
    assert runs.attrs["source"] == f"tensorboard:{tmp_path / 'logs'}"
    check_curves(runs.dropna(subset=["loss"]), expected, rel=1e-6)  # event files hold float32
    assert first(runs, "small", "N") == 1.5e6 and first(runs, "big/seed1", "N") == 2.5e7
    assert (
        first(runs, "small", "lr") == pytest.approx(3e-4)
        and first(runs, "big/seed1", "opt") == "sgd"
    )
    # add_hparams also logs its metric dict as a scalar at step 0
    final = runs.dropna(subset=["hparam/final"])
    assert sorted(final["run_id"]) == ["big/seed1", "small"]
    assert set(final["step"]) == {0.0}
    assert final.set_index("run_id").loc["small", "hparam/final"] == pytest.approx(
        expected["small"][25][0], rel=1e-6
    )


def test_tensorboard_raw_table_goes_through_read_runs(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from scalinglab.data.trackers import read_tensorboard

    expected = write_tensorboard(tmp_path)
    raw = read_tensorboard(tmp_path)
    assert list(raw.columns[:1]) == ["run_id"] and list(raw.columns[-3:]) == [
        "step",
        "metric",
        "value",
    ]
    renamed = raw.assign(metric=raw["metric"].replace({"val/loss": "val_loss"}))
    runs = read_runs(renamed, mapping={"N": "n_params"})
    check_curves(runs.dropna(subset=["loss"]), expected, rel=1e-6)


def test_tensorboard_errors(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    with pytest.raises(DataError, match="no such folder"):
        read_tracker("tensorboard", tmp_path / "missing")
    with pytest.raises(DataError, match=r"no TensorBoard event files \(events.out.tfevents"):
        read_tracker("tensorboard", tmp_path)
    write_tensorboard(tmp_path / "logs")
    with pytest.raises(DataError, match=r"mapping N=n_param names column 'n_param'.*n_params"):
        read_tracker("tensorboard", tmp_path / "logs", mapping={"N": "n_param"})


def test_tensorboard_restarted_run(tmp_path: Path) -> None:
    """A run restarted from step 10 logs steps 10 and 20 again: different values are an error,
    the same values once more are dropped with a notice."""
    tb = pytest.importorskip("torch.utils.tensorboard")
    for attempt, losses in enumerate(({0: 3.0, 10: 2.5, 20: 2.25}, {10: 2.5, 20: 2.0})):
        writer = tb.SummaryWriter(str(tmp_path / "run"), filename_suffix=f".attempt{attempt}")
        for step, loss in losses.items():
            writer.add_scalar("loss", loss, step)
        writer.close()
    with pytest.raises(DataError, match=r"run: 'loss' at step 20 \(2.25, 2.0\).*Keep one"):
        read_tracker("tensorboard", tmp_path)
    second = next(tmp_path.glob("run/*.attempt1"))
    second.unlink()
    writer = tb.SummaryWriter(str(tmp_path / "run"), filename_suffix=".attempt2")
    writer.add_scalar("loss", 2.5, 10)
    writer.close()
    runs = read_tracker("tensorboard", tmp_path)
    assert dict(zip(runs["step"], runs["loss"], strict=True)) == {0: 3.0, 10: 2.5, 20: 2.25}
    assert any("dropped 1 exact duplicate rows" in n for n in runs.attrs["notices"])


def test_tensorboard_run_without_scalars(tmp_path: Path) -> None:
    tb = pytest.importorskip("torch.utils.tensorboard")
    writer = tb.SummaryWriter(str(tmp_path / "empty"))
    writer.add_text("note", "no scalars here", 0)
    writer.close()
    with pytest.raises(DataError, match=r"no scalar values \(metrics\) were logged in 1 run"):
        read_tracker("tensorboard", tmp_path)


# --- MLflow ------------------------------------------------------------------------------


def write_mlflow(store: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    mlflow = pytest.importorskip("mlflow")
    # MLflow 3 refuses to write a file store unless told; the reader sets this itself
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    mlflow.set_tracking_uri(store.resolve().as_uri())
    mlflow.set_experiment("scaling")
    logged: dict[str, Any] = {}
    for name, scale, n in (("tiny", 1.0, 1e6), ("tiny", 0.9, 2e6), ("base", 0.8, 3e7)):
        with mlflow.start_run(run_name=name) as run:
            mlflow.log_params({"n_params": n, "tokens": 20 * n, "optimizer": "adamw"})
            for step, (loss, val) in curve(scale).items():
                mlflow.log_metric("loss", loss, step=step)
                mlflow.log_metric("val_loss", val, step=step)
            logged[run.info.run_id] = (name, n, curve(scale))
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    return logged


def test_mlflow_every_value_comes_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logged = write_mlflow(tmp_path / "mlruns", monkeypatch)
    runs = read_tracker("mlflow", tmp_path / "mlruns", mapping={"N": "n_params", "D": "tokens"})
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ  # set only while reading
    assert runs.attrs["source"] == f"mlflow:{tmp_path / 'mlruns'}"
    expected: dict[str, dict[int, tuple[float, float]]] = {}
    for run_id, (name, n, points) in logged.items():
        # two runs named "tiny": told apart by their MLflow run ids
        label = name if name == "base" else f"{name}-{run_id[:8]}"
        expected[label] = points
        assert first(runs, label, "mlflow_run_id") == run_id
        assert first(runs, label, "N") == n and first(runs, label, "D") == 20 * n
        assert first(runs, label, "optimizer") == "adamw"
        assert first(runs, label, "mlflow_experiment") == "scaling"
    check_curves(runs, expected, rel=1e-12)
    assert (runs["C"] == 6 * runs["N"] * runs["D"]).all() and runs["C_derived"].all()


def test_mlflow_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlflow")
    with pytest.raises(DataError, match=r"no such folder or file.*tracking URI"):
        read_tracker("mlflow", tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataError, match="not an MLflow tracking folder"):
        read_tracker("mlflow", tmp_path / "plain")
    assert list((tmp_path / "plain").iterdir()) == []  # nothing written into it
    write_mlflow(tmp_path / "mlruns", monkeypatch)
    from scalinglab.data.trackers import read_mlflow

    with pytest.raises(DataError, match="no MLflow experiment named 'nope'"):
        read_mlflow(tmp_path / "mlruns", experiment="nope")
    with pytest.raises(DataError, match="MLflow finds no runs there"):
        read_mlflow(tmp_path / "mlruns", experiment="Default")
    with pytest.raises(DataError, match="MLflow cannot read the tracking store"):
        read_mlflow("notascheme://host/x")
    # a file is read as a sqlite store (mlflow-skinny cannot, full mlflow finds no database)
    (tmp_path / "notes.db").write_text("not a database")
    with pytest.raises(DataError, match="MLflow cannot read the tracking store sqlite:///"):
        read_mlflow(tmp_path / "notes.db")


# --- W&B ---------------------------------------------------------------------------------


@pytest.fixture
def wandb_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    wandb = pytest.importorskip("wandb")
    for key, value in {
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_DISABLE_GIT": "true",
        "WANDB_DISABLE_CODE": "true",
        "WANDB_CONFIG_DIR": str(tmp_path / "config"),
        "WANDB_CACHE_DIR": str(tmp_path / "cache"),
        "WANDB_DATA_DIR": str(tmp_path / "data"),
    }.items():
        monkeypatch.setenv(key, value)
    return wandb


def test_wandb_offline_every_value_comes_back(tmp_path: Path, wandb_offline: Any) -> None:
    expected = {"small": curve(1.0), "large": curve(0.7)}
    config = {"small": 1e6, "large": 5e7}
    ids = {}
    for name, points in expected.items():
        run = wandb_offline.init(
            project="scaling",
            name=name,
            dir=str(tmp_path),
            mode="offline",
            config={"model": {"n_params": config[name]}, "lr": 2e-4},
            settings=wandb_offline.Settings(x_disable_stats=True, x_disable_meta=True),
        )
        run.config.update({"batch": 64})  # a config record after the run record
        for step, (loss, val) in points.items():
            run.log({"loss": loss, "val/loss": val, "note": "text is not a metric"}, step=step)
        ids[name] = run.id
        run.finish()
    # finish() can return before wandb's service has written the last records; teardown
    # waits for it (without this, a run's history was missing in 1 of 4 tries here)
    wandb_offline.teardown()
    runs = read_tracker(
        "wandb",
        tmp_path / "wandb",
        mapping={"N": "model.n_params", "val_loss": "val/loss", "batch_size": "batch"},
    )
    assert runs.attrs["source"] == f"wandb:{tmp_path / 'wandb'}"
    check_curves(runs, expected, rel=1e-12)
    for name, n in config.items():
        assert first(runs, name, "N") == n and first(runs, name, "lr") == 2e-4
        assert (
            first(runs, name, "batch_size") == 64 and first(runs, name, "wandb_run_id") == ids[name]
        )
    assert "note" not in runs.columns
    # one run's .wandb file on its own
    one = next((tmp_path / "wandb").rglob(f"run-{ids['small']}.wandb"))
    single = read_tracker("wandb", one, mapping={"val_loss": "val/loss"})
    check_curves(single, {"small": expected["small"]}, rel=1e-12)


def test_wandb_records_across_blocks(tmp_path: Path, wandb_offline: Any) -> None:
    """A long run: the .wandb file spans many 32 KiB blocks, and a 70 kB config value is one
    record split into FIRST, MIDDLE and LAST chunks."""
    notes = "".join(chr(97 + i % 26) for i in range(70_000))
    run = wandb_offline.init(
        project="scaling",
        name="long",
        dir=str(tmp_path),
        mode="offline",
        config={"notes": notes},
        settings=wandb_offline.Settings(x_disable_stats=True, x_disable_meta=True),
    )
    losses = {step: 4.0 / (1.0 + step) ** 0.3 for step in range(1500)}
    for step, loss in losses.items():
        run.log({"loss": loss}, step=step)
    run.finish()
    wandb_offline.teardown()  # see test_wandb_offline_every_value_comes_back
    file = next((tmp_path / "wandb").rglob("run-*.wandb"))
    assert file.stat().st_size > 4 * 32768
    runs = read_tracker("wandb", file)
    assert first(runs, "long", "notes") == notes
    assert dict(zip(runs["step"].astype(int), runs["loss"], strict=True)) == losses


def test_wandb_history_downloads(tmp_path: Path) -> None:
    pytest.importorskip("wandb")
    # a chart's "Export CSV": Step, "<run> - <metric>", with __MIN/__MAX columns
    chart = pd.DataFrame({"Step": [0, 10, 25]})
    expected = {"a": curve(1.0), "b": curve(0.5)}
    for run, points in expected.items():
        for i, metric in enumerate(("loss", "val_loss")):
            values = [points[s][i] for s in STEPS]
            chart[f"{run} - {metric}"] = values
            chart[f"{run} - {metric}__MIN"] = [v - 1 for v in values]
            chart[f"{run} - {metric}__MAX"] = [v + 1 for v in values]
    chart.to_csv(tmp_path / "chart.csv", index=False)
    check_curves(read_tracker("wandb", tmp_path / "chart.csv"), expected, rel=1e-12)
    # a run's history as JSON: _step, metrics and W&B's own _-columns
    history = [
        {"_step": s, "_runtime": 0.1 * s, "loss": loss, "val_loss": val}
        for s, (loss, val) in expected["a"].items()
    ]
    (tmp_path / "run7.json").write_text(json.dumps(history))
    runs = read_tracker("wandb", tmp_path / "run7.json")
    check_curves(runs, {"run7": expected["a"]}, rel=1e-12)
    assert (
        "_runtime" not in runs.columns and runs.attrs["source"] == f"wandb:{tmp_path / 'run7.json'}"
    )


def test_wandb_errors(tmp_path: Path) -> None:
    pytest.importorskip("wandb")
    with pytest.raises(DataError, match="no such file or folder"):
        read_tracker("wandb", tmp_path / "missing")
    with pytest.raises(DataError, match=r"no W&B run files \(run-<id>.wandb\)"):
        read_tracker("wandb", tmp_path)
    (tmp_path / "run-x.wandb").write_bytes(b"not a run")
    with pytest.raises(DataError, match="not a W&B run file"):
        read_tracker("wandb", tmp_path / "run-x.wandb")
    (tmp_path / "h.csv").write_text("epoch,loss\n1,2.0\n")
    with pytest.raises(DataError, match=r"h.csv: no step column \(_step, Step, step\)"):
        read_tracker("wandb", tmp_path / "h.csv")
    (tmp_path / "t.csv").write_text("_step,model\n1,gpt\n")
    with pytest.raises(DataError, match=r"t.csv: no numeric metric values"):
        read_tracker("wandb", tmp_path / "t.csv")


# --- shared ------------------------------------------------------------------------------


def test_unknown_tracker_and_missing_library(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"unknown tracker. Choose one of: tensorboard, mlflow, wandb"
    ):
        read_tracker("comet", tmp_path)
    with pytest.raises(DataError, match=r"pip install 'scalinglab\[mlflow\]'"):
        require("no_such_tracker_lib", extra="mlflow", what="--from mlflow")


@pytest.mark.parametrize(
    ("tracker", "module"),
    [("tensorboard", "tensorboard"), ("mlflow", "mlflow"), ("wandb", "wandb")],
)
def test_missing_library_says_which_extra(
    tracker: str, module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the tracker's package, the error names the extra that installs it."""
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "meta.yaml").write_text("name: exp\n")
    (tmp_path / "run-1.wandb").write_bytes(b":W&B")
    (tmp_path / "events.out.tfevents.1.host").write_bytes(b"")
    target = tmp_path / "run-1.wandb" if tracker == "wandb" else tmp_path
    for name in list(sys.modules):
        if name == module or name.startswith(f"{module}."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    with pytest.raises(DataError, match=rf"pip install 'scalinglab\[{tracker}\]'"):
        read_tracker(tracker, target)


def test_long_table_checks_names() -> None:
    clash = TrackerRun("r", params={"step": 3.0}, points=[(0, "loss", 1.0)])
    with pytest.raises(
        DataError, match=r"hyper-parameters named like the table's own columns.*'step'"
    ):
        long_table([clash], source="x", where="logs")
    table = long_table(
        [TrackerRun("a", points=[(0, "loss", 1.0)]), TrackerRun("b")], source="x", where="logs"
    )
    assert list(table["run_id"]) == ["a"]
    assert table.attrs["notices"] == ["logs: runs without scalar values, left out: b"]


def test_cli_runs_import_from_tensorboard(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    expected = write_tensorboard(tmp_path / "logs")
    store = str(tmp_path / "s.duckdb")
    runner = CliRunner()
    args = ["import", "--from", "tensorboard", str(tmp_path / "logs"), "--store", store]
    result = runner.invoke(runs_cli.app, [*args, "--map", "N=n_params", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["n_rows"] == sum(len(c) for c in expected.values())
    assert sorted(info["metrics"]) == ["hparam/final", "loss", "val/loss"]
    listed = runner.invoke(runs_cli.app, ["list", "--store", store, "--json"])
    assert json.loads(listed.stdout)[0]["source"] == f"tensorboard:{tmp_path / 'logs'}"
    bad = runner.invoke(runs_cli.app, [*args, "--map", "N=nparams"])
    assert bad.exit_code == 2 and "error:" in bad.stderr and "n_params" in bad.stderr
    wrong = runner.invoke(runs_cli.app, ["import", "--from", "neptune", "x", "--store", store])
    assert wrong.exit_code == 2 and "unknown tracker" in wrong.stderr
