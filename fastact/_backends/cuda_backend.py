"""The CUDA backend: the formulas as ``numba.cuda`` kernels (package ``numba-cuda``).

Kernels take device arrays (numba's, or anything with ``__cuda_array_interface__``:
CuPy, torch) and leave their results on the device: one kernel launch per call, no
host round trip (:mod:`fastact._device` validates such calls). Host ndarrays work too
(``backend="cuda"``): they are copied to the device and the results back.

Elementwise kernels are the generated grid-stride loops of
:mod:`fastact._kernels.cuda_kernels` over flat arrays, so the operands must be
contiguous (C or Fortran, all the same) on the device; parameters are scalars or small
arrays read through a broadcast map; prelu's weight gradient is a per-weight-element
reduction (sequential per element: deterministic). The axis functions are
:mod:`fastact._kernels.cuda_rows` over C-contiguous arrays.

``"cuda"`` is available where numba finds a GPU, or under numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1`` set before numba is imported), which runs the same kernels
as Python threads: it checks indexing and logic, not GPU speed or GPU accuracy.
"""

from __future__ import annotations

import ctypes.util
import importlib.util
import math
import os
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from fastact._backends._shared import kernel_name, param_values, real_params
from fastact._backends.base import Kernel
from fastact._registry import lookup

__all__ = ["BACKEND", "CudaBackend"]

_SERVED = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}

#: Threads per block on a GPU, and the cap on blocks (a grid-stride loop covers the rest).
_BLOCK = 256
_MAX_BLOCKS = 4096
#: The simulator starts a Python thread per CUDA thread: one small block.
_SIM_BLOCK = 8


def _simulated() -> bool:
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def _cuda() -> Any:
    from numba import cuda

    return cuda


def is_device(a: Any) -> bool:
    return hasattr(a, "__cuda_array_interface__") or type(a).__name__ == "FakeCUDAArray"


