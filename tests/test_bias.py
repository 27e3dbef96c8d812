"""Fused bias (issue 18): ``f(x + bias)`` and the bias gradient on every elementwise
activation, method and backend.

The fused call must give the backend's own results at z = x + b (the sum rounded in
the compute dtype) bit for bit, since it runs the same kernels on the same values;
the bias gradient against the float64 sum of the grad_x terms, within 8 ulp of the
sum of their magnitudes (the terms' own accuracy against the reference is what the
accuracy tests check).
"""

from __future__ import annotations

import numpy as np
import pytest

import fastact as fa
from conftest import DTYPES, ELEMENTWISE, example_params
from fastact import _bias

SHAPE, BIAS_SHAPES = (6, 5, 7), [(7,), (5, 1), (), (6, 5, 7)]


def _data(spec, dtype, shape=SHAPE, bias_shape=(7,), seed=0):
    rng = np.random.default_rng([seed, len(spec.name), ord(spec.name[0])])
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    b = (rng.standard_normal(bias_shape) * 2).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    return x, b, g


def _z(x, b):
    return np.add(x, b, dtype=x.dtype)


def _params(spec, training: bool = False):
    params = example_params(spec)
    if spec.name == "rrelu" and training:
        params.update(training=True, seed=7)
    return params


def _cases():
    for spec in ELEMENTWISE:
        yield pytest.param(spec, False, id=spec.name)
        if spec.name == "rrelu":
            yield pytest.param(spec, True, id="rrelu-training")


@pytest.mark.parametrize(("spec", "training"), list(_cases()))
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_forward_and_derivative_at_x_plus_bias(spec, training, dtype, backend) -> None:
    f = fa.activations()[spec.name]
    params = _params(spec, training)
    for bias_shape in BIAS_SHAPES:
        x, b, _ = _data(spec, dtype, bias_shape=bias_shape)
        z = _z(x, b)
        np.testing.assert_array_equal(f(x, bias=b, backend=backend, **params),
                                      f(z, backend=backend, **params))
        np.testing.assert_array_equal(f.derivative(x, bias=b, backend=backend, **params),
                                      f.derivative(z, backend=backend, **params))
        y, d = f.value_and_derivative(x, bias=b, backend=backend, **params)
        y_ref, d_ref = f.value_and_derivative(z, backend=backend, **params)
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(d, d_ref)


def _bias_grad_bound(terms64, axes, dtype):
    """8 ulp of the result's magnitude plus the float64 summation error."""
    eps = np.finfo(dtype).eps
    scale = np.abs(terms64).sum(axis=axes, keepdims=True) if axes else np.abs(terms64)
    return 8 * eps * scale + 1e-300


def _check_bias_grad(gb, terms64, bias_shape, dtype):
    aligned = (1,) * (terms64.ndim - len(bias_shape)) + tuple(bias_shape)
    axes = tuple(i for i, n in enumerate(aligned) if n == 1 and terms64.shape[i] != 1)
    expected = terms64.sum(axis=axes, keepdims=True) if axes else terms64
    bound = _bias_grad_bound(terms64, axes, dtype)
    assert gb.shape == tuple(bias_shape) and gb.dtype == dtype
    err = np.abs(gb.astype(np.float64).reshape(aligned) - expected)
    finite = np.isfinite(expected)
    assert np.all(err[finite] <= bound[finite]), (err.max(), bound.min())


@pytest.mark.parametrize(("spec", "training"), list(_cases()))
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_backward_returns_grad_x_and_the_bias_gradient(spec, training, dtype, backend) -> None:
    f = fa.activations()[spec.name]
    params = _params(spec, training)
    for bias_shape in BIAS_SHAPES:
        x, b, g = _data(spec, dtype, bias_shape=bias_shape)
        z = _z(x, b)
        results = f.backward(g, x, bias=b, backend=backend, **params)
        plain = f.backward(g, z, backend=backend, **params)
        plain = plain if isinstance(plain, tuple) else (plain,)
        assert len(results) == len(plain) + 1
        for got, want in zip(results[:-1], plain, strict=True):
            np.testing.assert_array_equal(got, want)
        # The bias gradient is the sum of the terms grad_x holds (whose accuracy
        # against the reference the accuracy tests check): here, the sum's.
        _check_bias_grad(results[-1], plain[0].astype(np.float64), bias_shape, dtype)


