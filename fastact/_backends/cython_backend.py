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
from fastact._backends.base import Kernel
from fastact._kernels import _rows, _ufuncs
from fastact._registry import lookup

__all__ = ["BACKEND", "CythonBackend"]

_SERVED = (np.dtype(np.float32), np.dtype(np.float64))

# Parameter gradients are reduced over the parameter's broadcast axes in chunks of
# at most this many elements, so that they need no array-sized temporary (a 1 MiB
# float64 chunk stays in L2 here).
_PARAM_GRAD_CHUNK = 1 << 17


def _real_params(activation: str) -> tuple[str, ...]:
    spec = lookup(activation)
    return tuple(p.name for p in spec.params if p.kind in ("real", "real_or_none"))


def _param_values(names: tuple[str, ...], params: Mapping[str, Any]) -> list[Any]:
    # softplus's threshold=None means "exact everywhere": z > inf is never true.
    return [math.inf if params[n] is None else params[n] for n in names]


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


def _reduce_to(terms: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``terms`` over the axes along which an array of ``shape`` was broadcast."""
    lead = terms.ndim - len(shape)
    with np.errstate(all="ignore"):  # inf - inf in a sum is NaN, as in the reference
        return _reduce_sum(terms, shape, lead)


def _reduce_sum(terms: np.ndarray, shape: tuple[int, ...], lead: int) -> np.ndarray:
    if lead > 0:
        terms = terms.sum(axis=tuple(range(lead)))
    ones = tuple(i for i, n in enumerate(shape) if n == 1 and terms.shape[i] != 1)
    if ones:
        terms = terms.sum(axis=ones, keepdims=True)
    return terms.reshape(shape)


def _param_grad(factor: np.ufunc, names: tuple[str, ...], target: str) -> Kernel:
    """grad * df/dparam summed over the parameter's broadcast axes.

    Where the parameter does not span x's first axis (a per-channel weight of NCHW
    data), the sum runs over slices of that axis of at most _PARAM_GRAD_CHUNK
    elements, so no temporary of x's size is made; otherwise over x at once.
    """

    def kernel(grad: np.ndarray, x: np.ndarray, out: np.ndarray, **params: Any) -> None:
        values = [np.broadcast_to(v, x.shape) for v in _param_values(names, params)]
        grad = np.broadcast_to(grad, x.shape)
        shape = np.shape(params[target])
        if len(shape) == x.ndim or x.ndim == 0 or x.size == 0:
            out[...] = _reduce_to(factor(grad, x, *values), shape)
            return
        acc = np.zeros(shape, dtype=out.dtype)
        step = max(1, _PARAM_GRAD_CHUNK // max(1, math.prod(x.shape[1:])))
        for start in range(0, x.shape[0], step):
            rows = slice(start, start + step)
            part = _reduce_to(factor(grad[rows], x[rows], *(v[rows] for v in values)), shape)
            with np.errstate(all="ignore"):
                acc += part
        out[...] = acc

    return kernel


def variant_free(activation: str) -> bool:
    return activation not in _formulas.VARIANT_PARAMS


def _elementwise_kernel(activation: str, method: str) -> Kernel | None:
    names = _real_params(activation)
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
            pick(p)(x, *_param_values(names, p), out=(out_y, out_d))

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
            pick(p)(x, *_param_values(names, p), out=out)

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
        pick(p)(grad, x, *_param_values(names, p), out=out)

    return two_inputs


def _rrelu_training(method: str, p: Mapping[str, Any], *arrays: np.ndarray) -> None:
    lower, upper = p["lower"], p["upper"]
    if isinstance(lower, float) and isinstance(upper, float):
        # The walker needs every array at full shape (grad may be a broadcast view:
        # zero strides are fine).
        shape = arrays[-1].shape
        nout = 2 if method == "value_and_derivative" else 1
        full = [np.broadcast_to(a, shape) for a in arrays[:-nout]]
        outs = arrays[len(full) :]
        _ufuncs.rrelu_training(method, p["seed"], lower, upper, *full, *outs)
        return
    # Per-element lower/upper arrays with training: the slopes as an array (a
    # temporary of x's size), then prelu's ufunc.
    from fastact._kernels import _runtime

    shape = arrays[-1].shape
    u = np.empty(math.prod(shape), dtype=np.float64)
    _runtime.rrelu_uniform(p["seed"], 0, u, _threads.get_num_threads())
    with np.errstate(all="ignore"):
        slopes = (lower + (upper - lower) * u.reshape(shape)).astype(arrays[-1].dtype)
    ufunc = _ufuncs.UFUNCS[f"prelu_{method}"]
    if method == "value_and_derivative":
        ufunc(arrays[0], slopes, out=(arrays[1], arrays[2]))
    elif method in ("forward", "derivative"):
        ufunc(arrays[0], slopes, out=arrays[1])
    else:
        ufunc(arrays[0], arrays[1], slopes, out=arrays[2])


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
