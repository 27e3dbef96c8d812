"""What is specific to the Cython backend: that it really serves every call, its
threads, its ufuncs and rrelu's C-order walker. (Accuracy, conventions and the API
contract are held by the registry-parametrised tests, which include "cython".)"""

from __future__ import annotations

import numpy as np
import pytest

import fastact as fa
from conftest import ALONG_AXIS, DTYPES, ELEMENTWISE, example_params

ALL = ELEMENTWISE + ALONG_AXIS

cython_backend = pytest.importorskip("fastact._backends.cython_backend")
from fastact._kernels import _rows, _ufuncs  # noqa: E402

BACKEND = cython_backend.BACKEND


@pytest.fixture
def threads():
    """Restore the thread count and the parallel threshold after the test."""
    n, low = fa.get_num_threads(), _ufuncs.get_parallel_min()
    yield
    fa.set_num_threads(n)
    _ufuncs.set_parallel_min(low)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_it_serves_every_method_of_every_activation(spec, dtype) -> None:
    """So an explicit backend="cython" never raises, and never runs anything else."""
    methods = ["forward", "derivative", "value_and_derivative", "backward_x"]
    methods += [f"param_grad:{p}" for p in spec.param_grads]
    if spec.y_backward:
        methods.append("backward_y")
    for method in methods:
        assert BACKEND.kernel(spec.name, method, np.dtype(dtype)) is not None, method
    assert fa.resolve_backend(spec.name, dtype) == "cython"


def test_the_public_call_is_the_ufunc() -> None:
    x = np.random.default_rng(0).standard_normal(1001).astype(np.float32) * 4
    np.testing.assert_array_equal(
        fa.gelu(x, backend="cython"), _ufuncs.UFUNCS["gelu_none_forward"](x)
    )
    np.testing.assert_array_equal(
        fa.elu(x, alpha=0.5, backend="cython"), _ufuncs.UFUNCS["elu_forward"](x, 0.5)
    )
    # A real ufunc: broadcasting and out= come from NumPy.
    ufunc = _ufuncs.UFUNCS["leaky_relu_forward"]
    assert isinstance(ufunc, np.ufunc)
    out = np.empty((3, 1001), np.float32)
    ufunc(x, np.array([[0.1], [0.2], [0.3]], np.float32), out=out)
    np.testing.assert_array_equal(out[1], fa.leaky_relu(x, negative_slope=np.float32(0.2)))


def _inputs(dtype, n: int) -> np.ndarray:
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3, n)
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_elementwise_results_do_not_depend_on_the_thread_count(dtype, threads) -> None:
    """Threads split the work on block boundaries: every element is computed by the
    same vector code, so the bits are the same for any thread count."""
    _ufuncs.set_parallel_min(1)
    x = _inputs(dtype, 4099)  # not a multiple of the block
    grad = _inputs(dtype, 4099)
    for spec in ALL:
        if spec.kind != "elementwise":
            continue
        activation = fa.activations()[spec.name]
        params = example_params(spec)
        results = []
        for n in (1, 2, 3):
            fa.set_num_threads(n)
            y, d = activation.value_and_derivative(x, backend="cython", **params)
            g = activation.backward(grad, x, backend="cython", **params)
            results.append((y, d, g[0] if spec.param_grads else g))
        for other in results[1:]:
            for a, b in zip(results[0], other, strict=True):
                np.testing.assert_array_equal(a, b, err_msg=spec.name)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin", "glu"])
@pytest.mark.parametrize("axis", [0, 1])
def test_rows_are_deterministic_and_agree_across_threads(name, axis, dtype, threads) -> None:
    _ufuncs.set_parallel_min(1)
    x = _inputs(dtype, 64 * 70).reshape(64, 70) / 100
    activation = fa.activations()[name]
    fa.set_num_threads(1)
    one = activation(x, axis=axis, backend="cython")
    fa.set_num_threads(2)
    two = activation(x, axis=axis, backend="cython")
    np.testing.assert_array_equal(two, activation(x, axis=axis, backend="cython"))
    np.testing.assert_allclose(one, two, rtol=8 * np.finfo(dtype).eps, atol=0)
    reference = activation(x, axis=axis, backend="numpy")
    scale = np.max(np.abs(reference), axis=axis, keepdims=True)
    bar = 8 * np.finfo(dtype).eps * (np.abs(reference) + scale)
    assert np.all(np.abs(two - reference) <= bar)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_rrelu_training_slopes_follow_the_c_order_index(dtype, threads) -> None:
    """Any layout and thread count: element i always gets the slope of index i."""
    _ufuncs.set_parallel_min(1)
    base = _inputs(dtype, 6 * 7 * 5).reshape(6, 7, 5)
    kwargs = {"training": True, "seed": 2**63 + 5}
    expected = fa.rrelu(np.ascontiguousarray(base), backend="numpy", **kwargs)
    for n in (1, 2):
        fa.set_num_threads(n)
        shuffled = base.transpose(2, 0, 1).copy().transpose(1, 2, 0)
        for view in (base, np.asfortranarray(base), shuffled):
            got = fa.rrelu(view, backend="cython", **kwargs)
            np.testing.assert_allclose(got, expected, rtol=np.finfo(dtype).eps, atol=0)
    reversed_view = np.ascontiguousarray(base[::-1, :, ::-1])[::-1, :, ::-1]
    got = fa.rrelu.backward(np.ones_like(base), reversed_view, backend="cython", **kwargs)
    want = fa.rrelu.backward(np.ones_like(base), base, backend="numpy", **kwargs)
    np.testing.assert_allclose(got, want, rtol=np.finfo(dtype).eps, atol=0)


def test_value_and_derivative_in_place_into_either_output() -> None:
    x = _inputs(np.float64, 300)
    y, d = fa.gelu.value_and_derivative(x, backend="cython")
    a = x.copy()
    fa.gelu.value_and_derivative(a, out=(a, np.empty_like(a)), backend="cython")
    np.testing.assert_array_equal(a, y)
    b = x.copy()
    fa.gelu.value_and_derivative(b, out=(np.empty_like(b), b), backend="cython")
    np.testing.assert_array_equal(b, d)


def test_thread_knob_reaches_the_kernels(threads) -> None:
    fa.set_num_threads(3)
    assert _ufuncs.get_num_threads() == 3
    fa.set_num_threads(1)
    assert _ufuncs.get_num_threads() == 1
    assert _rows.GUFUNCS["softmax_forward"].signature == "(n)->(n)"
