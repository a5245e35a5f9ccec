"""A JSON codec for frozen result dataclasses, driven by their type hints.

``encode(obj)`` turns a dataclass (nested dataclasses, tuples, mappings, numpy arrays, pandas
tables, floats with NaN) into JSON-ready values; ``decode(cls, data)`` rebuilds an equal object
of ``cls`` from them, reading each field's declared type. Results whose fields are all of those
kinds (a plan, say) get their ``to_dict``/``from_dict`` pair from it.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Union

import numpy as np
import pandas as pd


def encode(obj: Any) -> Any:
    """JSON-ready values of ``obj`` (NaN and inf become None)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, pd.DataFrame):
        split = obj.to_dict(orient="split")
        return {"columns": encode(split["columns"]), "data": encode(split["data"])}
    if isinstance(obj, np.ndarray):
        return encode(obj.tolist())
    if isinstance(obj, np.generic):
        return encode(obj.item())
    if isinstance(obj, Mapping):
        return {str(k): encode(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [encode(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def decode(tp: Any, data: Any) -> Any:
    """An object of type ``tp`` from :func:`encode`'s output."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return data
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if data is None and len(options) < len(typing.get_args(tp)):
            return None
        return decode(options[0], data)
    if origin is typing.Literal:
        return data
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp)
        fields = {f.name: f for f in dataclasses.fields(tp)}
        kw = {k: decode(hints[k], v) for k, v in data.items() if k in fields and fields[k].init}
        return tp(**kw)
    if tp is pd.DataFrame:
        return pd.DataFrame(data["data"], columns=data["columns"])
    if tp is np.ndarray or origin is np.ndarray:
        return np.array(_nan(data), dtype=float)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v) for v in data)
        return tuple(decode(a, v) for a, v in zip(args, data, strict=True))
    if origin in (dict, Mapping, typing.Mapping) or tp in (dict, Mapping):
        args = typing.get_args(tp) or (str, Any)
        return {k: decode(args[1], v) for k, v in data.items()}
    if origin is list:
        (arg,) = typing.get_args(tp)
        return [decode(arg, v) for v in data]
    if tp is float:
        return math.nan if data is None else float(data)
    if tp in (int, str, bool):
        return tp(data)
    return data


def _nan(data: Any) -> Any:
    """Nested lists with None (JSON's NaN) back to NaN."""
    if isinstance(data, list):
        return [_nan(v) for v in data]
    return math.nan if data is None else data
