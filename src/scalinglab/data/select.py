"""Choose runs and a metric for fitting: ``--where`` filters, metric selection, group-by.

``where`` expressions use Python syntax over the columns of the runs table, metric columns
included: comparisons (chained too), ``and``/``or``/``not``, ``&``/``|``/``~``, arithmetic,
``in [...]``/``not in [...]``, numbers, strings, True/False. Column names that are not Python
identifiers go in backticks: ```Seen Examples` > 1e6``. The expression is parsed with :mod:`ast`
and evaluated by walking a whitelist of node types; nothing is passed to ``eval``.
"""

from __future__ import annotations

import ast
import logging
import math
import operator
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.data import schema
from scalinglab.data.ingest import suggest
from scalinglab.data.validate import no_metric_message
from scalinglab.errors import DataError

logger = logging.getLogger(__name__)

_BACKTICK = re.compile(r"`([^`]*)`")
_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


def _rows(index: Sequence[Any] | pd.Index) -> str:
    return ", ".join(str(r) for r in index)


#: Limits that keep a filter expression cheap: its length, its number of syntax nodes, the
#: magnitude of any number it computes (the float range), the size of a repeated string or
#: list, and the wall-clock time of its evaluation.
MAX_LENGTH = 2000
MAX_NODES = 400
MAX_LOG10 = 308.0
MAX_REPEAT = 10_000
MAX_SECONDS = 2.0


def _protect_backticks(expr: str, option: str) -> tuple[str, dict[str, str]]:
    """Replace each `quoted name` by an identifier of the same length (keeps error offsets)."""
    names: dict[str, str] = {}

    def repl(match: re.Match[str]) -> str:
        ident = f"_{len(names)}_"
        ident = ident + "_" * max(0, len(match.group(0)) - len(ident))
        names[ident] = match.group(1)
        return ident

    text = _BACKTICK.sub(repl, expr)
    if "`" in text:
        raise DataError(f"{option} {expr!r}: unmatched backtick at offset {text.index('`')}.")
    return text, names


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _log10_size(value: Any) -> float:
    number = abs(value)
    if number == 0:
        return -math.inf
    return math.log10(number) if isinstance(number, int) else math.log10(float(number))


class _Evaluator:
    def __init__(self, df: pd.DataFrame, expr: str, names: dict[str, str], option: str) -> None:
        self.df = df
        self.expr = expr
        self.names = names
        self.option = option
        self.deadline = time.monotonic() + MAX_SECONDS

    def fail(self, node: ast.AST, why: str) -> DataError:
        offset = getattr(node, "col_offset", 0)
        return DataError(f"{self.option} {self.expr!r}: {why}\n  {self.expr}\n  {' ' * offset}^")

    def column(self, node: ast.Name) -> pd.Series:
        col = self.names.get(node.id, node.id)
        if col not in self.df.columns:
            columns = [str(c) for c in self.df.columns]
            raise self.fail(
                node,
                f"unknown column {col!r}{suggest(col, columns)}. Columns: {', '.join(columns)}.",
            )
        return self.df[col]

    def number(self, node: ast.AST, value: Any) -> Any:
        """A scalar result: ints beyond the float range are an error, large ones become float
        (pandas compares columns with int64 or float, never with a longer int)."""
        if isinstance(value, complex):
            raise self.fail(node, f"the result {value} is not a real number.")
        if isinstance(value, int) and not isinstance(value, bool):
            if _log10_size(value) > MAX_LOG10:
                raise self.fail(node, f"the number {_short(value)} is beyond the float range.")
            if abs(value) >= 2**53:
                return float(value)
        return value

    def visit(self, node: ast.AST) -> Any:
        if time.monotonic() > self.deadline:
            raise self.fail(node, f"evaluation took longer than {MAX_SECONDS:g} s; simplify it.")
        if isinstance(node, ast.Expression):
            return self.visit(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | bool):
            return self.number(node, node.value)
        if isinstance(node, ast.Name):
            return self.column(node)
        if isinstance(node, ast.List | ast.Tuple):
            return [self.visit(e) for e in node.elts]
        if isinstance(node, ast.BoolOp):
            values = [self.visit(v) for v in node.values]
            combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
            result = values[0]
            for value in values[1:]:
                result = combine(result, value)
            return result
        if isinstance(node, ast.UnaryOp):
            operand = self.visit(node.operand)
            if isinstance(node.op, ast.Not | ast.Invert):
                return ~operand if isinstance(operand, pd.Series) else not operand
            if isinstance(node.op, ast.USub):
                return -operand
            if isinstance(node.op, ast.UAdd):
                return +operand
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return self.binop(node)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        raise self.fail(
            node,
            f"{type(node).__name__} is not allowed; use columns, numbers, "
            "strings, comparisons, and/or/not, arithmetic and 'in [...]'.",
        )

    def binop(self, node: ast.BinOp) -> Any:
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Pow) and _is_number(left) and _is_number(right):
            size = _log10_size(left) * float(right) if abs(left) > 1 else 0.0
            if size > MAX_LOG10:
                raise self.fail(
                    node,
                    f"{_short(left)} ** {_short(right)} is about 10^{size:.3g}, beyond the float "
                    f"range (10^{MAX_LOG10:g}); use a smaller exponent.",
                )
        if isinstance(node.op, ast.Mult):
            self.check_repeat(node, left, right)
            self.check_repeat(node, right, left)
        return self.number(node, _BINOPS[type(node.op)](left, right))

    def check_repeat(self, node: ast.AST, seq: Any, times: Any) -> None:
        """String and list repetition (``'a' * n``) may make at most MAX_REPEAT items."""
        if not isinstance(times, int | np.integer) or isinstance(times, bool):
            return
        if isinstance(seq, str | list):
            size = len(seq) * int(times)
        elif isinstance(seq, pd.Series) and not pd.api.types.is_numeric_dtype(seq.dtype):
            size = int(seq.map(lambda v: len(v) if isinstance(v, str) else 1).max()) * int(times)
        else:
            return
        if size > MAX_REPEAT:
            raise self.fail(
                node, f"repetition would make {size:,} items; the limit is {MAX_REPEAT:,}."
            )

    def compare(self, node: ast.Compare) -> Any:
        left = self.visit(node.left)
        result: Any = True
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.visit(right_node)
            if isinstance(op, ast.In | ast.NotIn):
                if not isinstance(right, list):
                    raise self.fail(right_node, "'in' needs a list, e.g. dataset in ['rpj', 'c4'].")
                part = left.isin(right) if isinstance(left, pd.Series) else left in right
                if isinstance(op, ast.NotIn):
                    part = ~part if isinstance(part, pd.Series) else not part
            elif type(op) in _COMPARE:
                part = _COMPARE[type(op)](left, right)
            else:
                raise self.fail(node, f"comparison {type(op).__name__} is not allowed.")
            result = part if result is True else result & part
            left = right
        return result


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 20 else f"{text[:8]}...({len(text)} digits)"


