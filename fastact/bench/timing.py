"""Measuring machinery shared by ``fastact bench``, the asv suite and pytest-benchmark.

A *case* is (activation, implementation, method, dtype, size). :func:`prepare` builds
its arrays and returns a zero-argument callable that does the timed work;
:func:`median_seconds` times it (median over repeats, after a warm-up call that
compiles JIT kernels and faults in the output pages). :func:`copy_seconds` times the
memory roof: ``np.copyto`` of the same number of elements into a preallocated array.

Implementations are the names of :func:`fastact.available_backends` (``"numpy"`` is
the float64 reference) and the two baselines of :mod:`fastact.bench.baselines`,
:data:`NUMPY_FORMULA` and :data:`TORCH`. Methods (:data:`METHODS`):

``forward``               ``f(x, out=out)``, out preallocated (baselines allocate, as
                          the formulas do)
``forward_new``           ``f(x)``: a new array per call
``forward_inplace``       ``f(buf, out=buf)``; buf is refilled from x before each call
``derivative``            ``f.derivative(x, out=out)`` (elementwise activations only:
                          an axis function's derivative is a Jacobian)
``backward``              ``f.backward(grad, x, out=out)``; baselines: grad times the
                          derivative formula, PyTorch's autograd backward
``backward_y``            ``f.backward(grad, y=y, out=out)`` where the activation allows it
``value_and_derivative``  ``f.value_and_derivative(x, out=(y, d))`` (elementwise only)

A case that does not exist (a baseline in place, a backend that does not serve a
dtype, a y-backward the activation refuses) raises NotImplementedError with the
reason: asv skips on it, the CLI leaves the cell empty.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

import fastact as fa
from fastact._registry import ActivationSpec, lookup
from fastact.bench.baselines import BASELINES, bench_params, torch_module

__all__ = [
    "BASELINE_METHODS",
    "METHODS",
    "NUMPY_FORMULA",
    "TORCH",
    "TRAFFIC",
    "Prepared",
    "copy_seconds",
    "implementations",
    "input_shape",
    "make_inputs",
    "median_seconds",
    "prepare",
    "set_threads",
]

NUMPY_FORMULA: Final = "numpy-formula"
TORCH: Final = "torch"

METHODS: Final = (
    "forward",
    "forward_new",
    "forward_inplace",
    "derivative",
    "backward",
    "backward_y",
    "value_and_derivative",
)
#: The methods the baselines have (the tutorials write a forward and a backward).
BASELINE_METHODS: Final = ("forward", "forward_new", "backward")
#: Arrays read plus arrays written per element, in units of one array pass: a copy
#: reads one and writes one (2), so ``TRAFFIC[m] / 2 * t_copy / t`` is the fraction
#: of copy bandwidth a method reaches.
TRAFFIC: Final[Mapping[str, int]] = {
    "forward": 2,
    "forward_new": 2,
    "forward_inplace": 2,
    "derivative": 2,
    "backward": 3,
    "backward_y": 3,
    "value_and_derivative": 3,
}
#: Which kernel each method needs, for :func:`fastact.resolve_backend`.
_KERNEL: Final[Mapping[str, str]] = {
    "forward": "forward",
    "forward_new": "forward",
    "forward_inplace": "forward",
    "derivative": "derivative",
    "backward": "backward_x",
    "backward_y": "backward_y",
    "value_and_derivative": "value_and_derivative",
}


def implementations(*, torch: bool = True) -> list[str]:
    """Every implementation this machine can time: backends, then the baselines."""
    names = [*fa.available_backends(), NUMPY_FORMULA]
    if torch and torch_module() is not None:
        names.append(TORCH)
    return names


def input_shape(spec: ActivationSpec, size: int) -> tuple[int, ...]:
    """1-D for elementwise activations; for axis functions a 2-D array of about ``size``
    elements whose rows (the last axis) are 1000 long from 1e5 elements on (a typical
    classifier width), 100 below, and even (glu halves them)."""
    if spec.kind == "elementwise":
        return (size,)
    cols = 1000 if size >= 100_000 else 100 if size >= 1_000 else 2 * max(1, size // 4)
    return (max(1, size // cols), cols)


def make_inputs(
    spec: ActivationSpec, dtype: Any, size: int, *, axis: int = -1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(x, grad)``: x standard normal times 3 (every branch of the piecewise
    activations is taken, no exp overflows), grad standard normal of the output's shape."""
    rng = np.random.default_rng(seed)
    shape = input_shape(spec, size)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    y_shape = list(shape)
    if spec.halves_axis:
        y_shape[axis] //= 2
    grad = rng.standard_normal(tuple(y_shape)).astype(dtype)
    return x, grad