def _launch(kernel: Any, work: int, *args: Any) -> None:
    if work <= 0:
        return
    if _simulated():
        # Device code runs as Python on NumPy scalars: arithmetic on discarded lanes
        # (inf * 0) would warn from the simulator's threads.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            kernel[1, min(_SIM_BLOCK, work)](*args)
        return
    blocks = min(_MAX_BLOCKS, -(-work // _BLOCK))
    kernel[blocks, _BLOCK](*args)


def _numba_view(a: Any) -> Any:
    """A numba device array viewing ``a``'s memory (CuPy arrays and torch CUDA
    tensors through ``__cuda_array_interface__``, no copy), so that reshape and the
    contiguity checks below work the same for every kind of device array."""
    if type(a).__name__ in ("DeviceNDArray", "FakeCUDAArray") or not hasattr(
        a, "__cuda_array_interface__"
    ):
        return a
    return _cuda().as_cuda_array(a)


class _Staging:
    """Device views of a kernel's operands: device arrays as they are, host arrays
    copied in (and the host outputs copied back by :meth:`finish`)."""

    def __init__(self) -> None:
        self._back: list[tuple[np.ndarray, Any]] = []

    def input(self, a: Any) -> Any:
        if is_device(a):
            return _numba_view(a)
        return _cuda().to_device(np.ascontiguousarray(a))

    def output(self, a: Any) -> Any:
        if is_device(a):
            return _numba_view(a)
        device = _cuda().device_array(a.shape, a.dtype)
        self._back.append((a, device))
        return device

    def finish(self) -> None:
        for host, device in self._back:
            host[...] = device.copy_to_host()


def _order(arrays: Sequence[Any]) -> str:
    """"C" or "F" when every device array is contiguous that way (flat views exist)."""
    if all(_contiguous(a, "C") for a in arrays):
        return "C"
    if all(_contiguous(a, "F") for a in arrays):
        return "F"
    raise ValueError(
        "the cuda backend needs device arrays that are all C-contiguous or all "
        "Fortran-contiguous (copy strided views first, e.g. with cupy.ascontiguousarray)"
    )


def _contiguous(a: Any, order: str) -> bool:
    if a.ndim <= 1:
        return True
    method = getattr(a, "is_c_contiguous" if order == "C" else "is_f_contiguous", None)
    if method is not None:
        return bool(method())
    flags = getattr(a, "flags", None)
    if flags is not None:
        return bool(flags["C_CONTIGUOUS" if order == "C" else "F_CONTIGUOUS"])
    return False


def _flat(a: Any, order: str) -> Any:
    n = math.prod(a.shape)
    return a.reshape(n, order=order) if a.ndim != 1 else a


def _broadcast_map(shape: tuple[int, ...], pshape: tuple[int, ...], order: str) -> list[Any]:
    """(div, mod, mul) so that a parameter of ``pshape`` (C-contiguous) is read at
    sum_d ((i // div[d]) % mod[d]) * mul[d] for the flat index i of x (``order``)."""
    ndim = len(shape)
    padded = (1,) * (ndim - len(pshape)) + tuple(pshape)
    div, mul = [], []
    for d in range(ndim):
        later = shape[d + 1 :] if order == "C" else shape[:d]
        div.append(math.prod(later))
        mul.append(math.prod(padded[d + 1 :]) if padded[d] != 1 else 0)
    cuda = _cuda()
    return [cuda.to_device(np.asarray(v, dtype=np.int64)) for v in (div, list(shape), mul)]


def _scalar(value: float, sfx: str) -> Any:
    return np.float32(value) if sfx == "f32" else np.float64(value)



def _kernels_module() -> Any:
    from fastact._kernels import cuda_kernels

    return cuda_kernels


def _broadcast_operand(value: Any, shape: tuple[int, ...], order: str, sfx: str,
                       argument: str) -> list[Any]:  # fmt: skip
    """A parameter array or the bias, flat on the device with its broadcast map onto
    x's flat index: device arrays as they are (C-contiguous), host ones copied."""
    if is_device(value):  # rrelu's slopes (x's shape) or a bias on the device
        view = _numba_view(value)
        if not _contiguous(view, "C"):
            raise ValueError(f"{argument} on the device must be C-contiguous for the cuda "
                             "backend")  # fmt: skip
        return [_flat(view, "C"), *_broadcast_map(shape, tuple(np.shape(view)), order)]
    dtype = np.float32 if sfx == "f32" else np.float64
    array = np.ascontiguousarray(np.asarray(value, dtype=dtype))
    return [_cuda().to_device(array.reshape(-1)), *_broadcast_map(shape, array.shape, order)]


def _run_elementwise(name: str, sfx: str, names: tuple[str, ...], inputs: Sequence[Any],
                     outputs: Sequence[Any], params: Mapping[str, Any],
                     bias: Any = None) -> None:  # fmt: skip
    """One generated loop over flat operands; with ``bias``, its fused form at
    x + bias (``<name>_sb_``/``_ab_``, the bias read through its broadcast map)."""
    module = _kernels_module()
    values = param_values(names, params)
    shape = tuple(outputs[0].shape)
    staging = _Staging()
    ins = [staging.input(np.broadcast_to(a, shape) if not is_device(a) else a) for a in inputs]
    outs = [staging.output(o) for o in outputs]
    order = _order([*ins, *outs])
    flat_ins = [_flat(a, order) for a in ins]
    flat_outs = [_flat(o, order) for o in outs]
    n = math.prod(shape)
    fused = "b" if bias is not None else ""
    bias_args = [] if bias is None else _broadcast_operand(bias, shape, order, sfx, "bias")
    if all(isinstance(v, float) for v in values):
        kernel = getattr(module, f"{name}_s{fused}_{sfx}")
        _launch(kernel, n, *flat_ins, *(_scalar(v, sfx) for v in values), *bias_args,
                *flat_outs)  # fmt: skip
    else:
        kernel = getattr(module, f"{name}_a{fused}_{sfx}")
        args: list[Any] = []
        for name_, v in zip(names, values, strict=True):
            args += _broadcast_operand(v, shape, order, sfx, name_)
        _launch(kernel, n, *flat_ins, *args, *bias_args, *flat_outs)
    staging.finish()


def _kernel_name(activation: str, method: str) -> Callable[[Mapping[str, Any]], str] | None:
    module = _kernels_module()
    return kernel_name(activation, method, module.KERNELS)


def _operands(arrays: Sequence[Any], nin: int, fused: bool) -> tuple[Any, Any, Any]:
    """A kernel call's (inputs, bias or None, outputs): the fused-bias forms take the
    bias right after the inputs."""
    if fused:
        return arrays[:nin], arrays[nin], arrays[nin + 1 :]
    return arrays[:nin], None, arrays[nin:]


#: The methods with a fused-bias form (``<method>_bias``: ``kernel(*inputs, bias,
#: *outputs, **params)``, computing at x + bias; see fastact/_bias.py).
_BIAS_FORMS = ("forward", "derivative", "value_and_derivative", "backward_x")


def _elementwise_kernel(activation: str, method: str, sfx: str) -> Kernel | None:
    names = real_params(activation)
    if method.startswith("param_grad:"):
        return _param_grad_kernel(activation, method.partition(":")[2], names, sfx)
    if method == "bias_grad":
        return _bias_grad_kernel(sfx)
    base, _, suffix = method.rpartition("_bias")
    fused = bool(base) and not suffix
    if fused and base not in _BIAS_FORMS:
        return None
    base = base if fused else method
    if activation == "rrelu":
        return _rrelu_kernel(base, sfx, fused)
    name_of = _kernel_name(activation, base)
    if name_of is None:
        return None
    nin = 2 if base.startswith("backward") else 1

    def kernel(*arrays: Any, **params: Any) -> None:
        ins, bias, outs = _operands(arrays, nin, fused)
        _run_elementwise(name_of(params), sfx, names, ins, outs, params, bias)

    return kernel


def _rrelu_kernel(method: str, sfx: str, fused: bool) -> Kernel | None:
    """rrelu: evaluation mode is a fixed slope (its generated kernels); training
    draws the slopes on the device (cuda_rows.rrelu_slopes) and runs prelu's (their
    fused-bias forms too: the slopes hash x's index, not its value)."""
    evaluation = _kernel_name("rrelu", method)
    if evaluation is None:
        return None
    nin = 2 if method.startswith("backward") else 1
    names = real_params("rrelu")

    def kernel(*arrays: Any, **params: Any) -> None:
        ins, bias, outs = _operands(arrays, nin, fused)
        if not params["training"]:
            _run_elementwise(evaluation(params), sfx, names, ins, outs, params, bias)
            return
        from fastact._kernels import cuda_rows, numba_rrelu

        lower, upper = params["lower"], params["upper"]
        shape = tuple(arrays[-1].shape)
        if not (isinstance(lower, float) and isinstance(upper, float)):
            from fastact._reference import rrelu_uniform

            dtype = np.float32 if sfx == "f32" else np.float64
            with np.errstate(all="ignore"):
                host = (lower + (upper - lower) * rrelu_uniform(params["seed"], shape))
            weight: Any = _cuda().to_device(np.ascontiguousarray(host.astype(dtype)))
        else:
            weight = _cuda().device_array(shape, np.float32 if sfx == "f32" else np.float64)
            _launch(cuda_rows.rrelu_slopes, math.prod(shape),
                    numba_rrelu.key_of(params["seed"]), lower, upper, sfx == "f32",
                    _flat(weight, "C"))  # fmt: skip
        _run_elementwise(f"prelu_{method}", sfx, ("weight",), ins, outs, {"weight": weight},
                         bias)  # fmt: skip

    return kernel


def _param_grad_kernel(activation: str, target: str, names: tuple[str, ...],
                       sfx: str) -> Kernel | None:  # fmt: skip
    module = _kernels_module()
    reduce = getattr(module, f"{activation}_param_factor_{target}_reduce_{sfx}", None)
    if reduce is None or names != (target,):
        return None

    def kernel(grad: Any, x: Any, out: Any, **params: Any) -> None:
        cuda = _cuda()
        dtype = np.float32 if sfx == "f32" else np.float64
        shape = tuple(x.shape)
        weight = np.ascontiguousarray(np.asarray(params[target], dtype=dtype))
        padded = (1,) * (len(shape) - weight.ndim) + weight.shape
        staging = _Staging()
        d_grad = staging.input(np.broadcast_to(grad, shape) if not is_device(grad) else grad)
        d_x = staging.input(x)
        if not all(_contiguous(a, "C") for a in (d_grad, d_x)):
            raise ValueError(f"{activation}'s {target} gradient on the cuda backend needs "
                             "C-contiguous grad and x")  # fmt: skip
        d_out = staging.output(out)
        flat_out = _flat(d_out, "C")
        _launch(reduce, max(1, weight.size), _flat(d_grad, "C"), _flat(d_x, "C"),
                cuda.to_device(weight.reshape(-1)), *_reduction_maps(shape, padded),
                flat_out)  # fmt: skip
        staging.finish()

    return kernel


def _reduction_maps(shape: tuple[int, ...], padded: tuple[int, ...]) -> list[Any]:
    """(red_shape, red_stride, par_shape, par_stride) on the device: the axes of a
    C-contiguous array of ``shape`` that a reduced operand of ``padded`` shape (x's
    ndim, 1 along the broadcast axes) sums over, and those it keeps."""
    cuda = _cuda()
    strides = [math.prod(shape[d + 1 :]) for d in range(len(shape))]
    par = [d for d in range(len(shape)) if padded[d] != 1]
    red = [d for d in range(len(shape)) if padded[d] == 1]

    def ints(values: list[int], empty: int) -> Any:
        # A dimensionless side is one dimension of length 1 (stride unused).
        return cuda.to_device(np.asarray(values or [empty], dtype=np.int64))

    return [ints([shape[d] for d in red], 1), ints([strides[d] for d in red], 0),
            ints([shape[d] for d in par], 1), ints([strides[d] for d in par], 0)]  # fmt: skip


def _bias_grad_kernel(sfx: str) -> Kernel:
    """``kernel(grad_x, out)``: the bias gradient, grad_x summed to out's shape over
    the axes along which the bias broadcast (cuda_rows.bias_grad_sum: one thread per
    bias element, float64, compensated, in C order: deterministic)."""

    def kernel(grad_x: Any, out: Any) -> None:
        from fastact._kernels import cuda_rows

        shape = tuple(grad_x.shape)
        padded = (1,) * (len(shape) - len(out.shape)) + tuple(out.shape)
        staging = _Staging()
        d_grad = staging.input(grad_x)
        d_out = staging.output(out)
        if not _contiguous(d_grad, "C") or not _contiguous(d_out, "C"):
            raise ValueError("the bias gradient on the cuda backend needs C-contiguous "
                             "grad_x and out")  # fmt: skip
        size = math.prod(out.shape)
        _launch(cuda_rows.bias_grad_sum, max(1, size), _flat(d_grad, "C"),
                *_reduction_maps(shape, padded), _flat(d_out, "C"))  # fmt: skip
        staging.finish()

    return kernel


# ----------------------------------------------------------------------------- rows


def _three(a: Any, axis: int) -> Any:
    """a (C-contiguous) as (outer, n, inner) around ``axis``: a free reshape."""
    shape = tuple(a.shape)
    return a.reshape(math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :]))


