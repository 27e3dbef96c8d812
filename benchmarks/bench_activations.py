"""asv suite: every activation x implementation x dtype x size, parametrised from the
registry and ``fastact.available_backends()``.

Implementations: each available backend (``numpy`` is the float64 reference; the
compiled ones appear as they are installed), ``numpy-formula`` (the tutorials' NumPy
code) and ``torch`` where it imports. The cases, arrays and timed calls are those of
``fastact.bench.timing`` (shared with ``fastact bench``), so both measure the same
thing.

Two sizes of matrix:

* the core subset (default; what history runs use): sigmoid, relu, gelu, silu and
  softmax, float32 and float64, 1e5 and 1e7 elements, forward (new array) and
  backward from x, softmax along both axes, and the ``track_`` ratios;
* the full matrix, ``FASTACT_ASV_FULL=1``: every activation, 1e3/1e5/1e7, and also
  forward in place, derivative, backward from y and value_and_derivative.

``FASTACT_ASV_ACTIVATIONS=sigmoid,softmax`` and ``FASTACT_ASV_SIZES=1000`` narrow
either (CI's smoke run). asv reads the parameters when it discovers the suite and
again in each benchmark process, so set these variables for the whole ``asv``
command. A combination that cannot run (a backend that does not serve a dtype, a
y-backward the activation refuses, a baseline in place) raises NotImplementedError in
``setup``, which asv records as skipped.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import fastact as fa
from fastact._registry import SPECS, lookup

try:
    from fastact.bench import timing
except ImportError:  # a commit from before the benchmark machinery: every case skips
    timing = None  # type: ignore[assignment]

FULL = os.environ.get("FASTACT_ASV_FULL", "").strip() not in ("", "0")
#: exp-based, memory-bound, erf, a product, a row reduction: one of each kind of kernel.
CORE_ACTIVATIONS = ("sigmoid", "relu", "gelu", "silu", "softmax")


def _env_list(name: str) -> list[str]:
    return [w for w in os.environ.get(name, "").replace(",", " ").split() if w]


def _activations() -> list[str]:
    chosen = _env_list("FASTACT_ASV_ACTIVATIONS")
    if chosen:
        return list(dict.fromkeys(lookup(n).name for n in chosen))
    return [s.name for s in SPECS] if FULL else list(CORE_ACTIVATIONS)


def _sizes() -> list[int]:
    chosen = _env_list("FASTACT_ASV_SIZES")
    if chosen:
        return [int(float(s)) for s in chosen]
    return [1_000, 100_000, 10_000_000] if FULL else [100_000, 10_000_000]


def _implementations() -> list[str]:
    if timing is None:
        return [*fa.available_backends(), "numpy-formula"]
    return timing.implementations()


ACTIVATIONS = _activations()
ELEMENTWISE = [n for n in ACTIVATIONS if lookup(n).kind == "elementwise"]
ALONG_AXIS = [n for n in ACTIVATIONS if lookup(n).kind == "axis"]
IMPLEMENTATIONS = _implementations()
BACKENDS = fa.available_backends()
DTYPES = ["float32", "float64"]
SIZES = _sizes()
AXES = [0, -1]

# One prepared case per process (asv runs each parameter set in a process of its own
# and re-runs setup before every sample: the arrays are built once, not per sample).
_prepared: dict[tuple, Any] = {}


def _case(activation: str, implementation: str, method: str, dtype: str, size: int,
          axis: int = -1) -> Any:
    if timing is None:
        raise NotImplementedError("fastact.bench does not exist at this commit")
    key = (activation, implementation, method, dtype, size, axis)
    if key not in _prepared:
        _prepared.clear()  # frees the previous case's arrays first
        # NotImplementedError here is asv's "skip this combination".
        case = timing.prepare(activation, implementation, method, dtype, size, axis=axis)
        # Warm up once per process, untimed: numba compiles on the first call, thread
        # pools start, the outputs' pages are faulted in.
        if case.reset is not None:
            case.reset()
        case.call()
        _prepared[key] = case
    return _prepared[key]


class _Elementwise:
    """Base of the timing classes: one method of an elementwise activation."""

    method = "forward_new"
    params: ClassVar[list] = [ELEMENTWISE, IMPLEMENTATIONS, DTYPES, SIZES]
    param_names: ClassVar[list] = ["activation", "implementation", "dtype", "size"]
    # Results stay comparable across edits of this file; bump when what is timed changes.
    version = "fastact-1"
    # 1e7 float64 on the reference backend takes ~2 s a call (exact gelu): at least 3
    # samples, at most 10, no more than 10 s of sampling; one round (2 doubles the time).
    repeat = (3, 10, 10.0)
    rounds = 1
    timeout = 300.0

    def setup(self, activation: str, implementation: str, dtype: str, size: int) -> None:
        self.case = _case(activation, implementation, self.method, dtype, size)
        if self.case.reset is not None:
            self.case.reset()  # the in-place case starts from x again every sample

    def _run(self) -> None:
        self.case.call()


class _AlongAxis(_Elementwise):
    """Base for softmax and its kin on a 2-D array, along the first and the last axis."""

    params: ClassVar[list] = [ALONG_AXIS, IMPLEMENTATIONS, DTYPES, SIZES, AXES]
    param_names: ClassVar[list] = ["activation", "implementation", "dtype", "size", "axis"]

    def setup(  # type: ignore[override]
        self, activation: str, implementation: str, dtype: str, size: int, axis: int
    ) -> None:
        self.case = _case(activation, implementation, self.method, dtype, size, axis)
        if self.case.reset is not None:
            self.case.reset()


class Forward(_Elementwise):
    """``y = f(x)``: a new array per call (what a user writes)."""

    method = "forward_new"

    def time_forward(self, *params: Any) -> None:
        self._run()


class Backward(_Elementwise):
    """``f.backward(grad, x, out=out)``; baselines: grad * f'(x) formula, torch autograd."""

    method = "backward"

    def time_backward(self, *params: Any) -> None:
        self._run()


