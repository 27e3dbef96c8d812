"""The cuda backend with device arrays, under numba's CUDA simulator.

CI runs this file (and the backend-parametrised tests with
``FASTACT_TEST_BACKENDS=cuda``) with ``NUMBA_ENABLE_CUDASIM=1``; without a GPU or the
simulator every test here is skipped. The simulator runs the kernels as Python: it
checks indexing, launch logic, device-array handling and the formulas' logic, not
GPU speed or GPU float32 accuracy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import fastact as fa
import oracle
from conftest import ALONG_AXIS, ELEMENTWISE, example_params

pytestmark = pytest.mark.skipif(
    "cuda" not in fa.available_backends(), reason="no GPU and no CUDA simulator"
)


def _cuda() -> Any:
    from numba import cuda

    return cuda


def _host(a: Any) -> np.ndarray:
    return a.copy_to_host()


def _on_device(a: Any) -> bool:
    return hasattr(a, "copy_to_host")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spec", ELEMENTWISE, ids=lambda s: s.name)
def test_elementwise_on_device_arrays(spec: fa._registry.ActivationSpec, dtype: type) -> None:
    cuda = _cuda()
    activation = getattr(fa, spec.name)
    params = example_params(spec)
    x = np.linspace(-3, 3, 12, dtype=dtype).reshape(3, 4)
    g = np.linspace(0.5, 1.5, 12, dtype=dtype).reshape(3, 4)
    dx, dg = cuda.to_device(x), cuda.to_device(g)
    rtol = 1e-5 if dtype == np.float32 else 1e-13
    y = activation(dx, **params)
    assert _on_device(y) and y.shape == x.shape and np.dtype(y.dtype) == dtype
    np.testing.assert_allclose(_host(y), activation(x, backend="numpy", **params), rtol=rtol,
                               atol=1e-30)  # fmt: skip
    d = activation.derivative(dx, **params)
    np.testing.assert_allclose(_host(d), activation.derivative(x, backend="numpy", **params),
                               rtol=rtol, atol=1e-30)  # fmt: skip
    out = cuda.device_array(x.shape, dtype)
    assert activation(dx, out=out, **params) is out
    y2, d2 = activation.value_and_derivative(dx, **params)
    assert np.array_equal(_host(y2), _host(y)) and np.array_equal(_host(d2), _host(d))
    gx = activation.backward(dg, dx, **params)
    if spec.param_grads:
        gx, gw = gx
        assert _on_device(gw)
    np.testing.assert_allclose(
        _host(gx), np.asarray(activation.backward(g, x, backend="numpy", **params))
        if not spec.param_grads else activation.backward(g, x, backend="numpy", **params)[0],
        rtol=rtol, atol=1e-30,
    )  # fmt: skip
    if spec.y_backward is True:
        gy = activation.backward(dg, y=y, **params)
        ref = activation.backward(g, y=_host(y), backend="numpy", **params)
        np.testing.assert_allclose(_host(gy), ref, rtol=rtol, atol=1e-30)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("spec", ALONG_AXIS, ids=lambda s: s.name)
def test_axis_functions_on_device_arrays(spec: fa._registry.ActivationSpec, axis: int) -> None:
    cuda = _cuda()
    activation = getattr(fa, spec.name)
    x = np.random.default_rng(1).standard_normal((2, 4, 6)) * 3
    y = activation(cuda.to_device(x), axis=axis)
    ref = activation(x, axis=axis, backend="numpy")
    assert _on_device(y)
    np.testing.assert_allclose(_host(y), ref, rtol=1e-13, atol=1e-15)
    jac = activation.derivative(cuda.to_device(x), axis=axis)
    np.testing.assert_allclose(
        _host(jac), activation.derivative(x, axis=axis, backend="numpy"), rtol=1e-12, atol=1e-15
    )
    g = np.random.default_rng(2).standard_normal(ref.shape)
    gx = activation.backward(cuda.to_device(g), cuda.to_device(x), axis=axis)
    np.testing.assert_allclose(
        _host(gx), activation.backward(g, x, axis=axis, backend="numpy"), rtol=1e-12, atol=1e-14
    )


def test_prelu_weight_gradient_stays_on_the_device() -> None:
    cuda = _cuda()
    rng = np.random.default_rng(4)
    x, g = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 4, 5))
    w = np.array([0.1, -0.2, 0.3, 0.5]).reshape(4, 1)
    gx, gw = fa.prelu.backward(cuda.to_device(g), cuda.to_device(x), weight=w)
    assert _on_device(gx) and _on_device(gw) and gw.shape == (4, 1)
    rx, rw = fa.prelu.backward(g, x, weight=w, backend="numpy")
    np.testing.assert_allclose(_host(gx), rx, rtol=1e-15)
    np.testing.assert_allclose(_host(gw), rw, rtol=1e-13)


def test_the_cuda_kernel_is_what_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastact._backends import cuda_backend
    from fastact._kernels import cuda_kernels

    launches = []
    original = cuda_kernels.softsign_forward_s_f64

    class Spy:
        def __getitem__(self, config: Any) -> Any:
            launches.append(config)
            return original[config]

    monkeypatch.setattr(cuda_kernels, "softsign_forward_s_f64", Spy())
    monkeypatch.setattr(cuda_backend.BACKEND, "_kernels", {})
    monkeypatch.setattr(fa._dispatch, "_selected", {})
    fa.softsign(_cuda().to_device(np.ones(5)))
    assert launches, "a device array did not launch the generated CUDA kernel"


def test_device_calls_refuse_clearly() -> None:
    cuda = _cuda()
    dx = cuda.to_device(np.ones(4))
    with pytest.raises(TypeError, match="grad is on the host"):
        fa.relu.backward(np.ones(4), dx)
    with pytest.raises(ValueError, match="out has shape"):
        fa.relu(dx, out=cuda.device_array(3))
    with pytest.raises(TypeError, match="out must be a device array"):
        fa.relu(dx, out=np.empty(4))
    with pytest.raises(TypeError, match="dtype int64"):
        fa.relu(cuda.to_device(np.ones(4, dtype=np.int64)))
    with pytest.raises(ValueError, match="'cuda' backend"):
        fa.relu(dx, backend="cython")
    untouched = cuda.to_device(np.full(4, 7.0))
    with pytest.raises(ValueError, match="alpha"):
        fa.elu(dx, alpha=float("nan"), out=untouched)
    assert np.array_equal(_host(untouched), np.full(4, 7.0))


def test_host_arrays_with_backend_cuda_round_trip() -> None:
    x = np.linspace(-2, 2, 9)
    out = np.empty_like(x)
    assert fa.tanh(x, backend="cuda", out=out) is out
    # Within the bar of the exact value (mpmath), not np.tanh's rounding.
    want = np.array([oracle.to_binary(oracle.forward("tanh", float(v))) for v in x])
    assert np.all(np.abs(out - want) <= 8 * np.spacing(np.abs(want))), out - want


def _bias_params(spec: fa._registry.ActivationSpec, training: bool) -> dict:
    params = example_params(spec)
    if training:
        params.update(training=True, seed=3)
    return params


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("spec", "training"),
    [(s, False) for s in ELEMENTWISE] + [(fa._registry.lookup("rrelu"), True)],
    ids=[s.name for s in ELEMENTWISE] + ["rrelu-training"],
)
def test_bias_on_device_arrays(spec: fa._registry.ActivationSpec, training: bool,
                               dtype: type) -> None:  # fmt: skip
    """bias= on device arrays (issue 18): the fused kernels at x + b equal the plain
    kernels at z = x + b (the sum rounded in the dtype) bit for bit; the bias gradient
    is grad_x summed on the device, within 2 ulp of the float64 sum of its terms."""
    cuda = _cuda()
    activation = getattr(fa, spec.name)
    params = _bias_params(spec, training)
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((3, 4)) * 3).astype(dtype)
    g = rng.standard_normal((3, 4)).astype(dtype)
    b = (rng.standard_normal(4) * 2).astype(dtype)
    z = np.add(x, b, dtype=dtype)
    dx, dg, dz = cuda.to_device(x), cuda.to_device(g), cuda.to_device(z)
    for bias in (b, cuda.to_device(b)):
        y = activation(dx, bias=bias, **params)
        assert _on_device(y)
        np.testing.assert_array_equal(_host(y), _host(activation(dz, **params)))
        np.testing.assert_array_equal(_host(activation.derivative(dx, bias=bias, **params)),
                                      _host(activation.derivative(dz, **params)))  # fmt: skip
        value, slope = activation.value_and_derivative(dx, bias=bias, **params)
        np.testing.assert_array_equal(_host(value), _host(y))
        np.testing.assert_array_equal(_host(slope), _host(activation.derivative(dz, **params)))
        results = activation.backward(dg, dx, bias=bias, **params)
        plain = activation.backward(dg, dz, **params)
        plain = plain if isinstance(plain, tuple) else (plain,)
        assert len(results) == len(plain) + 1 and all(_on_device(r) for r in results)
        for got, want in zip(results[:-1], plain, strict=True):
            np.testing.assert_array_equal(_host(got), _host(want))
        terms = _host(plain[0]).astype(np.float64)
        gb = _host(results[-1])
        assert gb.shape == (4,) and gb.dtype == dtype
        bound = 2 * np.finfo(dtype).eps * np.abs(terms).sum(axis=0) + 1e-300
        assert np.all(np.abs(gb - terms.sum(axis=0)) <= bound)
        if spec.y_backward is True and not training:
            gx, gb_y = activation.backward(dg, y=y, bias=bias, **params)
            np.testing.assert_array_equal(_host(gx), _host(activation.backward(dg, y=y, **params)))
            assert np.all(np.abs(_host(gb_y) - _host(gx).astype(np.float64).sum(axis=0))
                          <= 2 * np.finfo(dtype).eps * np.abs(_host(gx)).sum(axis=0) + 1e-300)


def test_bias_on_the_device_by_shape_and_refusals() -> None:
    cuda = _cuda()
    rng = np.random.default_rng(8)
    x, g = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    dx, dg = cuda.to_device(x), cuda.to_device(g)
    for shape in [(3, 1), (), (2, 3, 4), (1, 4)]:
        b = rng.standard_normal(shape)
        z = x + b
        np.testing.assert_array_equal(_host(fa.gelu(dx, bias=cuda.to_device(np.asarray(b)))),
                                      _host(fa.gelu(cuda.to_device(z))))  # fmt: skip
        gx, gb = fa.sigmoid.backward(dg, dx, bias=b)
        want_gx, want_gb = fa.sigmoid.backward(g, z, bias=np.zeros(shape), backend="numpy")
        assert gb.shape == shape
        np.testing.assert_allclose(_host(gx), want_gx, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(_host(gb), want_gb, rtol=1e-13, atol=1e-15)
    # out= takes the bias gradient last; errors name bias and write nothing.
    outs = (cuda.device_array((2, 3, 4)), cuda.device_array((4,)))
    assert fa.relu.backward(dg, dx, bias=np.ones(4), out=outs) == outs
    untouched = cuda.to_device(np.full((2, 3, 4), 7.0))
    with pytest.raises(ValueError, match="bias of shape"):
        fa.relu(dx, bias=np.ones(5), out=untouched)
    with pytest.raises(TypeError, match="bias on the device has dtype float32"):
        fa.relu(dx, bias=cuda.to_device(np.ones(4, np.float32)), out=untouched)
    with pytest.raises(ValueError, match="out must have 2 entries"):
        fa.relu.backward(dg, dx, bias=np.ones(4), out=(untouched,))
    assert np.array_equal(_host(untouched), np.full((2, 3, 4), 7.0))
    # Host arrays on the cuda backend take the fused kernels too.
    np.testing.assert_array_equal(fa.tanh(x, bias=np.ones(4), backend="cuda"),
                                  fa.tanh(x + 1, backend="cuda"))  # fmt: skip
