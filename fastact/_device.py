"""Calls on CUDA device arrays: validated here, computed by the ``"cuda"`` backend,
results left on the device.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastact import _dispatch

__all__ = ["call", "is_device_array"]


def is_device_array(value: Any) -> bool:
    """Whether ``value`` lives on a CUDA device: it exposes
    ``__cuda_array_interface__`` (numba, CuPy, torch) or is a device array of
    numba's CUDA simulator (which does not expose it)."""
    return hasattr(value, "__cuda_array_interface__") or (
        type(value).__name__ == "FakeCUDAArray"
    )


def call(
    activation: Any,
    method: str,
    arrays: Mapping[str, Any],
    args: tuple[Any, ...],
    params: Mapping[str, Any],
    out: Any,
    backend: str | None,
) -> Any:
    """Run ``activation``'s ``method`` on device arrays (see :func:`_interop.intercept`)."""
    raise NotImplementedError(
        f"{activation.spec.name}: a CUDA device array was passed, and no backend here "
        f"serves device arrays (available: {', '.join(_dispatch.available_backends())})"
    )
