"""Measure where the Cython kernels should start using more than one thread.

Times a cheap kernel (float32 relu, out= preallocated: a parallel region costs most
relative to it) and an expensive one (float32 gelu) with 1 thread and with all
threads forced on, over sizes 2**10 .. 2**20, median of many calls; prints the
ratio and the smallest size from which threads win for both. The constant is
FA_PARALLEL_MIN_DEFAULT in fastact/_kernels/_ufuncs.pyx.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python tools/measure_threshold.py
"""

from __future__ import annotations

import functools
import statistics
import time

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


def main() -> None:
    threads = fa.get_num_threads()
    low = _ufuncs.get_parallel_min()
    print(f"threads: {threads}")
    head = ("size", "relu 1t", "relu nt", "ratio", "gelu 1t", "gelu nt", "ratio")
    print(" ".join(f"{h:>9}" for h in head))
    wins = []
    try:
        _ufuncs.set_parallel_min(1)
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
                    fn(x, out=out)
                    call = functools.partial(fn, x, out=out)
                    times.append(_median_ns(call, max(20, 2**22 // n)))
                row += times
                ratios.append(times[0] / times[1])
                row.append(ratios[-1])
            if all(r > 1.05 for r in ratios):
                wins.append(n)
            print(f"{row[0]:>8} {row[1]/1e3:>8.1f}u {row[2]/1e3:>8.1f}u {row[3]:>6.2f} "
                  f"{row[4]/1e3:>8.1f}u {row[5]/1e3:>8.1f}u {row[6]:>6.2f}")  # fmt: skip
    finally:
        fa.set_num_threads(threads)
        _ufuncs.set_parallel_min(low)
    print(f"threads win for both from: {wins[0] if wins else 'never'} elements")


if __name__ == "__main__":
    main()
