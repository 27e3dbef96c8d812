"""The baselines table (fastact.bench.baselines): complete, and the formulas are right.

The tutorial formulas lose digits in the tails (that is fastact's point), so they are
checked against the reference backend only on moderate inputs, with a loose tolerance:
what this catches is a wrong formula, not an inaccurate one.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastact as fa
from fastact._registry import SPECS
from fastact.bench.baselines import BASELINES, bench_params, torch_module

NAMES = [s.name for s in SPECS]


def _inputs(spec: fa._registry.ActivationSpec, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    # Moderate inputs, away from the kinks at 0, +-lambd, +-3, 6 and the threshold,
    # where a formula's convention (not its correctness) decides.
    shape = (6, 8) if spec.kind == "axis" else (200,)
    x = rng.uniform(-7, 7, size=shape)
    kinks = np.array([0.0, 0.5, -0.5, 3.0, -3.0, 6.0, 0.1, 1.0, -1.0])
    near = np.min(np.abs(x[..., None] - kinks), axis=-1) < 0.05
    x = np.where(near, x + 0.1, x).astype(dtype)
    y_shape = list(shape)
    if spec.halves_axis:
        y_shape[-1] //= 2
    grad = rng.standard_normal(y_shape).astype(dtype)
    return x, grad


def test_table_covers_exactly_the_registry() -> None:
    assert sorted(BASELINES) == sorted(NAMES)
    for name, base in BASELINES.items():
        assert base.name == name
        assert base.numpy_source


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_formula_agrees_with_the_reference(name: str, dtype: type) -> None:
    spec = fa._registry.lookup(name)
    params = bench_params(spec)
    base = BASELINES[name]
    act = fa.activations()[name]
    x, grad = _inputs(spec, dtype)
    rtol, atol = (1e-4, 1e-5) if dtype == np.float32 else (1e-9, 1e-12)

    y = base.numpy_forward(x, **params)
    assert y.dtype == dtype, "the formula must keep the dtype (NEP 50: Python constants)"
    np.testing.assert_allclose(y, act(x, backend="numpy", **params), rtol=rtol, atol=atol)

    gx = base.numpy_backward(grad, x, **params)
    expected = act.backward(grad, x, backend="numpy", **params)
    if spec.param_grads:
        expected = expected[0]
    assert gx.dtype == dtype
    np.testing.assert_allclose(gx, expected, rtol=rtol, atol=atol)


def test_params_fill_required_ones_from_the_examples() -> None:
    assert bench_params(fa._registry.lookup("prelu")) == {"weight": 0.25}
    assert bench_params(fa._registry.lookup("threshold")) == {"threshold": 0.1, "value": 0.0}
    # Defaults, not the docstring examples, for parameters that have one.
    assert bench_params(fa._registry.lookup("gelu")) == {"approximate": "none"}


def test_rrelu_formula_is_the_evaluation_mode_only() -> None:
    x = np.linspace(-1, 1, 5)
    with pytest.raises(NotImplementedError):
        BASELINES["rrelu"].numpy_forward(x, lower=0.1, upper=0.3, training=True, seed=0)


@pytest.mark.parametrize("name", NAMES)
def test_torch_function_agrees_with_the_reference(name: str) -> None:
    torch = torch_module()
    if torch is None:
        pytest.skip("torch is not installed")
    spec = fa._registry.lookup(name)
    params = bench_params(spec)
    x, grad = _inputs(spec, np.float64)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt = BASELINES[name].torch_forward(xt, **params)
    (gt,) = torch.autograd.grad(yt, xt, torch.from_numpy(grad))
    act = fa.activations()[name]
    np.testing.assert_allclose(yt.detach().numpy(), act(x, **params), rtol=1e-7, atol=1e-10)
    expected = act.backward(grad, x, **params)
    if spec.param_grads:
        expected = expected[0]
    np.testing.assert_allclose(gt.numpy(), expected, rtol=1e-7, atol=1e-10)