class AxisForward(_AlongAxis):
    method = "forward_new"

    def time_forward(self, *params: Any) -> None:
        self._run()


class AxisBackward(_AlongAxis):
    method = "backward"

    def time_backward(self, *params: Any) -> None:
        self._run()


if FULL:

    class ForwardInPlace(_Elementwise):
        """``f(x, out=x)`` (x refilled before every sample, untimed)."""

        method = "forward_inplace"

        def time_forward_inplace(self, *params: Any) -> None:
            self._run()

    class Derivative(_Elementwise):
        method = "derivative"

        def time_derivative(self, *params: Any) -> None:
            self._run()

    class BackwardFromOutput(_Elementwise):
        method = "backward_y"

        def time_backward_y(self, *params: Any) -> None:
            self._run()

    class ValueAndDerivative(_Elementwise):
        method = "value_and_derivative"

        def time_value_and_derivative(self, *params: Any) -> None:
            self._run()

    class AxisForwardInPlace(_AlongAxis):
        method = "forward_inplace"

        def time_forward_inplace(self, *params: Any) -> None:
            self._run()

    class AxisBackwardFromOutput(_AlongAxis):
        method = "backward_y"

        def time_backward_y(self, *params: Any) -> None:
            self._run()


class Ratios:
    """``track_``: speed-up over the NumPy formula and fraction of np.copyto bandwidth.

    Measured in one process (``setup_cache``), so each ratio compares timings taken
    minutes apart at most on this shared machine, not across processes. Methods are
    those of ``fastact bench``: forward and backward with ``out=`` preallocated.
    """

    params: ClassVar[list] = [ACTIVATIONS, BACKENDS, DTYPES, SIZES, ["forward", "backward"]]
    param_names: ClassVar[list] = ["activation", "backend", "dtype", "size", "method"]
    version = "fastact-1"
    # Median of 3: the reference backend at 1e7 float64 is seconds a call, and the core
    # subset's 160 cases already take ~5 minutes here.
    repeats = 3

    def setup_cache(self) -> dict[tuple, tuple[float, float]]:
        ratios: dict[tuple, tuple[float, float]] = {}
        if timing is None:
            return ratios
        roofs: dict[tuple[str, int], float] = {}
        for activation in ACTIVATIONS:
            for dtype in DTYPES:
                for size in SIZES:
                    inputs = timing.make_inputs(lookup(activation), dtype, size)
                    n = inputs[0].size
                    if (dtype, n) not in roofs:
                        roofs[dtype, n] = timing.copy_seconds(dtype, n, repeats=self.repeats)
                    for method in ("forward", "backward"):
                        formula = timing.median_seconds(
                            timing.prepare(activation, timing.NUMPY_FORMULA, method, dtype,
                                           size, inputs=inputs),
                            repeats=self.repeats,
                        )
                        for backend in BACKENDS:
                            try:
                                case = timing.prepare(activation, backend, method, dtype,
                                                      size, inputs=inputs)
                            except NotImplementedError:
                                continue
                            t = timing.median_seconds(case, repeats=self.repeats)
                            fraction = timing.TRAFFIC[method] / 2 * roofs[dtype, n] / t
                            ratios[activation, backend, dtype, size, method] = (
                                formula / t, fraction)
        return ratios

    # The reference backend at 1e7 float64 is ~2 s a call; the full matrix takes minutes.
    setup_cache.timeout = 3600  # type: ignore[attr-defined]

    def setup(self, ratios: dict, *key: Any) -> None:
        if tuple(key) not in ratios:
            raise NotImplementedError(f"not measured: {key}")

    def track_speedup_vs_numpy(self, ratios: dict, *key: Any) -> float:
        return ratios[tuple(key)][0]

    track_speedup_vs_numpy.unit = "x"  # type: ignore[attr-defined]

    def track_copy_fraction(self, ratios: dict, *key: Any) -> float:
        return ratios[tuple(key)][1]

    track_copy_fraction.unit = "fraction of np.copyto bandwidth"  # type: ignore[attr-defined]


