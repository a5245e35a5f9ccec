"""The package's shape: imports run one way, and its parts stay small enough to read.

Layers (DESIGN.md, "Layers"), from the leaf up; a module may import its own layer and those
below, never one above, not even inside a function.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "scalinglab"
LAYERS = [
    {"_version", "errors", "units"},
    {"data"},
    {"laws"},
    {"fit"},
    {"trust"},
    {"plan", "discover"},
    {"sweep", "train"},
    {"report"},
    {"cli", "__main__"},
]
MAX_FUNCTION_LINES = 100
MAX_MODULE_LINES = 450


def layer_of(part: str) -> int:
    for i, names in enumerate(LAYERS):
        if part in names:
            return i
    raise AssertionError(f"scalinglab.{part} is in no layer: add it to LAYERS")


def modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py"))


def top_part(path: Path) -> str | None:
    rel = path.relative_to(SRC).parts
    if rel == ("__init__.py",):
        return None  # the package root re-exports lazily (PEP 562)
    return rel[0].removesuffix(".py")


def imported_parts(path: Path, pkg: tuple[str, ...] | None = None) -> set[tuple[str, int]]:
    """(top-level scalinglab part, line) of every import in the module, functions included;
    ``pkg``: the module's package below scalinglab (default: from its place in src)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[tuple[str, int]] = set()
    if pkg is None:
        pkg = path.relative_to(SRC).parts[:-1]
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = list(pkg[: len(pkg) - node.level + 1])
                mod = ".".join(["scalinglab", *base, *([node.module] if node.module else [])])
            else:
                mod = node.module or ""
            names = [mod] + ([f"{mod}.{a.name}" for a in node.names] if mod == "scalinglab" else [])
        for name in names:
            parts = name.split(".")
            if parts[0] == "scalinglab" and len(parts) > 1:
                out.add((parts[1], node.lineno))
    return out


def test_every_module_is_in_a_layer() -> None:
    for path in modules():
        part = top_part(path)
        if part is not None:
            layer_of(part)


def test_imports_run_one_way() -> None:
    bad = []
    for path in modules():
        part = top_part(path)
        if part is None:
            continue
        own = layer_of(part)
        for target, line in imported_parts(path):
            if target in {"_version", "errors", "units"} or target == part:
                continue
            if layer_of(target) > own:
                bad.append(f"{path.relative_to(SRC)}:{line} imports scalinglab.{target}")
    assert not bad, "imports against the layering:\n" + "\n".join(sorted(bad))


def test_the_layer_check_sees_function_level_imports(tmp_path: Path) -> None:
    # the checker itself must catch an upward import hidden inside a function
    fake = tmp_path / "probe.py"
    fake.write_text("def f():\n    from scalinglab.plan import plan\n    from ..fit import api\n")
    assert imported_parts(fake, ("data",)) == {("plan", 2), ("fit", 3)}


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("scalinglab.data", ("scalinglab.fit", "scalinglab.plan", "scalinglab.trust")),
        ("scalinglab.laws", ("scalinglab.fit", "scalinglab.plan", "scalinglab.trust")),
        ("scalinglab.fit", ("scalinglab.trust", "scalinglab.plan", "scalinglab.report")),
        ("scalinglab.trust", ("scalinglab.plan", "scalinglab.report", "scalinglab.cli")),
        ("scalinglab.plan", ("scalinglab.report", "scalinglab.cli")),
    ],
)
def test_importing_a_layer_loads_nothing_above_it(module: str, forbidden: tuple[str, ...]) -> None:
    code = (
        f"import sys, {module}\n"
        "print('\\n'.join(m for m in sys.modules if m.startswith('scalinglab')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert module in out
    loaded = [m for m in out if any(m == f or m.startswith(f + ".") for f in forbidden)]
    assert not loaded, f"import {module} loaded {loaded}"


def test_no_torch_or_ray_at_package_import() -> None:
    code = "import sys, scalinglab, scalinglab.cli.application; print('torch' in sys.modules, 'ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def long_functions(path: Path, limit: int) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            n = (node.end_lineno or node.lineno) - node.lineno + 1
            if n > limit:
                out.append(f"{path.name}:{node.lineno} {node.name} ({n} lines)")
    return out


def test_functions_are_short() -> None:
    bad = [f for path in modules() for f in long_functions(path, MAX_FUNCTION_LINES)]
    assert not bad, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(bad)


def test_modules_are_short() -> None:
    bad = []
    for path in modules():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_MODULE_LINES:
            bad.append(f"{path.relative_to(SRC)} ({n} lines)")
    assert not bad, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(bad)


def test_size_check_counts_nested_functions(tmp_path: Path) -> None:
    body = "\n".join(f"        x{i} = {i}" for i in range(120))
    probe = tmp_path / "probe.py"
    probe.write_text(f"def outer():\n    def inner():\n{body}\n    return inner\n")
    found = long_functions(probe, MAX_FUNCTION_LINES)
    assert any("outer" in f for f in found) and any("inner" in f for f in found)


def test_cli_start_up_loads_no_numerical_stack() -> None:
    # `scalinglab --help` builds the app only; `laws list` needs numpy but not pandas
    code = (
        "import sys, scalinglab.cli.application\n"
        "heavy = ('numpy', 'pandas', 'duckdb', 'scipy', 'torch', 'ray', 'matplotlib', 'plotly')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
        "import scalinglab.laws.registry\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    app_mods, laws_mods = out.stdout.strip().split("\n")
    assert app_mods == "[]"
    assert laws_mods == "['numpy']"
