"""fastact inside the NumPy frameworks: scikit-learn's MLP and thinc's Ops (``fastact
bench --frameworks``).

Two measurements, each in one run so that the machine's load affects both sides alike
(the sides alternate, and the median of the repeats is reported):

* scikit-learn: ``MLPClassifier(hidden_layer_sizes=(256, 256)).fit`` for relu, tanh
  and logistic on the digits set (1797 x 64) and a synthetic 20,000 x 100 set (10
  classes), with scikit-learn's own activation functions and with
  :mod:`fastact.sklearn`'s. Timing wrappers around the entries of scikit-learn's
  ``ACTIVATIONS`` and ``DERIVATIVES`` dicts give the time spent in the activations
  (forward and derivative, softmax included), hence their share of the fit;
  ``tol=0`` and no early stopping make every fit run exactly ``epochs`` epochs.
* thinc: NumpyOps vs :class:`fastact.thinc.FastactOps` for gelu, swish, mish and relu,
  forward plus backprop on a (2048, 768) float32 array (new arrays, as a layer
  calls them).
* the fused bias that both frameworks could use (:func:`fused_bias`): ``act(x + b)``
  on (10000, 1000) float32, fused against the two-pass form, forward and backward.

The load average and fastact's thread count are printed with the results.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

import fastact as fa

__all__ = ["bias_cases", "fused_bias", "main", "sklearn_fits", "thinc_ops"]

_SK_ACTIVATIONS = ("relu", "tanh", "logistic")


@contextlib.contextmanager
def _timed_tables(clock: list[float]) -> Iterator[None]:
    """Wrap every entry of scikit-learn's ACTIVATIONS/DERIVATIVES (whatever is installed
    there now) so that its time is added to clock[0]; restored on exit."""
    import sklearn.neural_network._base as base

    saved: list[tuple[dict[str, Any], str, Any]] = []

    def wrap(function: Callable[..., None]) -> Callable[..., None]:
        def timed(*args: Any) -> None:
            t0 = time.perf_counter()
            function(*args)
            clock[0] += time.perf_counter() - t0

        return timed

    for table in (base.ACTIVATIONS, base.DERIVATIVES):
        for key, function in list(table.items()):
            saved.append((table, key, function))
            table[key] = wrap(function)
    try:
        yield
    finally:
        for table, key, function in saved:
            table[key] = function


def _datasets(quick: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from sklearn.datasets import load_digits, make_classification

    X, y = load_digits(return_X_y=True)
    n = 2_000 if quick else 20_000
    Xs, ys = make_classification(
        n_samples=n, n_features=100, n_informative=40, n_classes=10, random_state=0
    )
    return {"digits": (X / 16.0, y), f"synthetic-{n}x100": (Xs, ys)}


def sklearn_fits(
    *, epochs: int = 5, repeats: int = 3, quick: bool = False, hidden: tuple[int, ...] = (256, 256)
) -> list[dict[str, Any]]:
    """Fit time, activation time and share, with and without fastact, per (data set,
    activation); medians over ``repeats`` alternating runs."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    import fastact.sklearn as fsk

    rows = []
    for data_name, (X, y) in _datasets(quick).items():
        for activation in _SK_ACTIVATIONS:
            samples: dict[str, list[tuple[float, float, float]]] = {"sklearn": [], "fastact": []}
            for _ in range(repeats):
                for side in ("sklearn", "fastact"):
                    clock = [0.0]
                    patch = fsk.patch() if side == "fastact" else contextlib.nullcontext()
                    clf = MLPClassifier(
                        hidden_layer_sizes=hidden, activation=activation, max_iter=epochs,
                        tol=0.0, n_iter_no_change=epochs + 1, random_state=0,
                    )  # fmt: skip
                    with patch, _timed_tables(clock), warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        t0 = time.perf_counter()
                        clf.fit(X, y)
                        fit = time.perf_counter() - t0
                    samples[side].append((fit, clock[0], clf.score(X, y)))
            row: dict[str, Any] = {"data": data_name, "activation": activation,
                                   "epochs": epochs, "samples": X.shape[0]}  # fmt: skip
            for side, values in samples.items():
                fit = statistics.median(v[0] for v in values)
                act = statistics.median(v[1] for v in values)
                row[side] = {"fit_s": fit, "activation_s": act, "share": act / fit,
                             "epoch_s": fit / epochs, "train_accuracy": values[-1][2]}  # fmt: skip
            row["fit_speedup"] = row["sklearn"]["fit_s"] / row["fastact"]["fit_s"]
            row["activation_speedup"] = (
                row["sklearn"]["activation_s"] / row["fastact"]["activation_s"]
            )
            rows.append(row)
    return rows


