"""Backend selection, registration of a partial backend, and the thread knob."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastact as fa
from fastact._backends.numpy_backend import BACKEND as NUMPY


class PartialBackend:
    """Serves sigmoid forward in float64 only, and records that it ran."""

    name = "partial"

    def __init__(self, priority: int) -> None:
        self.priority = priority
        self.calls = 0

    def available(self) -> bool:
        return True

    def kernel(self, activation, method, dtype):
        if (activation, method, dtype) != ("sigmoid", "forward", np.dtype(np.float64)):
            return None
        reference = NUMPY.kernel(activation, method, dtype)

        def run(x, out):
            self.calls += 1
            reference(x, out)

        return run


@pytest.fixture
def partial():
    backend = PartialBackend(priority=1000)  # above every built-in backend
    fa.register_backend(backend)
    yield backend
    fa.unregister_backend("partial")


def test_numpy_is_always_available() -> None:
    assert "numpy" in fa.available_backends()
    assert fa.available_backends() == sorted(fa.available_backends())


def test_unknown_backend_lists_the_available_ones() -> None:
    with pytest.raises(ValueError, match=r"available: 'auto', .*'numpy'"):
        fa.sigmoid(np.ones(3), backend="fortran")
    with pytest.raises(ValueError, match="fortran"):
        fa.set_backend("fortran")
    with pytest.raises(ValueError, match="fortran"):
        with fa.use_backend("fortran"):
            pass


def test_partial_backend_serves_its_subset_and_only_auto_falls_back(partial) -> None:
    x64, x32 = np.linspace(-3, 3, 7), np.linspace(-3, 3, 7, dtype=np.float32)
    expected = fa.sigmoid(x64, backend="numpy")
    np.testing.assert_array_equal(fa.sigmoid(x64, backend="partial"), expected)
    assert partial.calls == 1
    fa.sigmoid(x64)  # auto: the higher priority backend serves it
    assert partial.calls == 2
    assert fa.resolve_backend("sigmoid", np.float64) == "partial"
    # float16 computes in float32, which "partial" does not serve
    assert fa.resolve_backend("expit", "float16") not in ("partial", "auto")
    for call in (
        lambda: fa.sigmoid(x32, backend="partial"),
        lambda: fa.tanh(x64, backend="partial"),
        lambda: fa.sigmoid.derivative(x64, backend="partial"),
        lambda: fa.resolve_backend("sigmoid", np.float32, backend="partial"),
    ):
        with pytest.raises(NotImplementedError, match="partial"):
            call()
    fa.sigmoid(x32)  # auto falls back to a built-in backend
    fa.tanh(x64)
    assert partial.calls == 2


def test_register_refuses_duplicates_and_non_backends(partial) -> None:
    with pytest.raises(ValueError, match="already registered"):
        fa.register_backend(PartialBackend(priority=1))
    with pytest.raises(TypeError, match="Backend protocol"):
        fa.register_backend(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no backend"):
        fa.unregister_backend("nothing")


def test_set_backend_and_use_backend(partial) -> None:
    x = np.linspace(-1, 1, 5)
    try:
        fa.set_backend("numpy")
        fa.sigmoid(x)
        assert partial.calls == 0
        with fa.use_backend("partial"):
            fa.sigmoid(x)
            assert partial.calls == 1
            with pytest.raises(NotImplementedError):
                fa.tanh(x)
            fa.tanh(x, backend="numpy")  # the per-call argument wins
        fa.sigmoid(x)
        assert partial.calls == 1
    finally:
        fa.set_backend("auto")


def test_use_backend_is_per_thread(partial) -> None:
    x = np.linspace(-1, 1, 5)
    inside, seen = threading.Event(), threading.Event()
    other_thread_calls = []

    def other() -> None:
        inside.wait()
        before = partial.calls
        with fa.use_backend("numpy"):
            fa.sigmoid(x)
        other_thread_calls.append(partial.calls - before)
        seen.set()

    thread = threading.Thread(target=other)
    thread.start()
    with fa.use_backend("partial"):
        inside.set()
        seen.wait(10)
        fa.sigmoid(x)
    thread.join()
    assert other_thread_calls == [0] and partial.calls == 1


def test_set_num_threads() -> None:
    original = fa.get_num_threads()
    try:
        fa.set_num_threads(3)
        assert fa.get_num_threads() == 3
        fa.set_num_threads(64)  # more than the cores is allowed
        for bad in (0, -1, 1.5, "2", True, None):
            with pytest.raises(ValueError, match="n must be an integer"):
                fa.set_num_threads(bad)  # type: ignore[arg-type]
        assert fa.get_num_threads() == 64
    finally:
        fa.set_num_threads(original)


@pytest.mark.parametrize(("value", "expected"), [("3", "3"), ("bogus", "default")])
def test_num_threads_from_the_environment(value, expected, tmp_path) -> None:
    env = dict(os.environ, FASTACT_NUM_THREADS=value)
    code = "import fastact, os; print(fastact.get_num_threads())"
    result = subprocess.run(
        [sys.executable, "-W", "always", "-c", code], env=env, capture_output=True, text=True,
        check=True, cwd=tmp_path,  # not the source tree: the installed package
    )
    if expected == "default":
        assert "FASTACT_NUM_THREADS" in result.stderr and int(result.stdout) >= 1
    else:
        assert result.stdout.strip() == expected


def test_use_backend_is_per_asyncio_task(partial) -> None:
    import asyncio

    x = np.linspace(-1, 1, 5)

    async def inside_partial(started: asyncio.Event, release: asyncio.Event) -> None:
        with fa.use_backend("partial"):
            started.set()
            await release.wait()
            fa.sigmoid(x)

    async def plain(started: asyncio.Event, release: asyncio.Event) -> int:
        await started.wait()
        before = partial.calls
        fa.sigmoid(x)  # another task, while the first is inside its `with`: the global choice
        release.set()
        return partial.calls - before

    async def main() -> int:
        started, release = asyncio.Event(), asyncio.Event()
        _, other = await asyncio.gather(
            inside_partial(started, release), plain(started, release)
        )
        return other

    fa.set_backend("numpy")
    try:
        assert asyncio.run(main()) == 0
    finally:
        fa.set_backend("auto")
    assert partial.calls == 1


class BackwardOnlyBackend(PartialBackend):
    """Serves prelu's backward_x but not the weight gradient that comes with it."""

    name = "backward-only"

    def kernel(self, activation, method, dtype):
        if (activation, method) != ("prelu", "backward_x"):
            return None
        return NUMPY.kernel(activation, method, dtype)


def test_resolve_backend_asks_for_every_kernel_of_the_call() -> None:
    fa.register_backend(BackwardOnlyBackend(priority=1000))
    try:
        chosen = fa.resolve_backend("prelu", np.float64, method="backward_x")
        assert chosen not in ("backward-only", "auto")
        with pytest.raises(NotImplementedError, match="param_grad:weight"):
            fa.resolve_backend("prelu", np.float64, method="backward_x", backend="backward-only")
    finally:
        fa.unregister_backend("backward-only")
