"""softmax, log_softmax, softmin and glu along every axis, against mpmath.

The bar (API.md): each output within 8 ulp of the exact value plus 8 eps times the
largest magnitude in its row.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import fastact as fa
import oracle
from conftest import ALONG_AXIS, DTYPES, strict_floating_point

ROW_ORACLES = {
    "softmax": (oracle.softmax_row, oracle.softmax_jacobian_row),
    "log_softmax": (oracle.log_softmax_row, oracle.log_softmax_jacobian_row),
    "softmin": (oracle.softmin_row, oracle.softmin_jacobian_row),
    "glu": (oracle.glu_row, oracle.glu_jacobian_row),
}


def _rows(dtype) -> np.ndarray:
    """Ordinary rows and hard ones: huge spreads, ties, the largest finite values."""
    info = np.finfo(dtype)
    rng = np.random.default_rng(11)
    rows = [
        rng.standard_normal(6) * 3,
        rng.standard_normal(6) * 300,
        [info.max, -info.max, 0.0, 1.0, info.max, -1.0],
        [-info.max, -info.max, -1e30, -1e30, 2.0, 1.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [1e-30, -1e-30, info.tiny, 0.0, -np.inf, 3.0],
        [700.0, 701.0, 702.0, -700.0, 80.0, 88.0],
    ]
    return np.array(rows, dtype=dtype)


def _exact(fn, row) -> list:
    with mpmath.workprec(300):
        return fn([mpmath.mpf(float(v)) for v in row])


def _check_rows(got: np.ndarray, exact: list, dtype, what: str) -> None:
    """got[i] within 8 ulp(exact[i]) + 8 eps * max |exact| of its row."""
    eps = np.finfo(dtype).eps
    tiny = np.finfo(dtype).smallest_subnormal
    for g_row, e_row in zip(got, exact, strict=True):
        e = np.array([float(v) for v in e_row])
        scale = np.max(np.abs(e[np.isfinite(e)]), initial=0.0)
        with np.errstate(all="ignore"):
            ulp = np.maximum(np.abs(e) * eps, tiny)
            tolerance = 8 * ulp + 8 * eps * scale
        with np.errstate(all="ignore"):
            rounded = e.astype(dtype)  # an exact value past the dtype's max rounds to inf
        same_inf = np.isinf(rounded) & (g_row == rounded)
        both_nan = np.isnan(e) & np.isnan(g_row)
        with np.errstate(all="ignore"):
            ok = same_inf | both_nan | (np.abs(g_row.astype(np.float64) - e) <= tolerance)
        assert ok.all(), f"{what}: got {g_row}, exact {e}"


@pytest.mark.parametrize("n", [6, 10, 37])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
def test_batched_short_rows_forward_against_mpmath(name, dtype, n, backend) -> None:
    """Many short rows in one call (C-contiguous, the batched short-row kernels of the
    cython and numba backends; in place too) and the same rows along axis 0 (SIMD across
    rows): the hard rows of _rows among random ones, every row within the bar."""
    rng = np.random.default_rng(n)
    hard = _rows(dtype)[:, : min(n, 6)]
    rows = (rng.standard_normal((40, n)) * 3).astype(dtype)
    rows[::6, : hard.shape[1]] = hard
    activation = fa.activations()[name]
    forward_row = ROW_ORACLES[name][0]
    exact = [_exact(forward_row, r) for r in rows]
    with strict_floating_point():
        got = activation(rows, axis=-1, backend=backend)
        columns = activation(np.ascontiguousarray(rows.T), axis=0, backend=backend).T
        in_place = rows.copy()
        activation(in_place, axis=-1, out=in_place, backend=backend)
    _check_rows(got, exact, dtype, f"{name} short rows")
    _check_rows(columns, exact, dtype, f"{name} along axis 0")
    np.testing.assert_array_equal(in_place, got)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("spec", ALONG_AXIS, ids=lambda s: s.name)
def test_rows_against_mpmath(spec, dtype, backend) -> None:
    activation = fa.activations()[spec.name]
    forward_row, jacobian_row = ROW_ORACLES[spec.name]
    rows = _rows(dtype)
    with strict_floating_point():
        y, jac = activation.value_and_derivative(rows, axis=-1, backend=backend)
    _check_rows(y, [_exact(forward_row, r) for r in rows], dtype, f"{spec.name} forward")
    for i, row in enumerate(rows):
        if not np.isfinite(row).all():
            continue
        exact_j = _exact(jacobian_row, row)
        _check_rows(jac[i], exact_j, dtype, f"{spec.name} jacobian row {i}")


@pytest.mark.parametrize("spec", ALONG_AXIS, ids=lambda s: s.name)
def test_every_axis_of_a_3d_array(spec, backend) -> None:
    """Along axis a, the result equals the last-axis result of the moved array, for
    the forward, the Jacobian and the backward (from x, and from y where allowed)."""
    activation = fa.activations()[spec.name]
    x = np.random.default_rng(5).standard_normal((4, 6, 2)) * 3
    for axis in (0, 1, 2, -1, -2, -3):
        axis_of_y = axis % x.ndim  # the Jacobian has one more axis, so count from the front
        moved = np.moveaxis(x, axis, -1)
        y = activation(x, axis=axis, backend=backend)
        y_last = activation(moved, axis=-1, backend=backend)
        np.testing.assert_allclose(np.moveaxis(y, axis, -1), y_last, rtol=1e-15, atol=1e-300)
        jac = activation.derivative(x, axis=axis, backend=backend)
        assert jac.shape == (*y.shape, x.shape[axis])
        jac_last = activation.derivative(moved, axis=-1, backend=backend)
        np.testing.assert_allclose(np.moveaxis(jac, axis_of_y, -2), jac_last, rtol=1e-15)
        grad = np.random.default_rng(axis + 7).standard_normal(y.shape)
        gx = activation.backward(grad, x, axis=axis, backend=backend)
        # The vector-Jacobian product, from the Jacobian: sum_i grad_i dy_i/dx_j.
        vjp = np.einsum("...i,...ij->...j", np.moveaxis(grad, axis, -1), jac_last)
        np.testing.assert_allclose(np.moveaxis(gx, axis, -1), vjp, rtol=1e-12, atol=1e-14)
        if spec.y_backward is True:
            gy = activation.backward(grad, y=y, axis=axis, backend=backend)
            np.testing.assert_allclose(gy, gx, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("spec", ALONG_AXIS, ids=lambda s: s.name)
def test_jacobian_against_finite_differences(spec) -> None:
    """An independent check of the Jacobian convention J[idx + (j,)] = dy[idx]/dx_j."""
    activation = fa.activations()[spec.name]
    x = np.random.default_rng(2).standard_normal((4, 3))
    jac = activation.derivative(x, axis=0)
    step = 1e-6
    for j in range(x.shape[0]):
        bump = np.zeros_like(x)
        bump[j] = step
        numeric = (activation(x + bump, axis=0) - activation(x - bump, axis=0)) / (2 * step)
        np.testing.assert_allclose(jac[..., j], numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("spec", ALONG_AXIS, ids=lambda s: s.name)
def test_empty_and_in_place(spec, backend) -> None:
    activation = fa.activations()[spec.name]
    assert activation(np.zeros((4, 0)), axis=0, backend=backend).shape[1] == 0
    assert activation(np.zeros((0, 4)), axis=-1, backend=backend).shape[0] == 0
    if spec.name != "glu":
        x = np.random.default_rng(9).standard_normal((5, 3))
        expected = activation(x, axis=0, backend=backend)
        activation(x, axis=0, out=x, backend=backend)
        np.testing.assert_array_equal(x, expected)


def test_glu_backward_refuses_y() -> None:
    x = np.ones((2, 4))
    y = fa.glu(x)
    with pytest.raises(ValueError, match="pass x"):
        fa.glu.backward(np.ones_like(y), y=y)

