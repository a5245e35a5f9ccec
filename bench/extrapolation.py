"""Extrapolation benchmark: every applicable law through the backtest, on the bundled data.

Tasks
  (a) revisiting_lang: per learning curve, fit on ``Training == 1``, predict ``Training == 0``;
      RMSE of log values per curve, averaged over the 20 curves (Alabdulmohsin et al. 2022):
      the power law and M4, --law auto choosing between those two (pooled over the curves, the
      default, and per curve, scored from the same evidence), and --law auto as a user gets it,
      from its default candidates (power law, M4, BNSL with one and two breaks).
  (b) overtraining, RedPajama, loss_c4_val, Gadre et al. 2024's own setting: fit on the four
      small architectures at M=20 plus the 0.011B model at M=320, predict the 1.4B/M=640 and
      6.9B/M=20 runs (paper: 0.71% and 0.73% relative error); then the 17-task average error
      with the loss-to-error law fitted on those runs plus the 1.4B/M=20 run (paper: 3.64%,
      0.05%), from the observed losses and, two-stage, from the predicted ones.
  (b') the same two targets from *all* smaller RedPajama runs, with --law auto.
  (c) chinchilla_epoch (without its 5 under-trained runs), top 20% by compute held out.

Coverage is that of the default (calibrated) 90% prediction intervals. The last line is
``coverage_90: X``, the mean over the three tasks of each task's coverage: (a) averaged over
its curves, (b) pooled over all its held-out predictions (b and b'), (c) over its runs.
Run: ``.venv/bin/python bench/extrapolation.py`` (about 26 minutes on 2 cores).
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.data import load_dataset, select_runs
from scalinglab.data.select import group_runs
from scalinglab.fit import fit
from scalinglab.laws import list_laws
from scalinglab.trust import backtest, predict
from scalinglab.trust.backtest import scores
from scalinglab.trust.select import choices_from_selection
from scalinglab.trust.twostage import predict_two_stage

warnings.simplefilter("ignore")
LEVEL = 0.9
WORKERS = 2
rows: list[dict[str, object]] = []
task_coverage: dict[str, float] = {}
# task (b) pools all its held-out predictions (loss, downstream, two-stage, auto): one task
b_inside: list[bool] = []


def add(task: str, law: str, error: float, kind: str, coverage: float, published: str = "") -> None:
    rows.append(
        {
            "task": task,
            "law": law,
            "error": error,
            "metric": kind,
            "coverage_90": coverage,
            "published": published,
        }
    )


def have(name: str) -> bool:
    return name in {lw.name for lw in list_laws()}


def task_a() -> None:
    runs = select_runs(load_dataset("revisiting_lang"), x="Seen Examples")
    task = "a revisiting_lang (20 curves)"
    opts: dict[str, Any] = {
        "group_by": ["Domain", "Task", "Model"],
        "level": LEVEL,
        "n_boot": 50,
        "workers": WORKERS,
    }
    published = "M4 ~0.0086, power law ~0.017 (Alabdulmohsin et al. 2022)"
    # 1. the estimators the paper finds best and worst here, and auto choosing between them
    laws = [n for n in ("power_law", "m4") if have(n)] + ["auto"]
    res = backtest(runs, laws, "Training == 0", **opts)
    s = res.summary
    for law in laws:
        part = s[s["law"] == law]
        add(
            task,
            law if law != "auto" else "auto (of these two)",
            float(part["rmse_log"].mean()),
            "mean RMSE(log)",
            float(part["coverage_90"].mean()),
            published if law != "auto" else "",
        )
    print(f"(a) auto (of power_law, m4) chose: {_chosen(s)}")
    # the same auto choosing per curve (--auto-scope group), from the same in-fit evidence:
    # each curve's choice is then scored by that law's own row above (same fit, same seed)
    own = choices_from_selection(res.selection, "group")
    by = {(str(r["law"]), r["group"]): r for r in s.to_dict(orient="records")}
    picked = [by[(law, g)] for g, law in own.items()]
    add(
        task,
        "auto per curve (--auto-scope group)",
        float(np.mean([r["rmse_log"] for r in picked])),
        "mean RMSE(log)",
        float(np.mean([r["coverage_90"] for r in picked])),
    )
    print(f"(a) per curve it would choose: {pd.Series(own).value_counts().to_dict()}")
    # 2. auto as a user gets it: the default candidates (power_law, m4, bnsl, bnsl2)
    res2 = backtest(runs, ["auto"], "Training == 0", **opts)
    s2 = res2.summary
    add(
        task,
        "auto (default candidates)",
        float(s2["rmse_log"].mean()),
        "mean RMSE(log)",
        float(s2["coverage_90"].mean()),
    )
    print(
        f"(a) auto (default candidates {sorted(set(res2.selection['law']))}) chose: {_chosen(s2)}"
    )
    own2 = choices_from_selection(res2.selection, "group")
    print(f"(a) per curve it would choose: {pd.Series(own2).value_counts().to_dict()}")
    # scored without intervals (point fits only): the broken power laws' bootstrap is slow here
    curves: dict[str | None, pd.DataFrame] = dict(group_runs(runs, opts["group_by"]))
    add(
        task,
        "auto per curve, default candidates (point fits)",
        float(np.mean([_point_rmse_log(curves[g], law) for g, law in own2.items()])),
        "mean RMSE(log)",
        math.nan,
    )
    task_coverage["a"] = float(s2["coverage_90"].mean())


def _point_rmse_log(curve: pd.DataFrame, law: str) -> float:
    """RMSE(log) on ``Training == 0`` of ``law`` fitted (no bootstrap) on the curve's
    ``Training == 1`` runs, as the backtest fits it."""
    frame = curve.reset_index(drop=True)
    held = (frame["Training"] == 0).to_numpy()
    r = fit(frame.loc[~held], law, n_boot=0, seed=0)
    p = predict(r, frame, interval="bootstrap", rows=held)
    truth = frame.loc[held, "y"].to_numpy(float)
    v = p["value"].to_numpy()
    return scores(truth, v, v, v)["rmse_log"]


def _chosen(summary: pd.DataFrame) -> dict[str, int]:
    chosen = summary[summary["law"] == "auto"]["chosen"]
    return {str(k): int(v) for k, v in chosen.value_counts().items()}


def _gadre_tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    models = select_runs(
        load_dataset("overtraining_models"), metric="loss_c4_val", where="dataset == 'rpj'"
    )
    small = ["d=96_l=8_h=4", "d=512_l=8_h=4", "d=576_l=24_h=8", "d=1024_l=24_h=8"]
    m = models["token_multiplier"]
    fit_set = models[
        (models["architecture"].isin(small) & (m == 20))
        | ((models["architecture"] == "d=96_l=8_h=4") & (m == 320))
    ]
    targets = models[
        ((models["architecture"] == "open_lm_1b") & (m == 640))
        | ((models["architecture"] == "open_lm_7b") & (m == 20))
    ]
    return models, fit_set, targets


def _score_targets(
    task: str,
    law: str,
    pred: pd.DataFrame,
    truth: np.ndarray,
    names: pd.Series,
    published: str = "",
) -> None:
    """Relative error per held-out target, the pooled coverage of task (b)."""
    rel = np.abs(pred["value"].to_numpy() - truth) / truth
    inside = (pred["low"].to_numpy() <= truth) & (truth <= pred["high"].to_numpy())
    for name, e in zip(names, rel, strict=True):
        add(f"{task}, {name}", law, float(e), "rel. error", float(np.mean(inside)), published)
    b_inside.extend(bool(v) for v in inside)


def task_b() -> None:
    _, fit_set, targets = _gadre_tables()
    if not have("overtraining"):
        print("(b) law 'overtraining' not available: skipped")
        return
    r = fit(fit_set, "overtraining", n_boot=1000, seed=0, workers=WORKERS)
    p = predict(r, targets, level=LEVEL)
    truth = targets["y"].to_numpy()
    _score_targets(
        "b Gadre setting",
        "overtraining",
        p,
        truth,
        targets["architecture"],
        "0.71% (1B/M=640), 0.73% (7B/M=20)",
    )
    if not have("downstream_error"):
        return
    ds = select_runs(
        load_dataset("overtraining_downstream"),
        metric="err_avg_17",
        where="dataset == 'rpj'",
        x="loss_c4_val",
    )
    ids = set(fit_set["run_id"]) | {
        rid for rid in ds["run_id"] if "open_lm_1b" in rid and rid.endswith("-1.0")
    }
    ds_fit = ds[ds["run_id"].isin(ids)]
    ds_t = ds[ds["run_id"].isin(set(targets["run_id"]))]
    r2 = fit(ds_fit, "downstream_error", n_boot=1000, seed=0, workers=WORKERS)
    t2 = ds_t["y"].to_numpy()
    _score_targets(
        "b 17-task error from observed loss",
        "downstream_error",
        predict(r2, ds_t, level=LEVEL),
        t2,
        ds_t["architecture"],
    )
    two = predict_two_stage(r, r2, ds_t.reset_index(drop=True), level=LEVEL)
    _score_targets(
        "b 17-task error two-stage (N, D -> loss -> error)",
        "overtraining+downstream_error",
        two,
        t2,
        ds_t["architecture"],
        "3.64% (1B/M=640), 0.05% (7B/M=20), from predicted loss",
    )


def task_b_auto() -> None:
    models, _, targets = _gadre_tables()
    smaller = models[models["N"] < 1e9]
    table = pd.concat([smaller, targets])
    res = backtest(table, ["auto"], "N > 1e9", level=LEVEL, n_boot=500, workers=WORKERS)
    pred = res.predictions
    chosen = res.summary.iloc[0]["chosen"]
    _score_targets(
        "b' all smaller rpj runs",
        f"auto ({chosen})",
        pred,
        pred["truth"].to_numpy(),
        pred["run_id"],
    )
    task_coverage["b"] = float(np.mean(b_inside))


def task_c() -> None:
    runs = select_runs(load_dataset("chinchilla_epoch"), where="loss < 3.44")
    laws = ["chinchilla", "kaplan", "auto"]
    res = backtest(runs, laws, "top 20% by C", level=LEVEL, n_boot=500, workers=WORKERS)
    for r in res.records():
        name = r["law"] if r["law"] != "auto" else f"auto ({r['chosen']})"
        add(
            "c chinchilla_epoch, top 20% by C",
            name,
            float(r["rmse_log"]),
            "RMSE(log)",
            float(r["coverage_90"]),
        )
    auto = res.summary[res.summary["law"] == "auto"].iloc[0]
    task_coverage["c"] = float(auto["coverage_90"])


def main() -> None:
    t0 = time.perf_counter()
    for task in (task_a, task_b, task_b_auto, task_c):
        t = time.perf_counter()
        task()
        print(f"{task.__name__}: {time.perf_counter() - t:.0f} s")
    table = pd.DataFrame(rows)
    with pd.option_context(
        "display.width", 200, "display.max_colwidth", 70, "display.float_format", "{:.4g}".format
    ):
        print(table.to_string(index=False))
    print("task coverages:", {k: round(v, 3) for k, v in task_coverage.items()})
    print(f"total {time.perf_counter() - t0:.0f} s")
    cov = [v for v in task_coverage.values() if not math.isnan(v)]
    print(f"coverage_90: {float(np.mean(cov)):.3f}")


if __name__ == "__main__":
    main()