def _parse(expr: str, option: str) -> tuple[ast.Expression, dict[str, str]]:
    if len(expr) > MAX_LENGTH:
        raise DataError(
            f"{option}: the expression is {len(expr):,} characters long; the limit is "
            f"{MAX_LENGTH:,}."
        )
    text, names = _protect_backticks(expr, option)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        # offset is 1-based; 0 or None means "at the end" (e.g. a missing right operand)
        lead = len(text) - len(text.lstrip())
        offset = lead + exc.offset - 1 if exc.offset else len(text.rstrip())
        raise DataError(
            f"{option} {expr!r}: syntax error ({exc.msg}) at offset {offset}\n"
            f"  {expr}\n  {' ' * offset}^"
        ) from None
    except (RecursionError, MemoryError):
        raise DataError(f"{option} {expr!r}: the expression is nested too deeply.") from None
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > MAX_NODES:
        raise DataError(
            f"{option} {expr!r}: the expression has {nodes} parts; the limit is {MAX_NODES}."
        )
    return tree, names


def evaluate_where(df: pd.DataFrame, expr: str, *, option: str = "--where") -> pd.Series:
    """Boolean mask of the rows of ``df`` for which the ``where`` expression holds.

    ``option`` names the command-line option the expression came from (``--where``,
    ``--holdout``), for messages. Evaluation is bounded (:data:`MAX_LENGTH`, :data:`MAX_NODES`,
    :data:`MAX_LOG10`, :data:`MAX_REPEAT`, :data:`MAX_SECONDS`); exceeding a bound is a
    :class:`~scalinglab.errors.DataError`, as is any arithmetic error.
    """
    tree, names = _parse(expr, option)
    evaluator = _Evaluator(df, expr, names, option)
    try:
        with np.errstate(all="ignore"):
            result = evaluator.visit(tree)
    except DataError:
        raise
    except (RecursionError, MemoryError):
        raise DataError(f"{option} {expr!r}: the expression is nested too deeply.") from None
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, ArithmeticError) as exc:
        raise DataError(f"{option} {expr!r}: cannot evaluate: {exc}") from None
    if isinstance(result, bool | np.bool_):
        return pd.Series(bool(result), index=df.index)
    if isinstance(result, pd.Series) and pd.api.types.is_bool_dtype(result.dtype):
        return result.fillna(False).astype(bool)
    raise DataError(
        f"{option} {expr!r}: the expression must be true/false for each run (a "
        "comparison such as 'loss < 3'), not a number or text."
    )


