"""Shared fixtures: every test that takes ``backend`` runs once per available backend."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import fastact as fa

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
