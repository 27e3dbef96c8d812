"""The cost of one small call: fastact against a bare NumPy ufunc, in one run.

Every case is timed on the same float32 array as ``np.tanh(x, out=o)`` (the cost of
one bare NumPy ufunc call, the unit of the goals of issue 14), best of ``repeats``
runs of ``number`` calls, with ``out=`` preallocated. torch's equivalent call is
timed beside it when torch imports. The result is a table of microseconds per call
and the ratio to the bare ufunc of the same run, so a busy machine moves the numbers
but much less the ratios.

Run it as ``fastact bench --callcost`` (or ``python -m fastact.bench.callcost``);
the goals (issue 14):

=====================================  =======
forward without parameters              <= 1.2
forward with scalar parameters          <= 1.4
backward (from x, from y), derivative   <= 1.4
softmax forward, backward (10, 10)      <= 2.0
numba / cython at 100 elements          <= 1.5
=====================================  =======
"""

from __future__ import annotations

import argparse
import os
import timeit
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import fastact as fa

__all__ = ["GOALS", "cases", "main", "measure"]

#: The case's kind -> the goal for its ratio to np.tanh(x, out=o).
GOALS = {"forward": 1.2, "params": 1.4, "backward": 1.4, "rows": 2.0}

_SHAPE_ROWS = (10, 10)


def _torch() -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is optional
        return None
    return torch


Case = tuple[str, str, Callable[[], Any], Callable[[], Any] | None]


