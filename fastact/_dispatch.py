"""Which backend serves a call.

Backends are found in :data:`BUILTIN_BACKENDS` (modules that define ``BACKEND``),
imported on first use so that ``import fastact`` compiles and loads nothing it does
not need, and in :func:`register_backend` for third parties and tests. The choice for
a call is, in order: its ``backend=`` argument, the innermost :func:`use_backend`
of the current thread or task, :func:`set_backend`, ``"auto"``. An explicit backend
that does not serve the call raises NotImplementedError; only ``"auto"`` falls back,
trying backends by decreasing priority.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from typing import Any

import numpy as np

from fastact._backends.base import Backend, Kernel

__all__ = [
    "BUILTIN_BACKENDS",
    "available_backends",
    "current_backend",
    "kernel_of",
    "register_backend",
    "select",
    "set_backend",
    "unregister_backend",
    "use_backend",
]

AUTO = "auto"

#: Modules defining ``BACKEND``; a compiled backend adds its line here and nothing else.
BUILTIN_BACKENDS: tuple[str, ...] = (
    "fastact._backends.numpy_backend",
    "fastact._backends.cython_backend",
    "fastact._backends.numba_backend",
    "fastact._backends.cuda_backend",
)

_lock = threading.Lock()
_backends: dict[str, Backend] = {}
_unavailable: dict[str, str] = {}
_builtins_loaded = False

_global_choice = AUTO
_context_choice: ContextVar[str | None] = ContextVar("fastact_backend", default=None)


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    with _lock:
        if _builtins_loaded:
            return
        for module_name in BUILTIN_BACKENDS:
            try:
                backend = importlib.import_module(module_name).BACKEND
            except ImportError as error:  # an optional dependency is missing
                _unavailable[module_name.rpartition(".")[2]] = str(error)
                continue
            if backend.available():
                _backends.setdefault(backend.name, backend)
            else:
                _unavailable[backend.name] = "not available on this machine"
        _builtins_loaded = True


def register_backend(backend: Backend, *, replace: bool = False) -> None:
    """Make ``backend`` selectable by its name and by ``"auto"`` (by its priority)."""
    if not isinstance(backend, Backend):
        raise TypeError(f"backend must implement fastact's Backend protocol, got {backend!r}")
    if backend.name == AUTO:
        raise ValueError(f"backend name {AUTO!r} is reserved")
    _load_builtins()
    with _lock:
        if backend.name in _backends and not replace:
            raise ValueError(f"a backend named {backend.name!r} is already registered")
        _backends[backend.name] = backend
        _changed()


def unregister_backend(name: str) -> None:
    """Remove a registered backend (ValueError if there is none of that name)."""
    _load_builtins()
    with _lock:
        if _backends.pop(name, None) is None:
            raise ValueError(f"no backend named {name!r} is registered")
        _changed()


def available_backends() -> list[str]:
    """The names of the backends that work on this machine, sorted."""
    _load_builtins()
    return sorted(_backends)


def _validated_name(name: object, argument: str = "backend") -> str:
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a backend name (str), got {name!r}")
    _load_builtins()
    if name == AUTO or name in _backends:
        return name
    choices = ", ".join(repr(n) for n in [AUTO, *sorted(_backends)])
    why = f" ({_unavailable[name]})" if name in _unavailable else ""
    raise ValueError(f"unknown {argument} {name!r}{why}; available: {choices}")


def set_backend(name: str) -> None:
    """Set the process-wide default backend (``"auto"`` restores automatic choice)."""
    global _global_choice
    _global_choice = _validated_name(name, "backend")


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Use ``name`` for calls made in this thread or task inside the ``with`` block."""
    token = _context_choice.set(_validated_name(name, "backend"))
    try:
        yield
    finally:
        _context_choice.reset(token)


def current_backend() -> str:
    """The backend name a call without ``backend=`` would ask for."""
    context = _context_choice.get()
    return context if context is not None else _global_choice


#: The one cache of kernel selections: call plans (fastact._validate.Plan, which hold
#: their kernels), filled and bounded by fastact._validate; emptied whenever the set of
#: backends changes. (The backends' own dicts only memoise building a kernel.)
_selected: dict[tuple, Any] = {}
#: The backends in the order "auto" tries them, sorted once per change of the set.
_by_priority: list[Backend] = []


def _changed() -> None:
    """The set of backends changed: forget the selections made from the old set."""
    _selected.clear()
    _by_priority[:] = sorted(_backends.values(), key=lambda b: -b.priority)


def kernel_of(backend: str, activation: str, method: str, dtype: np.dtype) -> Kernel | None:
    """The kernel of one (already selected) backend, or None where it has none: for
    optional kernels, such as the fused-bias ones (fastact._bias), that a call can do
    without."""
    _load_builtins()
    return _backends[backend].kernel(activation, method, dtype)


def select(
    activation: str, methods: Sequence[str], dtype: np.dtype, requested: str | None
) -> tuple[str, list[Kernel]]:
    """The backend and its kernels for ``methods`` of ``activation`` in compute ``dtype``.

    All kernels of one call come from one backend.
    """
    name = _validated_name(current_backend() if requested is None else requested)
    if name != AUTO:
        kernels = [_backends[name].kernel(activation, m, dtype) for m in methods]
        missing = [m for m, k in zip(methods, kernels, strict=True) if k is None]
        if missing:
            raise NotImplementedError(
                f"backend {name!r} does not serve {activation} ({', '.join(missing)}) "
                f"for compute dtype {dtype}; use backend='auto' to fall back"
            )
        return name, [k for k in kernels if k is not None]
    if len(_by_priority) != len(_backends):
        _changed()
    for backend in _by_priority:
        found = [backend.kernel(activation, m, dtype) for m in methods]
        if all(k is not None for k in found):
            return backend.name, [k for k in found if k is not None]
    raise NotImplementedError(
        f"no backend serves {activation} ({', '.join(methods)}) for compute dtype {dtype}"
    )
