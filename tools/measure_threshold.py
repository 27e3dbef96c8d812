"""Measure where a backend's kernels should start using more than one thread.

Times a cheap kernel (float32 relu, out= preallocated: a parallel region costs most
relative to it) and an expensive one (float32 gelu) with 1 thread and with all
threads forced on, over sizes 2**10 .. 2**20, median of many calls; prints the
ratio and the smallest size from which threads win for both. The constants are
FA_PARALLEL_MIN_DEFAULT in fastact/_kernels/_ufuncs.pyx (cython) and PARALLEL_MIN in
fastact/_backends/numba_backend.py (numba).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python tools/measure_threshold.py
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python tools/measure_threshold.py --backend numba
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import statistics
import time
from collections.abc import Iterator

import numpy as np

import fastact as fa
from fastact._kernels import _ufuncs


def _median_ns(fn, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples)


@contextlib.contextmanager
def _always_parallel(backend: str) -> Iterator[None]:
    """Threads for every size while timing (the threshold itself is measured)."""
    if backend == "numba":
        from fastact._backends import numba_backend

        low = numba_backend.PARALLEL_MIN
        numba_backend.PARALLEL_MIN = 1
        try:
            yield
        finally:
            numba_backend.PARALLEL_MIN = low
        return
    low = _ufuncs.get_parallel_min()
    _ufuncs.set_parallel_min(1)
    try:
        yield
    finally:
        _ufuncs.set_parallel_min(low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="cython", choices=["cython", "numba"])
    backend = parser.parse_args().backend
    threads = fa.get_num_threads()
    print(f"backend: {backend}, threads: {threads}")
    head = ("size", "relu 1t", "relu nt", "ratio", "gelu 1t", "gelu nt", "ratio")
    print(" ".join(f"{h:>9}" for h in head))
    wins = []
    with _always_parallel(backend):
        for power in range(10, 21):
            n = 2**power
            x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
            out = np.empty_like(x)
            row = [n]
            ratios = []
            for name in ("relu", "gelu"):
                fn = fa.activations()[name]
                times = []
                for t in (1, threads):
                    fa.set_num_threads(t)
                    fn(x, out=out, backend=backend)
                    call = functools.partial(fn, x, out=out, backend=backend)
                    times.append(_median_ns(call, max(20, 2**22 // n)))
                row += times
                ratios.append(times[0] / times[1])
                row.append(ratios[-1])
            if all(r > 1.05 for r in ratios):
                wins.append(n)
            print(f"{row[0]:>8} {row[1]/1e3:>8.1f}u {row[2]/1e3:>8.1f}u {row[3]:>6.2f} "
                  f"{row[4]/1e3:>8.1f}u {row[5]/1e3:>8.1f}u {row[6]:>6.2f}")  # fmt: skip
    fa.set_num_threads(threads)
    print(f"threads win for both from: {wins[0] if wins else 'never'} elements")


if __name__ == "__main__":
    main()
