"""The package's floors: adapters -> API -> validation/dispatch -> backends -> kernels.

Read from the source (every ``import`` statement, module level or inside a function,
of every module of the package): nothing imports a floor above its own, and the
imports have no circle (issue 14: ``_api -> _interop -> _device -> _api`` was one).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import fastact

ROOT = Path(fastact.__file__).resolve().parent

#: Floors from the top; a module may import its own floor's modules and any below.
FLOORS: list[set[str]] = [
    {"fastact", "fastact.__main__", "fastact._cli", "fastact.torch", "fastact.sklearn",
     "fastact.thinc", "fastact.bench"},
    {"fastact._interop"},  # the array-protocol adapters, above the API
    {"fastact._api", "fastact._kernels._fastcall"},  # the API and its compiled half
    {"fastact._validate", "fastact._device", "fastact._bias"},
    {"fastact._dispatch"},
    {"fastact._backends"},
    {"fastact._kernels", "fastact._threads", "fastact._formulas", "fastact._primitives",
     "fastact._own_math", "fastact._reference", "fastact._registry"},
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, name: str) -> set[str]:
    """The fastact modules ``path`` imports (``from fastact import x`` counts as
    fastact.x when x is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("fastact"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if not base.startswith("fastact"):
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                if _exists(candidate):
                    found.add(candidate)
                else:
                    found.add(base)
    found.discard(name)
    return found


def _exists(module: str) -> bool:
    rel = Path(*module.split("."))
    base = ROOT.parent / rel
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists() or any(
        base.parent.glob(base.name + ".*.so")
    ) or base.with_suffix(".pyx").exists()


def _graph() -> dict[str, set[str]]:
    graph = {}
    for path in sorted(ROOT.rglob("*.py")):
        name = _module_name(path)
        graph[name] = _imports(path, name)
    for path in sorted(ROOT.rglob("*.pyx")):
        name = _module_name(path)
        graph[name] = _imports_pyx(path, name)
    return graph


_PYX_IMPORT = re.compile(
    r"^\s*(?:from\s+(fastact[\w.]*)\s+import\s+([\w, ]+)|import\s+(fastact[\w.]*))",
    re.MULTILINE,
)


def _imports_pyx(path: Path, name: str) -> set[str]:
    """The Python imports of a Cython module (``ast`` cannot read Cython)."""
    found = set()
    for base, names, plain in _PYX_IMPORT.findall(path.read_text(encoding="utf-8")):
        if plain:
            found.add(plain)
            continue
        for alias in names.split(","):
            candidate = f"{base}.{alias.strip()}"
            found.add(candidate if _exists(candidate) else base)
    found.discard(name)
    return found


def _floor(module: str) -> int:
    best = None
    for i, floor in enumerate(FLOORS):
        for prefix in floor:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (i, len(prefix))
    assert best is not None, f"{module} is on no floor: add it to FLOORS"
    return best[0]


def test_nothing_imports_a_floor_above_its_own() -> None:
    wrong = []
    for module, imported in _graph().items():
        if module == "fastact":
            continue  # the package's namespace gathers every floor
        for target in imported:
            if target == "fastact":
                continue
            if _floor(target) < _floor(module):
                wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


@pytest.mark.parametrize(
    "module", ["fastact._validate", "fastact._dispatch", "fastact._device"]
)
def test_validation_and_dispatch_import_nothing_above(module: str) -> None:
    above = {"fastact._api", "fastact._interop", "fastact.torch", "fastact._cli"}
    assert not (_graph()[module] & above)


def test_backends_and_kernels_import_no_api() -> None:
    graph = _graph()
    for module, imported in graph.items():
        if module.startswith(("fastact._backends", "fastact._kernels")):
            assert not {i for i in imported if _floor(i) <= _floor("fastact._api")}, module


def test_the_api_does_not_import_the_adapters() -> None:
    imported = _graph()["fastact._api"]
    assert "fastact._interop" not in imported
    assert "fastact._device" not in imported


def test_no_import_circles() -> None:
    graph = {m: {t for t in ts if t != "fastact"} for m, ts in _graph().items() if m != "fastact"}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycle = [*stack[stack.index(target):], target]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
