"""The one thread knob of fastact.

Compiled backends either read :func:`get_num_threads` at call time or register a
listener (:func:`add_listener`) that receives every change (the Cython kernels keep
the number in a C variable that their ufunc loops read), so this module is the only
place where the number is set. The default comes from the environment variable
``FASTACT_NUM_THREADS``, else from the processors available; it is validated once,
here: an integer in ``[1, MAX_THREADS]`` (256, the most one call of fastact's pool
can use, ``fa_pool.h``).

The threads themselves are fastact's own pool (``fastact/_kernels/fa_pool.h``,
compiled into ``fastact._kernels._runtime``): the elementwise kernels, rrelu and the
numba backend hand it chunks; the calling thread works too and never waits for a
worker that has not started, and workers sleep between calls. The caller's
floating-point mode (flush-to-zero, rounding) applies in every thread.

``fork()``: the pool gives a forked child a fresh pool (pthread_atfork), so a forked
child runs threaded kernels too (elementwise, rows, rrelu and numba alike: no code of
fastact runs a GNU OpenMP parallel region any more, which would hang in such a child).

threadpoolctl: if it is installed, fastact's pool is registered as a threadpoolctl
controller (user_api ``"fastact"``), so ``threadpool_limits(1)`` limits fastact too.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable

from fastact._kernels import _runtime

__all__ = [
    "MAX_THREADS",
    "add_listener",
    "default_num_threads",
    "get_num_threads",
    "set_num_threads",
]

_ENV = "FASTACT_NUM_THREADS"

#: The most threads a call can use (the pool's FA_POOL_MAX_THREADS).
MAX_THREADS: int = int(_runtime.MAX_THREADS)


def _validated(n: object, what: str) -> int:
    """``n`` as an int in [1, MAX_THREADS], else ValueError naming ``what``."""
    message = f"{what} must be an integer in [1, {MAX_THREADS}], got {n!r}"
    if isinstance(n, bool) or not hasattr(type(n), "__index__"):
        raise ValueError(message)
    value = type(n).__index__(n)  # type: ignore[attr-defined]
    if not 1 <= value <= MAX_THREADS:
        raise ValueError(message)
    return int(value)


def _processors() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_num_threads() -> int:
    """``FASTACT_NUM_THREADS`` if set (and valid), else the processors available
    (at most MAX_THREADS). An invalid value warns (RuntimeWarning) and is ignored."""
    raw = os.environ.get(_ENV, "").strip()
    if raw:
        try:
            return _validated(int(raw), _ENV)
        except ValueError:
            warnings.warn(
                f"ignoring {_ENV}={raw!r}: expected an integer in [1, {MAX_THREADS}]",
                RuntimeWarning,
                stacklevel=2,
            )
    return max(1, min(_processors(), MAX_THREADS))


_lock = threading.Lock()
_num_threads = default_num_threads()
_listeners: list[Callable[[int], object]] = []


def _after_fork_in_child() -> None:
    """Fork handler: a fresh lock (the pool itself is renewed by pthread_atfork)."""
    global _lock
    # The parent's lock may have been held by another thread at the fork: the copy
    # would then stay locked forever. The child has one thread: a new lock is safe.
    _lock = threading.Lock()


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
        In ``[1, MAX_THREADS]`` (256); ValueError naming ``n`` otherwise. More than
        the cores is allowed (threads then share cores). Arrays below a backend's
        measured size threshold still run on one thread. A call in progress keeps
        the count it started with.
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


def _register_threadpoolctl() -> None:
    """Make fastact's pool a threadpoolctl controller, if threadpoolctl is installed."""
    try:
        import threadpoolctl  # type: ignore[import-untyped]
    except ImportError:
        return
    if not hasattr(threadpoolctl, "register"):  # threadpoolctl < 3.5
        return

    class FastactController(threadpoolctl.LibController):
        """fastact's thread pool (fastact/_kernels/fa_pool.h), seen by threadpoolctl
        through the module that holds it (fastact._kernels._runtime)."""

        user_api = "fastact"
        internal_api = "fastact"
        filename_prefixes = ("_runtime",)
        check_symbols = ("PyInit__runtime",)

        def get_version(self) -> str:
            # Only fastact's _runtime module, not another package's of that name
            # (threadpoolctl skips a library whose controller raises OSError).
            if os.path.realpath(self.filepath or "") != os.path.realpath(_runtime.__file__):
                raise OSError("not fastact's _runtime module")
            from fastact import __version__

            return __version__

        def get_num_threads(self) -> int:
            return get_num_threads()

        def set_num_threads(self, num_threads: int) -> None:
            set_num_threads(max(1, min(int(num_threads), MAX_THREADS)))

    threadpoolctl.register(FastactController)


_register_threadpoolctl()