def cases(n: int, backend: str) -> list[Case]:
    """(label, kind, fastact call, torch call or None) for arrays of ``n`` float32."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(np.float32)
    g = rng.standard_normal(n).astype(np.float32)
    o = np.empty_like(x)
    y = fa.sigmoid(x)
    xr = rng.standard_normal(_SHAPE_ROWS).astype(np.float32)
    gr = rng.standard_normal(_SHAPE_ROWS).astype(np.float32)
    orr = np.empty_like(xr)
    yr = fa.softmax(xr, axis=-1)
    b = backend
    torch = _torch()
    t: dict[str, Any] = {}
    if torch is not None:
        t = {k: torch.from_numpy(v) for k, v in
             {"x": x, "g": g, "o": o, "y": y, "xr": xr, "gr": gr, "orr": orr, "yr": yr}.items()}
        F = torch.nn.functional
        tt = torch.ops.aten

    def tc(f: Callable[[], Any]) -> Callable[[], Any] | None:
        return f if torch is not None else None

    rows = [
        ("relu(x, out=o)", "forward", lambda: fa.relu(x, out=o, backend=b),
         tc(lambda: torch.relu(t["x"]).numpy())),  # torch.relu has no out=
        ("sigmoid(x, out=o)", "forward", lambda: fa.sigmoid(x, out=o, backend=b),
         tc(lambda: torch.sigmoid(t["x"], out=t["o"]))),
        ("tanh(x, out=o)", "forward", lambda: fa.tanh(x, out=o, backend=b),
         tc(lambda: torch.tanh(t["x"], out=t["o"]))),
        ("gelu(x, out=o)", "forward", lambda: fa.gelu(x, out=o, backend=b),
         tc(lambda: F.gelu(t["x"]))),
        ("leaky_relu(x, negative_slope=0.2, out=o)", "params",
         lambda: fa.leaky_relu(x, negative_slope=0.2, out=o, backend=b),
         tc(lambda: F.leaky_relu(t["x"], 0.2))),
        ("elu(x, alpha=0.5, out=o)", "params", lambda: fa.elu(x, alpha=0.5, out=o, backend=b),
         tc(lambda: F.elu(t["x"], 0.5))),
        ("hardtanh(x, min_val=-2, max_val=2, out=o)", "params",
         lambda: fa.hardtanh(x, min_val=-2, max_val=2, out=o, backend=b),
         tc(lambda: F.hardtanh(t["x"], -2.0, 2.0))),
        ("gelu.backward(g, x, out=o)", "backward",
         lambda: fa.gelu.backward(g, x, out=o, backend=b),
         tc(lambda: tt.gelu_backward(t["g"], t["x"]))),
        ("sigmoid.backward(g, y=y, out=o)", "backward",
         lambda: fa.sigmoid.backward(g, y=y, out=o, backend=b),
         tc(lambda: tt.sigmoid_backward(t["g"], t["y"]))),
        ("tanh.backward(g, y=y, out=o)", "backward",
         lambda: fa.tanh.backward(g, y=y, out=o, backend=b),
         tc(lambda: tt.tanh_backward(t["g"], t["y"]))),
        ("relu.backward(g, y=y, out=o)", "backward",
         lambda: fa.relu.backward(g, y=y, out=o, backend=b),
         tc(lambda: tt.threshold_backward(t["g"], t["y"], 0))),
        ("gelu.derivative(x, out=o)", "backward", lambda: fa.gelu.derivative(x, out=o, backend=b),
         None),
        ("tanh.derivative(x, out=o)", "backward", lambda: fa.tanh.derivative(x, out=o, backend=b),
         None),
        ("softmax(x (10,10), out=o)", "rows",
         lambda: fa.softmax(xr, axis=-1, out=orr, backend=b),
         tc(lambda: torch.softmax(t["xr"], -1))),
        ("softmax.backward(g, y=y (10,10), out=o)", "rows",
         lambda: fa.softmax.backward(gr, y=yr, axis=-1, out=orr, backend=b),
         tc(lambda: tt._softmax_backward_data(t["gr"], t["yr"], -1, torch.float32))),
    ]
    return rows


def _best(f: Callable[[], Any], number: int, repeats: int) -> float:
    """Best microseconds per call over ``repeats`` runs of ``number`` calls."""
    f()  # first call: compilation, plan caches
    return min(timeit.repeat(f, number=number, repeat=repeats)) / number * 1e6


def _bare_call(x: np.ndarray, o: np.ndarray) -> Callable[[], Any]:
    def bare() -> Any:
        return np.tanh(x, out=o)

    return bare


def _paired(f: Callable[[], Any], bare: Callable[[], Any], number: int,
            repeats: int) -> tuple[float, float]:
    """Best microseconds per call of ``f`` and of ``bare``, their runs interleaved (on a
    busy machine a load spike then hits both, and the ratio of the bests holds)."""
    f()
    bare()
    best_f = best_bare = float("inf")
    for _ in range(repeats):
        best_bare = min(best_bare, timeit.timeit(bare, number=number))
        best_f = min(best_f, timeit.timeit(f, number=number))
    return best_f / number * 1e6, best_bare / number * 1e6


def measure(
    sizes: Sequence[int] = (100, 1000, 10000),
    backends: Sequence[str] = ("cython", "numba"),
    number: int = 20000,
    repeats: int = 5,
) -> list[dict[str, Any]]:
    """One row per (size, case): us per call of np.tanh, each backend and torch; each
    timed interleaved with np.tanh(x, out=o) (``np.tanh`` is the best of those, and
    ``ratio:<backend>`` the ratio of the paired bests)."""
    results = []
    backends = [b for b in backends if b in fa.available_backends()]
    for n in sizes:
        x = np.random.default_rng(1).standard_normal(n).astype(np.float32)
        o = np.empty_like(x)
        bare = _bare_call(x, o)
        per_size = max(200, number * 100 // max(n, 100))
        per_backend = {b: cases(n, b) for b in backends}
        for i, (label, kind, _, torch_call) in enumerate(per_backend[backends[0]]):
            row: dict[str, Any] = {"n": n, "case": label, "kind": kind}
            bests = []
            for b in backends:
                t, t_bare = _paired(per_backend[b][i][2], bare, per_size, repeats)
                row[b], row[f"ratio:{b}"] = t, t / t_bare
                bests.append(t_bare)
            if torch_call is not None:
                t, t_bare = _paired(torch_call, bare, per_size, repeats)
                row["torch"] = t
                bests.append(t_bare)
            else:
                row["torch"] = None
            row["np.tanh"] = min(bests)
            results.append(row)
    return results


def format_table(results: list[dict[str, Any]], backends: Sequence[str]) -> str:
    head = f"{'n':>6} {'case':<42} {'np.tanh':>8}"
    for b in backends:
        head += f" {b:>8} {'ratio':>6} {'goal':>5}"
    head += f" {'torch':>8} {'numba/cy':>8}"
    lines = [head]
    for r in results:
        line = f"{r['n']:>6} {r['case']:<42} {r['np.tanh']:8.2f}"
        for b in backends:
            v = r.get(b)
            ratio = r[f"ratio:{b}"]
            goal = GOALS[r["kind"]]
            mark = "" if r["n"] != 100 or ratio <= goal else "!"
            line += f" {v:8.2f} {ratio:5.2f}{mark:1} {goal:5.1f}"
        line += " " + (f"{r['torch']:8.2f}" if r["torch"] is not None else f"{'-':>8}")
        if "numba" in r and "cython" in r:
            line += f" {r['numba'] / r['cython']:8.2f}"
        lines.append(line)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fastact bench --callcost", description=__doc__)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--backends", default="cython,numba")
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = [b for b in args.backends.split(",") if b in fa.available_backends()]
    results = measure(sizes, backends, args.number, args.repeats)
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",) * 3
    print(f"fastact {fa.__version__}, numpy {np.__version__}, load average "
          f"{' '.join(f'{v:.2f}' for v in load)}; us per call, best of {args.repeats} x "
          f"{args.number} (scaled by 100/n above 100), float32, out= preallocated; "
          "ratio = backend / np.tanh(x, out=o), timed interleaved ('!' misses the goal)")
    print(format_table(results, backends))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