class FusedBias:
    """``f(x, bias=b)`` and ``f.backward(g, x, bias=b)`` (grad_x and the bias
    gradient) against the unfused forms the frameworks use (``np.add`` then ``f`` in
    place; ``np.add``, backward, ``sum(0)``), and a copy of x: a (size / 1000, 1000)
    float array with a (1000,) bias, fastact's default backend. The calls are those
    of ``fastact bench --frameworks`` (``fastact.bench.frameworks.bias_cases``)."""

    params: ClassVar[list] = [
        [a for a in ELEMENTWISE if a in ("sigmoid", "relu", "gelu", "silu")] or ["relu"],
        DTYPES, SIZES,
    ]
    param_names: ClassVar[list] = ["activation", "dtype", "size"]
    version = "fastact-bias-1"
    repeat = (3, 10, 10.0)
    rounds = 1
    timeout = 300.0

    def setup(self, activation: str, dtype: str, size: int) -> None:
        import numpy as np

        try:
            from fastact.bench.frameworks import bias_cases
        except ImportError:  # a commit from before the fused bias
            raise NotImplementedError("no fused bias at this commit") from None
        rng = np.random.default_rng(0)
        shape = (max(1, size // 1000), 1000)
        x = (rng.standard_normal(shape) * 3).astype(dtype)
        b = rng.standard_normal(1000).astype(dtype)
        g = rng.standard_normal(shape).astype(dtype)
        y, t, gb = np.empty_like(x), np.empty_like(x), np.empty_like(b)
        self.cases = bias_cases(fa.activations()[activation], x, b, g, y, t, gb)
        for call in self.cases.values():
            call()  # warm: numba compiles, pages are touched

    def time_copy(self, *params: Any) -> None:
        self.cases["copy"]()

    def time_fused(self, *params: Any) -> None:
        self.cases["fused"]()

    def time_two_pass(self, *params: Any) -> None:
        self.cases["two_pass"]()

    def time_backward_fused(self, *params: Any) -> None:
        self.cases["backward_fused"]()

    def time_backward_three_pass(self, *params: Any) -> None:
        self.cases["backward_three_pass"]()
