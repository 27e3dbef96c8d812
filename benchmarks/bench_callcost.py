"""asv suite: the cost of one small call, fastact against a bare NumPy ufunc (issue 14).

The calls are those of ``fastact.bench.callcost`` (shared with ``fastact bench
--callcost``): float32 arrays of 100, 1000 and 10000 elements with ``out=``
preallocated; ``time_`` is the call itself, ``track_ratio`` its time over
``np.tanh(x, out=o)`` on the same array in the same process (best of 5 x 2000), which
a busy machine moves much less than the times.
"""

from __future__ import annotations

import timeit
from typing import Any

import numpy as np

import fastact as fa

try:
    from fastact.bench import callcost
except ImportError:  # a commit from before this benchmark: every case skips
    callcost = None  # type: ignore[assignment]

SIZES = [100, 1000, 10000]
BACKENDS = [b for b in ("cython", "numba") if b in fa.available_backends()]
CASES = [label for label, *_ in callcost.cases(100, "numpy")] if callcost else []


def _best(f: Any) -> float:
    f()
    return min(timeit.repeat(f, number=2000, repeat=5)) / 2000


class CallCost:
    params = (CASES, BACKENDS, SIZES)
    param_names = ("case", "backend", "n")

    def setup(self, case: str, backend: str, n: int) -> None:
        if callcost is None:
            raise NotImplementedError("no fastact.bench.callcost at this commit")
        found = {label: call for label, _, call, _ in callcost.cases(n, backend)}
        self.call = found[case]
        self.call()
        x = np.random.default_rng(1).standard_normal(n).astype(np.float32)
        o = np.empty_like(x)
        self.bare = lambda: np.tanh(x, out=o)

    def time_call(self, case: str, backend: str, n: int) -> None:
        self.call()

    def track_ratio(self, case: str, backend: str, n: int) -> float:
        return _best(self.call) / _best(self.bare)

    track_ratio.unit = "x np.tanh(x, out=o)"  # type: ignore[attr-defined]