@pytest.mark.parametrize("spec", [s for s in ELEMENTWISE if s.y_backward is True],
                         ids=lambda s: s.name)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_backward_from_y_with_bias(spec, dtype, backend) -> None:
    f = fa.activations()[spec.name]
    params = _params(spec)
    x, b, g = _data(spec, dtype)
    y = f(x, bias=b, backend=backend, **params)
    gx, gb = f.backward(g, y=y, bias=b, backend=backend, **params)
    np.testing.assert_array_equal(gx, f.backward(g, y=y, backend=backend, **params))
    _check_bias_grad(gb, gx.astype(np.float64), b.shape, dtype)


@pytest.mark.parametrize("name", ["gelu", "leaky_relu", "prelu", "rrelu"])
def test_many_pieces_and_in_place(name, backend, monkeypatch) -> None:
    """Small pieces (so that every boundary case of the piece walk is crossed), array
    parameters sliced with the pieces, out= the input, the bias or grad."""
    monkeypatch.setattr(_bias, "PIECE", 16)
    spec = fa._registry.lookup(name)
    f = fa.activations()[name]
    x, b, g = _data(spec, np.float32, shape=(9, 4, 11), bias_shape=(4, 1))
    params = example_params(spec)
    if name == "leaky_relu":
        params = {"negative_slope": np.linspace(0.1, 0.3, 11, dtype=np.float32)}
    if name == "rrelu":
        params = {"training": True, "seed": 3}
    z = _z(x, b)
    want = f(z, backend=backend, **params)
    np.testing.assert_array_equal(f(x, bias=b, backend=backend, **params), want)
    inplace = x.copy()
    assert f(inplace, bias=b, out=inplace, backend=backend, **params) is inplace
    np.testing.assert_array_equal(inplace, want)
    plain = f.backward(g, z, backend=backend, **params)
    plain = plain if isinstance(plain, tuple) else (plain,)
    grad = g.copy()
    outs = (grad, *(np.empty_like(p) for p in plain[1:]), np.empty(b.shape, b.dtype))
    results = f.backward(grad, x, bias=b, out=outs, backend=backend, **params)
    assert results[0] is grad
    np.testing.assert_array_equal(grad, plain[0])
    terms = plain[0].astype(np.float64)
    _check_bias_grad(results[-1], terms, b.shape, np.float32)


def test_float16_and_integer_inputs_follow_the_result_dtype() -> None:
    x = np.linspace(-3, 3, 12, dtype=np.float16).reshape(3, 4)
    b = np.array([0.5, -0.25, 1.0, 0.0])
    y = fa.gelu(x, bias=b)
    assert y.dtype == np.float16
    np.testing.assert_array_equal(y, fa.gelu(_z(x.astype(np.float32), b.astype(np.float32)))
                                  .astype(np.float16))
    assert fa.relu(np.arange(6, dtype=np.int8).reshape(2, 3), bias=np.ones(3)).dtype == np.float16


