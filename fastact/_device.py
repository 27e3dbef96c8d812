"""Calls on CUDA device arrays: validated here, computed by the ``"cuda"`` backend,
results left on the device. ``bias=`` (a device array of x's dtype, or a host array,
cast and copied) runs the backend's fused kernels, as :mod:`fastact._bias` does on
the host (:func:`_run_with_bias`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fastact import _dispatch
from fastact import _validate as V

__all__ = ["call", "is_device_array"]

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def is_device_array(value: Any) -> bool:
    """Whether ``value`` lives on a CUDA device: it exposes
    ``__cuda_array_interface__`` (numba, CuPy, torch) or is a device array of
    numba's CUDA simulator (which does not expose it)."""
    return hasattr(value, "__cuda_array_interface__") or (
        type(value).__name__ == "FakeCUDAArray"
    )


def _host_param(value: Any) -> Any:
    """A parameter given as a device array, on the host (parameters are small)."""
    if is_device_array(value):
        return value.copy_to_host() if hasattr(value, "copy_to_host") else np.asarray(value)
    return value


def _check_device(value: Any, argument: str) -> Any:
    if not is_device_array(value):
        raise TypeError(
            f"{argument} is on the host while another argument is a CUDA device array; "
            "move both to the device (numba.cuda.to_device, cupy.asarray)"
        )
    dtype = np.dtype(value.dtype)
    if dtype not in (_F32, _F64):
        raise TypeError(
            f"{argument} is a device array of dtype {dtype}; the cuda backend computes "
            "float32 and float64 device arrays"
        )
    return value


def call(
    activation: Any,
    method: str,
    arrays: Mapping[str, Any],
    args: tuple[Any, ...],
    params: Mapping[str, Any],
    out: Any,
    backend: str | None,
) -> Any:
    """Run ``activation``'s ``method`` on device arrays (see :func:`_interop.intercept`):
    validated like a host call (:mod:`fastact._validate`), computed by the ``"cuda"``
    backend, results (new device arrays, or ``out``) left on the device."""
    spec = activation.spec
    if "cuda" not in _dispatch.available_backends():
        raise NotImplementedError(
            f"{spec.name}: a CUDA device array was passed, and no backend here serves "
            f"device arrays (available: {', '.join(_dispatch.available_backends())}); "
            "install fastact[cuda] on a machine with a GPU"
        )
    requested = _dispatch.current_backend() if backend is None else backend
    if requested not in ("auto", "cuda"):
        raise ValueError(
            f"{spec.name}: device arrays run on the 'cuda' backend, not {requested!r}"
        )
    params = dict(params)
    bias = params.pop("bias", None)  # an input of every elementwise method, not a parameter
    raw = V.bind(spec, args, {k: _host_param(v) for k, v in params.items()})
    main_name = "y" if method == "backward_y" else "x"
    main = _check_device(arrays[main_name], main_name)
    dtype = np.dtype(main.dtype)
    shape = tuple(main.shape)
    plan = V.plan(spec, method, raw, dtype, shape, "cuda")
    checked = plan.params
    y_shape, shapes = V.result_shapes(spec, method, shape, checked, raw)
    grad = None
    if "grad" in arrays:
        grad = _check_device(arrays["grad"], "grad")
        if tuple(grad.shape) != y_shape or np.dtype(grad.dtype) != dtype:
            raise ValueError(
                f"{spec.name}.backward: grad on the device must have the output's shape "
                f"{y_shape} and dtype {dtype}, got {tuple(grad.shape)} {np.dtype(grad.dtype)}"
            )
    backward = method in ("backward_x", "backward_y")
    device_bias = None
    if bias is not None:
        device_bias = _device_bias(spec, bias, dtype, shape)
        if backward:  # the bias gradient comes last, in the bias's shape
            shapes = [*shapes, tuple(device_bias.shape)]
    outs = _device_outs(out, shapes, dtype)
    kernels = plan.kernels
    from numba import cuda

    targets = [
        cuda.device_array(s, dtype) if o is None else o
        for o, s in zip(outs, shapes, strict=True)
    ]
    inputs = [main] if grad is None else [grad, main]
    if device_bias is not None:
        _run_with_bias(spec, method, kernels, inputs, device_bias, targets, checked, dtype)
    elif method == "value_and_derivative":
        kernels[0](*inputs, *targets, **checked)
    else:
        for kernel, target in reversed(list(zip(kernels, targets, strict=True))):
            kernel(*inputs, target, **checked)
    return targets[0] if len(targets) == 1 else tuple(targets)


