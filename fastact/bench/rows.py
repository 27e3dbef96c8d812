"""Benchmark of the axis functions (softmax, log_softmax, softmin, glu), in one run.

``fastact bench-rows`` (or ``python -m fastact.bench.rows``) times, for every
shape, dtype, thread count and backend, the forward and the backward (from y for
the softmax family, from x for glu) with ``out=`` preallocated, and in the same run
torch (``torch.softmax`` / ``torch._softmax_backward_data`` / ``glu`` and its
backward), the NumPy formula of the tutorials and a plain copy of the bytes the
kernel must move (``np.copyto`` of the input into the output: one read, one write).
``backward_x`` is the backward from x of the softmax family: fastact's
``backward(g, x)`` against torch's forward then ``_softmax_backward_data`` (what a
step from x costs there: its autograd keeps y) and the two NumPy formulas in turn.
It prints one line per case: the time in ns per element and the ratios
``torch / fastact`` (> 1: fastact faster), ``numpy / fastact`` and
``roof = (copy time * passes) / fastact``, with ``passes`` the traffic of the kernel
in copies (rows in cache: forward read x, write y = 1 copy; backward read g and y,
write out = 1.5; long rows: 1.5 and 2.5; glu forward: read x, write half = 0.75; glu
backward: read g (half) and x, write out = 1.25): 1.0 means at the memory roof.

The machine is shared: every ratio compares timings taken back to back, median of
``--repeats`` calls, each case's contestants interleaved.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import fastact as fa

SHAPES: tuple[tuple[tuple[int, ...], int], ...] = (
    ((100_000, 10), -1),
    ((10_000, 1000), -1),
    ((100, 100_000), -1),
    ((1, 10_000_000), -1),
    ((1000, 10_000), 0),
)
FUNCTIONS = ("softmax", "log_softmax", "softmin", "glu")
#: bytes moved by each kernel, in copies of x (see the module docstring): rows that
#: fit in cache (fa_rows.h FA_ROW_CACHE_BYTES, 512 KiB) / longer rows (chunked: x read
#: twice for the forward, g and y twice for the backward). glu is elementwise.
PASSES = {"forward": (1.0, 1.5), "backward": (1.5, 2.5), "backward_x": (1.5, 2.5),
          "glu_forward": (0.75, 0.75), "glu_backward": (1.25, 1.25)}
CACHE_BYTES = 512 * 1024


def _median_time(fn: Callable[[], Any], repeats: int, budget: float = 0.5) -> float:
    fn()  # warm (JIT, pools, page faults)
    times = []
    start = time.perf_counter()
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > budget and len(times) >= 3:
            break
    return statistics.median(times)


def _numpy_formula(name: str, method: str, axis: int) -> Callable[..., Any]:
    def softmax(x: np.ndarray, sgn: float = 1.0) -> np.ndarray:
        e = np.exp(sgn * x - np.max(sgn * x, axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    if name == "glu":
        def glu_f(x: np.ndarray) -> np.ndarray:
            a, b = np.split(x, 2, axis=axis)
            return a / (1 + np.exp(-b))

        def glu_b(g: np.ndarray, x: np.ndarray) -> np.ndarray:
            a, b = np.split(x, 2, axis=axis)
            s = 1 / (1 + np.exp(-b))
            return np.concatenate([g * s, g * a * s * (1 - s)], axis=axis)

        return glu_f if method == "forward" else glu_b
    if method == "forward":
        if name == "log_softmax":
            def log_softmax(x: np.ndarray) -> np.ndarray:
                d = x - np.max(x, axis=axis, keepdims=True)
                return d - np.log(np.exp(d).sum(axis=axis, keepdims=True))
            return log_softmax
        return (lambda x: softmax(x, -1.0)) if name == "softmin" else softmax
    if method == "backward_x":
        forward = _numpy_formula(name, "forward", axis)
        backward = _numpy_formula(name, "backward", axis)
        return lambda g, x: backward(g, forward(x))
    if name == "log_softmax":
        return lambda g, y: g - np.exp(y) * g.sum(axis=axis, keepdims=True)
    sgn = -1.0 if name == "softmin" else 1.0
    return lambda g, y: sgn * y * (g - (g * y).sum(axis=axis, keepdims=True))


def _torch_fn(name: str, method: str, axis: int, x: Any, g: Any, y: Any) -> Callable[[], Any]:
    import torch

    if name == "glu":
        if method == "forward":
            return lambda: torch.nn.functional.glu(x, dim=axis)
        return lambda: torch.ops.aten.glu_backward(g, x, axis)
    if method == "forward":
        if name == "log_softmax":
            return lambda: torch.log_softmax(x, axis)
        if name == "softmin":
            return lambda: torch.nn.functional.softmin(x, axis)
        return lambda: torch.softmax(x, axis)
    if method == "backward_x":
        forward = _torch_fn(name, "forward", axis, x, g, y)
        if name == "log_softmax":
            return lambda: torch._log_softmax_backward_data(g, forward(), axis, y.dtype)
        sign = -1 if name == "softmin" else 1
        return lambda: torch._softmax_backward_data(sign * g, forward(), axis, y.dtype)
    if name == "log_softmax":
        return lambda: torch._log_softmax_backward_data(g, y, axis, y.dtype)
    if name == "softmin":
        # torch's softmin backward is softmax's on -x with the grad negated (autograd).
        return lambda: torch._softmax_backward_data(-g, y, axis, y.dtype)
    return lambda: torch._softmax_backward_data(g, y, axis, y.dtype)


def run(
    shapes: Sequence[tuple[tuple[int, ...], int]] = SHAPES,
    functions: Sequence[str] = FUNCTIONS,
    dtypes: Sequence[str] = ("float32", "float64"),
    threads: Sequence[int] = (1, 2),
    backends: Sequence[str] = ("cython", "numba"),
    methods: Sequence[str] = ("forward", "backward", "backward_x"),
    repeats: int = 15,
    baselines: bool = True,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Time every case; returns one dict per (shape, function, method, dtype, threads,
    backend) with ns/element of fastact, torch, numpy and copy, and the ratios."""
    try:
        import torch
    except ImportError:  # torch is optional: ratios against it are then absent
        torch = None  # type: ignore[assignment]
    results = []
    rng = np.random.default_rng(0)
    for shape, axis in shapes:
        for dtype in dtypes:
            x = (rng.standard_normal(shape) * 3).astype(dtype)
            copy_out = np.empty_like(x)
            for nthreads in threads:
                fa.set_num_threads(nthreads)
                if torch is not None:
                    torch.set_num_threads(nthreads)
                t_copy = _median_time(functools.partial(np.copyto, copy_out, x), repeats)
                for name in functions:
                    if name == "glu" and shape[axis] % 2:
                        continue
                    fn = getattr(fa, name)
                    y = fn(x, axis=axis, backend="cython")
                    g = (rng.standard_normal(y.shape)).astype(dtype)
                    for method in methods:
                        if name == "glu" and method == "backward_x":
                            continue  # glu's backward is from x already
                        key = f"glu_{method}" if name == "glu" else method
                        long_row = shape[axis] * x.itemsize > CACHE_BYTES and axis == -1
                        passes = PASSES[key][long_row]
                        out = np.empty_like(y if method == "forward" else x)
                        row: dict[str, Any] = {}
                        if baselines:
                            np_fn = _numpy_formula(name, method, axis)
                            np_args = (x,) if method == "forward" else (
                                g, x if name == "glu" or method == "backward_x" else y)
                            row["numpy"] = _median_time(
                                functools.partial(np_fn, *np_args), repeats)
                            if torch is not None:
                                tx, tg, ty = (torch.from_numpy(a) for a in (x, g, y))
                                row["torch"] = _median_time(
                                    _torch_fn(name, method, axis, tx, tg, ty), repeats)
                        for backend in backends:
                            kw = {"axis": axis, "out": out, "backend": backend}
                            if method == "forward":
                                call = functools.partial(fn, x, **kw)
                            elif name == "glu" or method == "backward_x":
                                call = functools.partial(fn.backward, g, x, **kw)
                            else:
                                call = functools.partial(fn.backward, g, y=y, **kw)
                            t = _median_time(call, repeats)
                            n = x.size
                            res = {
                                "shape": shape, "axis": axis, "function": name,
                                "method": method, "dtype": dtype, "threads": nthreads,
                                "backend": backend, "ns_per_element": 1e9 * t / n,
                                "copy_ns": 1e9 * t_copy / n, "passes": passes,
                                "roof": t_copy * passes / t,
                            }
                            for base, tb in row.items():
                                res[f"{base}_ns"] = 1e9 * tb / n
                                res[f"vs_{base}"] = tb / t
                            results.append(res)
                            if progress is not None:
                                progress(res)
    return results


