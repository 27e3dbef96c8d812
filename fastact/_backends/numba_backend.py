"""The numba backend: the formulas compiled by numba for the CPU, with Python threads.

Elementwise kernels are the generated loops of :mod:`fastact._kernels.numba_kernels`
(one per activation variant, method and dtype, over 1-D contiguous arrays, compiled on
first use and cached on disk). This module feeds them:

- operands that are all C-contiguous (or all Fortran-contiguous) of the result's
  shape are passed as flat views, split into contiguous ranges over threads;
- anything else (strides, broadcast grad or parameters, mixed layouts) goes through
  :class:`numpy.nditer`'s buffered external loop in chunks of ``_CHUNK`` elements,
  on one thread, so the loops only ever see contiguous arrays (one compiled version
  each).

Every element runs through the same compiled loop body whatever the split, so results
are bit-identical for any thread count. rrelu's training mode uses
:mod:`fastact._kernels.numba_rrelu`; the axis functions the gufuncs of
:mod:`fastact._kernels.numba_rows`.

Threads are fastact's C pool (``fastact/_kernels/fa_pool.h``, through
:func:`fastact._kernels._runtime.run_chunks`): the loops are numba ``nogil`` functions,
so each chunk is one Python call that releases the GIL for its loop; the caller works
too and never waits for a worker that has not started; a call is over (no chunk runs)
when it returns or raises; the count is read once per call.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from fastact import _threads
from fastact._backends._shared import kernel_name, param_values, real_params, sum_param_grad
from fastact._backends.base import Kernel
from fastact._kernels import _runtime
from fastact._registry import lookup

__all__ = ["BACKEND", "NumbaBackend", "direct_loop"]

_SERVED = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}

#: Elements per buffered chunk on the strided path (two 64 KiB float64 buffers per
#: operand stay in L2).
_CHUNK = 8192

#: Below this many elements a call runs on one thread. With the old executor, handing
#: a range to a pool thread cost ~60 us (submit, wake-up, join: measured on the idle
#: 2-core machine with tools/measure_threshold.py --backend numba, float32, 2 threads
#: over 1 thread): relu 0.37 at 2**17, 0.55 at 2**18, 1.10 at 2**20; gelu 1.12 at
#: 2**15, 1.82 at 2**18. fastact's C pool (run_chunks) costs the caller ~0.7 us per
#: call plus ~1-2 us per chunk (a Python call into the nogil loop), against ~17 us for
#: a ThreadPoolExecutor submit + result (median of 2000, same machine). Re-measured
#: 2026-12-02 with the pool but with the machine saturated by other sessions (load
#: average 9.9 on 2 cores): relu 0.62 at 2**10 (+8 us of Python and GIL hand-off),
#: 0.78 at 2**18, 0.82 at 2**20; gelu 0.71 at 2**10, 0.92 at 2**18 -- no free core, no
#: size wins; 2**18 stays until the measurement is repeated on an idle machine.
PARALLEL_MIN = 1 << 18

#: Parameter gradients are summed over slices of at most this many elements (512 KiB
#: of float64 scratch: with the nditer buffers it stays within tests/test_memory.py's
#: 2 MiB allowance, which 2**17 did not).
_PARAM_GRAD_CHUNK = 1 << 16

# ----------------------------------------------------------------------------- threads

#: Chunks per thread of a threaded call: a worker that the kernel has not scheduled
#: yet (busy machine) leaves its chunks to the caller, which claims them one by one.
_CHUNKS_PER_THREAD = 4
#: ...but no chunk below this many elements (each chunk is a Python call, ~3-5 us).
_CHUNK_MIN = 1 << 15


def _split(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges of [0, n), boundaries on multiples of 64."""
    step = -(-n // parts)
    step = -(-step // 64) * 64
    return [(a, min(a + step, n)) for a in range(0, n, step)]


def _threads_for(n: int) -> int:
    if n < PARALLEL_MIN:
        return 1
    # Each thread gets at least PARALLEL_MIN / 2 elements.
    return min(_threads.get_num_threads(), max(1, n // max(1, PARALLEL_MIN // 2)))


def _parts(n: int, threads: int) -> int:
    return max(threads, min(threads * _CHUNKS_PER_THREAD, n // _CHUNK_MIN))


def _run_ranges(task: Callable[[int, int], None], n: int) -> None:
    """task(start, stop) over [0, n), on several threads when n is large."""
    threads = _threads_for(n)  # read once: set_num_threads meanwhile changes the next call
    if threads <= 1:
        task(0, n)
        return
    _on_threads(task, _split(n, _parts(n, threads)), threads)


def _on_threads(
    task: Callable[[int, int], None], ranges: list[tuple[int, int]], threads: int
) -> None:
    """task(*r) for every range r, on at most ``threads`` threads of fastact's pool
    (fastact/_kernels/fa_pool.h; this thread works too). Returns when every range is
    done (none runs after), or raises the first exception once every range is done."""
    if len(ranges) == 1:
        task(*ranges[0])
        return
    _runtime.run_chunks(len(ranges), threads, lambda k: task(*ranges[k]))


# ----------------------------------------------------------------------------- elementwise


def _flat(a: np.ndarray, order: str) -> np.ndarray:
    return a.reshape(-1, order=order)  # type: ignore[call-overload]  # a view: the array is contiguous in that order


def _layout(arrays: Sequence[np.ndarray], shape: tuple[int, ...]) -> str | None:
    """"C" or "F" when every array has ``shape`` and is contiguous in that order."""
    if all(a.shape == shape and a.flags.c_contiguous for a in arrays):
        return "C"
    if all(a.shape == shape and a.flags.f_contiguous for a in arrays):
        return "F"
    return None


def _elementwise(
    loop_s: Callable[..., None],
    loop_a: Callable[..., None] | None,
    inputs: Sequence[np.ndarray],
    params: Sequence[Any],
    outputs: Sequence[np.ndarray],
) -> None:
    """Run a generated loop over broadcast operands: the scalar-parameter loop when
    every parameter is a Python float, else the per-element one."""
    first = outputs[0]
    n = first.size
    if n == 0:
        return
    scalar = all(type(p) is float for p in params)
    if scalar and n < PARALLEL_MIN and first.ndim == 1 and first.flags.c_contiguous:
        # The common small call (1e3 elements costs ~1 us of compiled work): no views,
        # no closures, no thread decision.
        if all(a.ndim == 1 and a.flags.c_contiguous and a.shape[0] == n for a in inputs):
            loop_s(*inputs, *params, *outputs)
            return
    shape = first.shape
    loop = loop_s if scalar else loop_a
    assert loop is not None
    param_arrays = [] if scalar else [np.broadcast_to(p, shape) for p in params]
    order = _layout([*inputs, *param_arrays, *outputs], shape)
    if order is not None:
        ins = [_flat(a, order) for a in inputs]
        pas = [_flat(a, order) for a in param_arrays] if not scalar else list(params)
        outs = [_flat(a, order) for a in outputs]

        def task(a: int, b: int) -> None:
            loop(*(x[a:b] for x in ins), *(p if scalar else p[a:b] for p in pas),
                 *(o[a:b] for o in outs))  # fmt: skip

        _run_ranges(task, outs[0].shape[0])
        return
    operands = [np.broadcast_to(a, shape) for a in inputs] + param_arrays + list(outputs)
    nin = len(inputs) + len(param_arrays)
    flags = [["readonly"]] * nin + [["writeonly"]] * len(outputs)
    with np.nditer(  # type: ignore[call-overload]
        operands,
        flags=["external_loop", "buffered", "zerosize_ok", "refs_ok"],
        op_flags=flags,
        buffersize=_CHUNK,
        order="K",
    ) as it:
        for chunk in it:
            ins = [np.ascontiguousarray(c) for c in chunk[:nin]]
            outs = [c if c.flags.c_contiguous else np.empty(c.shape, c.dtype)
                    for c in chunk[nin:]]  # fmt: skip
            if scalar:
                loop(*ins, *params, *outs)
            else:
                loop(*ins, *outs)
            for target, result in zip(chunk[nin:], outs, strict=True):
                if target is not result:
                    target[...] = result




def _loops(name: str, sfx: str) -> tuple[Callable[..., None], Callable[..., None] | None] | None:
    from fastact._kernels import numba_kernels

    loop_s = getattr(numba_kernels, f"{name}_s_{sfx}", None)
    if loop_s is None:
        return None
    return loop_s, getattr(numba_kernels, f"{name}_a_{sfx}", None)


def _kernel_name(activation: str, method: str) -> Callable[[Mapping[str, Any]], str] | None:
    from fastact._kernels import numba_kernels

    return kernel_name(activation, method, numba_kernels.KERNELS)


def _elementwise_kernel(activation: str, method: str, sfx: str) -> Kernel | None:
    names = real_params(activation)
    if method.startswith("param_grad:"):
        target = method.partition(":")[2]
        return _param_grad_kernel(activation, target, names, sfx)
    name_of = _kernel_name(activation, method)
    if name_of is None:
        return None
    loops: dict[str, tuple[Callable[..., None], Callable[..., None] | None]] = {}

    def loops_for(params: Mapping[str, Any]) -> tuple[Any, Any]:
        name = name_of(params)
        found = loops.get(name)
        if found is None:
            found = _loops(name, sfx)
            assert found is not None, name
            loops[name] = found
        return found

    nin = 2 if method in ("backward_x", "backward_y") else 1
    training = activation == "rrelu" and method != "backward_y"

    def kernel(*arrays: np.ndarray, **params: Any) -> None:
        if training and params["training"]:
            _rrelu_training(method, params, arrays[:nin], arrays[nin:])
            return
        loop_s, loop_a = loops_for(params)
        _elementwise(loop_s, loop_a, arrays[:nin], param_values(names, params), arrays[nin:])

    return kernel


def _param_grad_kernel(
    activation: str, target: str, names: tuple[str, ...], sfx: str
) -> Kernel | None:
    found = _loops(f"{activation}_param_factor_{target}", sfx)
    if found is None:
        return None
    loop_s, loop_a = found

    def kernel(grad: np.ndarray, x: np.ndarray, out: np.ndarray, **params: Any) -> None:
        """grad * df/dparam summed over the parameter's broadcast axes
        (:func:`fastact._backends._shared.sum_param_grad`: C-order pieces of at most
        _PARAM_GRAD_CHUNK elements into one scratch, no temporary of x's size even
        for a batch of one; float32 summed in float64, float64 compensated)."""
        values = param_values(names, params)
        grad = np.broadcast_to(grad, x.shape)
        full = [v if isinstance(v, float) else np.broadcast_to(v, x.shape) for v in values]

        def terms(index: tuple, scratch: np.ndarray) -> np.ndarray:
            part_values = [v if isinstance(v, float) else v[index] for v in full]
            _elementwise(loop_s, loop_a, [grad[index], x[index]], part_values, [scratch])
            return scratch

        aliased = np.may_share_memory(out, x) or np.may_share_memory(out, grad)
        sum_param_grad(terms, x.shape, out, aliased, _PARAM_GRAD_CHUNK)

    return kernel


#: The most axes NumPy's iterators take (``a.flat``, ``np.nditer``; arrays may have 64).
_MAX_ITER_DIMS = 32

#: rrelu's training walk over arrays that are not all C-contiguous goes through
#: C-ordered pieces of this many elements (``a.flat[i:j]``: chunk-sized copies).
_RRELU_PIECE = 1 << 14


def _rrelu_training(
    method: str, params: Mapping[str, Any], inputs: Sequence[np.ndarray],
    outputs: Sequence[np.ndarray],
) -> None:  # fmt: skip
    """Slopes from the rrelu hash of each element's C-order index. C-contiguous
    operands are walked directly (threads take ranges); any other layout, and array
    bounds, in C-ordered pieces (no temporary of x's size)."""
    from fastact._kernels import numba_rrelu

    lower, upper = params["lower"], params["upper"]
    shape = outputs[0].shape
    n = outputs[0].size
    if n == 0:
        return
    key = numba_rrelu.key_of(params["seed"])
    single = outputs[0].dtype == np.float32
    scalar = isinstance(lower, float) and isinstance(upper, float)
    loop = numba_rrelu.LOOPS[method]
    full = [np.broadcast_to(a, shape) for a in inputs]
    bounds = [] if scalar else [np.broadcast_to(v, shape) for v in (lower, upper)]
    if len(shape) > _MAX_ITER_DIMS:
        # NumPy's iterators (a.flat, nditer) take 32 axes, NumPy 2 arrays 64: the axes of
        # length 1 go (a view; the C-order index of every element is the same).
        keep = tuple(n for n in shape if n != 1)
        if len(keep) > _MAX_ITER_DIMS:
            raise ValueError(
                f"rrelu: x has {len(keep)} axes longer than 1; training mode on the numba "
                f"backend takes at most {_MAX_ITER_DIMS} (use backend='cython' or 'numpy', "
                "or reshape x)"
            )
        full, bounds = ([a.squeeze() for a in arrays] for arrays in (full, bounds))
        outputs = [o.squeeze() for o in outputs]  # squeeze: always a view, so written
        shape = keep
    if scalar:
        one_lower, one_upper = np.array([lower]), np.array([upper])
    if scalar and all(a.flags.c_contiguous for a in (*full, *outputs)):
        ins = [a.reshape(-1) for a in full]
        outs = [o.reshape(-1) for o in outputs]

        def task(a: int, b: int) -> None:
            loop(key, a, one_lower, one_upper, 0, single, *(x[a:b] for x in ins),
                 *(o[a:b] for o in outs))  # fmt: skip

        _run_ranges(task, n)
        return
    for a in range(0, n, _RRELU_PIECE):
        b = min(a + _RRELU_PIECE, n)
        piece_ins = [np.ascontiguousarray(arr.flat[a:b]) for arr in full]
        piece_outs = [np.empty(b - a, o.dtype) for o in outputs]
        if scalar:
            loop(key, a, one_lower, one_upper, 0, single, *piece_ins, *piece_outs)
        else:
            lo, hi = (np.ascontiguousarray(v.flat[a:b]) for v in bounds)
            loop(key, a, lo, hi, 1, single, *piece_ins, *piece_outs)
        for o, piece in zip(outputs, piece_outs, strict=True):
            o.flat[a:b] = piece
        del piece_ins, piece_outs  # one piece alive at a time


# ----------------------------------------------------------------------------- rows


def _halves(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    m = x.shape[axis] // 2
    before = (slice(None),) * axis
    return x[(*before, slice(0, m))], x[(*before, slice(m, None))]


def _glu_blocks(x: np.ndarray, axis: int) -> tuple[np.ndarray, int] | None:
    """C-contiguous x as (outer, 2, L), its halves along ``axis`` as [:, 0] and [:, 1]
    (a free reshape), with L; None for other layouts."""
    if not x.flags.c_contiguous:
        return None
    outer = math.prod(x.shape[:axis])
    length = (x.shape[axis] // 2) * math.prod(x.shape[axis + 1 :])
    return x.reshape(outer, 2, length), length


def _glu_kernel(method: str) -> Kernel | None:
    """glu: the elementwise loops of numba_rows over the halves a, b of x (on
    C-contiguous arrays, their block forms: one call per range of the flat result)."""
    from fastact._kernels import numba_rows

    def forward(x: np.ndarray, out: np.ndarray, *, axis: int) -> None:
        blocks = _glu_blocks(x, axis)
        if blocks is not None and out.flags.c_contiguous and out.size:
            x3, length = blocks
            o2 = out.reshape(-1, length)
            _run_ranges(lambda a, b: numba_rows.glu_forward_blocks(x3, o2, a, b), out.size)
            return
        _elementwise(numba_rows.glu_forward, None, _halves(x, axis), [], [out])

    def jacobian(x: np.ndarray, out: np.ndarray, *, axis: int) -> None:
        # J[..., i, j] along (axis, last): sigmoid(b_i) at j = i, glu_db at j = i + m.
        a, b = _halves(x, axis)
        da, db = np.empty(a.shape, out.dtype), np.empty(a.shape, out.dtype)
        _elementwise(numba_rows.glu_partials, None, [a, b], [], [da, db])
        m = a.shape[axis]
        j = np.moveaxis(out, axis, -2)
        j[...] = 0.0
        i = np.arange(m)
        j[..., i, i] = np.moveaxis(da, axis, -1)
        j[..., i, i + m] = np.moveaxis(db, axis, -1)

    def value_and_jacobian(
        x: np.ndarray, out_y: np.ndarray, out_d: np.ndarray, *, axis: int
    ) -> None:
        jacobian(x, out_d, axis=axis)
        forward(x, out_y, axis=axis)

    def backward_x(grad: np.ndarray, x: np.ndarray, out: np.ndarray, *, axis: int) -> None:
        blocks, out_blocks = _glu_blocks(x, axis), _glu_blocks(out, axis)
        # grad arrives broadcast to the result's shape: contiguous only when whole.
        if (blocks is not None and out_blocks is not None and grad.flags.c_contiguous
                and grad.size):  # fmt: skip
            (x3, length), (o3, _) = blocks, out_blocks
            g2 = grad.reshape(-1, length)
            _run_ranges(
                lambda a, b: numba_rows.glu_backward_x_blocks(g2, x3, o3, a, b), grad.size
            )
            return
        a, b = _halves(x, axis)
        out_a, out_b = _halves(out, axis)
        # In place (out is x) needs no copy: element i of out_a and out_b is written
        # only after a[i] and b[i], the only values it depends on, were read.
        grad = np.broadcast_to(grad, a.shape)
        _elementwise(numba_rows.glu_backward_x, None, [grad, a, b], [], [out_a, out_b])

    kernels: dict[str, Kernel] = {
        "forward": forward,
        "derivative": jacobian,
        "value_and_derivative": value_and_jacobian,
        "backward_x": backward_x,
    }
    return kernels.get(method)


def _row_kernel(activation: str, method: str, dtype: str) -> Kernel | None:
    from fastact._kernels import numba_rows

    if activation == "glu":
        return _glu_kernel(method)

    def gufunc(name: str) -> tuple[Any, int] | None:
        if name not in numba_rows.SIGNATURES:
            return None
        return numba_rows.gufunc(name, dtype)

    forward = gufunc(f"{activation}_forward")
    if forward is None:
        return None
    if method == "forward":
        return _one_row(*forward)
    if method == "derivative":
        derivative = gufunc(f"{activation}_derivative")
        return None if derivative is None else _jacobian_rows(*derivative)
    if method == "value_and_derivative":
        derivative = gufunc(f"{activation}_derivative")
        if derivative is None:
            return None
        one, jacobian = _one_row(*forward), _jacobian_rows(*derivative)

        def both(x: np.ndarray, out_y: np.ndarray, out_d: np.ndarray, *, axis: int) -> None:
            jacobian(x, out_d, axis=axis)  # first: out_y may be x itself
            one(x, out_y, axis=axis)

        return both
    found = gufunc(f"{activation}_{method}")
    return None if found is None else _two_rows(*found)


def _row_split(arrays: Sequence[np.ndarray], axis: int, run: Callable[..., None]) -> None:
    """run(*arrays) over slices of the first axis other than ``axis`` (threads), or
    at once for small or unsplittable calls."""
    x = arrays[0]
    other = [d for d in range(x.ndim) if d != axis and x.shape[d] > 1]
    threads = _threads_for(x.size)
    if threads <= 1 or not other:
        run(*arrays)
        return
    d = other[0]
    ranges = _split(x.shape[d], min(_parts(x.size, threads), x.shape[d]))
    if len(ranges) == 1:
        run(*arrays)
        return

    def task(a: int, b: int) -> None:
        index = (slice(None),) * d + (slice(a, b),)
        run(*(arr[index] for arr in arrays))

    _on_threads(task, ranges, threads)


#: In-place row calls go through copies of pieces of about this many elements: a
#: gufunc whose output overlaps an input copies that input whole (NumPy's overlap
#: rule), which would be a temporary of x's size.
_ROW_PIECE = 1 << 15


def _pieces(arrays: Sequence[np.ndarray], axis: int, run: Callable[..., None]) -> None:
    """run(*arrays) with the output (last) written in place over the inputs: in
    slices along a dimension other than ``axis``, each input slice copied first."""
    out = arrays[-1]
    others = [d for d in range(out.ndim) if d != axis and out.shape[d] > 1]
    if not others:  # one row: its copy is the row's size
        run(*(np.array(a) for a in arrays[:-1]), out)
        return
    d = others[0]
    per = max(1, out.size // out.shape[d])
    step = max(1, _ROW_PIECE // per)
    for start in range(0, out.shape[d], step):
        index = (slice(None),) * d + (slice(start, start + step),)
        ins = [np.array(np.broadcast_to(a, out.shape)[index]) for a in arrays[:-1]]
        run(*ins, out[index])
        del ins  # before the next piece's copies: one piece alive at a time


def _overlaps(out: np.ndarray, inputs: Sequence[np.ndarray]) -> bool:
    return any(np.may_share_memory(out, a) for a in inputs)


def _merge(shape: Sequence[int], strides: Sequence[int]) -> tuple[int, int] | None:
    """(size, stride) of the dimensions ``shape`` as one dimension of a view, or None
    when their strides do not allow it without a copy."""
    dims = [(n, st) for n, st in zip(shape, strides, strict=True) if n != 1]
    size = 1
    for n, _ in dims:
        size *= n
    if not dims:
        return size, 0
    for (_, outer), (n, inner) in itertools.pairwise(dims):
        if outer != inner * n:
            return None
    return size, dims[-1][1]


def _batch_view(a: np.ndarray, axis: int, mode: str) -> np.ndarray | None:
    """a as a view (None if its strides do not allow one): "rows", (rows, n) with the
    axis last; "columns", (outer, n, inner) with the axis in the middle; "short",
    (1, n, rows): the rows as the columns of one block, for short rows."""
    shape, strides = a.shape, a.strides
    n, step = shape[axis], strides[axis]
    view = np.lib.stride_tricks.as_strided
    if mode == "columns":
        outer = _merge(shape[:axis], strides[:axis])
        inner = _merge(shape[axis + 1 :], strides[axis + 1 :])
        if outer is None or inner is None:
            return None
        return view(a, (outer[0], n, inner[0]), (outer[1], step, inner[1]), writeable=True)
    rows = _merge(shape[:axis] + shape[axis + 1 :], strides[:axis] + strides[axis + 1 :])
    if rows is None:
        return None
    if mode == "short":
        return view(a, (1, n, rows[0]), (0, step, rows[1]), writeable=True)
    return view(a, (rows[0], n), (rows[1], step), writeable=True)


def _same_view(out: np.ndarray, inputs: Sequence[np.ndarray]) -> bool:
    """out overlaps no input, or only as the very same elements (out is x, say)."""
    for a in inputs:
        if np.may_share_memory(out, a) and (
            a.__array_interface__["data"][0] != out.__array_interface__["data"][0]
            or a.strides != out.strides
            or a.shape != out.shape
        ):
            return False
    return True


#: Rows up to this length go to the columns kernel: its (n, tile) scratch stays
#: ~128 KiB (numba_rows._tile); longer rows are long enough to vectorise on their own.
_COLUMNS_MAX_N = 1 << 14
#: Rows up to this length, along the last axis, are batched as columns: a 10-element
#: row is 2.5 AVX2 vectors of float64, so a loop along it is mostly remainder.
_SHORT_ROW = 64


def _batched(arrays: Sequence[np.ndarray], axis: int, family: str, kind: int) -> bool:
    """Run the batched row kernel (one compiled call for many rows) on ``arrays``
    (inputs then out, all of out's shape) if their layouts allow views; False if not.

    Rows longer than _COLUMNS_MAX_N take the rows kernel (one scratch row, SIMD along
    the row); shorter ones with axes after the axis the columns kernel (SIMD across
    the rows; its scratch is bounded by numba_rows._tile); short rows along the last
    axis the columns kernel too, on a transposed view."""
    from fastact._kernels import numba_rows

    out = arrays[-1]
    axis %= out.ndim
    n = out.shape[axis]
    inner = 1
    for d in out.shape[axis + 1 :]:
        inner *= d
    if n > _COLUMNS_MAX_N:
        mode = "rows"
    elif inner > 1:
        mode = "columns"
    else:
        mode = "short" if n <= _SHORT_ROW and out.size > n else "rows"
    dtype = out.dtype.name
    if mode == "short" and all(a.flags.c_contiguous for a in arrays):
        # short rows of C-contiguous arrays: the flat batched kernels, as the fast path
        with np.errstate(all="ignore"):
            numba_rows.batched(f"short_{family}", dtype)(
                *(a.reshape(-1) for a in arrays[:-1]), kind, out.reshape(-1), n
            )
        return True
    views = [_batch_view(a, axis, mode) for a in arrays]
    if any(v is None for v in views):
        return False
    with np.errstate(all="ignore"):  # flags of discarded lanes (inf - inf)
        if mode == "rows":
            numba_rows.batched(f"rows_{family}", dtype)(*views[:-1], kind, views[-1])
        else:
            numba_rows.batched(f"cols_{family}", dtype)(
                *views[:-1], kind, views[-1], numba_rows._tile(n)
            )
    return True


def _one_row(gufunc: Any, kind: int) -> Kernel:
    def run(x: np.ndarray, out: np.ndarray, *, axis: int) -> None:
        def call(xs: np.ndarray, outs: np.ndarray) -> None:
            if xs.size and _same_view(outs, [xs]) and _batched([xs, outs], axis, "forward", kind):
                return
            with np.errstate(all="ignore"):  # flags of discarded lanes (inf - inf)
                gufunc(xs, kind, out=outs, axes=[(axis,), (), (axis,)])

        if _overlaps(out, [x]) and not _same_view(out, [x]):
            _pieces([x, out], axis, call)
        else:
            _row_split([x, out], axis, call)

    return run


def _jacobian_rows(gufunc: Any, kind: int) -> Kernel:
    def run(x: np.ndarray, out: np.ndarray, *, axis: int) -> None:
        with np.errstate(all="ignore"):
            gufunc(x, kind, out=out, axes=[(axis,), (), (axis, out.ndim - 1)])

    return run


def _two_rows(gufunc: Any, kind: int) -> Kernel:
    def run(grad: np.ndarray, v: np.ndarray, out: np.ndarray, *, axis: int) -> None:
        if grad.shape != out.shape:
            grad = np.broadcast_to(grad, out.shape)  # read-only: the kernels only read it

        def call(gs: np.ndarray, vs: np.ndarray, outs: np.ndarray) -> None:
            if (
                vs.size
                and _same_view(outs, [gs, vs])
                and _batched([gs, vs, outs], axis, "vjp", kind)
            ):
                return
            with np.errstate(all="ignore"):
                gufunc(gs, vs, kind, out=outs, axes=[(axis,), (axis,), (), (axis,)])

        if _overlaps(out, [grad, v]) and not _same_view(out, [grad, v]):
            _pieces([grad, v, out], axis, call)
        else:
            _row_split([grad, v, out], axis, call)

    return run


#: The loops' cfunc entries (numba_kernels' ``<name>_c_<sfx>``), compiled on first use.
_C_ENTRIES: dict[tuple[str, str], Any] = {}
_C_LOCK = threading.Lock()


def c_entry(name: str, sfx: str) -> Any | None:
    """The cfunc of loop ``name``'s raw-pointer entry ``<name>_c_<sfx>(args, n,
    params)`` (``void(void **, intp, double *)``: inputs then outputs, ``n`` elements
    each, the scalar parameters as float64), for the compiled fast path: a call
    through its address unboxes nothing (the loop's compiled entry point unboxes each
    array, ~1,500 of numba relu's 4,989 instructions a 100-element call, callgrind).
    Compiling one costs ~0.08 s, once: cached on disk like the loops. None when there
    is no such entry."""
    from fastact._kernels import numba_kernels

    function = getattr(numba_kernels, f"{name}_c_{sfx}", None)
    if function is None:
        return None
    key = (name, sfx)
    with _C_LOCK:
        found = _C_ENTRIES.get(key)
        if found is None:
            from numba import cfunc, types

            signature = types.void(
                types.CPointer(types.voidptr), types.intp, types.CPointer(types.float64)
            )
            # The loop it calls keeps its own options (error_model="numpy", ...); the
            # entry itself only indexes the pointer arrays.
            found = cfunc(signature, cache=True)(function)
            _C_ENTRIES[key] = found
    return found


def direct_loop(
    activation: str, method: str, dtype: np.dtype, params: Mapping[str, Any]
) -> tuple[Callable[..., None], tuple[float, ...], Any] | None:
    """The compiled fast path's entry (fastact._kernels._fastcall) for one plan: the
    generated scalar-parameter loop (its dispatcher), the parameter values, and the
    loop's cfunc entry (:func:`c_entry`), or None when the loop is not a dispatcher (a
    test's spy). The fast path calls the cfunc by address (else the loop on 1-D views)
    when the call stays on one thread (fewer than PARALLEL_MIN elements) -- what
    :func:`_elementwise`'s small-call branch does, without the kernel closure, the loop
    lookup, the parameter list and the unboxing of every call. None when the call needs
    the kernel (rrelu's training slopes, array parameters, param_grad, axis
    functions)."""
    sfx = _SERVED.get(np.dtype(dtype))
    if sfx is None or method.startswith("param_grad:") or lookup(activation).kind != "elementwise":
        return None
    if activation == "rrelu" and method != "backward_y" and params.get("training"):
        return None
    name_of = _kernel_name(activation, method)
    if name_of is None:
        return None
    values = tuple(param_values(real_params(activation), params))
    if not all(type(v) is float for v in values):
        return None
    name = name_of(params)
    found = _loops(name, sfx)
    if found is None:
        return None
    loop = found[0]
    is_dispatcher = hasattr(loop, "compile")  # not one: a test's spy, called as it is
    return loop, values, c_entry(name, sfx) if is_dispatcher else None


def direct_rows(activation: str, method: str, dtype: np.dtype) -> tuple[Any, int, int, int] | None:
    """The compiled fast path's entry (fastact._kernels._fastcall) for the axis
    functions: the cfunc of the batched kernels' family (numba_rows.raw_entry: raw
    pointers, the views made in compiled code), the kind of row, and the bounds
    _COLUMNS_MAX_N and _SHORT_ROW that choose between rows and columns as
    :func:`_batched` does. The fast path takes C-contiguous calls that stay on one
    thread (fewer than PARALLEL_MIN elements) with ``out`` either x itself or disjoint
    from the inputs. The general path's view making and layout checks cost ~15 us of a
    (10, 10) softmax (cProfile, 18 us a call); the dispatchers' entry points with views
    made in Python still ~1.9 of 2.4 us. None for glu and the Jacobians (results of
    another shape)."""
    from fastact._kernels import numba_rows

    sfx = _SERVED.get(np.dtype(dtype))
    if sfx is None or activation == "glu":
        return None
    if method not in ("forward", "backward_x", "backward_y"):
        return None
    name = f"{activation}_{method}"
    if name not in numba_rows.SIGNATURES:
        return None
    kind = numba_rows.SIGNATURES[name][1]
    family = "forward" if method == "forward" else "vjp"
    entry = numba_rows.raw_entry(family, np.dtype(dtype).name)
    return entry, kind, _COLUMNS_MAX_N, _SHORT_ROW


# ----------------------------------------------------------------------------- backend


class NumbaBackend:
    """The formulas compiled by numba (SIMD through vectorisable math, Python threads)."""

    name = "numba"
    # Below cython (100): slower than it for every activation measured here (README,
    # "Speed"), and its first call compiles (0.3-2 s per kernel, then cached on disk).
    priority = 50

    def __init__(self) -> None:
        self._kernels: dict[tuple[str, str, np.dtype], Kernel | None] = {}
        self._lock = threading.Lock()

    def available(self) -> bool:
        return importlib.util.find_spec("numba") is not None

    def kernel(self, activation: str, method: str, dtype: np.dtype) -> Kernel | None:
        sfx = _SERVED.get(np.dtype(dtype))
        if sfx is None:
            return None
        key = (activation, method, np.dtype(dtype))
        with self._lock:
            if key not in self._kernels:
                self._kernels[key] = self._build(activation, method, sfx)
            return self._kernels[key]

    def _build(self, activation: str, method: str, sfx: str) -> Kernel | None:
        if lookup(activation).kind == "axis":
            return _row_kernel(activation, method, "float32" if sfx == "f32" else "float64")
        return _elementwise_kernel(activation, method, sfx)


BACKEND = NumbaBackend()
