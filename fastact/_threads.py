"""The one thread knob of fastact.

Compiled backends either read :func:`get_num_threads` at call time or register a
listener (:func:`add_listener`) that receives every change (the Cython kernels keep
the number in a C variable that their ufunc loops read), so this module is the only
place where the number is set. The default comes from the
environment variable ``FASTACT_NUM_THREADS``, else from the processors OpenMP sees.
"""

from __future__ import annotations

import operator
import os
import threading
import warnings
from collections.abc import Callable

from fastact._kernels import _runtime

__all__ = ["add_listener", "default_num_threads", "get_num_threads", "set_num_threads"]

_ENV = "FASTACT_NUM_THREADS"


def _validated(n: object, what: str) -> int:
    if isinstance(n, bool):
        raise ValueError(f"{what} must be an integer >= 1, got {n!r}")
    try:
        value = operator.index(n)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"{what} must be an integer >= 1, got {n!r}") from None
    if value < 1:
        raise ValueError(f"{what} must be an integer >= 1, got {value}")
    return value


def default_num_threads() -> int:
    """``FASTACT_NUM_THREADS`` if set (and valid), else the processors available."""
    raw = os.environ.get(_ENV, "").strip()
    if raw:
        try:
            return _validated(int(raw), _ENV)
        except ValueError:
            warnings.warn(
                f"ignoring {_ENV}={raw!r}: expected an integer >= 1",
                RuntimeWarning,
                stacklevel=2,
            )
    return max(1, _runtime.omp_num_procs())


_lock = threading.Lock()
_num_threads = default_num_threads()
_listeners: list[Callable[[int], object]] = []


def add_listener(listener: Callable[[int], object]) -> None:
    """Call ``listener(n)`` now and whenever the thread count changes."""
    with _lock:
        _listeners.append(listener)
        listener(_num_threads)


def set_num_threads(n: int) -> None:
    """Set the number of threads fastact's compiled kernels use (process-wide).

    Parameters
    ----------
    n : int
        At least 1. More than the cores is allowed (threads then share cores).
        Arrays below a backend's measured size threshold still run on one thread.
    """
    global _num_threads
    value = _validated(n, "n")
    with _lock:
        _num_threads = value
        for listener in _listeners:
            listener(value)


def get_num_threads() -> int:
    """The number of threads fastact's compiled kernels use."""
    return _num_threads
