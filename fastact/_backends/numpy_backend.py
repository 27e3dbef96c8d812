"""The NumPy reference backend: :mod:`fastact._reference` behind the kernel protocol.

It serves every activation and method for float32 and float64. The reference
computes in float64 whatever the compute dtype (float32 results are then rounded
once), so it is the most accurate backend and the slowest; ``"auto"`` uses it only
where no compiled backend serves a call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from fastact import _reference as ref
from fastact._backends.base import Kernel

__all__ = ["BACKEND", "NumpyBackend"]

_SERVED = (np.dtype(np.float32), np.dtype(np.float64))


def _f64(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _params64(params: Mapping[str, Any]) -> dict[str, Any]:
    """Array parameters to float64; scalars, strings, flags and seeds as they are."""
    return {k: _f64(v) if isinstance(v, np.ndarray) else v for k, v in params.items()}


def _store(out: np.ndarray, result: np.ndarray) -> None:
    # The float64 result rounds once into a float32 `out`; overflow there is the
    # correctly rounded answer (inf), not something to warn about.
    with np.errstate(all="ignore"):
        np.copyto(out, result, casting="unsafe")


def _product(grad: np.ndarray, factor: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return _f64(grad) * factor


def _elementwise_kernel(fns: ref.Elementwise, method: str) -> Kernel | None:
    if method == "forward":

        def forward(x: np.ndarray, out: np.ndarray, **p: Any) -> None:
            _store(out, fns.forward(_f64(x), **_params64(p)))

        return forward
    if method == "derivative":

        def derivative(x: np.ndarray, out: np.ndarray, **p: Any) -> None:
            _store(out, fns.derivative(_f64(x), **_params64(p)))

        return derivative
    if method == "value_and_derivative":

        def value_and_derivative(
            x: np.ndarray, out_y: np.ndarray, out_d: np.ndarray, **p: Any
        ) -> None:
            x64, p64 = _f64(x), _params64(p)
            y, d = fns.forward(x64, **p64), fns.derivative(x64, **p64)
            _store(out_y, y)
            _store(out_d, d)

        return value_and_derivative
    if method == "backward_x":

        def backward_x(grad: np.ndarray, x: np.ndarray, out: np.ndarray, **p: Any) -> None:
            _store(out, _product(grad, fns.derivative(_f64(x), **_params64(p))))

        return backward_x
    if method == "backward_y":
        from_output = fns.derivative_from_output
        if from_output is None:
            return None

        def backward_y(grad: np.ndarray, y: np.ndarray, out: np.ndarray, **p: Any) -> None:
            _store(out, _product(grad, from_output(_f64(y), **_params64(p))))

        return backward_y
    if method.startswith("param_grad:"):
        param_grad = fns.param_grads.get(method.partition(":")[2])
        if param_grad is None:
            return None

        def param_grad_kernel(grad: np.ndarray, x: np.ndarray, out: np.ndarray, **p: Any) -> None:
            _store(out, param_grad(_f64(grad), _f64(x), **_params64(p)))

        return param_grad_kernel
    return None


def _three(a: np.ndarray, axis: int) -> np.ndarray:
    """``a`` as (before, along, after) around ``axis``: the reference's row functions
    index with one array per dimension (NumPy allows at most 63 there, arrays have up
    to 64 dimensions: issue 15 item 10), and the rows are the same in three."""
    shape = a.shape
    return a.reshape(
        math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :])
    )


def _in_three(kernel: Callable[..., None], nin: int) -> Kernel:
    """``kernel`` run on the (before, along, after) views of its arrays beyond three
    dimensions (the outputs are written back through ``_store``'s reshape)."""

    def run(*arrays: np.ndarray, axis: int) -> None:
        if arrays[0].ndim <= 3:
            kernel(*arrays, axis=axis)
            return
        ins = [_three(a, axis) for a in arrays[:nin]]
        ndim = arrays[0].ndim
        outs = [np.empty(_three_shape(o.shape, axis, ndim), o.dtype) for o in arrays[nin:]]
        kernel(*ins, *outs, axis=1)
        for o, result in zip(arrays[nin:], outs, strict=True):
            o[...] = result.reshape(o.shape)

    return run


def _three_shape(shape: tuple[int, ...], axis: int, ndim: int) -> tuple[int, ...]:
    """The (before, along, after) shape of an output of ``shape`` (a Jacobian has one
    more axis, the last, kept)."""
    if len(shape) == ndim:
        return (math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :]))
    return (math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 : -1]), shape[-1])


def _axis_kernel(fns: ref.AlongAxis, method: str) -> Kernel | None:
    found = _axis_kernel_any(fns, method)
    if found is None:
        return None
    return _in_three(found, 2 if method in ("backward_x", "backward_y") else 1)


def _axis_kernel_any(fns: ref.AlongAxis, method: str) -> Kernel | None:
    if method == "forward":

        def forward(x: np.ndarray, out: np.ndarray, *, axis: int) -> None:
            _store(out, fns.forward(_f64(x), axis))

        return forward
    if method == "derivative":

        def jacobian(x: np.ndarray, out: np.ndarray, *, axis: int) -> None:
            _store(out, fns.jacobian(_f64(x), axis))

        return jacobian
    if method == "value_and_derivative":

        def value_and_jacobian(
            x: np.ndarray, out_y: np.ndarray, out_d: np.ndarray, *, axis: int
        ) -> None:
            x64 = _f64(x)
            y, jac = fns.forward(x64, axis), fns.jacobian(x64, axis)
            _store(out_y, y)
            _store(out_d, jac)

        return value_and_jacobian
    if method == "backward_x":

        def backward_x(grad: np.ndarray, x: np.ndarray, out: np.ndarray, *, axis: int) -> None:
            _store(out, fns.backward_from_input(_f64(grad), _f64(x), axis))

        return backward_x
    if method == "backward_y":
        from_output = fns.backward_from_output
        if from_output is None:
            return None

        def backward_y(grad: np.ndarray, y: np.ndarray, out: np.ndarray, *, axis: int) -> None:
            _store(out, from_output(_f64(grad), _f64(y), axis))

        return backward_y
    return None


class NumpyBackend:
    """Serves everything, in float64 arithmetic, from the independent reference."""

    name = "numpy"
    priority = 0

    def available(self) -> bool:
        return True

    def kernel(self, activation: str, method: str, dtype: np.dtype) -> Kernel | None:
        if dtype not in _SERVED:
            return None
        if activation in ref.ELEMENTWISE:
            return _elementwise_kernel(ref.ELEMENTWISE[activation], method)
        if activation in ref.ALONG_AXIS:
            return _axis_kernel(ref.ALONG_AXIS[activation], method)
        return None


BACKEND = NumpyBackend()
