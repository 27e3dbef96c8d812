"""Benchmarks of fastact's thread pool (issue 13): ``fastact bench --pool STUDY``.

Studies (each one command; ratios are measured in one run, calls interleaved):

- ``busy``: one ``python -c "while True: pass"`` process per core, started here and
  stopped at the end; median and 90th percentile of 1-thread and 2-thread calls of
  float32 sigmoid, gelu and relu (``out=`` preallocated) at 1e5, 1e6 and 1e7 elements, for
  the cython and numba backends, torch's sigmoid beside (timed after fastact's
  calls, not interleaved with them: its OpenMP threads spin after each call).
  Goal: 2-thread median and
  p90 at most 1.1x the 1-thread ones.
- ``idle``: the same without the busy-loop processes (2 threads should win).
- ``mlp``: the MLP-step loop ``H = X @ W; act(H, out=H); H @ W2.T`` at default
  threads, float64 (200, 256) and float32 (2048, 768), relu and tanh, fastact's
  activation against NumPy's (``np.maximum(H, 0, out=H)``, ``np.tanh(H, out=H)``),
  with both matmuls' times. Goals: relu <= 1.5x NumPy's, tanh < NumPy's, matmuls
  within 1.1x of their time beside NumPy's activation.
- ``sklearn``: scikit-learn's ``MLPClassifier((256, 256), max_iter=30)`` fit on the
  digits data with its activations and derivatives routed through fastact (a local
  patch of ``sklearn.neural_network._base``'s tables, undone afterwards) against
  the plain fit. Goal: no slower.

Every study prints the load average before and after: the figures mean little on a
machine that other work keeps busy beyond the study's own load.
"""

from __future__ import annotations

import functools
import os
import random
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

import fastact as fa

__all__ = ["main"]


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def _p90(values: list[float]) -> float:
    return float(np.percentile(values, 90))