def _choose_metric(runs: pd.DataFrame, metric: str | None) -> str:
    metrics = [str(m) for m in runs.attrs.get("metrics", [])]
    if metric is None:
        default = runs.attrs.get("default_metric")
        if default:
            return str(default)
        if "loss" in metrics:
            return "loss"
        if len(metrics) == 1:
            return metrics[0]
        source = runs.attrs.get("source", "runs")
        if not metrics:
            columns = [str(c) for c in runs.columns if c not in schema.FLAG_COLUMNS]
            raise DataError(
                f"{source}: {no_metric_message(columns)} Or choose a column with --metric."
            )
        raise DataError(f"{source}: choose a metric with --metric; metrics: {', '.join(metrics)}.")
    if metric not in runs.columns:
        candidates = metrics or [str(c) for c in runs.columns]
        raise DataError(
            f"unknown metric {metric!r}{suggest(metric, candidates)}. "
            f"Metrics: {', '.join(metrics) if metrics else '(none)'}."
        )
    return metric


def _numeric_column(df: pd.DataFrame, col: str, role: str) -> pd.Series:
    values = pd.to_numeric(df[col], errors="coerce").astype("float64")
    bad = values.isna() & df[col].notna()
    if bad.any():
        raise DataError(f"{role} column {col!r} is not numeric at rows {_rows(df.index[bad])}.")
    return values


def select_runs(
    runs: pd.DataFrame,
    *,
    metric: str | None = None,
    where: str | None = None,
    x: str | None = None,
) -> pd.DataFrame:
    """Filter runs and add the fitting columns ``y`` (the metric) and optionally ``x``.

    ``metric`` None means ``attrs["default_metric"]``, else ``loss``, else the only metric.
    ``where`` is a filter expression (module docstring); None keeps every run. ``x`` names the
    column a one-variable law uses; it must be numeric, finite and > 0. Runs that lack the metric
    are an error, except in a table pivoted from long form, where they are dropped with a notice.
    The result carries ``attrs`` ``metric``, ``metric_unit``, ``where``, ``source`` and
    ``notices`` on top of those of ``runs``.
    """
    source = str(runs.attrs.get("source", "runs"))
    notices = [str(n) for n in runs.attrs.get("notices", [])]
    chosen = _choose_metric(runs, metric)
    out = runs.copy()
    if where is not None and where.strip():
        mask = evaluate_where(out, where)
        out = out.loc[mask]
        if len(out) == 0:
            raise DataError(f"--where {where!r} selected 0 of {len(runs)} runs from {source}.")
    y = _numeric_column(out, chosen, "metric")
    missing = y.isna()
    if missing.any():
        if runs.attrs.get("long_form"):
            notice = f"{source}: dropped {int(missing.sum())} runs without metric {chosen!r}"
            logger.info("%s", notice)
            notices.append(notice)
            out, y = out.loc[~missing], y[~missing]
            if len(out) == 0:
                raise DataError(f"{source}: no run has metric {chosen!r}.")
        else:
            raise DataError(
                f"{source}: metric {chosen!r} is missing at rows "
                f"{_rows(out.index[missing])}. Fill in or filter out those rows."
            )
    infinite = ~np.isfinite(y.to_numpy())
    if infinite.any():
        raise DataError(
            f"{source}: metric {chosen!r} is not finite at rows {_rows(out.index[infinite])}."
        )
    out["y"] = y
    if x is not None:
        if x not in out.columns:
            raise DataError(f"unknown x column {x!r}{suggest(x, map(str, out.columns))}.")
        xs = _numeric_column(out, x, "x")
        bad = ~(np.isfinite(xs.to_numpy()) & (xs.to_numpy() > 0))
        if bad.any():
            values = ", ".join(str(v) for v in xs[bad])
            raise DataError(
                f"{source}: x column {x!r} must be finite and > 0; rows "
                f"{_rows(out.index[bad])} have {values}."
            )
        out["x"] = xs
    out.attrs = {
        **runs.attrs,
        "metric": chosen,
        "metric_unit": schema.metric_unit(chosen),
        "where": where,
        "x": x,
        "source": source,
        "notices": notices,
    }
    return out


def _format_key(value: Any) -> str:
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return "nan"
        if number.is_integer() and abs(number) < 1e15:
            return str(int(number))
        return repr(number)
    return str(value)


def group_runs(selected: pd.DataFrame, by: str | Sequence[str]) -> list[tuple[str, pd.DataFrame]]:
    """Split runs by one or more columns; keys read ``"col=value[,col=value]"``.

    ``by`` is a column name, a comma-separated list of names, or a sequence of names. Groups are
    sorted by their values (missing values last), so the order is deterministic.
    """
    cols = [c.strip() for c in by.split(",")] if isinstance(by, str) else list(by)
    columns = [str(c) for c in selected.columns]
    for col in cols:
        if col not in columns:
            raise DataError(
                f"unknown --group-by column {col!r}{suggest(col, columns)}. "
                f"Columns: {', '.join(columns)}."
            )
    groups: list[tuple[str, pd.DataFrame]] = []
    for values, part in selected.groupby(cols, sort=True, dropna=False):
        key = ",".join(f"{c}={_format_key(v)}" for c, v in zip(cols, values, strict=True))
        part = part.copy()
        part.attrs = {**selected.attrs, "group": key}
        groups.append((key, part))
    return groups