@dataclass
class Prepared:
    """A case ready to time: ``call()`` does the work, ``reset()`` (if any) must run
    before each call, untimed (the in-place case refills its buffer)."""

    call: Callable[[], object]
    reset: Callable[[], None] | None
    #: Elements of x: the unit of "ns per element".
    elements: int


def prepare(
    activation: str,
    implementation: str,
    method: str,
    dtype: Any,
    size: int,
    *,
    axis: int = -1,
    inputs: tuple[np.ndarray, np.ndarray] | None = None,
) -> Prepared:
    """Arrays and the timed callable of one case (NotImplementedError if none exists).

    ``inputs`` reuses ``(x, grad)`` from :func:`make_inputs` across implementations.
    """
    spec = lookup(activation)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if spec.kind == "axis" and method in ("derivative", "value_and_derivative"):
        raise NotImplementedError(f"{spec.name}'s derivative is a Jacobian: not benchmarked")
    params = bench_params(spec)
    if "axis" in params:
        params["axis"] = axis
    x, grad = make_inputs(spec, dtype, size, axis=axis) if inputs is None else inputs
    if implementation == NUMPY_FORMULA:
        return _prepare_formula(spec, method, x, grad, params)
    if implementation == TORCH:
        return _prepare_torch(spec, method, x, grad, params)
    return _prepare_fastact(spec, implementation, method, x, grad, params)


def _prepare_formula(
    spec: ActivationSpec, method: str, x: np.ndarray, grad: np.ndarray, params: dict
) -> Prepared:
    if method not in BASELINE_METHODS:
        raise NotImplementedError(f"the NumPy formula has no {method}")
    base = BASELINES[spec.name]
    # rrelu in training mode, for one, has no formula; find out now, not in the timing.
    if method == "backward":
        base.numpy_backward(grad[:2], x[:2], **params)
        return Prepared(lambda: base.numpy_backward(grad, x, **params), None, x.size)
    base.numpy_forward(x[:2], **params)
    return Prepared(lambda: base.numpy_forward(x, **params), None, x.size)


def _prepare_torch(
    spec: ActivationSpec, method: str, x: np.ndarray, grad: np.ndarray, params: dict
) -> Prepared:
    torch = torch_module()
    if torch is None:
        raise NotImplementedError("torch is not installed")
    if method not in BASELINE_METHODS:
        raise NotImplementedError(f"the PyTorch baseline has no {method}")
    forward = BASELINES[spec.name].torch_forward
    if method == "backward":
        xt = torch.from_numpy(x.copy()).requires_grad_(True)
        yt = forward(xt, **params)
        gt = torch.from_numpy(grad)
        return Prepared(
            lambda: torch.autograd.grad(yt, xt, gt, retain_graph=True), None, x.size
        )
    xt = torch.from_numpy(x)

    def call() -> object:
        with torch.no_grad():
            return forward(xt, **params)

    return Prepared(call, None, x.size)


