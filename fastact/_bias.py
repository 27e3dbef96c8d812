"""Fused bias: ``f(x + bias)`` and the bias gradient, for every elementwise activation
on every host backend, with no temporary of x's size.

A layer computes ``act(x @ W + b)``; the two-pass form (``z = x + b`` in place, then
the activation) moves four arrays through memory (read x, write z, read z, write the
result); fused, memory sees two (x in, the result out). The backward from x also sums
the bias gradient, ``grad * f'(x + b)`` over the axes along which the bias is
broadcast, from each piece of grad_x it has just written (still in cache): grad_x and
the bias gradient in one pass over memory. From y the bias only gives the gradient's
shape (``f'`` is a function of y).

Three ways, one result (the same bits for the same layout):

* the backend has a flat fused kernel (``{method}_bias_flat``: the C backend, whose
  fused kernels ``f(in0 + in1)`` are generated with the others by tools/codegen.py),
  the data are C-contiguous, the parameters scalars and the bias spans x's trailing
  axes (a layer's (features,) bias): one call of its driver (fa_periodic.h) over the
  flat arrays with the bias's period given once: chunks of whole periods on the
  thread pool with one bias tile in cache, the bias gradient summed per chunk while
  grad_x is in cache (row by row in float64, compensated for float64; the chunks'
  sums added in chunk order). Small calls of this kind (up to 2**16 elements) take
  the compiled fast path (``_fastcall._execute_bias``: the same loop and sums);
* other strides, array parameters or bias shapes, or a backend without it:
  :func:`_run_pieces`, C-order pieces of :data:`PIECE` elements, the fused kernel on
  broadcast views where there is one (the C and CUDA backends), else ``x + b`` into a
  scratch piece in cache
  (the numba and reference backends: one extra pass over the piece in cache, ~0.05
  ns/element for float32, against 0.3-0.5 for a pass through memory); the bias
  gradient by :func:`fastact._backends._shared.sum_param_grad`, as prelu's weight
  gradient (pairwise: other float64 bits than the flat way's, within the same bound);
* prelu's weight gradient (its kernel sums over the whole array) and rrelu's training
  mode (its slopes hash each element's C-order index over the whole array) form
  ``x + b`` in one array of x's size (said in the README).

Memory: the flat way's bias tile (64K elements, 256 KiB of float32) and per-chunk
accumulators (two float64 per bias element and chunk: 1/16 of x's bytes for float32
with a 1000-element bias); the pieces' scratch of PIECE elements.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fastact import _dispatch
from fastact._backends._shared import c_order_pieces, sum_param_grad

__all__ = ["PIECE", "run"]

#: Elements per piece: 2**16 float32 (256 KiB) or float64 (512 KiB) scratch and
#: result pieces stay in the 1 MiB L2 of this machine's cores, while the per-piece
#: cost (slicing, one np.add and one kernel call, ~5 us) stays below 10 % of a
#: piece's time for relu (the cheapest kernel, ~0.15 ns/element in cache).
PIECE = 1 << 16


def _piece_params(params: Mapping[str, Any], shape: tuple[int, ...], index: tuple) -> dict:
    """The parameters of one piece: array parameters broadcast to x and sliced."""
    if not any(isinstance(v, np.ndarray) for v in params.values()):
        return dict(params)
    return {
        k: np.broadcast_to(v, shape)[index] if isinstance(v, np.ndarray) else v
        for k, v in params.items()
    }


def _whole(method: str, params: Mapping[str, Any], param_grads: Sequence[str]) -> bool:
    """Whether this call forms x + b as one array (see the module docstring)."""
    if method == "backward_x" and param_grads:
        return True
    return method != "backward_y" and bool(params.get("training"))


def _period(bias_shape: tuple[int, ...], shape: tuple[int, ...]) -> int | None:
    """How many C-order elements of x one pass over the bias covers, when the bias
    spans x's trailing axes whole and is broadcast only along leading ones (a layer's
    (features,) bias on (batch, features), a (C, H, W) one on (N, C, H, W)); None
    otherwise. Then x's element i gets bias.flat[i % period]."""
    aligned = (1,) * (len(shape) - len(bias_shape)) + tuple(bias_shape)
    k = 0
    while k < len(shape) and aligned[k] == 1:
        k += 1
    if aligned[k:] != shape[k:]:
        return None
    return math.prod(shape[k:])


