"""Every backend against the high-precision oracle, at the accuracy bar of the contract.

The exact values come from ``tests/data/reference_tables.npz`` (mpmath, regenerated
by ``tools/make_reference_tables.py``; ``test_oracle.py`` checks the generator), over
the whole finite domain of float32 and float64 plus the infinities. The error is in
units in the last place of the exact result, divided by max(1, condition number).
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import fastact as fa
import oracle
import reference_tables as rt
from conftest import DTYPES, strict_floating_point

CASES = rt.case_ids()


def _assert_within_bar(errors: np.ndarray, x: np.ndarray, what: str) -> None:
    bad = ~(errors <= rt.ACCURACY_BAR)
    if bad.any():
        worst = np.argsort(np.where(np.isnan(errors), np.inf, errors))[::-1][:5]
        detail = ", ".join(f"x={x[i]!r}: {errors[i]:.3g}" for i in worst)
        pytest.fail(f"{what}: {bad.sum()} points over {rt.ACCURACY_BAR} scaled ulp; {detail}")


def _case(case_id: str, dtype: type) -> tuple[rt.Table, fa.Activation, dict, np.ndarray]:
    """The table, the activation, its parameters cast to the dtype (what the oracle
    computed with) and the inputs of one case."""
    table = rt.load(case_id, dtype)
    activation = fa.activations()[rt.case(case_id).name]
    return table, activation, table.params, table.x.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case_id", CASES)
def test_forward_and_derivative(case_id: str, dtype: type, backend: str) -> None:
    table, activation, params, x = _case(case_id, dtype)
    with strict_floating_point():
        y = activation(x, backend=backend, **params)
        d = activation.derivative(x, backend=backend, **params)
        y2, d2 = activation.value_and_derivative(x, backend=backend, **params)
    assert y.dtype == dtype and d.dtype == dtype
    _assert_within_bar(rt.scaled_errors(y, table, "f"), x, f"{case_id} forward")
    _assert_within_bar(rt.scaled_errors(d, table, "d"), x, f"{case_id} derivative")
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(d2, d)
    # Signed zeros at the infinities are part of the contract (gelu(-inf) = -0.0).
    at_inf = np.isinf(x) & (table.f_hi == 0)
    np.testing.assert_array_equal(np.signbit(y[at_inf]), np.signbit(table.f_hi[at_inf]))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case_id", CASES)
def test_backward_from_input(case_id: str, dtype: type, backend: str) -> None:
    """grad * f'(x): the bar of the derivative plus half an ulp of the product.

    The gradients are powers of two, so the exact product is the exact derivative
    scaled, and its ulp scales with it (away from overflow and underflow).
    """
    table, activation, params, x = _case(case_id, dtype)
    rng = np.random.default_rng(7)
    grad = np.ldexp(np.ones(x.shape), rng.integers(-3, 4, x.shape)) * rng.choice([-1, 1], x.shape)
    grad = grad.astype(dtype)
    with strict_floating_point():
        out = activation.backward(grad, x, backend=backend, **params)
    if activation.spec.param_grads:  # prelu: (grad_x, grad_weight)
        out = out[0]
    assert out.dtype == dtype
    with np.errstate(all="ignore"):  # the test's own arithmetic may underflow
        scaled = table.d_hi * grad
        finite = np.isfinite(scaled) & (np.abs(scaled) < np.finfo(dtype).max / 8)
        exact_hi, exact_lo = scaled[finite], (table.d_lo * grad)[finite]
        errors = rt.ulp_errors(out[finite], exact_hi, exact_lo, dtype) - 0.5
    cond = np.where(np.isnan(table.cond_d[finite]), 1.0, table.cond_d[finite])
    _assert_within_bar(errors / np.maximum(1.0, cond), x[finite], f"{case_id} backward(x)")


Y_CASES = [c for c in CASES if rt.case(c).name in oracle.Y_CAPABLE]


def _mp_h(name: str, y: float, params: dict) -> tuple[mpmath.mpf, float]:
    """h(y) exactly at the float y, and the condition number |y h'(y) / h(y)|."""
    with mpmath.workprec(200):
        value = oracle.derivative_from_output(name, mpmath.mpf(y), params)
        if value == 0 or y == 0 or not mpmath.isfinite(value) or not np.isfinite(y):
            return value, 1.0
        slope = mpmath.diff(
            lambda t: oracle.derivative_from_output(name, t, params), mpmath.mpf(y)
        )
        return value, float(abs(y * slope / value))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case_id", Y_CASES)
def test_backward_from_output(case_id: str, dtype: type, backend: str) -> None:
    """backward(grad, y=y) is held to h(y) evaluated exactly at the given float y."""
    _, activation, params, x = _case(case_id, dtype)
    x = x[np.isfinite(x)][:: max(1, x.size // 300)]  # ~300 points: mpmath is slow
    y = activation(x, backend="numpy", **params)
    grad = np.ones_like(y)
    with strict_floating_point():
        out = activation.backward(grad, y=y, backend=backend, **params)
    exact = [_mp_h(activation.spec.name, float(v), params) for v in y]
    hi = np.array([float(v) for v, _ in exact])
    lo = np.array(
        [
            float(v - mpmath.mpf(h)) if mpmath.isfinite(v) else 0.0
            for (v, _), h in zip(exact, hi, strict=True)
        ]
    )
    cond = np.array([c for _, c in exact])
    errors = rt.ulp_errors(out, hi, lo, dtype) / np.maximum(1.0, cond)
    _assert_within_bar(errors, y, f"{case_id} backward(y)")