def _prepare_fastact(
    spec: ActivationSpec,
    backend: str,
    method: str,
    x: np.ndarray,
    grad: np.ndarray,
    params: dict,
) -> Prepared:
    if backend not in fa.available_backends():
        raise NotImplementedError(f"backend {backend!r} is not available here")
    if method == "backward_y":
        refusal = spec.y_backward_refusal(params)
        if refusal is not None:
            raise NotImplementedError(f"{spec.name}.backward(y=): {refusal}")
    # Raises NotImplementedError, naming what is missing, if the backend does not serve it.
    fa.resolve_backend(spec.name, x.dtype, backend=backend, method=_KERNEL[method])
    act = fa.activations()[spec.name]
    n = x.size
    if method == "forward_new":
        return Prepared(lambda: act(x, backend=backend, **params), None, n)
    # No call here: the caller warms up (median_seconds does; so does the asv suite's
    # setup), and on the reference backend a 1e7 float64 call costs seconds. Output
    # shapes come from the input (grad has y's shape), except the y-backward's y.
    out = np.empty_like(x)
    if method == "forward":
        y = np.empty_like(grad)
        return Prepared(lambda: act(x, out=y, backend=backend, **params), None, n)
    if method == "forward_inplace":
        if spec.halves_axis:
            raise NotImplementedError(f"{spec.name}'s output is smaller than x: no in-place")
        return Prepared(
            lambda: act(out, out=out, backend=backend, **params),
            lambda: np.copyto(out, x),
            n,
        )
    if method == "derivative":
        return Prepared(lambda: act.derivative(x, out=out, backend=backend, **params), None, n)
    if method == "value_and_derivative":
        pair = (np.empty_like(x), out)
        return Prepared(
            lambda: act.value_and_derivative(x, out=pair, backend=backend, **params), None, n
        )
    if method == "backward":
        if spec.param_grads:
            # prelu: (grad_x, grad_weight), grad_weight of the weight's shape.
            outs = (out, *(np.empty(np.shape(params[p]), x.dtype) for p in spec.param_grads))
            return Prepared(
                lambda: act.backward(grad, x, out=outs, backend=backend, **params), None, n
            )
        return Prepared(
            lambda: act.backward(grad, x, out=out, backend=backend, **params), None, n
        )
    y = act(x, backend=backend, **params)
    return Prepared(lambda: act.backward(grad, y=y, out=out, backend=backend, **params), None, n)


def _sample(prepared: Prepared, number: int) -> float:
    call, reset = prepared.call, prepared.reset
    if reset is not None:
        total = 0.0
        for _ in range(number):
            reset()
            t0 = time.perf_counter()
            call()
            total += time.perf_counter() - t0
        return total
    t0 = time.perf_counter()
    for _ in range(number):
        call()
    return time.perf_counter() - t0


def median_seconds(prepared: Prepared, *, repeats: int = 5, min_sample: float = 0.005) -> float:
    """Median over ``repeats`` samples of the seconds per call.

    One warm-up call first (JIT compilation, page faults of fresh outputs); each sample
    then runs the call enough times to last ``min_sample`` seconds (5 ms: 50x the
    ~0.1 ms scheduling jitter of this shared machine), so small arrays are not timed
    at the clock's resolution. Garbage collection is off while sampling.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if prepared.reset is not None:
        prepared.reset()
    prepared.call()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        number = 1
        first = _sample(prepared, 1)
        if 0 < first < min_sample:
            number = min(1_000_000, math.ceil(min_sample / first))
        samples = [first] if number == 1 else []
        while len(samples) < repeats:
            samples.append(_sample(prepared, number) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    return statistics.median(samples)


def copy_seconds(
    dtype: Any, elements: int, *, repeats: int = 5, min_sample: float = 0.005
) -> float:
    """The memory roof: seconds for ``np.copyto`` of ``elements`` into a preallocated
    array (one read and one write per element, single-threaded as NumPy is)."""
    src = np.ones(elements, dtype=dtype)
    dst = np.empty_like(src)
    return median_seconds(
        Prepared(lambda: np.copyto(dst, src), None, elements),
        repeats=repeats,
        min_sample=min_sample,
    )


def set_threads(n: int) -> None:
    """One thread count for fastact's kernels and for PyTorch's (when installed)."""
    fa.set_num_threads(n)
    torch = torch_module()
    if torch is not None:
        torch.set_num_threads(n)
