"""The one table of baselines: what a user would write instead of fastact.

For every activation of the registry (:data:`BASELINES`, keyed by registry name):

* ``numpy_forward(x, **params)``: the NumPy formula of the tutorials, e.g.
  ``1/(1+np.exp(-x))`` for sigmoid or ``0.5*x*(1+erf(x/sqrt(2)))`` with SciPy's erf
  for exact gelu. These are the forms whose tails lose every digit (README,
  "Accuracy"); they are here for their speed, and hold only on moderate inputs.
* ``numpy_backward(grad, x, **params)``: grad times the tutorial derivative formula
  (for the axis functions, the vector-Jacobian product).
* ``torch_forward(x, **params)``: the ``torch.nn.functional`` function (or the
  expression a PyTorch user writes where there is none, e.g. squareplus); its
  backward is timed through autograd. Only when ``import torch`` works:
  :func:`torch_module` returns None otherwise and everything here still imports.

``params`` are every parameter of the activation, as :func:`bench_params` gives
them: the registry's defaults, and its ``example_kwargs`` for the required ones.
Formulas use Python floats for constants so that float32 stays float32 (NEP 50).
Nothing else in fastact lists activations: asv, pytest-benchmark and ``fastact
bench`` all read this table, and a test checks that it covers exactly the registry.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Final

import numpy as np
from scipy.special import erf

from fastact._registry import SELU_ALPHA, SELU_SCALE, ActivationSpec

__all__ = ["BASELINES", "Baseline", "bench_params", "torch_module"]

Array = np.ndarray

_SQRT_2: Final = math.sqrt(2.0)
_SQRT_2_OVER_PI: Final = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI: Final = 1.0 / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Baseline:
    """The NumPy formula and the PyTorch function of one activation."""

    name: str
    #: The forward as a user writes it (shown by ``fastact bench`` and in the docs).
    numpy_source: str
    numpy_forward: Callable[..., Array]
    numpy_backward: Callable[..., Array]
    #: ``(x_tensor, **params) -> tensor``; needs torch (see :func:`torch_module`).
    torch_forward: Callable[..., Any]


@functools.cache
def torch_module() -> ModuleType | None:
    """``torch`` if it imports here, else None (torch is optional everywhere)."""
    try:
        import torch
    except Exception:  # ImportError, or a broken install (missing shared libraries)
        return None
    return torch


def bench_params(spec: ActivationSpec) -> dict[str, Any]:
    """Every parameter of ``spec``: the defaults, and example values where required."""
    return {
        p.name: spec.example_kwargs[p.name] if p.required else p.default for p in spec.params
    }


def _F() -> Any:
    torch = torch_module()
    if torch is None:
        raise ImportError("the PyTorch baselines need torch")
    return torch.nn.functional


def _torch() -> Any:
    torch = torch_module()
    if torch is None:
        raise ImportError("the PyTorch baselines need torch")
    return torch


# --------------------------------------------------------------------- NumPy formulas


def _sigmoid(x: Array) -> Array:
    return 1 / (1 + np.exp(-x))


def _sigmoid_b(grad: Array, x: Array) -> Array:
    s = 1 / (1 + np.exp(-x))
    return grad * s * (1 - s)


def _log_sigmoid(x: Array) -> Array:
    return -np.log(1 + np.exp(-x))


def _log_sigmoid_b(grad: Array, x: Array) -> Array:
    return grad / (1 + np.exp(x))


def _tanh(x: Array) -> Array:
    return np.tanh(x)


def _tanh_b(grad: Array, x: Array) -> Array:
    return grad * (1 - np.tanh(x) ** 2)


def _relu(x: Array) -> Array:
    return np.maximum(x, 0)


def _relu_b(grad: Array, x: Array) -> Array:
    return grad * (x > 0)


def _relu6(x: Array) -> Array:
    return np.minimum(np.maximum(x, 0), 6)


def _relu6_b(grad: Array, x: Array) -> Array:
    return grad * ((x > 0) & (x < 6))


def _leaky_relu(x: Array, negative_slope: float) -> Array:
    return np.where(x > 0, x, negative_slope * x)


def _leaky_relu_b(grad: Array, x: Array, negative_slope: float) -> Array:
    return grad * np.where(x > 0, 1.0, negative_slope).astype(x.dtype)


def _prelu(x: Array, weight: float) -> Array:
    return np.where(x > 0, x, weight * x)


def _prelu_b(grad: Array, x: Array, weight: float) -> Array:
    return grad * np.where(x > 0, 1.0, weight).astype(x.dtype)


def _rrelu_slope(lower: float, upper: float, training: bool) -> float:
    # The evaluation-mode slope; the tutorials' training mode draws from np.random,
    # which no fastact result can be compared with.
    if training:
        raise NotImplementedError("the NumPy rrelu baseline is the evaluation mode")
    return (lower + upper) / 2


def _rrelu(x: Array, lower: float, upper: float, training: bool, seed: int | None) -> Array:
    slope = _rrelu_slope(lower, upper, training)
    return np.where(x > 0, x, slope * x)


def _rrelu_b(
    grad: Array, x: Array, lower: float, upper: float, training: bool, seed: int | None
) -> Array:
    slope = _rrelu_slope(lower, upper, training)
    return grad * np.where(x > 0, 1.0, slope).astype(x.dtype)


def _elu(x: Array, alpha: float) -> Array:
    return np.where(x > 0, x, alpha * (np.exp(x) - 1))


def _elu_b(grad: Array, x: Array, alpha: float) -> Array:
    return grad * np.where(x > 0, 1, alpha * np.exp(x))


def _selu(x: Array) -> Array:
    return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * (np.exp(x) - 1))


def _selu_b(grad: Array, x: Array) -> Array:
    return grad * SELU_SCALE * np.where(x > 0, 1, SELU_ALPHA * np.exp(x))


def _celu(x: Array, alpha: float) -> Array:
    return np.maximum(0, x) + np.minimum(0, alpha * (np.exp(x / alpha) - 1))


def _celu_b(grad: Array, x: Array, alpha: float) -> Array:
    return grad * np.where(x > 0, 1, np.exp(x / alpha))


def _gelu(x: Array, approximate: str) -> Array:
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + erf(x / _SQRT_2))


def _gelu_b(grad: Array, x: Array, approximate: str) -> Array:
    if approximate == "tanh":
        t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3))
        dt = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x**2) * (1 - t**2)
        return grad * (0.5 * (1 + t) + 0.5 * x * dt)
    return grad * (0.5 * (1 + erf(x / _SQRT_2)) + x * np.exp(-0.5 * x**2) * _INV_SQRT_2PI)


def _silu(x: Array, beta: float) -> Array:
    return x / (1 + np.exp(-beta * x))


def _silu_b(grad: Array, x: Array, beta: float) -> Array:
    s = 1 / (1 + np.exp(-beta * x))
    return grad * s * (1 + beta * x * (1 - s))


def _mish(x: Array) -> Array:
    return x * np.tanh(np.log(1 + np.exp(x)))


def _mish_b(grad: Array, x: Array) -> Array:
    t = np.tanh(np.log(1 + np.exp(x)))
    return grad * (t + x * (1 - t**2) / (1 + np.exp(-x)))


def _softplus(x: Array, beta: float, threshold: float | None) -> Array:
    y = np.log(1 + np.exp(beta * x)) / beta
    return y if threshold is None else np.where(beta * x > threshold, x, y)


def _softplus_b(grad: Array, x: Array, beta: float, threshold: float | None) -> Array:
    d = 1 / (1 + np.exp(-beta * x))
    return grad * (d if threshold is None else np.where(beta * x > threshold, 1, d))


def _softsign(x: Array) -> Array:
    return x / (1 + np.abs(x))


def _softsign_b(grad: Array, x: Array) -> Array:
    return grad / (1 + np.abs(x)) ** 2


def _hardsigmoid(x: Array, slope: float, offset: float) -> Array:
    return np.clip(slope * x + offset, 0, 1)


def _hardsigmoid_b(grad: Array, x: Array, slope: float, offset: float) -> Array:
    z = slope * x + offset
    return grad * np.where((z > 0) & (z < 1), slope, 0.0).astype(x.dtype)


def _hardswish(x: Array) -> Array:
    return x * np.clip(x + 3, 0, 6) / 6


def _hardswish_b(grad: Array, x: Array) -> Array:
    return grad * np.where(x <= -3, 0, np.where(x >= 3, 1, x / 3 + 0.5))


def _hardtanh(x: Array, min_val: float, max_val: float) -> Array:
    return np.clip(x, min_val, max_val)


def _hardtanh_b(grad: Array, x: Array, min_val: float, max_val: float) -> Array:
    return grad * ((x > min_val) & (x < max_val))


def _tanhshrink(x: Array) -> Array:
    return x - np.tanh(x)


def _tanhshrink_b(grad: Array, x: Array) -> Array:
    return grad * np.tanh(x) ** 2


def _softshrink(x: Array, lambd: float) -> Array:
    return np.where(x > lambd, x - lambd, np.where(x < -lambd, x + lambd, 0))


def _shrink_b(grad: Array, x: Array, lambd: float) -> Array:
    return grad * (np.abs(x) > lambd)


def _hardshrink(x: Array, lambd: float) -> Array:
    return np.where(np.abs(x) > lambd, x, 0)


def _threshold(x: Array, threshold: float, value: float) -> Array:
    return np.where(x > threshold, x, value).astype(x.dtype)


def _threshold_b(grad: Array, x: Array, threshold: float, value: float) -> Array:
    return grad * (x > threshold)


def _squareplus(x: Array, b: float) -> Array:
    return (x + np.sqrt(x * x + b)) / 2


def _squareplus_b(grad: Array, x: Array, b: float) -> Array:
    return grad * (1 + x / np.sqrt(x * x + b)) / 2


def _clipped_linear(x: Array, slope: float, offset: float, min_val: float, max_val: float) -> Array:
    return np.clip(slope * x + offset, min_val, max_val)


def _clipped_linear_b(
    grad: Array, x: Array, slope: float, offset: float, min_val: float, max_val: float
) -> Array:
    z = slope * x + offset
    return grad * np.where((z > min_val) & (z < max_val), slope, 0.0).astype(x.dtype)


def _thinc_hard_swish(x: Array) -> Array:
    return x * np.clip(0.2 * x + 0.5, 0, 1)


def _thinc_hard_swish_b(grad: Array, x: Array) -> Array:
    return grad * np.where(x <= -2.5, 0, np.where(x >= 2.5, 1, 0.4 * x + 0.5))


def _dish(x: Array) -> Array:
    return 0.5 * x * (1 + x / np.sqrt(1 + x * x))


def _dish_b(grad: Array, x: Array) -> Array:
    s = np.sqrt(1 + x * x)
    return grad * (0.5 + x / s - 0.5 * x**3 / s**3)


def _erf(x: Array) -> Array:
    from scipy import special

    return special.erf(x)


def _erf_b(grad: Array, x: Array) -> Array:
    return grad * (1.1283791670955126 * np.exp(-x * x))  # 2/sqrt(pi), a Python float


def _exponential(x: Array) -> Array:
    return np.exp(x)


def _exponential_b(grad: Array, x: Array) -> Array:
    return grad * np.exp(x)


def _linear(x: Array) -> Array:
    return x.copy()


def _linear_b(grad: Array, x: Array) -> Array:
    return grad * np.ones_like(x)


def _softmax(x: Array, axis: int) -> Array:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _softmax_b(grad: Array, x: Array, axis: int) -> Array:
    y = _softmax(x, axis)
    return y * (grad - (grad * y).sum(axis=axis, keepdims=True))


def _log_softmax(x: Array, axis: int) -> Array:
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _log_softmax_b(grad: Array, x: Array, axis: int) -> Array:
    return grad - _softmax(x, axis) * grad.sum(axis=axis, keepdims=True)


def _softmin(x: Array, axis: int) -> Array:
    return _softmax(-x, axis)


def _softmin_b(grad: Array, x: Array, axis: int) -> Array:
    y = _softmax(-x, axis)
    return -y * (grad - (grad * y).sum(axis=axis, keepdims=True))


def _glu(x: Array, axis: int) -> Array:
    a, b = np.split(x, 2, axis=axis)
    return a / (1 + np.exp(-b))


def _glu_b(grad: Array, x: Array, axis: int) -> Array:
    a, b = np.split(x, 2, axis=axis)
    s = 1 / (1 + np.exp(-b))
    return np.concatenate([grad * s, grad * a * s * (1 - s)], axis=axis)


# ------------------------------------------------------------------------ PyTorch


def _t_prelu(x: Any, weight: float) -> Any:
    return _F().prelu(x, _torch().full((1,), weight, dtype=x.dtype))


def _t_rrelu(x: Any, lower: float, upper: float, training: bool, seed: int | None) -> Any:
    # Seeded per-element slopes are fastact's own; PyTorch's training mode draws from
    # its global generator, so only the evaluation mode is comparable.
    return _F().rrelu(x, lower, upper, training=False)


def _t_silu(x: Any, beta: float) -> Any:
    return _F().silu(x) if beta == 1 else x * _torch().sigmoid(beta * x)


def _t_softplus(x: Any, beta: float, threshold: float | None) -> Any:
    # PyTorch always has a linear region; threshold=None (exact everywhere) has no
    # counterpart, so its default 20 stands in.
    return _F().softplus(x, beta=beta, threshold=20.0 if threshold is None else threshold)


def _t_hardsigmoid(x: Any, slope: float, offset: float) -> Any:
    if slope == 1 / 6 and offset == 0.5:
        return _F().hardsigmoid(x)
    return _torch().clamp(slope * x + offset, 0, 1)


def _entry(
    name: str,
    source: str,
    forward: Callable[..., Array],
    backward: Callable[..., Array],
    torch_forward: Callable[..., Any],
) -> tuple[str, Baseline]:
    return name, Baseline(name, source, forward, backward, torch_forward)


#: Registry name -> baselines; covers exactly the registry (tests/test_baselines.py).
BASELINES: Final[Mapping[str, Baseline]] = dict(
    [
        _entry("sigmoid", "1/(1+np.exp(-x))", _sigmoid, _sigmoid_b,
               lambda x: _torch().sigmoid(x)),
        _entry("log_sigmoid", "-np.log(1+np.exp(-x))", _log_sigmoid, _log_sigmoid_b,
               lambda x: _F().logsigmoid(x)),
        _entry("tanh", "np.tanh(x)", _tanh, _tanh_b, lambda x: _torch().tanh(x)),
        _entry("relu", "np.maximum(x, 0)", _relu, _relu_b, lambda x: _F().relu(x)),
        _entry("relu6", "np.minimum(np.maximum(x, 0), 6)", _relu6, _relu6_b,
               lambda x: _F().relu6(x)),
        _entry("leaky_relu", "np.where(x > 0, x, negative_slope*x)", _leaky_relu,
               _leaky_relu_b, lambda x, negative_slope: _F().leaky_relu(x, negative_slope)),
        _entry("prelu", "np.where(x > 0, x, weight*x)", _prelu, _prelu_b, _t_prelu),
        _entry("rrelu", "np.where(x > 0, x, (lower+upper)/2*x)", _rrelu, _rrelu_b, _t_rrelu),
        _entry("elu", "np.where(x > 0, x, alpha*(np.exp(x)-1))", _elu, _elu_b,
               lambda x, alpha: _F().elu(x, alpha)),
        _entry("selu", "scale*np.where(x > 0, x, alpha*(np.exp(x)-1))", _selu, _selu_b,
               lambda x: _F().selu(x)),
        _entry("celu", "np.maximum(0, x)+np.minimum(0, alpha*(np.exp(x/alpha)-1))", _celu,
               _celu_b, lambda x, alpha: _F().celu(x, alpha)),
        _entry("gelu", "0.5*x*(1+scipy.special.erf(x/np.sqrt(2)))", _gelu, _gelu_b,
               lambda x, approximate: _F().gelu(x, approximate=approximate)),
        _entry("silu", "x/(1+np.exp(-beta*x))", _silu, _silu_b, _t_silu),
        _entry("mish", "x*np.tanh(np.log(1+np.exp(x)))", _mish, _mish_b,
               lambda x: _F().mish(x)),
        _entry("softplus", "np.log(1+np.exp(beta*x))/beta", _softplus, _softplus_b,
               _t_softplus),
        _entry("softsign", "x/(1+np.abs(x))", _softsign, _softsign_b,
               lambda x: _F().softsign(x)),
        _entry("hardsigmoid", "np.clip(slope*x+offset, 0, 1)", _hardsigmoid, _hardsigmoid_b,
               _t_hardsigmoid),
        _entry("hardswish", "x*np.clip(x+3, 0, 6)/6", _hardswish, _hardswish_b,
               lambda x: _F().hardswish(x)),
        _entry("hardtanh", "np.clip(x, min_val, max_val)", _hardtanh, _hardtanh_b,
               lambda x, min_val, max_val: _F().hardtanh(x, min_val, max_val)),
        _entry("tanhshrink", "x-np.tanh(x)", _tanhshrink, _tanhshrink_b,
               lambda x: _F().tanhshrink(x)),
        _entry("softshrink", "np.where(x > l, x-l, np.where(x < -l, x+l, 0))", _softshrink,
               _shrink_b, lambda x, lambd: _F().softshrink(x, lambd)),
        _entry("hardshrink", "np.where(np.abs(x) > l, x, 0)", _hardshrink, _shrink_b,
               lambda x, lambd: _F().hardshrink(x, lambd)),
        _entry("threshold", "np.where(x > threshold, x, value)", _threshold, _threshold_b,
               lambda x, threshold, value: _F().threshold(x, threshold, value)),
        _entry("squareplus", "(x+np.sqrt(x*x+b))/2", _squareplus, _squareplus_b,
               lambda x, b: (x + _torch().sqrt(x * x + b)) / 2),
        _entry("clipped_linear", "np.clip(slope*x+offset, min_val, max_val)", _clipped_linear,
               _clipped_linear_b,
               lambda x, slope, offset, min_val, max_val: _torch().clamp(
                   slope * x + offset, min_val, max_val)),
        _entry("thinc_hard_swish", "x*np.clip(0.2*x+0.5, 0, 1)", _thinc_hard_swish,
               _thinc_hard_swish_b, lambda x: x * _torch().clamp(0.2 * x + 0.5, 0, 1)),
        _entry("dish", "0.5*x*(1+x/np.sqrt(1+x*x))", _dish, _dish_b,
               lambda x: 0.5 * x * (1 + x / _torch().sqrt(1 + x * x))),
        _entry("erf", "scipy.special.erf(x)", _erf, _erf_b,
               lambda x: _torch().special.erf(x)),
        _entry("exponential", "np.exp(x)", _exponential, _exponential_b,
               lambda x: _torch().exp(x)),
        _entry("linear", "x.copy()", _linear, _linear_b, lambda x: x.clone()),
        _entry("softmax", "e = np.exp(x-x.max(axis)); e/e.sum(axis)", _softmax, _softmax_b,
               lambda x, axis: _F().softmax(x, dim=axis)),
        _entry("log_softmax", "x-m-np.log(np.exp(x-m).sum(axis))", _log_softmax,
               _log_softmax_b, lambda x, axis: _F().log_softmax(x, dim=axis)),
        _entry("softmin", "softmax(-x)", _softmin, _softmin_b,
               lambda x, axis: _F().softmin(x, dim=axis)),
        _entry("glu", "a, b = np.split(x, 2, axis); a/(1+np.exp(-b))", _glu, _glu_b,
               lambda x, axis: _F().glu(x, dim=axis)),
    ]
)