def _row_kernel(activation: str, method: str, sfx: str) -> Kernel | None:
    from fastact._kernels import cuda_rows

    family = ("softmax", "log_softmax", "softmin")
    one = _scalar(1.0, sfx)

    def staged(run: Callable[..., None], nin: int) -> Kernel:
        def kernel(*arrays: Any, axis: int) -> None:
            if math.prod(arrays[0].shape) == 0:  # empty rows: nothing to write
                return
            staging = _Staging()
            ins = [staging.input(a) for a in arrays[:nin]]
            outs = [staging.output(o) for o in arrays[nin:]]
            if not all(_contiguous(a, "C") for a in (*ins, *outs)):
                raise ValueError("the cuda backend's axis functions need C-contiguous "
                                 "device arrays")  # fmt: skip
            run(*ins, *outs, axis=axis)
            staging.finish()

        return kernel

    if activation in family:
        kind = family.index(activation)

        def forward(x: Any, y: Any, *, axis: int) -> None:
            x3 = _three(x, axis)
            _launch(cuda_rows.softmax_forward, x3.shape[0] * x3.shape[2], x3, kind, one,
                    _three(y, axis))  # fmt: skip

        def jacobian(x: Any, jac: Any, *, axis: int) -> None:
            x3 = _three(x, axis)
            j4 = jac.reshape(x3.shape[0], x3.shape[1], x3.shape[2], x3.shape[1])
            _launch(cuda_rows.softmax_jacobian, x3.shape[0] * x3.shape[2], x3, kind, one, j4)

        def vjp(offset: int) -> Callable[..., None]:
            def run(g: Any, v: Any, out: Any, *, axis: int) -> None:
                v3 = _three(v, axis)
                _launch(cuda_rows.softmax_vjp, v3.shape[0] * v3.shape[2], _three(g, axis),
                        v3, kind + offset, one, _three(out, axis))  # fmt: skip

            return run

        table: dict[str, tuple[Callable[..., None], int]] = {
            "forward": (forward, 1),
            "derivative": (jacobian, 1),
            "backward_y": (vjp(0), 2),
            "backward_x": (vjp(3), 2),
        }
    elif activation == "glu":

        def forward(x: Any, y: Any, *, axis: int) -> None:
            y3 = _three(y, axis)
            _launch(cuda_rows.glu_forward, math.prod(y3.shape), _three(x, axis), one, y3)

        def jacobian(x: Any, jac: Any, *, axis: int) -> None:
            x3 = _three(x, axis)
            m = x3.shape[1] // 2
            j4 = jac.reshape(x3.shape[0], m, x3.shape[2], x3.shape[1])
            _launch(cuda_rows.glu_jacobian, x3.shape[0] * m * x3.shape[2], x3, one, j4)

        def backward(g: Any, x: Any, out: Any, *, axis: int) -> None:
            g3 = _three(g, axis)
            _launch(cuda_rows.glu_backward_x, math.prod(g3.shape), g3, _three(x, axis), one,
                    _three(out, axis))  # fmt: skip

        table = {"forward": (forward, 1), "derivative": (jacobian, 1), "backward_x": (backward, 2)}
    else:
        return None
    if method == "value_and_derivative":
        fwd, jac = staged(table["forward"][0], 1), staged(table["derivative"][0], 1)

        def both(x: Any, out_y: Any, out_d: Any, *, axis: int) -> None:
            jac(x, out_d, axis=axis)  # first: out_y may be x itself
            fwd(x, out_y, axis=axis)

        return both
    found = table.get(method)
    if found is None:
        return None
    run, nin = found
    return staged(run, nin)


