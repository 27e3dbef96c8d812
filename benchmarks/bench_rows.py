"""asv suite of the axis functions by shape (the cases of ``fastact bench-rows``,
fastact/bench/rows.py): softmax, log_softmax, softmin, glu, forward and backward (from
y for the softmax family, from x for glu; backward_x: the softmax family from x),
float32 and float64, shapes (1e5, 10),
(1e4, 1000), (100, 1e5), (1, 1e7) along the last axis and (1000, 1e4) along axis 0,
1 and 2 threads, for the cython and numba backends, torch and a copy.
A combination that cannot run raises NotImplementedError in ``setup`` (skipped).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

import fastact as fa

SHAPES = ["100000x10/-1", "10000x1000/-1", "100x100000/-1", "1x10000000/-1", "1000x10000/0"]


def _shape(text: str) -> tuple[tuple[int, ...], int]:
    dims, axis = text.split("/")
    return tuple(int(d) for d in dims.split("x")), int(axis)


class Rows:
    params: ClassVar[tuple[list[Any], ...]] = (
        ["softmax", "log_softmax", "softmin", "glu"], ["forward", "backward", "backward_x"],
        ["float32", "float64"], SHAPES, [1, 2], ["cython", "numba", "torch", "copy"])
    param_names: ClassVar[list[str]] = ["function", "method", "dtype", "shape", "threads", "impl"]
    timeout = 300
    version = "rows-2"

    def setup(self, name: str, method: str, dtype: str, shape: str, threads: int,
              impl: str) -> None:
        if name == "glu" and method == "backward_x":
            raise NotImplementedError("glu's backward is from x already")
        dims, axis = _shape(shape)
        x = (np.random.default_rng(0).standard_normal(dims) * 3).astype(dtype)
        fn = getattr(fa, name)
        y = fn(x, axis=axis, backend="cython")
        g = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
        out = np.empty_like(y if method == "forward" else x)
        fa.set_num_threads(threads)
        self.call: Any
        if impl == "copy":
            copy_out = np.empty_like(x)
            self.call = lambda: np.copyto(copy_out, x)
        elif impl == "torch":
            try:
                import torch
            except ImportError:
                raise NotImplementedError("torch is not installed") from None
            from fastact.bench.rows import _torch_fn

            torch.set_num_threads(threads)
            tx, tg, ty = (torch.from_numpy(a) for a in (x, g, y))
            self.call = _torch_fn(name, method, axis, tx, tg, ty)
        else:
            if impl not in fa.available_backends():
                raise NotImplementedError(f"{impl} is not available")
            if method == "forward":
                self.call = lambda: fn(x, axis=axis, out=out, backend=impl)
            elif name == "glu" or method == "backward_x":
                self.call = lambda: fn.backward(g, x, axis=axis, out=out, backend=impl)
            else:
                self.call = lambda: fn.backward(g, y=y, axis=axis, out=out, backend=impl)
        self.call()  # warm: JIT, pools, page faults

    def time_rows(self, *params: Any) -> None:
        self.call()