def run(
    method: str,
    kernels: Sequence[Any],
    inputs: Sequence[np.ndarray],
    bias: np.ndarray,
    targets: Sequence[np.ndarray],
    bias_target: np.ndarray | None,
    params: Mapping[str, Any],
    param_grads: Sequence[str],
    bias_aliased: bool,
    backend: str,
    activation: str,
) -> None:
    """Compute ``method`` of the activation at ``x + bias`` into ``targets``.

    ``kernels`` are the plan's (the method's, then the parameter gradients'),
    ``inputs`` its inputs as the kernels take them (``[grad,] x`` or ``grad, y``, in
    the compute dtype, grad broadcast to the output's shape), ``bias`` validated and
    cast to the compute dtype, broadcasting to the main input. ``bias_target`` (the
    backward only) receives the bias gradient (bias's shape); ``bias_aliased`` says it
    shares memory with an input, so it is written after they are read. ``backend``
    (the plan's) and ``activation`` name where the optional fused kernels come from:
    ``{method}_bias`` (``kernel(*inputs, bias, *outs, **params)``) and
    ``{method}_bias_flat`` (``kernel(inputs, bias, outs, bias_grad, **params)`` on flat
    contiguous arrays, the bias's period given once, the bias gradient or None).
    """
    main = inputs[-1]
    shape = main.shape
    if method != "backward_y" and _whole(method, params, param_grads):
        with np.errstate(all="ignore"):  # inf + -inf is NaN, as x + b in NumPy
            summed = np.add(main, bias, dtype=main.dtype)
        inputs = [*inputs[:-1], summed]
        if method == "value_and_derivative":
            kernels[0](*inputs, *targets, **params)
        else:
            for kernel, target in reversed(list(zip(kernels, targets, strict=False))):
                kernel(*inputs, target, **params)
        if bias_target is not None:
            grad_x = targets[0]
            sum_param_grad(
                lambda index, scratch: grad_x[index], shape, bias_target, bias_aliased, PIECE
            )
        return
    if 0 in shape:
        if bias_target is not None:
            bias_target[...] = 0
        return
    dtype = main.dtype
    period = _period(bias.shape, shape)
    if (
        period is not None
        and not any(isinstance(v, np.ndarray) for v in params.values())
        and all(a.flags.c_contiguous for a in (*inputs, *targets))
    ):
        flat = _dispatch.kernel_of(backend, activation, f"{method}_bias_flat", dtype)
        if flat is not None:
            grad_b = None
            if bias_target is not None:
                direct = bias_target.flags.c_contiguous and bias_target.dtype == dtype
                grad_b = bias_target if direct else np.empty(bias_target.shape, dtype)
            flat([a.reshape(-1) for a in inputs], bias.reshape(-1),
                 [t.reshape(-1) for t in targets], grad_b, **params)
            if bias_target is not None and grad_b is not bias_target:
                bias_target[...] = grad_b
            return
    fused = None
    if method != "backward_y":
        fused = _dispatch.kernel_of(backend, activation, f"{method}_bias", dtype)
    _run_pieces(method, kernels[0], fused, inputs, bias, targets, bias_target, params,
                bias_aliased)


def _run_pieces(
    method: str,
    kernel: Any,
    fused: Any,
    inputs: Sequence[np.ndarray],
    bias: np.ndarray,
    targets: Sequence[np.ndarray],
    bias_target: np.ndarray | None,
    params: Mapping[str, Any],
    bias_aliased: bool,
) -> None:
    """Any strides, array parameters, any bias shape: C-order pieces of at most
    PIECE elements; the sum x + b goes through a scratch piece where the backend
    has no fused kernel."""
    shape = inputs[-1].shape
    full_bias = np.broadcast_to(bias, shape)
    scratch = None
    if fused is None and method != "backward_y":
        scratch = np.empty(min(math.prod(shape), PIECE), inputs[-1].dtype)

    def piece(index: tuple, count: int) -> None:
        p = _piece_params(params, shape, index)
        ins = [a[index] for a in inputs]
        outs = [t[index] for t in targets]
        if method == "backward_y":
            kernel(*ins, *outs, **p)
        elif fused is not None:
            fused(*ins, full_bias[index], *outs, **p)
        else:
            assert scratch is not None
            z = scratch[:count].reshape(ins[-1].shape)
            with np.errstate(all="ignore"):
                np.add(ins[-1], full_bias[index], out=z)
            kernel(*ins[:-1], z, *outs, **p)

    if bias_target is None:
        for index, _, count in c_order_pieces(shape, PIECE):
            piece(index, count)
        return
    grad_x = targets[0]

    def terms(index: tuple, scratch_piece: np.ndarray) -> np.ndarray:
        piece(index, scratch_piece.size)
        return grad_x[index]

    sum_param_grad(terms, shape, bias_target, bias_aliased, PIECE)
