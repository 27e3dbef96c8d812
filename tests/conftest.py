"""Shared fixtures: every test that takes ``backend`` runs once per available backend."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import warnings
from collections.abc import Iterator
from pathlib import Path


def _numba_cache_is_writable() -> bool:
    """numba caches compiled kernels in __pycache__ next to the installed package, else
    in ~/.cache/numba; with neither writable it silently compiles again in every process
    (the test suite compiles every kernel in both dtypes: ~4 minutes)."""
    spec = importlib.util.find_spec("fastact")
    kernels = Path(spec.origin).parent / "_kernels" if spec and spec.origin else None
    home = Path.home() / ".cache"
    return any(
        p is not None and os.access(p if p.exists() else p.parent, os.W_OK)
        for p in (kernels / "__pycache__" if kernels else None, home / "numba")
    )


# Before numba is imported (it reads NUMBA_CACHE_DIR once); the test subprocesses
# inherit it. A user's own NUMBA_CACHE_DIR is kept.
if "NUMBA_CACHE_DIR" not in os.environ and not _numba_cache_is_writable():
    os.environ["NUMBA_CACHE_DIR"] = str(Path(__file__).parent.parent / ".pytest_cache" / "numba")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

import fastact as fa  # noqa: E402

# Example counts stay small so the suite fits CI's budget on 2 cores; raise them with
# HYPOTHESIS_PROFILE=thorough when hunting.
settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# FASTACT_TEST_BACKENDS=cuda,... restricts the backend-parametrised tests to those
# backends: CI runs them once more under numba's CUDA simulator that way (the simulator
# runs device code as Python, too slow to repeat the whole matrix for every backend).
_ONLY = [b for b in os.environ.get("FASTACT_TEST_BACKENDS", "").split(",") if b]
BACKENDS = [b for b in fa.available_backends() if not _ONLY or b in _ONLY]
if _ONLY and sorted(BACKENDS) != sorted(set(_ONLY)):
    raise RuntimeError(
        f"FASTACT_TEST_BACKENDS={','.join(_ONLY)} but available: {fa.available_backends()}"
    )
ELEMENTWISE = [s for s in fa._registry.SPECS if s.kind == "elementwise"]
ALONG_AXIS = [s for s in fa._registry.SPECS if s.kind == "axis"]
DTYPES = [np.float32, np.float64]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@contextlib.contextmanager
def strict_floating_point() -> Iterator[None]:
    """Any NumPy floating-point warning (underflow included) inside fastact is a
    failure, whatever the caller's np.seterr: the contract says none is emitted."""
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def example_params(spec: fa._registry.ActivationSpec) -> dict:
    """Valid parameters for any activation: the defaults, plus the required ones."""
    params = {p.name: 0.25 for p in spec.required_params}
    if spec.name == "threshold":
        params = {"threshold": 0.5, "value": -2.0}
    return params