HEAD = (f"{'shape':>16} {'ax':>2} {'function':<11} {'method':<10} {'dtype':<7} {'thr':>3} "
        f"{'backend':<6} {'ns/el':>7} {'vs_torch':>8} {'vs_numpy':>8} {'roof':>5}")


def _line(r: dict[str, Any]) -> str:
    return (f"{'x'.join(map(str, r['shape'])):>16} {r['axis']:>2} {r['function']:<11} "
            f"{r['method']:<10} {r['dtype']:<7} {r['threads']:>3} {r['backend']:<6} "
            f"{r['ns_per_element']:7.3f} {r.get('vs_torch', float('nan')):8.2f} "
            f"{r.get('vs_numpy', float('nan')):8.2f} {r['roof']:5.2f}")


def format_results(results: Sequence[dict[str, Any]]) -> str:
    return "\n".join([HEAD, *(_line(r) for r in results)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="fastact bench-rows", description=__doc__.split("\n\n")[0])
    parser.add_argument("--functions", default=",".join(FUNCTIONS))
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--backends", default="cython,numba")
    parser.add_argument("--methods", default="forward,backward,backward_x")
    parser.add_argument("--shapes", default="all",
                        help="indices into SHAPES (0..4), comma-separated, or 'all'")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    shapes = SHAPES if args.shapes == "all" else [SHAPES[int(i)] for i in args.shapes.split(",")]
    print(f"load average {os.getloadavg()}")
    print(HEAD, flush=True)
    results = run(shapes, args.functions.split(","), args.dtypes.split(","),
                  [int(t) for t in args.threads.split(",")], args.backends.split(","),
                  args.methods.split(","), args.repeats,
                  progress=lambda r: print(_line(r), flush=True))
    print(f"load average {os.getloadavg()}")
    if args.json:
        import json

        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
