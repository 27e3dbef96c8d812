"""The contract's conventions at kinks and non-finite inputs, for every activation.

The kink values are written here from the contract (API.md), not computed: they are
conventions, not mathematics an oracle could derive.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

import fastact as fa
from conftest import ALONG_AXIS, DTYPES, ELEMENTWISE, example_params, strict_floating_point

# The constants of API.md, as decimal text: the exact product, rounded once.
SELU_ALPHA_TEXT = "1.6732632423543772848170429916717"
SELU_SCALE_TEXT = "1.0507009873554804934193349852946"

# (activation, params, x, f'(x)) at the kinks, as API.md states them.
KINKS = [
    ("relu", {}, 0.0, 0.0),
    ("relu6", {}, 0.0, 0.0),
    ("relu6", {}, 6.0, 0.0),
    ("leaky_relu", {}, 0.0, 0.01),
    ("leaky_relu", {"negative_slope": 0.2}, 0.0, 0.2),
    ("prelu", {"weight": 0.25}, 0.0, 0.25),
    ("rrelu", {}, 0.0, (1 / 8 + 1 / 3) / 2),
    ("elu", {"alpha": 0.5}, 0.0, 0.5),
    ("selu", {}, 0.0, float(Decimal(SELU_SCALE_TEXT) * Decimal(SELU_ALPHA_TEXT))),
    ("celu", {"alpha": 2.0}, 0.0, 1.0),
    ("hardsigmoid", {}, -3.0, 0.0),
    ("hardsigmoid", {}, 3.0, 0.0),
    ("hardsigmoid", {}, 0.0, 1 / 6),
    ("hardswish", {}, -3.0, 0.0),
    ("hardswish", {}, 3.0, 1.0),
    ("hardswish", {}, 0.0, 0.5),
    ("hardtanh", {}, -1.0, 0.0),
    ("hardtanh", {}, 1.0, 0.0),
    ("hardtanh", {"min_val": -2.0, "max_val": 3.0}, 3.0, 0.0),
    ("softshrink", {}, 0.5, 0.0),
    ("softshrink", {}, -0.5, 0.0),
    ("softshrink", {"lambd": 0.0}, 0.0, 0.0),
    ("hardshrink", {}, 0.5, 0.0),
    ("hardshrink", {}, -0.5, 0.0),
    ("threshold", {"threshold": 1.0, "value": 5.0}, 1.0, 0.0),
    ("squareplus", {"b": 0.0}, 0.0, 0.5),
    ("clipped_linear", {}, 0.0, 0.0),
    ("clipped_linear", {}, 1.0, 0.0),
    ("clipped_linear", {}, 0.5, 1.0),
    ("clipped_linear", {"slope": 0.5, "offset": 0.25, "min_val": -1.0, "max_val": 1.0}, 1.5, 0.0),
    ("thinc_hard_swish", {}, -2.5, 0.0),
    ("thinc_hard_swish", {}, 2.5, 1.0),
    ("thinc_hard_swish", {}, 0.0, 0.5),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize(("name", "params", "x", "expected"), KINKS)
def test_derivative_at_kinks(name, params, x, expected, dtype, backend) -> None:
    activation = fa.activations()[name]
    xs = np.array([x], dtype=dtype)
    want = np.array([expected], dtype=dtype)
    one_ulp = np.finfo(dtype).eps  # the constants (selu's scale * alpha) round once
    np.testing.assert_allclose(
        activation.derivative(xs, backend=backend, **params), want, rtol=one_ulp, atol=0
    )
    np.testing.assert_allclose(
        activation.value_and_derivative(xs, backend=backend, **params)[1], want, rtol=one_ulp
    )
    grad = np.array([3.0], dtype=dtype)
    got = activation.backward(grad, xs, backend=backend, **params)
    got = got[0] if name == "prelu" else got
    np.testing.assert_allclose(got, 3 * want, rtol=2 * np.finfo(dtype).eps)


def test_threshold_passes_nan() -> None:
    out = fa.threshold(np.array([np.nan, 0.0, 2.0]), 1.0, 7.0)
    np.testing.assert_array_equal(out, [np.nan, 7.0, 2.0])


# (activation, params, x, f(x), f'(x)) at infinities where the parameters make the
# arithmetic degenerate (0 * inf); the signs of zero are those the limit comes from.
LIMITS = [
    ("gelu", {}, -np.inf, -0.0, 0.0),  # API.md's examples
    ("mish", {}, np.inf, np.inf, 1.0),
    ("softsign", {}, np.inf, 1.0, 0.0),
    ("softsign", {}, -np.inf, -1.0, 0.0),
    ("log_sigmoid", {}, np.inf, -0.0, 0.0),
    ("log_sigmoid", {}, 800.0, -0.0, 0.0),
    ("silu", {"beta": 0.0}, np.inf, np.inf, 0.5),  # silu = x/2
    ("silu", {"beta": 0.0}, -np.inf, -np.inf, 0.5),
    ("silu", {"beta": -1.0}, np.inf, 0.0, 0.0),
    ("hardsigmoid", {"slope": 0.0}, np.inf, 0.5, 0.0),
    ("leaky_relu", {"negative_slope": 0.0}, -np.inf, 0.0, 0.0),
]


@pytest.mark.parametrize(("name", "params", "x", "value", "slope"), LIMITS)
def test_limits(name, params, x, value, slope, backend) -> None:
    activation = fa.activations()[name]
    with strict_floating_point():
        y, d = activation.value_and_derivative(np.array([x]), backend=backend, **params)
    assert y[0] == value and d[0] == slope, (y, d)
    if value == 0:
        assert np.signbit(y[0]) == np.signbit(value), y


@pytest.mark.parametrize("dtype", [np.float16, *DTYPES], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("spec", ELEMENTWISE, ids=lambda s: s.name)
def test_nan_in_nan_out(spec, dtype, backend) -> None:
    activation = fa.activations()[spec.name]
    params = example_params(spec)
    x = np.array([np.nan, 1.0, -np.nan], dtype=dtype)
    with strict_floating_point():
        for result in (
            activation(x, backend=backend, **params),
            activation.derivative(x, backend=backend, **params),
            *activation.value_and_derivative(x, backend=backend, **params),
            activation.backward(np.ones_like(x), x, backend=backend, **params),
            activation.backward(np.array([1.0, np.nan, 1.0], dtype), x, backend=backend, **params),
        ):
            result = result[0] if isinstance(result, tuple) else result
            assert np.isnan(result[0]) and np.isnan(result[2]), (spec.name, result)
        if spec.y_backward_refusal(params) is None:
            gy = activation.backward(np.ones_like(x), y=x, backend=backend, **params)
            assert np.isnan(gy[0]) and np.isnan(gy[2])


@pytest.mark.parametrize("spec", ELEMENTWISE, ids=lambda s: s.name)
def test_no_warnings_on_extremes(spec, backend) -> None:
    """Every special value through every method: no NumPy warning, even under
    ``np.errstate(all="raise")`` and warnings-as-errors."""
    activation = fa.activations()[spec.name]
    params = example_params(spec)
    for dtype in (np.float16, np.float32, np.float64):
        info = np.finfo(dtype)
        x = np.array(
            [0.0, -0.0, info.smallest_subnormal, -info.smallest_subnormal, info.tiny,
             info.max, -info.max, np.inf, -np.inf, np.nan, 1e4, -1e4],
            dtype=dtype,
        )
        with strict_floating_point():
            activation(x, backend=backend, **params)
            activation.derivative(x, backend=backend, **params)
            activation.backward(x, x, backend=backend, **params)
            if spec.y_backward_refusal(params) is None:
                activation.backward(x, y=x, backend=backend, **params)


@pytest.mark.parametrize("spec", ALONG_AXIS, ids=lambda s: s.name)
def test_axis_functions_nonfinite_rows(spec, backend) -> None:
    """A row holding +inf, or of all -inf, gives NaN (as NumPy arithmetic does);
    NaN spreads along its row only; no warnings."""
    activation = fa.activations()[spec.name]
    x = np.array(
        [[0.0, 1.0, np.inf, 2.0], [-np.inf] * 4, [0.0, np.nan, 1.0, 2.0], [1.0, 2.0, 3.0, 4.0]]
    )
    if spec.name == "softmin":  # softmin(x) = softmax(-x): its poisoned rows are mirrored
        x = -x
    with strict_floating_point():
        y = activation(x, backend=backend)
        activation.derivative(x, backend=backend)
        activation.backward(np.ones_like(y), x, backend=backend)
    assert np.isfinite(y[3]).all()
    if spec.name != "glu":
        assert np.isnan(y[0]).all() and np.isnan(y[1]).all() and np.isnan(y[2]).all()