def _median_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up (numba compiles on first use)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def thinc_ops(
    *, shape: tuple[int, int] = (2048, 768), repeats: int = 7, dtype: str = "float32"
) -> list[dict[str, Any]]:
    """Forward + backprop time of NumpyOps and FastactOps for gelu, swish, mish, relu."""
    from thinc.api import NumpyOps

    from fastact.thinc import FastactOps

    rng = np.random.default_rng(0)
    X = rng.standard_normal(shape).astype(dtype) * 3
    dY = rng.standard_normal(shape).astype(dtype)
    cases: dict[str, Callable[[Any], Callable[[], Any]]] = {
        "gelu": lambda ops: lambda: (ops.gelu(X), ops.backprop_gelu(dY, X)),
        "swish": lambda ops: lambda: ops.backprop_swish(dY, X, ops.swish(X)),
        "mish": lambda ops: lambda: (ops.mish(X), ops.backprop_mish(dY, X)),
        "relu": lambda ops: lambda: ops.backprop_relu(dY, ops.relu(X)),
    }
    rows = []
    numpy_ops, fastact_ops = NumpyOps(), FastactOps()
    for name, make in cases.items():
        t_np, t_fa = [], []
        for _ in range(3):  # alternate the sides
            t_np.append(_median_time(make(numpy_ops), repeats))
            t_fa.append(_median_time(make(fastact_ops), repeats))
        a, b = statistics.median(t_np), statistics.median(t_fa)
        rows.append({"activation": name, "shape": list(shape), "dtype": dtype,
                     "numpy_ops_ms": a * 1e3, "fastact_ops_ms": b * 1e3,
                     "speedup": a / b})  # fmt: skip
    return rows


#: Activations of the fused-bias measurement: memory-bound (relu), cheap
#: transcendental (sigmoid, tanh) and compute-bound ones (gelu, silu).
BIAS_ACTIVATIONS = ("relu", "sigmoid", "tanh", "gelu", "silu")


def bias_cases(
    f: Any, x: np.ndarray, b: np.ndarray, g: np.ndarray, y: np.ndarray, t: np.ndarray,
    gb: np.ndarray,
) -> dict[str, Callable[[], Any]]:
    """The timed calls of the fused-bias measurement (also asv's FusedBias): a copy of
    x, the fused forward and backward of ``f`` and their unfused forms; ``y``, ``t``
    (x's shape) and ``gb`` (b's) are the outputs they write."""
    return {
        "copy": lambda: np.copyto(y, x),
        "fused": lambda: f(x, bias=b, out=y),
        "two_pass": lambda: (np.add(x, b, out=t), f(t, out=t)),
        "backward_fused": lambda: f.backward(g, x, bias=b, out=(y, gb)),
        "backward_three_pass": lambda: (
            np.add(x, b, out=t), f.backward(g, t, out=t), t.sum(axis=0)
        ),
    }


