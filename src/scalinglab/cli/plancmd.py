"""``scalinglab plan``: parse, call :func:`scalinglab.plan.plan`, render (rich table or --json)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from scalinglab.cli.common import (
    FitArg,
    JsonOpt,
    LevelOpt,
    StoreOpt,
    emit_json,
    fmt_number,
    load_fit,
    load_runs,
    print_warnings,
    stdout_console,
    user_errors,
)
from scalinglab.errors import FitError

if TYPE_CHECKING:
    from scalinglab.plan.planner import Plan


_ROWS = (
    ("N", "N (parameters)"),
    ("D", "D (tokens)"),
    ("tokens_per_param", "D/N"),
    ("loss", "loss"),
    ("compute", "training compute (FLOP)"),
    ("epochs", "epochs over unique data"),
    ("inference_compute", "inference compute (FLOP)"),
    ("total_compute", "training + inference (FLOP)"),
    ("lr", "learning rate"),
    ("batch_tokens", "batch size (tokens)"),
    ("gpu_hours", "GPU-hours"),
    ("wall_hours", "wall time (hours)"),
)


def _render(p: Plan) -> None:
    d = p.as_dict()
    con = stdout_console()
    pct = round(100 * p.level)
    t = Table(
        title=f"Plan ({p.recommended.replace('_', ' ')}) from a {p.law!r} fit",
        caption=p.point.method,
    )
    for col in ("quantity", "value", f"{pct}% low", f"{pct}% high"):
        t.add_column(col, justify="left" if col == "quantity" else "right")
    for key, label in _ROWS:
        e = d.get(key)
        if isinstance(e, dict):
            t.add_row(label, fmt_number(e["value"]), fmt_number(e["low"]), fmt_number(e["high"]))
    con.print(t)
    others = [k for k in p.plans if k != p.recommended]
    if others:
        o = Table(title="Other plans")
        for col in ("plan", "N", "D", "loss", "compute (FLOP)"):
            o.add_column(col, justify="left" if col == "plan" else "right")
        for k in others:
            pp = p.plans[k]
            o.add_row(
                k,
                fmt_number(pp.N.value),
                fmt_number(pp.D.value),
                fmt_number(pp.loss.value),
                fmt_number(pp.compute.value),
            )
        con.print(o)
    if p.isoflop is not None:
        iso = p.isoflop.as_dict(p.compute.value)
        N, a = iso.get("N"), iso["a"]
        if isinstance(N, dict) and isinstance(a, dict):
            con.print(
                f"IsoFLOP (approach 2): N*(C) = {fmt_number(N['value'])} [{fmt_number(N['low'])}, {fmt_number(N['high'])}], "
                f"exponent a = {fmt_number(a['value'])} [{fmt_number(a['low'])}, {fmt_number(a['high'])}]",
                highlight=False,
            )
    s = Table(title="Model shapes closest to N")
    for col in (
        "d_model",
        "n_layers",
        "n_heads",
        "params (total)",
        "params (non-embedding)",
        "error",
    ):
        s.add_column(col, justify="right")
    for sh in p.shapes:
        s.add_row(
            str(sh.d_model),
            str(sh.n_layers),
            str(sh.n_heads),
            f"{sh.params_total:.4g}",
            f"{sh.params_non_embedding:.4g}",
            f"{100 * sh.relative_error:+.1f}%",
        )
    con.print(s)
    c = p.cost
    con.print(
        f"cost: {c.accelerator}, peak {c.peak_flops:.4g} FLOP/s, MFU {c.mfu:g}, {c.gpus} GPU(s)\n"
        f"FLOP convention: {p.flop_convention.describe()}",
        highlight=False,
    )
    for src in p.sources:
        con.print(f"  source: {src}", highlight=False)
    print_warnings(p.warnings)


def plan_cmd(
    fit_ref: FitArg,
    compute: Annotated[
        float | None, typer.Option("--compute", help="Training budget, FLOP (e.g. 1e24).")
    ] = None,
    target_loss: Annotated[
        float | None, typer.Option("--target-loss", help="Loss to reach (the fit's unit).")
    ] = None,
    inference_tokens: Annotated[
        float,
        typer.Option(
            "--inference-tokens",
            help="Tokens served over the model's life (Sardana et al. 2023).",
        ),
    ] = 0.0,
    unique_tokens: Annotated[
        float | None,
        typer.Option(
            "--unique-tokens",
            help="Unique training tokens available (Muennighoff et al. 2023).",
        ),
    ] = None,
    flops: Annotated[
        str, typer.Option("--flops", help="FLOP convention: 6ND or 6ND+attention.")
    ] = "6ND",
    accelerator: Annotated[
        str,
        typer.Option(
            "--accelerator",
            help="a100, h100, h100-pcie, h200, b200, v100, mi300x, tpu-v4, tpu-v5p.",
        ),
    ] = "h100",
    peak_flops: Annotated[
        float | None, typer.Option("--peak-flops", help="Override: peak FLOP/s per GPU.")
    ] = None,
    mfu: Annotated[
        float, typer.Option("--mfu", help="Assumed model FLOP utilisation, (0, 1].")
    ] = 0.4,
    gpus: Annotated[int, typer.Option("--gpus", help="Number of GPUs.")] = 1,
    vocab: Annotated[
        int, typer.Option("--vocab", help="Vocabulary size for the model shapes.")
    ] = 32000,
    seq_len: Annotated[int, typer.Option("--seq-len", help="Sequence length, tokens.")] = 2048,
    hyper_source: Annotated[
        str,
        typer.Option("--hyper-source", help="Published LR/batch laws: deepseek2024 or li2025."),
    ] = "deepseek2024",
    lr_fit: Annotated[
        str | None,
        typer.Option("--lr-fit", help="Fit (file or id) of lr_opt or lr_opt_compute."),
    ] = None,
    batch_fit: Annotated[
        str | None,
        typer.Option("--batch-fit", help="Fit (file or id) of batch_opt or batch_opt_compute."),
    ] = None,
    isoflop_runs: Annotated[
        str | None,
        typer.Option(
            "--isoflop",
            help="Sweep runs (file or dataset) for an IsoFLOP (approach 2) analysis.",
        ),
    ] = None,
    level: LevelOpt = None,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Plan a training run: N, D, loss, LR, batch, shape and cost, with intervals."""
    from scalinglab.plan.planner import plan

    with user_errors():
        if compute is None and target_loss is None:
            raise FitError("give --compute FLOP (e.g. --compute 1e24) or --target-loss LOSS.")
        result = load_fit(fit_ref, store)
        iso = load_runs(isoflop_runs) if isoflop_runs is not None else None
        p = plan(
            result,
            compute=compute,
            target_loss=target_loss,
            inference_tokens=inference_tokens,
            unique_tokens=unique_tokens,
            flops=flops,
            accelerator=accelerator,
            peak_flops=peak_flops,
            mfu=mfu,
            gpus=gpus,
            vocab=vocab,
            seq_len=seq_len,
            hyper_source=hyper_source,
            lr_fit=load_fit(lr_fit, store) if lr_fit else None,
            batch_fit=load_fit(batch_fit, store) if batch_fit else None,
            isoflop_runs=iso,
            level=level,
        )
        if json_out:
            emit_json(p.as_dict())
            return
        _render(p)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_cmd)
