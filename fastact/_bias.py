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

* the backend has fused kernels (the C backend: ``f(in0 + in1)``, generated with the
  others by tools/codegen.py), the data are C-contiguous and the bias spans x's
  trailing axes (a layer's (features,) bias): :func:`_run_flat`, flat pieces of
  :data:`FUSED_PIECE` elements with one tile of the bias repeated to a piece's length
  (the kernel's loop and the pool's threads see long contiguous ranges), the bias
  gradient summed by ``_runtime.add_rows`` (fa_bias.h) row by row in float64,
  compensated for float64. Small calls of this kind (up to 2**16 elements) take the
  compiled fast path instead (``_fastcall._execute_bias``: the same loop and sums);
* other strides, array parameters or bias shapes: :func:`_run_pieces`, C-order pieces
  of :data:`PIECE` elements, the fused kernel on broadcast views where there is one,
  else ``x + b`` into a scratch piece in cache (the numba and reference backends:
  one extra pass over the piece in cache, ~0.05 ns/element for float32, against 0.3-0.5
  for a pass through memory); the bias gradient by
  :func:`fastact._backends._shared.sum_param_grad`, as prelu's weight gradient;
* prelu's weight gradient (its kernel sums over the whole array) and rrelu's training
  mode (its slopes hash each element's C-order index over the whole array) form
  ``x + b`` in one array of x's size (said in the README).

Memory: a bias tile of at most ~FUSED_PIECE elements (4 MiB float32), a scratch of
PIECE; the float64 accumulators of the bias gradient, of the bias's size.
"""


from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fastact._backends._shared import c_order_pieces, sum_param_grad
from fastact._kernels import _runtime

__all__ = ["FUSED_PIECE", "PIECE", "run"]

#: Elements per piece: 2**16 float32 (256 KiB) or float64 (512 KiB) scratch and
#: result pieces stay in the 1 MiB L2 of this machine's cores, while the per-piece
#: cost (slicing, one np.add and one kernel call, ~5 us) stays below 10 % of a
#: piece's time for relu (the cheapest kernel, ~0.15 ns/element in cache).
PIECE = 1 << 16

#: The bias gradient is summed by _runtime.add_rows (columns across SIMD lanes) where
#: a period has at least this many elements; shorter ones take sum_param_grad.
ROW_SUM_MIN = 64

#: Elements per piece where the backend has fused kernels (the sum is formed in its
#: registers), and so the size of the bias tile: 4 MiB of float32 (8 of float64) stays
#: in this machine's 32 MiB L3, and pieces this long keep the C pool's hand-offs few.
#: Measured 2026-12-03 (AMD EPYC, AVX-512, idle; (10000, 1000) float32, 2 threads,
#: median of 15, ms), pieces of 2**18 -> 2**20 -> 2**22: gelu fused 12.8 -> 10.4 ->
#: 9.7 (two-pass 14.8), relu 6.8 -> 4.3 -> 6.4 (two-pass 6.3-9.0). With 2**18 the pool
#: ran 799 of 1185 calls on the caller alone (its adaptive policy, fa_pool.h: the
#: worker, asleep between the short calls, joined late), with 2**20 9 of 345.
FUSED_PIECE = 1 << 20


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
    fused: Any = None,
) -> None:
    """Compute ``method`` of the activation at ``x + bias`` into ``targets``.

    ``kernels`` are the plan's (the method's, then the parameter gradients'),
    ``inputs`` its inputs as the kernels take them (``[grad,] x`` or ``grad, y``, in
    the compute dtype, grad broadcast to the output's shape), ``bias`` validated and
    cast to the compute dtype, broadcasting to the main input. ``bias_target`` (the
    backward only) receives the bias gradient (bias's shape); ``bias_aliased`` says it
    shares memory with an input, so it is written after they are read. ``fused`` is
    the backend's fused-bias kernel of ``method`` (``kernel(*inputs, bias, *outs,
    **params)``), or None: then the sum goes through a scratch piece.
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
    period = _period(bias.shape, shape)
    if (
        (fused is not None or method == "backward_y")
        and period is not None
        and not any(isinstance(v, np.ndarray) for v in params.values())
        and all(a.flags.c_contiguous for a in (*inputs, *targets))
    ):
        _run_flat(method, kernels[0] if fused is None else fused, inputs, bias, period,
                  targets, bias_target, params, bias_aliased)
        return
    _run_pieces(method, kernels[0], fused, inputs, bias, targets, bias_target, params,
                bias_aliased)


def _run_flat(
    method: str,
    kernel: Any,
    inputs: Sequence[np.ndarray],
    bias: np.ndarray,
    period: int,
    targets: Sequence[np.ndarray],
    bias_target: np.ndarray | None,
    params: Mapping[str, Any],
    bias_aliased: bool,
) -> None:
    """Contiguous arrays and a bias over x's trailing axes (a layer's): flat pieces of
    whole periods, each with the same bias tile, so the kernel's loop (and its
    threads) runs over one long contiguous range per piece; the bias gradient sums
    each piece of grad_x while it is in cache (_runtime.add_rows)."""
    size = inputs[-1].size
    limit = -(-FUSED_PIECE // period) * period  # whole periods, at least FUSED_PIECE
    flat_in = [a.reshape(-1) for a in inputs]
    flat_out = [t.reshape(-1) for t in targets]
    tile = None
    if method != "backward_y":
        tile = np.empty((min(limit, size) // period, period), inputs[-1].dtype)
        tile[...] = bias.reshape(period)
        tile = tile.reshape(-1)
    row_sums = bias_target is not None and period >= ROW_SUM_MIN
    acc, comp = (np.zeros(period), np.zeros(period)) if row_sums else (None, None)
    for start in range(0, size, limit):
        stop = min(start + limit, size)
        ins = [a[start:stop] for a in flat_in]
        if tile is not None:
            ins.append(tile[: stop - start])
        kernel(*ins, *(o[start:stop] for o in flat_out), **params)
        if acc is not None and comp is not None:
            _runtime.add_rows(flat_out[0][start:stop].reshape(-1, period), acc, comp)
    if bias_target is None:
        return
    if acc is not None and comp is not None:
        with np.errstate(all="ignore"):  # an infinite sum has a NaN compensation
            np.add(acc, comp, out=acc, where=np.isfinite(acc))
            bias_target[...] = acc.reshape(bias_target.shape)
        return
    grad_x = targets[0]  # short periods: a second pass, over grad_x
    sum_param_grad(
        lambda index, scratch: grad_x[index], inputs[-1].shape, bias_target, bias_aliased,
        PIECE,
    )


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
