"""The one thread knob of fastact.

Compiled backends either read :func:`get_num_threads` at call time or register a
listener (:func:`add_listener`) that receives every change (the Cython kernels keep
the number in a C variable that their ufunc loops read), so this module is the only
place where the number is set. The default comes from the
environment variable ``FASTACT_NUM_THREADS``, else from the processors OpenMP sees.

A process made by ``fork()`` (``multiprocessing``'s "fork" start method, and
``os.fork``) runs the kernels on one thread: GNU OpenMP (libgomp, which the Cython
kernels and numba's "omp" layer share) keeps its thread pool in the parent, and a
forked child that enters a parallel region after the parent has run one waits
forever for threads that were not copied (measured here: every kernel above
2**15 elements hung). So a fork handler sets the count to 1 in the child before any
code runs there, and :func:`set_num_threads` keeps it at 1 with a RuntimeWarning.
The "spawn" and "forkserver" start methods give fresh processes with threads.
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
#: True in a process made by fork() from one that imported fastact: serial kernels.
_forked = False

_FORK_MESSAGE = (
    "fastact runs on one thread in a process made by fork(): GNU OpenMP cannot start "
    "threads in a child forked after its parent ran parallel code (it would hang). "
    "Use multiprocessing's 'spawn' or 'forkserver' start method for threaded workers."
)


def _after_fork_in_child() -> None:
    """Fork handler: the child's kernels run serially (the module docstring says why)."""
    global _lock, _num_threads, _forked
    # The parent's lock may have been held by another thread at the fork: the copy
    # would then stay locked forever. The child has one thread: a new lock is safe.
    _lock = threading.Lock()
    _forked = True
    _num_threads = 1
    for listener in _listeners:
        listener(1)


os.register_at_fork(after_in_child=_after_fork_in_child)


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
        In a process made by fork() the kernels stay on one thread (a
        RuntimeWarning says so when n > 1): see the module docstring.
    """
    global _num_threads
    value = _validated(n, "n")
    if _forked and value > 1:
        warnings.warn(_FORK_MESSAGE, RuntimeWarning, stacklevel=2)
        value = 1
    with _lock:
        _num_threads = value
        for listener in _listeners:
            listener(value)


def get_num_threads() -> int:
    """The number of threads fastact's compiled kernels use."""
    return _num_threads