def test_errors_name_the_argument_and_write_nothing() -> None:
    x = np.ones((4, 3), np.float32)
    out = np.full_like(x, 7.0)
    with pytest.raises(ValueError, match="bias of shape"):
        fa.gelu(x, bias=np.ones(4), out=out)
    with pytest.raises(ValueError, match="bias of shape"):
        fa.gelu(x, bias=np.ones((2, 4, 3)), out=out)
    with pytest.raises(TypeError, match="bias has dtype complex"):
        fa.gelu(x, bias=np.ones(3, complex), out=out)
    with pytest.raises(TypeError, match="bias"):
        fa.softmax(x, bias=np.ones(3))
    with pytest.raises(TypeError, match="out must be a pair"):
        fa.gelu.backward(x, x, bias=np.ones(3), out=out)
    with pytest.raises(ValueError, match=r"out\[1\] has shape"):
        fa.gelu.backward(x, x, bias=np.ones(3), out=(out, np.empty(4, np.float32)))
    np.testing.assert_array_equal(out, 7.0)


def test_bias_none_is_no_bias_and_nan_propagates() -> None:
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(fa.tanh(x, bias=None), fa.tanh(x))
    y = fa.sigmoid(x, bias=np.array([np.nan, np.inf, -np.inf]))
    assert np.isnan(y[0]) and y[1] == 1.0 and y[2] == 0.0
    gx, gb = fa.sigmoid.backward(np.ones(3), x, bias=np.array([np.nan, 0.0, 0.0]))
    assert np.isnan(gx[0]) and np.isnan(gb[0]) and gb.shape == (3,)


def test_zero_size_input_gives_a_zero_bias_gradient() -> None:
    x = np.empty((0, 3))
    gx, gb = fa.gelu.backward(x, x, bias=np.ones(3))
    assert gx.shape == (0, 3)
    np.testing.assert_array_equal(gb, np.zeros(3))


def test_partly_overlapping_out_goes_through_a_temporary() -> None:
    base = np.linspace(-2, 2, 13)
    x = base[:12].reshape(3, 4)
    b = np.array([0.1, 0.2, 0.3, 0.4])
    want = fa.silu(_z(x, b))
    shifted = base[1:13].reshape(3, 4)  # overlaps x, one element on
    fa.silu(x.copy(), bias=b, out=shifted)
    np.testing.assert_array_equal(shifted, want)
    base = np.linspace(-2, 2, 13)
    fa.silu(base[:12].reshape(3, 4), bias=b, out=base[1:13].reshape(3, 4))
    np.testing.assert_array_equal(base[1:13].reshape(3, 4), want)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", ["sigmoid", "softplus", "tanh"])
@pytest.mark.parametrize("bias_shape", [(700,), (), (3, 700)])
def test_flat_driver_chunks_and_threads(name, dtype, bias_shape, backend) -> None:
    """Contiguous data with a bias over the trailing axes take the backend's flat way
    (the C backend: fa_periodic.h, chunks of whole periods, one bias tile, the bias
    gradient summed per chunk): 210,000 elements are several chunks; the results are
    the plain ones at z bit for bit, the bias gradient within the sum's bound, and
    neither depends on the thread count."""
    spec = fa._registry.lookup(name)
    f = fa.activations()[name]
    x, b, g = _data(spec, dtype, shape=(100, 3, 700), bias_shape=bias_shape)
    z = _z(x, b)
    before = fa.get_num_threads()
    try:
        runs = []
        for threads in (1, 2):
            fa.set_num_threads(threads)
            runs.append((f(x, bias=b, backend=backend),
                         *f.backward(g, x, bias=b, backend=backend)))
    finally:
        fa.set_num_threads(before)
    for got, want in zip(runs[0], runs[1], strict=True):
        np.testing.assert_array_equal(got, want)
    y, gx, gb = runs[0]
    np.testing.assert_array_equal(y, f(z, backend=backend))
    want = f.backward(g, z, backend=backend)
    np.testing.assert_array_equal(gx, want)
    _check_bias_grad(gb, want.astype(np.float64), b.shape, dtype)
    if spec.y_backward is True:
        gy, gyb = f.backward(g, y=y, bias=b, backend=backend)
        np.testing.assert_array_equal(gy, f.backward(g, y=y, backend=backend))
        _check_bias_grad(gyb, gy.astype(np.float64), b.shape, dtype)


