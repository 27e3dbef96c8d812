"""The Cython backend: generated C kernels as NumPy ufuncs, SIMD and OpenMP threads.

Elementwise activations run through the ufuncs of :mod:`fastact._kernels._ufuncs`
(one per activation variant and method, generated from :mod:`fastact._formulas`);
rrelu's training mode through its C-order walker; the axis functions through the
row kernels of :mod:`fastact._kernels._rows`. Every kernel writes into the arrays it
is given: NumPy's ufunc machinery handles broadcast parameters and any strides
without copying the input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from fastact import _formulas, _threads
from fastact._backends._shared import (
    c_order_pieces,
    kernel_name,
    param_values,
    real_params,
    sum_param_grad,
)
from fastact._backends.base import Kernel
from fastact._kernels import _rows, _ufuncs
from fastact._registry import lookup

__all__ = ["BACKEND", "CythonBackend"]

_SERVED = (np.dtype(np.float32), np.dtype(np.float64))

# Parameter gradients are reduced over the parameter's broadcast axes in chunks of
# at most this many elements, so that they need no array-sized temporary (a 1 MiB
# float64 chunk stays in L2 here).
_PARAM_GRAD_CHUNK = 1 << 17




def _ufunc_for(activation: str, method: str) -> Callable[[Mapping[str, Any]], np.ufunc] | None:
    """A function of the call's parameters that picks the ufunc (gelu's variants)."""
    variant_param = _formulas.VARIANT_PARAMS.get(activation)
    if variant_param is None:
        single = _ufuncs.UFUNCS.get(f"{activation}_{method}")
        if single is None:
            return None
        return lambda params: single
    choices: dict[str, np.ufunc] = {}
    for key in _formulas.KERNELS:
        if isinstance(key, tuple) and key[0] == activation:
            found = _ufuncs.UFUNCS.get(f"{activation}_{key[1]}_{method}")
            if found is None:
                return None
            choices[key[1]] = found
    return lambda params: choices[params[variant_param]]


def _param_grad(factor: np.ufunc, names: tuple[str, ...], target: str) -> Kernel:
    """grad * df/dparam summed over the parameter's broadcast axes
    (:func:`fastact._backends._shared.sum_param_grad`: C-order pieces of at most
    _PARAM_GRAD_CHUNK elements, no temporary of x's size, float32 summed in float64,
    float64 compensated)."""

    def kernel(grad: np.ndarray, x: np.ndarray, out: np.ndarray, **params: Any) -> None:
        # In x's dtype: a Python float would make NumPy pick the float64 loop for
        # float32 data (and a float64 temporary per piece).
        values = [
            np.broadcast_to(np.asarray(v, dtype=x.dtype), x.shape)
            for v in param_values(names, params)
        ]
        grad = np.broadcast_to(grad, x.shape)

        def terms(index: tuple, scratch: np.ndarray) -> np.ndarray:
            return factor(grad[index], x[index], *(v[index] for v in values), out=scratch)

        aliased = np.may_share_memory(out, x) or np.may_share_memory(out, grad)
        sum_param_grad(terms, x.shape, out, aliased, _PARAM_GRAD_CHUNK)

    return kernel


def variant_free(activation: str) -> bool:
    return activation not in _formulas.VARIANT_PARAMS


def _flat_bias_kernel(activation: str, method: str) -> Kernel | None:
    """``{method}_bias_flat`` for fastact._bias: the fused kernel (for the backward from
    y the plain one: the bias only shapes its gradient) over flat C-contiguous arrays
    with the bias's period given once, in one call of fa_periodic.h's driver (chunks of
    whole periods on the pool, one bias tile in cache, the bias gradient summed per
    chunk while grad_x is in cache)."""
    base = method.removesuffix("_bias_flat")
    kernel = base if base == "backward_y" else f"{base}_bias"
    name_of = kernel_name(activation, kernel, _ufuncs.UFUNCS)
    if name_of is None:
        return None
    names = real_params(activation)
    bias_arg = -1 if base == "backward_y" else (2 if base == "backward_x" else 1)

    def flat(
        inputs: list[np.ndarray], bias: np.ndarray, outs: list[np.ndarray],
        bias_grad: np.ndarray | None, **p: Any,
    ) -> None:
        arrays = list(inputs)
        if bias_arg >= 0:
            arrays.append(bias)
        values = tuple(param_values(names, p))
        _ufuncs.run_periodic(name_of(p), tuple(arrays), bias_arg, bias.size, values,
                             tuple(outs), bias_grad)

    return flat


def _elementwise_kernel(activation: str, method: str) -> Kernel | None:
    if method.endswith("_bias_flat"):
        return _flat_bias_kernel(activation, method)
    names = real_params(activation)
    if method.startswith("param_grad:"):
        target = method.partition(":")[2]
        pick = _ufunc_for(activation, f"param_factor_{target}")
        return None if pick is None else _param_grad(pick({}), names, target)
    pick = _ufunc_for(activation, method)
    if pick is None:
        return None
    if method.endswith("_bias"):
        # Fused bias (fastact._bias): kernel(*inputs, bias, *outs, **params). rrelu's
        # training slopes are not served fused: fastact._bias forms x + bias for them.
        nout = 2 if method.startswith("value_and_derivative") else 1

        def fused(*arrays: np.ndarray, **p: Any) -> None:
            pick(p)(*arrays[:-nout], *param_values(names, p), out=arrays[-nout:])

        return fused
    training = activation == "rrelu"

    if method == "value_and_derivative":

        def two_outputs(x: np.ndarray, out_y: np.ndarray, out_d: np.ndarray, **p: Any) -> None:
            if training and p["training"]:
                _rrelu_training(method, p, x, out_y, out_d)
                return
            pick(p)(x, *param_values(names, p), out=(out_y, out_d))

        return two_outputs

    if method in ("forward", "derivative") and not names and variant_free(activation):
        single = pick({})

        def no_params(x: np.ndarray, out: np.ndarray, **p: Any) -> None:
            single(x, out)  # the call that 1e3-element arrays pay for: keep it bare

        return no_params

    if method in ("forward", "derivative"):

        def one_input(x: np.ndarray, out: np.ndarray, **p: Any) -> None:
            if training and p["training"]:
                _rrelu_training(method, p, x, out)
                return
            pick(p)(x, *param_values(names, p), out=out)

        return one_input

    if not names and variant_free(activation):
        single2 = pick({})

        def no_params2(grad: np.ndarray, x: np.ndarray, out: np.ndarray, **p: Any) -> None:
            single2(grad, x, out)

        return no_params2

    def two_inputs(grad: np.ndarray, x: np.ndarray, out: np.ndarray, **p: Any) -> None:
        if training and p["training"]:
            _rrelu_training(method, p, grad, x, out)
            return
        pick(p)(grad, x, *param_values(names, p), out=out)

    return two_inputs


def _rrelu_training(method: str, p: Mapping[str, Any], *arrays: np.ndarray) -> None:
    lower, upper = p["lower"], p["upper"]
    # The C walker takes up to 32 dimensions (NumPy allows 64): more go the general way.
    if isinstance(lower, float) and isinstance(upper, float) and arrays[-1].ndim <= 32:
        # The walker needs every array at full shape (grad may be a broadcast view:
        # zero strides are fine).
        shape = arrays[-1].shape
        nout = 2 if method == "value_and_derivative" else 1
        full = [np.broadcast_to(a, shape) for a in arrays[:-nout]]
        outs = arrays[len(full) :]
        _ufuncs.rrelu_training(method, p["seed"], lower, upper, *full, *outs)
        return
    # Per-element lower/upper arrays with training: the slopes of one C-order piece
    # at a time (a quarter of a _PARAM_GRAD_CHUNK: u, upper - lower and the slopes
    # are three scratch arrays), then prelu's ufunc on it.
    from fastact._kernels import _runtime

    shape = arrays[-1].shape
    if 0 in shape:
        return
    lows, highs = np.broadcast_to(lower, shape), np.broadcast_to(upper, shape)
    ufunc = _ufuncs.UFUNCS[f"prelu_{method}"]
    nout = 2 if method == "value_and_derivative" else 1
    nin = len(arrays) - nout
    piece_limit = _PARAM_GRAD_CHUNK // 4
    size = min(math.prod(shape), piece_limit)
    u_store, width_store = np.empty(size, np.float64), np.empty(size, np.float64)
    slope_store = np.empty(size, arrays[-1].dtype)
    for index, start, count in c_order_pieces(shape, piece_limit):
        piece = [a[index] for a in arrays]
        _runtime.rrelu_uniform(p["seed"], start, u_store[:count], _threads.get_num_threads())
        u = u_store[:count].reshape(piece[-1].shape)
        width = width_store[:count].reshape(piece[-1].shape)
        slopes = slope_store[:count].reshape(piece[-1].shape)
        lo, hi = lows[index], highs[index]
        with np.errstate(all="ignore"):
            # lower + (upper - lower) * u in float64, rounded once to x's dtype: the
            # slopes of the C walker (fa_rrelu.h), numba and the reference, bit for bit
            # (upper - lower rounded to float32 first made 1 in 5 slopes differ by 1 ulp).
            np.subtract(hi, lo, out=width, dtype=np.float64)
            np.multiply(width, u, out=u)
            np.add(lo, u, out=u, dtype=np.float64)
            np.copyto(slopes, u, casting="same_kind")
        if method == "backward_x":
            ufunc(piece[0], piece[1], slopes, out=piece[2])
        else:
            ufunc(*piece[:nin], slopes, out=tuple(piece[nin:]))


class CythonBackend:
    """Generated C kernels (SIMD through libmvec, OpenMP threads) for float32/float64."""

    name = "cython"
    # Above numba (50) and the reference (0): measured fastest for every activation
    # on this machine (README, "Speed").
    priority = 100

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str, np.dtype], Kernel | None] = {}
        _threads.add_listener(_ufuncs.set_num_threads)
        _threads.add_listener(_rows.set_num_threads)

    def available(self) -> bool:
        return True

    def kernel(self, activation: str, method: str, dtype: np.dtype) -> Kernel | None:
        key = (activation, method, dtype)
        try:
            return self._cache[key]
        except KeyError:
            pass
        found: Kernel | None = None
        if dtype in _SERVED:
            if lookup(activation).kind == "elementwise":
                found = _elementwise_kernel(activation, method)
            else:
                found = _rows.kernel(activation, method)
        self._cache[key] = found
        return found


BACKEND = CythonBackend()