@contextmanager
def _busy_loops(count: int) -> Iterator[None]:
    """``count`` busy-loop processes for the duration of the block."""
    procs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)
    ]
    try:
        time.sleep(0.5)  # let them start
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def _interleaved(calls: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Seconds per call of each entry, the entries alternating within each repeat in a
    new random order each time: on a machine shared with other work the process loses
    its core for 10-20 ms about once per round of calls, and in a fixed order that
    lands on the same entry again and again (seen here at load 6-8: whichever call came
    first in the round had a median of 11 ms, the same call later in it 1.4 ms)."""
    times: dict[str, list[float]] = {k: [] for k in calls}
    for fn in calls.values():
        fn()  # warm up (compile, start workers)
    order = list(calls.items())
    rng = random.Random(13)
    for _ in range(repeats):
        rng.shuffle(order)
        for key, fn in order:
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    return times


def _with_threads(n: int, fn: Callable[[], object]) -> Callable[[], object]:
    def call() -> object:
        fa.set_num_threads(n)
        return fn()

    return call


def threads_study(busy: bool, repeats: int = 200) -> None:
    """The 2-thread / 1-thread study. ``repeats`` calls per case at 1e5 and 1e6 elements
    (a third at 1e7). With 60, one run's p90 ratios spread from 0.15 to 2.4 for calls
    whose medians agreed within 10 % (2026-12-04, 1e6 elements): a scheduler slice
    more or less among the top 6 samples."""
    cores = os.cpu_count() or 1
    print(f"# {'busy' if busy else 'idle'} machine: {cores if busy else 0} busy-loop "
          f"processes; load average before {_load()}")
    torch: Any
    try:
        import torch
    except ImportError:
        torch = None
    before = fa.get_num_threads()
    rows = []
    context = _busy_loops(cores) if busy else _nothing()
    with context:
        for size in (10**5, 10**6, 10**7):
            x = np.linspace(-6, 6, size).astype(np.float32)
            out = np.empty_like(x)
            reps = repeats if size < 10**7 else max(10, repeats // 3)
            calls: dict[str, Callable[[], object]] = {}
            for backend in ("cython", "numba"):
                if backend not in fa.available_backends():
                    continue
                for act in ("sigmoid", "gelu", "relu"):
                    f = getattr(fa, act)
                    for n in (1, 2):
                        calls[f"{backend} {act} {n}"] = _with_threads(
                            n, functools.partial(f, x, out=out, backend=backend)
                        )
            times = _interleaved(calls, reps)
            if torch is not None:
                # Timed apart: libgomp's threads (torch's) spin for a while after each
                # region and would take a core from the calls timed after them.
                tx, tout = torch.from_numpy(x), torch.from_numpy(out)
                tcalls: dict[str, Callable[[], object]] = {}
                for n in (1, 2):
                    def tcall(n: int = n, tx: Any = tx, tout: Any = tout) -> object:
                        torch.set_num_threads(n)
                        return torch.sigmoid(tx, out=tout)

                    tcalls[f"torch sigmoid {n}"] = tcall
                times |= _interleaved(tcalls, reps)
                calls |= tcalls
            for key in calls:
                if key.endswith(" 1"):
                    base = key[:-2]
                    one, two = times[base + " 1"], times[base + " 2"]
                    rows.append((size, base, statistics.median(one), _p90(one),
                                 statistics.median(two), _p90(two)))
    fa.set_num_threads(before)
    print(f"# load average after {_load()}")
    try:
        from fastact._kernels import _runtime

        print(f"# pool: {_runtime.pool_info()}")
    except (ImportError, AttributeError):
        pass
    print(f"{'size':>9} {'call':<16} {'1t med':>9} {'1t p90':>9} {'2t med':>9} {'2t p90':>9}"
          f" {'med 2t/1t':>9} {'p90 2t/1t':>9}   (ms)")
    for size, name, m1, p1, m2, p2 in rows:
        print(f"{size:>9.0e} {name:<16} {m1 * 1e3:9.3f} {p1 * 1e3:9.3f} {m2 * 1e3:9.3f} "
              f"{p2 * 1e3:9.3f} {m2 / m1:9.2f} {p2 / p1:9.2f}")


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _np_relu(H: np.ndarray) -> object:
    return np.maximum(H, 0, out=H)


def _np_tanh(H: np.ndarray) -> object:
    return np.tanh(H, out=H)


def _fa_inplace(f: Callable[..., object], H: np.ndarray) -> object:
    return f(H, out=H)


def mlp_study(repeats: int = 0) -> None:
    print(f"# MLP step, default threads ({fa.get_num_threads()}); load average {_load()}")
    rng = np.random.default_rng(0)
    print(f"{'dtype':<8} {'shape':<12} {'act':<5} {'np act us':>10} {'fa act us':>10} "
          f"{'fa/np':>6} {'mm np us':>10} {'mm fa us':>10} {'mm fa/np':>8}")
    for dtype, (n, d) in ((np.float64, (200, 256)), (np.float32, (2048, 768))):
        X = rng.standard_normal((n, d)).astype(dtype)
        W = (rng.standard_normal((d, d)) / np.sqrt(d)).astype(dtype)
        W2 = (rng.standard_normal((d, d)) / np.sqrt(d)).astype(dtype)
        reps = repeats or (300 if n * d < 10**6 else 40)
        for act in ("relu", "tanh"):
            np_act = _np_relu if act == "relu" else _np_tanh
            fa_act = functools.partial(_fa_inplace, getattr(fa, act))
            acc: dict[str, dict[str, list[float]]] = {
                "np": {"act": [], "mm": []}, "fa": {"act": [], "mm": []}
            }
            for _ in range(3):  # warm up
                for fn in (np_act, fa_act):
                    H = X @ W
                    fn(H)
                    H @ W2.T
            for _ in range(reps):
                for key, fn in (("np", np_act), ("fa", fa_act)):
                    t0 = time.perf_counter()
                    H = X @ W
                    t1 = time.perf_counter()
                    fn(H)
                    t2 = time.perf_counter()
                    H @ W2.T
                    t3 = time.perf_counter()
                    acc[key]["act"].append(t2 - t1)
                    acc[key]["mm"].append((t1 - t0) + (t3 - t2))
            med = {
                k: {m: statistics.median(v) * 1e6 for m, v in a.items()} for k, a in acc.items()
            }
            print(f"{np.dtype(dtype).name:<8} {(n, d)!s:<12} {act:<5} "
                  f"{med['np']['act']:10.1f} {med['fa']['act']:10.1f} "
                  f"{med['fa']['act'] / med['np']['act']:6.2f} {med['np']['mm']:10.1f} "
                  f"{med['fa']['mm']:10.1f} {med['fa']['mm'] / med['np']['mm']:8.2f}")
    print(f"# load average after {_load()}")


@contextmanager
def _sklearn_through_fastact() -> Iterator[None]:
    """Route scikit-learn's MLP activations and derivatives through fastact."""
    from sklearn.neural_network import _base

    saved = dict(_base.ACTIVATIONS), dict(_base.DERIVATIVES)

    def relu(X: np.ndarray) -> None:
        fa.relu(X, out=X)

    def tanh(X: np.ndarray) -> None:
        fa.tanh(X, out=X)

    def logistic(X: np.ndarray) -> None:
        fa.sigmoid(X, out=X)

    def d_relu(Z: np.ndarray, delta: np.ndarray) -> None:
        fa.relu.backward(delta, y=Z, out=delta)

    def d_tanh(Z: np.ndarray, delta: np.ndarray) -> None:
        fa.tanh.backward(delta, y=Z, out=delta)

    def d_logistic(Z: np.ndarray, delta: np.ndarray) -> None:
        fa.sigmoid.backward(delta, y=Z, out=delta)

    _base.ACTIVATIONS.update(relu=relu, tanh=tanh, logistic=logistic)
    _base.DERIVATIVES.update(relu=d_relu, tanh=d_tanh, logistic=d_logistic)
    try:
        yield
    finally:
        _base.ACTIVATIONS.clear()
        _base.ACTIVATIONS.update(saved[0])
        _base.DERIVATIVES.clear()
        _base.DERIVATIVES.update(saved[1])


def sklearn_study(rounds: int = 3) -> None:
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    print(f"# sklearn MLPClassifier((256, 256), max_iter=30) on digits, fastact threads "
          f"{fa.get_num_threads()}; load average {_load()}")
    print(f"{'activation':<10} {'plain s':>8} {'fastact s':>9} {'ratio':>6}")
    for activation in ("relu", "tanh", "logistic"):
        plain: list[float] = []
        through: list[float] = []
        for _ in range(rounds):
            for target, routed in ((plain, False), (through, True)):
                model = MLPClassifier((256, 256), activation=activation, max_iter=30,
                                      random_state=0)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    t0 = time.perf_counter()
                    if routed:
                        with _sklearn_through_fastact():
                            model.fit(X, y)
                    else:
                        model.fit(X, y)
                    target.append(time.perf_counter() - t0)
        p, f = statistics.median(plain), statistics.median(through)
        print(f"{activation:<10} {p:8.2f} {f:9.2f} {f / p:6.2f}")
    print(f"# load average after {_load()}")


def main(study: str, repeats: int | None = None) -> int:
    """Run ``study``; ``repeats`` (``fastact bench --repeats``) samples per call where the
    study takes them (busy, idle: 200 by default; mlp: 300 or 40 by size)."""
    if study in ("busy", "idle"):
        threads_study(busy=study == "busy", repeats=repeats or 200)
    elif study == "mlp":
        mlp_study(repeats or 0)
    elif study == "sklearn":
        sklearn_study()
    else:
        raise ValueError(f"study must be busy, idle, mlp or sklearn, got {study!r}")
    return 0