def test_the_bias_gradient_is_compensated_in_float64() -> None:
    """Terms whose float64 sum cancels: a plain running sum loses them, the two-sum
    keeps them (1e16 + 1 - 1e16 per column)."""
    x = np.zeros((3, 64))
    g = np.array([1e16, 1.0, -1e16])[:, None] * np.ones((3, 64))
    _, gb = fa.linear.backward(g, x, bias=np.zeros(64))
    np.testing.assert_array_equal(gb, np.ones(64))


class _Sub(np.ndarray):
    """An ndarray subclass: the compiled fast path takes exact ndarrays only."""


def _general(a):
    """The same memory as an array the compiled fast path does not take, so that the
    call goes through the general path (its flat pieces: contiguous data). Strided
    data would take the general path's pieces, whose float64 bias gradient is summed
    pairwise (sum_param_grad) instead of row by row: other bits, same bound."""
    return a.view(_Sub)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", ["gelu", "sigmoid", "leaky_relu", "softplus"])
@pytest.mark.parametrize("shape", [(3, 100), (2, 3, 64), (700,), (5, 7)])
def test_small_calls_on_the_fast_path_equal_the_general_path(name, shape, dtype) -> None:
    """Small exact arrays with a bias over the trailing axes take the compiled fast
    path (_fastcall._execute_bias); strided copies of the same values the general one
    (fastact._bias): results and bias gradients bit for bit, out= in place too."""
    spec = fa._registry.lookup(name)
    f = fa.activations()[name]
    params = {"negative_slope": 0.2} if name == "leaky_relu" else {}
    x, b, g = _data(spec, dtype, shape=shape, bias_shape=shape[1:])
    xs, gs = _general(x), _general(g)
    np.testing.assert_array_equal(f(x, bias=b, **params), f(xs, bias=b, **params))
    np.testing.assert_array_equal(f.derivative(x, bias=b, **params),
                                  f.derivative(xs, bias=b, **params))
    fast, general = f.backward(g, x, bias=b, **params), f.backward(gs, x, bias=b, **params)
    for got, want in zip(fast, general, strict=True):
        np.testing.assert_array_equal(got, np.asarray(want))
    inplace, gb = g.copy(), np.empty_like(b)
    results = f.backward(inplace, x, bias=b, out=(inplace, gb), **params)
    assert results[0] is inplace and results[1] is gb
    np.testing.assert_array_equal(inplace, general[0])
    np.testing.assert_array_equal(gb, general[1])
    if spec.y_backward is True:
        y = f(x, bias=b, **params)
        fast, general = f.backward(g, y=y, bias=b, **params), f.backward(gs, y=y, bias=b,
                                                                          **params)
        for got, want in zip(fast, general, strict=True):
            np.testing.assert_array_equal(got, np.asarray(want))
    y = x.copy()
    assert f(y, bias=b, out=y, **params) is y
    np.testing.assert_array_equal(y, f(xs, bias=b, **params))


def test_fast_path_refusals_write_nothing() -> None:
    """Calls the fast path must hand over (an out of the wrong shape, a bias gradient
    out that overlaps x, a bias that does not broadcast) raise on the general path and
    leave every array as it was."""
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    b = np.ones(4, np.float32)
    out = np.full_like(x, 5.0)
    with pytest.raises(ValueError):
        fa.gelu(x, bias=np.ones(3, np.float32), out=out)
    with pytest.raises(ValueError, match="out"):
        fa.gelu.backward(x, x, bias=b, out=(out, np.empty(3, np.float32)))
    np.testing.assert_array_equal(out, 5.0)
    grad_b = x[0]  # overlaps x: through a temporary on the general path
    expected = fa.gelu.backward(np.ones_like(x), x.copy(), bias=b)[1]
    _, got = fa.gelu.backward(np.ones_like(x), x, bias=b, out=(None, grad_b))
    assert got is grad_b
    np.testing.assert_array_equal(got, expected)