def fused_bias(
    *, shape: tuple[int, int] = (10_000, 1_000), repeats: int = 7, dtype: str = "float32",
    names: tuple[str, ...] = BIAS_ACTIVATIONS,
) -> list[dict[str, Any]]:
    """A layer's ``act(x + b)`` with a per-feature bias, fused (``f(x, bias=b,
    out=y)``: x in, y out) against the two-pass form the frameworks use (``np.add(x,
    b, out=t); f(t, out=t)``: four arrays through memory), and the backward with its
    bias gradient fused (``f.backward(g, x, bias=b)``) against three passes (add,
    backward, ``gx.sum(0)``), with a plain copy of x as the memory roof; the sides
    alternate and the median is reported."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    b = rng.standard_normal(shape[1:]).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    y, t, gb = np.empty_like(x), np.empty_like(x), np.empty_like(b)
    rows = []
    for name in names:
        f = fa.activations()[name]
        cases = bias_cases(f, x, b, g, y, t, gb)
        samples: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(3):  # alternate the sides
            for key, fn in cases.items():
                samples[key].append(_median_time(fn, repeats))
        ms = {k: statistics.median(v) * 1e3 for k, v in samples.items()}
        rows.append({"activation": name, "shape": list(shape), "dtype": dtype,
                     **{f"{k}_ms": v for k, v in ms.items()},
                     "forward_speedup": ms["two_pass"] / ms["fused"],
                     "backward_speedup": ms["backward_three_pass"] / ms["backward_fused"],
                     "fused_vs_copy": ms["copy"] / ms["fused"]})  # fmt: skip
    return rows


def _print_bias(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    shape, dtype = tuple(rows[0]["shape"]), rows[0]["dtype"]
    print(f"\nfused bias act(x + b), {shape} {dtype}, b per feature (ms; x = two-pass / fused)")
    print(f"{'activation':<10} {'copy':>6} {'fused':>7} {'2-pass':>7} {'x':>5}   "
          f"{'bwd fused':>9} {'3-pass':>7} {'x':>5}")  # fmt: skip
    for r in rows:
        print(f"{r['activation']:<10} {r['copy_ms']:>6.2f} {r['fused_ms']:>7.2f} "
              f"{r['two_pass_ms']:>7.2f} {r['forward_speedup']:>4.2f}x   "
              f"{r['backward_fused_ms']:>9.2f} {r['backward_three_pass_ms']:>7.2f} "
              f"{r['backward_speedup']:>4.2f}x")  # fmt: skip


def _print(sk: list[dict[str, Any]], th: list[dict[str, Any]]) -> None:
    if sk:
        print("\nscikit-learn MLPClassifier.fit, hidden (256, 256), adam, float64")
        print(f"{'data':<20} {'act':<9} {'fit s/epoch':>11} {'share':>6}   "
              f"{'fastact s/epoch':>15} {'share':>6}   {'fit x':>6} {'act x':>6}")  # fmt: skip
        for r in sk:
            s, f = r["sklearn"], r["fastact"]
            print(f"{r['data']:<20} {r['activation']:<9} {s['epoch_s']:>11.3f} "
                  f"{s['share']:>6.1%}   {f['epoch_s']:>15.3f} {f['share']:>6.1%}   "
                  f"{r['fit_speedup']:>5.2f}x {r['activation_speedup']:>5.1f}x")  # fmt: skip
    if th:
        shape, dtype = tuple(th[0]["shape"]), th[0]["dtype"]
        print(f"\nthinc forward + backprop, {shape} {dtype}")
        print(f"{'activation':<10} {'NumpyOps ms':>12} {'FastactOps ms':>14} {'speedup':>8}")
        for r in th:
            print(f"{r['activation']:<10} {r['numpy_ops_ms']:>12.2f} "
                  f"{r['fastact_ops_ms']:>14.2f} {r['speedup']:>7.1f}x")  # fmt: skip


def _per_threads(path: str, n: int, count: int) -> str:
    if count == 1 or path == "-":
        return path
    root, ext = os.path.splitext(path)
    return f"{root}-threads{n}{ext}"


def main(
    *, quick: bool = False, json_path: str | None = None, threads: list[int] | None = None
) -> int:
    """Run both measurements, print them (and write JSON); the CLI's ``--frameworks``.
    With ``threads``, once per fastact thread count (``fastact bench --frameworks
    --threads 1,2``)."""
    if threads:
        before = fa.get_num_threads()
        try:
            for n in threads:
                fa.set_num_threads(n)
                path = None if json_path is None else _per_threads(json_path, n, len(threads))
                main(quick=quick, json_path=path)
        finally:
            fa.set_num_threads(before)
        return 0
    load = os.getloadavg()
    print(f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; cores {os.cpu_count()}; "
          f"fastact threads {fa.get_num_threads()}")  # fmt: skip
    result: dict[str, Any] = {"load_average": load, "threads": fa.get_num_threads()}
    try:
        result["sklearn"] = sklearn_fits(epochs=2 if quick else 5, repeats=1 if quick else 3,
                                         quick=quick)  # fmt: skip
    except ImportError as exc:
        print(f"scikit-learn part skipped: {exc}")
        result["sklearn"] = []
    try:
        result["thinc"] = thinc_ops(shape=(256, 768) if quick else (2048, 768),
                                    repeats=2 if quick else 7)  # fmt: skip
    except ImportError as exc:
        print(f"thinc part skipped: {exc}")
        result["thinc"] = []
    result["bias"] = fused_bias(shape=(1_000, 1_000) if quick else (10_000, 1_000),
                                repeats=2 if quick else 7)  # fmt: skip
    _print(result["sklearn"], result["thinc"])
    _print_bias(result["bias"])
    result["load_average_after"] = os.getloadavg()
    print(f"\nload average after: {result['load_average_after'][0]:.2f}")
    if json_path:
        text = json.dumps(result, indent=1)
        if json_path == "-":
            print(text)
        else:
            with open(json_path, "w") as f:
                f.write(text)
    return 0
