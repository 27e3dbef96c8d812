"""The README's table of activations is the registry's (tools/activation_table.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_table_matches_the_registry() -> None:
    path = ROOT / "tools" / "activation_table.py"
    spec = importlib.util.spec_from_file_location("activation_table", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (ROOT / "README.md").read_text()
    assert module.markdown() in readme, "README.md: paste `python tools/activation_table.py`"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci/run").read_text()
    assert 'pip install ".[test]" && pytest\n' in readme
    assert 'pip install ".[test,lint' in ci and "step pytest pytest" in ci
