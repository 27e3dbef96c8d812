"""Concurrency: many Python threads, different activations and backends, shared inputs,
separate outputs, while another thread keeps changing ``fa.set_num_threads``.

The contract's determinism rule: elementwise results are bit-identical for every
thread count; reductions (softmax's sums, prelu's weight gradient) are deterministic
for a given count and within the accuracy bar across counts. A call races with the
changes, so its count is unknown: elementwise results must equal the single-thread
ones bit for bit, reductions must be within the bar of them.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable

import numpy as np
import pytest

import fastact as fa
from conftest import BACKENDS
from fastact._kernels import _ufuncs

# Just above the C backend's thread threshold (read, not assumed), and not a multiple
# of the SIMD block.
SIZE = _ufuncs.get_parallel_min() + 37
WORKERS = 6
ROUNDS = 3


def _jobs(dtype: type) -> dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], object]]:
    """name -> job(x, grad, rows): each writes only into arrays it allocates itself."""
    return {
        "gelu": lambda x, g, r: fa.gelu(x, out=np.empty_like(x)),
        "silu.derivative": lambda x, g, r: fa.silu.derivative(x, beta=1.5),
        "tanh.backward": lambda x, g, r: fa.tanh.backward(g, x, out=np.empty_like(x)),
        "sigmoid.backward_y": lambda x, g, r: fa.sigmoid.backward(g, y=np.abs(x) / 8),
        "softplus.vad": lambda x, g, r: fa.softplus.value_and_derivative(x, beta=2.0),
        "rrelu.training": lambda x, g, r: fa.rrelu(x, training=True, seed=11),
        "leaky_relu.array": lambda x, g, r: fa.leaky_relu(
            x.reshape(-1, 1), negative_slope=np.linspace(0.1, 0.3, 1, dtype=dtype)
        ),
        "softmax": lambda x, g, r: fa.softmax(r, axis=-1),
        "log_softmax.axis0": lambda x, g, r: fa.log_softmax(r, axis=0),
        "softmin.backward": lambda x, g, r: fa.softmin.backward(r, r, axis=-1),
        "glu.backward": lambda x, g, r: fa.glu.backward(r[:, :128], r, axis=-1),
        "prelu.backward": lambda x, g, r: fa.prelu.backward(
            r, r, weight=np.full((256,), 0.25, dtype=dtype)
        ),
    }


REDUCTIONS = {"softmax", "log_softmax.axis0", "softmin.backward", "prelu.backward"}


def _pieces(result: object) -> list[np.ndarray]:
    return list(result) if isinstance(result, tuple) else [result]  # type: ignore[list-item]


def _within_bar(got: np.ndarray, want: np.ndarray) -> bool:
    """8 ulp plus 8 eps times the largest magnitude (the bar of the axis functions)."""
    eps = np.finfo(want.dtype).eps
    with np.errstate(all="ignore"):
        bar = 8 * eps * (np.abs(want) + np.max(np.abs(want), initial=0.0))
        same = (got == want) | (np.isnan(got) & np.isnan(want))
        return bool(np.all(same | (np.abs(got - want) <= bar)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threads_racing_the_thread_knob_get_the_single_thread_results(dtype) -> None:
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(SIZE) * 4).astype(dtype)
    grad = rng.standard_normal(SIZE).astype(dtype)
    rows = (rng.standard_normal((300, 256)) * 3).astype(dtype)
    x.flags.writeable = grad.flags.writeable = rows.flags.writeable = False  # shared
    jobs = _jobs(dtype)
    original = fa.get_num_threads()
    fa.set_num_threads(1)
    expected = {}
    for b in BACKENDS:
        with fa.use_backend(b):
            for name, job in jobs.items():
                expected[b, name] = _pieces(job(x, grad, rows))

    failures: list[str] = []
    stop = threading.Event()

    def knob() -> None:
        for n in itertools.cycle([2, 1, 3, 2, 4]):
            if stop.is_set():
                return
            fa.set_num_threads(n)

    def worker(seed: int) -> None:
        order = [(b, name) for b in BACKENDS for name in jobs] * ROUNDS
        random.Random(seed).shuffle(order)
        try:
            for b, name in order:
                with fa.use_backend(b):
                    got = _pieces(jobs[name](x, grad, rows))
                for g, w in zip(got, expected[b, name], strict=True):
                    ok = _within_bar(g, w) if name in REDUCTIONS else np.array_equal(
                        g, w, equal_nan=True
                    )
                    if not ok:
                        failures.append(f"{b} {name} {dtype.__name__}")
        except Exception as error:  # reported below, with the job that raised
            failures.append(f"{type(error).__name__}: {error}")

    toggler = threading.Thread(target=knob)
    workers = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    try:
        toggler.start()
        for t in workers:
            t.start()
        for t in workers:
            t.join()
    finally:
        stop.set()
        toggler.join()
        fa.set_num_threads(original)
    assert not failures, failures[:10]
    # The inputs were shared and read-only: still the same values.
    assert np.array_equal(x, (np.random.default_rng(5).standard_normal(SIZE) * 4).astype(dtype))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_reductions_are_deterministic_for_a_thread_count(threads, backend) -> None:
    """Same count, same bits: softmax along both axes, prelu's weight gradient."""
    rng = np.random.default_rng(8)
    rows = rng.standard_normal((513, 300)).astype(np.float32)
    original = fa.get_num_threads()
    fa.set_num_threads(threads)
    try:
        runs = [
            (
                fa.softmax(rows, axis=-1, backend=backend),
                fa.softmax(rows, axis=0, backend=backend),
                fa.prelu.backward(rows, rows, weight=np.full((300,), 0.2, np.float32),
                                  backend=backend)[1],
            )
            for _ in range(3)
        ]
    finally:
        fa.set_num_threads(original)
    for run in runs[1:]:
        for a, b in zip(run, runs[0], strict=True):
            assert np.array_equal(a, b)