# ----------------------------------------------------------------------------- backend


class CudaBackend:
    """numba.cuda kernels for device arrays (and host arrays, copied)."""

    name = "cuda"
    # Never chosen by "auto" for host arrays: a round trip to the device loses to
    # every CPU backend. Device arrays are sent here by fastact._device.
    priority = -10

    def __init__(self) -> None:
        self._kernels: dict[tuple[str, str, np.dtype], Kernel | None] = {}
        self._lock = threading.Lock()

    def available(self) -> bool:
        if importlib.util.find_spec("numba") is None:
            return False
        if _simulated():
            return True
        if importlib.util.find_spec("numba_cuda") is None:
            return False
        # Without a CUDA driver library there is no GPU: answer without importing
        # numba.cuda (1.5 s here), which every process would pay on its first call.
        if ctypes.util.find_library("cuda") is None:
            return False
        try:
            return bool(_cuda().is_available())
        except Exception:  # a driver that fails to load: no GPU here
            return False

    def kernel(self, activation: str, method: str, dtype: np.dtype) -> Kernel | None:
        sfx = _SERVED.get(np.dtype(dtype))
        if sfx is None:
            return None
        key = (activation, method, np.dtype(dtype))
        with self._lock:
            if key not in self._kernels:
                if lookup(activation).kind == "axis":
                    self._kernels[key] = _row_kernel(activation, method, sfx)
                else:
                    self._kernels[key] = _elementwise_kernel(activation, method, sfx)
            return self._kernels[key]


BACKEND = CudaBackend()
