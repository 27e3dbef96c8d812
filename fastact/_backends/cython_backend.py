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
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from fastact import _formulas, _threads
from fastact._backends._shared import param_values, real_params
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


def _c_order_pieces(shape: tuple[int, ...], limit: int) -> Iterator[tuple[tuple, int, int]]:
    """Split an array of ``shape`` (no zero-length axis) into pieces of at most ``limit``
    elements, or one row of the last axis where that is longer, in C order.

    Yields ``(index, start, count)``: ``index`` selects the piece as a view (integers
    on the leading axes, a slice on the next one), ``start`` is the C-order flat index
    of its first element and ``count`` its size.
    """
    if not shape:
        yield (Ellipsis,), 0, 1
        return
    axis, inner = 0, math.prod(shape[1:])
    while axis < len(shape) - 1 and inner > limit:
        axis += 1
        inner //= shape[axis]
    step = max(1, limit // inner)
    span = shape[axis] * inner
    for number, lead in enumerate(np.ndindex(*shape[:axis])):
        for a in range(0, shape[axis], step):
            b = min(a + step, shape[axis])
            yield (*lead, slice(a, b)), number * span + a * inner, (b - a) * inner


def _param_grad(factor: np.ufunc, names: tuple[str, ...], target: str) -> Kernel:
    """grad * df/dparam summed over the parameter's broadcast axes.

    The terms are computed and summed in C-order pieces of at most _PARAM_GRAD_CHUNK
    elements (``_c_order_pieces``), each added into its part of the result: no
    temporary of x's size, whatever the parameter's shape (a per-element weight, a
    per-channel one, a scalar). The order of the sums depends only on the shapes, so
    the result is deterministic.
    """

    def kernel(grad: np.ndarray, x: np.ndarray, out: np.ndarray, **params: Any) -> None:
        # In x's dtype: a Python float would make NumPy pick the float64 loop for
        # float32 data (and a float64 temporary per piece).
        values = [
            np.broadcast_to(np.asarray(v, dtype=x.dtype), x.shape)
            for v in param_values(names, params)
        ]
        grad = np.broadcast_to(grad, x.shape)
        shape = np.shape(params[target])
        if x.ndim == 0:
            out[...] = factor(grad, x, *values)
            return
        if x.size == 0:
            out[...] = 0
            return
        aligned = (1,) * (x.ndim - len(shape)) + shape
        # Sum straight into `out` when that is safe (a weight of x's size would make
        # a second x-sized array otherwise).
        direct = out.flags.c_contiguous and not (
            np.may_share_memory(out, x) or np.may_share_memory(out, grad)
        )
        acc = out.reshape(aligned) if direct else np.zeros(aligned, out.dtype)
        acc[...] = 0
        scratch = np.empty(min(x.size, _PARAM_GRAD_CHUNK), dtype=out.dtype)
        for index, _, count in _c_order_pieces(x.shape, _PARAM_GRAD_CHUNK):
            piece = x[index]
            terms = factor(
                grad[index], piece, *(v[index] for v in values),
                out=scratch[:count].reshape(piece.shape),
            )
            # The piece's part of the result: its own indices where the parameter
            # spans an axis, index 0 (summed over) where it was broadcast.
            part = acc[tuple(
                i if aligned[d] != 1 else (0 if isinstance(i, int) else slice(None))
                for d, i in enumerate(index)
            )]
            first = len(index) - 1  # the sliced axis: terms' axis 0
            summed = tuple(
                j for j in range(terms.ndim) if aligned[first + j] == 1 and terms.shape[j] != 1
            )
            with np.errstate(all="ignore"):  # inf - inf in a sum is NaN, as in the reference
                part += terms.sum(axis=summed, keepdims=True) if summed else terms
        if not direct:
            out[...] = acc.reshape(shape)

    return kernel


def variant_free(activation: str) -> bool:
    return activation not in _formulas.VARIANT_PARAMS


def _elementwise_kernel(activation: str, method: str) -> Kernel | None:
    names = real_params(activation)
    if method.startswith("param_grad:"):
        target = method.partition(":")[2]
        pick = _ufunc_for(activation, f"param_factor_{target}")
        return None if pick is None else _param_grad(pick({}), names, target)
    pick = _ufunc_for(activation, method)
    if pick is None:
        return None
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
    # at a time (half a _PARAM_GRAD_CHUNK: u and the slopes are two scratch arrays),
    # then prelu's ufunc on it.
    from fastact._kernels import _runtime

    shape = arrays[-1].shape
    if 0 in shape:
        return
    lows, highs = np.broadcast_to(lower, shape), np.broadcast_to(upper, shape)
    ufunc = _ufuncs.UFUNCS[f"prelu_{method}"]
    nout = 2 if method == "value_and_derivative" else 1
    nin = len(arrays) - nout
    piece_limit = _PARAM_GRAD_CHUNK // 2
    size = min(math.prod(shape), piece_limit)
    u_store, slope_store = np.empty(size, np.float64), np.empty(size, arrays[-1].dtype)
    for index, start, count in _c_order_pieces(shape, piece_limit):
        piece = [a[index] for a in arrays]
        _runtime.rrelu_uniform(p["seed"], start, u_store[:count], _threads.get_num_threads())
        u = u_store[:count].reshape(piece[-1].shape)
        slopes = slope_store[:count].reshape(piece[-1].shape)
        lo, hi = lows[index], highs[index]
        with np.errstate(all="ignore"):  # lower + (upper - lower) * u, in float64
            np.subtract(hi, lo, out=slopes)  # upper - lower in x's dtype, as the reference
            np.multiply(slopes, u, out=u)
            np.add(lo, u, out=u)
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
        _threads.add_listener(_rows.set_num_threads, openmp=True)  # rows: OpenMP still

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
