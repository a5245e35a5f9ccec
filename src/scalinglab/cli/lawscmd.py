"""``scalinglab laws list | show``: the law catalogue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from scalinglab.cli.common import JsonOpt, emit_json, stdout_console, user_errors

if TYPE_CHECKING:
    from scalinglab.laws.base import Law


app = typer.Typer(help="The law catalogue.", no_args_is_help=True)


def law_record(lw: Law) -> dict[str, Any]:
    """What ``laws show --json`` prints for one law."""
    return {
        "name": lw.name,
        "version": lw.version,
        "title": lw.title,
        "formula": lw.formula,
        "variables": list(lw.variables),
        "citation": lw.citation,
        "space": lw.space,
        "notes": lw.notes,
        "params": [
            {
                "name": p.name,
                "meaning": p.meaning,
                "unit": p.unit,
                "lower": p.lower,
                "upper": p.upper,
                "fitted_as": f"log({p.name})" if p.log else p.name,
                "grid": list(p.grid),
            }
            for p in lw.params
        ],
        "published": {k: dict(v) for k, v in lw.published.items()},
    }


@app.command("list")
def laws_list(json_out: JsonOpt = False) -> None:
    """List the laws."""
    from scalinglab.laws.registry import list_laws

    rows = [
        {
            "name": lw.name,
            "formula": lw.formula,
            "variables": list(lw.variables),
            "citation": lw.citation,
        }
        for lw in list_laws()
    ]
    if json_out:
        emit_json(rows)
        return
    t = Table("name", "formula", "variables", "citation")
    for r in rows:
        t.add_row(
            *(escape(str(r[k])) for k in ("name", "formula")),
            ", ".join(r["variables"]),
            escape(str(r["citation"])),
        )
    stdout_console().print(t)


@app.command("show")
def laws_show(name: str, json_out: JsonOpt = False) -> None:
    """Formula, variables, parameters, notes and citation of one law."""
    from scalinglab.laws.registry import get_law

    with user_errors():
        lw = get_law(name)
        rec = law_record(lw)
        if json_out:
            emit_json(rec)
            return
        con = stdout_console()
        con.print(
            f"[bold]{escape(lw.name)}[/bold] v{escape(lw.version)}: {escape(lw.title)}\n"
            f"  {escape(lw.formula)}\n  variables: {', '.join(lw.variables)}; fitted in "
            f"{lw.space} space\n  {escape(lw.citation)}",
            highlight=False,
        )
        t = Table("parameter", "meaning", "unit", "bounds", "fitted as")
        for p in rec["params"]:
            t.add_row(
                *(escape(str(p[k])) for k in ("name", "meaning", "unit")),
                escape(f"[{p['lower']}, {p['upper']}]"),
                escape(str(p["fitted_as"])),
            )
        con.print(t)
        if lw.notes:
            con.print(f"notes: {escape(lw.notes)}", highlight=False)
