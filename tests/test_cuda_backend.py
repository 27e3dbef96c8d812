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
