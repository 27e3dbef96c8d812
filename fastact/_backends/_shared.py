"""What the compiled backends share about the formulas' kernels: which parameters a
kernel takes, their values for a call, and the name of the generated kernel that
serves an activation's method (gelu picks a variant by its ``approximate``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Container, Iterator, Mapping
from typing import Any

import numpy as np

from fastact import _formulas
from fastact._registry import lookup

__all__ = ["c_order_pieces", "kernel_name", "param_values", "real_params", "sum_param_grad"]


def real_params(activation: str) -> tuple[str, ...]:
    """The real parameters of ``activation``, in registry order: the arguments the
    generated kernels take after their inputs."""
    spec = lookup(activation)
    return tuple(p.name for p in spec.params if p.kind in ("real", "real_or_none"))


def param_values(names: tuple[str, ...], params: Mapping[str, Any]) -> list[Any]:
    """The values of ``names`` for a call; softplus's threshold=None means "exact
    everywhere", which the kernels get as inf (z > inf is never true)."""
    return [math.inf if params[n] is None else params[n] for n in names]


def kernel_name(
    activation: str, method: str, known: Container[str]
) -> Callable[[Mapping[str, Any]], str] | None:
    """A function of the call's parameters giving the generated kernel's name
    (``{activation}[_{variant}]_{method}``), or None when ``known`` lacks one."""
    variant_param = _formulas.VARIANT_PARAMS.get(activation)
    if variant_param is None:
        name = f"{activation}_{method}"
        return (lambda params: name) if name in known else None
    variants = [k[1] for k in _formulas.KERNELS if isinstance(k, tuple) and k[0] == activation]
    if not all(f"{activation}_{v}_{method}" in known for v in variants):
        return None
    return lambda params: f"{activation}_{params[variant_param]}_{method}"


def c_order_pieces(shape: tuple[int, ...], limit: int) -> Iterator[tuple[tuple, int, int]]:
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


def sum_param_grad(
    terms: Callable[[tuple, np.ndarray], np.ndarray],
    x_shape: tuple[int, ...],
    out: np.ndarray,
    aliased: bool,
    limit: int,
) -> None:
    """``out`` = the terms grad * df/dparam summed over the axes along which the
    parameter (of ``out``'s shape) is broadcast against x (of ``x_shape``).

    ``terms(index, scratch)`` writes the terms of x's C-order piece ``index``
    (:func:`c_order_pieces`, at most ``limit`` elements) into ``scratch`` (the piece's
    shape) and returns it: one scratch of ``limit`` elements, no temporary of x's
    size whatever the parameter's shape (batch of one included). ``aliased``: ``out``
    shares memory with an input (then a parameter of x's size is written last).

    Accuracy (README, "Accuracy"; to go into API.md): float32 terms are summed
    in float64 (NumPy's pairwise sum inside a piece, the pieces added in float64) and
    the sum rounded once to float32: within 0.5 ulp + n * 2**-53 * sum|terms| / |sum|
    ulp of the exact sum, i.e. correctly rounded up to ties for condition numbers below
    ~2**20 at 2**26 terms. float64: pairwise inside a piece, the pieces' sums added with
    a compensated (two-sum) accumulation: within 0.5 ulp + (log2(limit) + 16) * 2**-53
    * sum|terms| of the exact sum, independent of the number of pieces. The order of
    the additions depends only on the shapes: the result is deterministic.
    """
    shape = out.shape
    if 0 in x_shape:
        out[...] = 0
        return
    aligned = (1,) * (len(x_shape) - len(shape)) + tuple(shape)
    like = np.broadcast_to(np.empty((), out.dtype), x_shape)  # for the pieces' shapes
    scratch = np.empty(min(math.prod(x_shape), limit), out.dtype)

    def piece_terms(index: tuple, count: int) -> np.ndarray:
        return terms(index, scratch[:count].reshape(like[index].shape))

    if not any(a == 1 and n != 1 for a, n in zip(aligned, x_shape, strict=True)):
        # Nothing is added (a parameter of x's size): the terms are the gradient.
        direct = out.flags.c_contiguous and not aliased
        target = out.reshape(aligned) if direct else np.empty(aligned, out.dtype)
        for index, _, count in c_order_pieces(x_shape, limit):
            target[index] = piece_terms(index, count)
        if not direct:
            out[...] = target.reshape(shape)
        return
    acc = np.zeros(aligned, np.float64)
    comp = np.zeros(aligned, np.float64) if out.dtype == np.float64 else None
    for index, _, count in c_order_pieces(x_shape, limit):
        t = piece_terms(index, count)
        # The piece's part of the result: its own indices where the parameter spans an
        # axis, index 0 (summed over) where it was broadcast.
        select = tuple(
            i if aligned[d] != 1 else (0 if isinstance(i, int) else slice(None))
            for d, i in enumerate(index)
        ) if index != (Ellipsis,) else (Ellipsis,)
        part = acc[select]
        first = len(index) - 1  # the sliced axis: the terms' axis 0
        summed = tuple(
            j for j in range(t.ndim) if aligned[first + j] == 1 and t.shape[j] != 1
        )
        with np.errstate(all="ignore"):  # inf - inf in a sum is NaN, as in the reference
            p = t.sum(axis=summed, keepdims=True, dtype=np.float64) if summed else t
            if comp is None:
                part += p
            else:  # two-sum: part + p == s + e exactly
                s = part + p
                bb = s - part
                comp[select] += (part - (s - bb)) + (p - bb)
                part[...] = s
    with np.errstate(all="ignore"):
        if comp is not None:  # an infinite sum has a NaN compensation: keep the sum
            np.add(acc, comp, out=acc, where=np.isfinite(acc))
        out[...] = acc.reshape(shape)
