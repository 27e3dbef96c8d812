"""pytest-benchmark: same-commit A/B comparisons of backends and baselines.

Grouped per activation and method, so each group's table compares every
implementation of one computation (``--benchmark-group-by=group`` is the default)::

    pytest benchmarks/pytest_bench                                # time them
    pytest benchmarks/pytest_bench -k gelu --benchmark-columns=median,ops
    pytest benchmarks/pytest_bench --benchmark-save=before        # A ... change ...
    pytest benchmarks/pytest_bench --benchmark-compare             # ... then B
    pytest benchmarks/pytest_bench --benchmark-disable            # CI: each body once

The cases are those of ``fastact bench`` and asv (``fastact.bench.timing``).
``FASTACT_BENCH_ACTIVATIONS`` (comma-separated; ``all`` for every activation) and
``FASTACT_BENCH_SIZE`` (default 1e5: in cache, where the arithmetic is the cost)
change the grid. This directory has no ``__init__.py``: asv's discovery skips it.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

pytest.importorskip("pytest_benchmark")

from fastact._registry import SPECS, lookup
from fastact.bench import timing

_CHOSEN = [w for w in os.environ.get("FASTACT_BENCH_ACTIVATIONS", "").split(",") if w.strip()]
ACTIVATIONS = (
    [s.name for s in SPECS]
    if _CHOSEN == ["all"]
    else [lookup(n.strip()).name for n in _CHOSEN] or ["sigmoid", "relu", "gelu", "silu",
                                                       "softmax"]
)
SIZE = int(float(os.environ.get("FASTACT_BENCH_SIZE", "1e5")))


@pytest.mark.parametrize("implementation", timing.implementations())
@pytest.mark.parametrize("method", ["forward", "backward"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_bench(benchmark: Any, activation: str, method: str, implementation: str) -> None:
    try:
        case = timing.prepare(activation, implementation, method, "float32", SIZE)
    except NotImplementedError as why:
        pytest.skip(str(why))
    benchmark.group = f"{activation} {method} float32 {SIZE}"
    benchmark.extra_info["elements"] = case.elements
    benchmark(case.call)