def _device_bias(spec: Any, bias: Any, dtype: np.dtype, shape: tuple[int, ...]) -> Any:
    """``bias=`` on the device: a device array as it is (x's dtype, so that nothing is
    cast on the device), a host one validated, cast and copied (it is small: a layer's
    (features,))."""
    from numba import cuda

    if not is_device_array(bias):
        host = V.bias_input(spec, bias, dtype, shape)
        return cuda.to_device(np.require(host, requirements="C"))  # 0-d stays 0-d
    V.check_bias(spec, np.dtype(bias.dtype), tuple(bias.shape), dtype, shape)
    if np.dtype(bias.dtype) != dtype:
        raise TypeError(
            f"{spec.name}: bias on the device has dtype {np.dtype(bias.dtype)}; it must have "
            f"x's dtype {dtype} (or pass it from the host, where it is cast)"
        )
    return bias


def _run_with_bias(
    spec: Any,
    method: str,
    kernels: list[Any],
    inputs: list[Any],
    bias: Any,
    targets: list[Any],
    params: Mapping[str, Any],
    dtype: np.dtype,
) -> None:
    """``method`` at x + bias on the device (as fastact._bias does on the host): the
    backend's fused kernels (the bias read through its broadcast map, no temporary);
    from y the plain kernel (f'(y) does not see the bias); prelu's weight gradient,
    which sums over all of x, from x + bias formed once. The bias gradient last, from
    grad_x on the device."""
    backward = method in ("backward_x", "backward_y")
    outs = targets[:-1] if backward else targets
    if method == "backward_y":
        kernels[0](*inputs, outs[0], **params)
    elif method == "backward_x" and spec.param_grads:
        summed = _dispatch.kernel_of("cuda", "linear", "forward_bias", dtype)
        assert summed is not None
        from numba import cuda

        z = cuda.device_array(tuple(inputs[-1].shape), dtype)
        summed(inputs[-1], bias, z)
        for kernel, target in reversed(list(zip(kernels, outs, strict=True))):
            kernel(inputs[0], z, target, **params)
    else:
        fused = _dispatch.kernel_of("cuda", spec.name, f"{method}_bias", dtype)
        assert fused is not None  # every elementwise kernel has its fused form
        fused(*inputs, bias, *outs, **params)
    if backward:
        reduce = _dispatch.kernel_of("cuda", spec.name, "bias_grad", dtype)
        assert reduce is not None
        reduce(outs[0], targets[-1])


def _device_outs(out: Any, shapes: list[tuple[int, ...]], dtype: np.dtype) -> list[Any]:
    if isinstance(out, tuple) and len(shapes) == 1 and len(out) == 1:
        out = out[0]
    given = [out] if len(shapes) == 1 else (list(out) if out is not None else [None] * len(shapes))
    if len(given) != len(shapes):
        raise ValueError(f"out must have {len(shapes)} entries here, got {len(given)}")
    checked = []
    for i, (o, s) in enumerate(zip(given, shapes, strict=True)):
        name = "out" if len(shapes) == 1 else f"out[{i}]"
        if o is not None:
            if not is_device_array(o):
                raise TypeError(f"{name} must be a device array when the input is one")
            if tuple(o.shape) != tuple(s) or np.dtype(o.dtype) != dtype:
                raise ValueError(
                    f"{name} has shape {tuple(o.shape)} and dtype {np.dtype(o.dtype)}; the "
                    f"result has shape {tuple(s)} and dtype {dtype}"
                )
        checked.append(o)
    return checked
