"""The public surface of API.md: names, docs, dtypes, out=, strides, parameters, errors.

Every test runs over the whole registry (and every available backend where it
computes); nothing here is written per activation.
"""

from __future__ import annotations

import doctest
import inspect
import pickle

import numpy as np
import pytest

import fastact as fa
from conftest import ELEMENTWISE, example_params
from fastact._registry import SPECS

ALL = list(SPECS)
API_NAMES = """sigmoid expit logistic log_sigmoid logsigmoid tanh relu relu6 leaky_relu prelu
rrelu elu selu celu gelu silu swish mish softplus softsign hardsigmoid hard_sigmoid hardswish
hard_swish hard_silu hardtanh hard_tanh tanhshrink softshrink hardshrink threshold squareplus
exponential linear identity softmax log_softmax softmin glu""".split()
# Beyond API.md's table (issue 18): thinc's activations as registry entries.
THINC_NAMES = "clipped_linear thinc_hard_swish dish erf".split()


def _input(spec, dtype=np.float64, shape=(3, 4)):
    """A deterministic input that crosses every kink and both signs."""
    rng = np.random.default_rng(abs(hash(spec.name)) % 2**32)
    return (rng.standard_normal(shape) * 4).astype(dtype)


def _call(spec, x, **kw):
    return fa.activations()[spec.name](x, **example_params(spec), **kw)


# --------------------------------------------------------------------------- names, docs


def test_every_contract_name_is_public() -> None:
    names = fa.activations()
    assert sorted(names) == sorted(API_NAMES + THINC_NAMES)
    assert len({id(v) for v in names.values()}) == 30 + len(THINC_NAMES)
    for name in API_NAMES:
        assert getattr(fa, name) is names[name]
    assert fa.expit is fa.sigmoid is fa.logistic and fa.swish is fa.silu


@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_docstring_has_formula_derivative_parameters_example(spec) -> None:
    doc = inspect.getdoc(fa.activations()[spec.name])
    assert spec.formula in doc and spec.derivative in doc
    for p in spec.params:
        assert f"\n{p.name} : " in doc
    assert "Examples\n--------\n>>> " in doc
    signature = inspect.signature(fa.activations()[spec.name])
    assert next(iter(signature.parameters)) == "x"
    assert {p.name for p in spec.params} <= set(signature.parameters)


@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_docstring_example_runs(spec) -> None:
    activation = fa.activations()[spec.name]
    test = doctest.DocTestFinder().find(type(activation), spec.name, globs={})[0]
    result = doctest.DocTestRunner().run(test, out=lambda s: None)
    assert result.attempted >= 4 and result.failed == 0


@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_pickles_by_name(spec) -> None:
    activation = fa.activations()[spec.name]
    assert pickle.loads(pickle.dumps(activation)) is activation


# --------------------------------------------------------------------------- dtypes

TANH_DTYPES = [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.int64, np.uint64,
               np.float16, np.float32, np.float64]


@pytest.mark.parametrize("dtype", TANH_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_result_dtype_follows_np_tanh(spec, dtype, backend) -> None:
    x = np.array([[0, 1, 1, 0], [1, 0, 1, 1]], dtype=dtype)
    y = _call(spec, x, backend=backend)
    assert y.dtype == np.tanh(x).dtype
    if np.dtype(dtype).kind != "f":  # integers are computed as their float result dtype
        np.testing.assert_array_equal(y, _call(spec, x.astype(y.dtype), backend=backend))


@pytest.mark.parametrize("spec", ELEMENTWISE, ids=lambda s: s.name)
def test_float16_is_float32_rounded_once(spec, backend) -> None:
    x16 = _input(spec, np.float16)
    y16 = _call(spec, x16, backend=backend)
    with np.errstate(all="ignore"):
        expected = _call(spec, x16.astype(np.float32), backend=backend).astype(np.float16)
    np.testing.assert_array_equal(y16, expected)
    d16 = fa.activations()[spec.name].derivative(x16, **example_params(spec), backend=backend)
    assert d16.dtype == np.float16


@pytest.mark.parametrize("bad", [np.complex128(1j), np.array(["a"]), np.array([object()]),
                                 np.array([1.0], dtype=np.longdouble)],
                         ids=["complex", "str", "object", "longdouble"])
@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_unsupported_input_dtype_is_type_error(spec, bad) -> None:
    with pytest.raises(TypeError, match="dtype"):
        _call(spec, bad)


# --------------------------------------------------------------------------- shapes, scalars


@pytest.mark.parametrize("spec", ELEMENTWISE, ids=lambda s: s.name)
def test_zero_d_and_python_scalars_return_numpy_scalars(spec, backend) -> None:
    for value in (0.75, np.float32(0.75), np.array(0.75)):
        y = _call(spec, value, backend=backend)
        assert isinstance(y, np.generic) and y.shape == ()
        assert y == _call(spec, np.array([value]), backend=backend)[0]
    out = np.zeros(())
    assert _call(spec, 0.75, out=out, backend=backend) is out
    assert out == _call(spec, 0.75, backend=backend)


@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_lists_and_empty_arrays(spec, backend) -> None:
    x = _input(spec, shape=(2, 4))
    np.testing.assert_array_equal(_call(spec, x.tolist(), backend=backend),
                                  _call(spec, x, backend=backend))
    empty = np.zeros((0, 4))
    assert _call(spec, empty, backend=backend).shape[0] == 0


@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_any_strides_and_order(spec, backend) -> None:
    # Elementwise results are bit-identical for any layout; a row's sum may be added in
    # another order when the row lies differently in memory.
    check = (
        np.testing.assert_array_equal
        if spec.kind == "elementwise"
        else lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-15, atol=1e-15 * abs(b).max())
    )
    base = _input(spec, shape=(6, 8))
    for view in (base[::2, ::-2], base.T, np.asfortranarray(base), base[1:, 2:6]):
        expected = _call(spec, np.ascontiguousarray(view), backend=backend)
        check(_call(spec, view, backend=backend), expected)
    swapped = base.astype(base.dtype.newbyteorder())
    check(_call(spec, swapped, backend=backend), _call(spec, base, backend=backend))


# --------------------------------------------------------------------------- out=


@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_out_and_in_place(spec, backend) -> None:
    x = _input(spec)
    expected = _call(spec, x, backend=backend)
    out = np.empty_like(expected)
    assert _call(spec, x, out=out, backend=backend) is out
    np.testing.assert_array_equal(out, expected)
    if expected.shape == x.shape:  # in place (not glu, whose result is half as long)
        inplace = x.copy()
        assert _call(spec, inplace, out=inplace, backend=backend) is inplace
        np.testing.assert_array_equal(inplace, expected)
    lower = np.empty(expected.shape, np.float32)  # same_kind casting into float32
    _call(spec, x, out=lower, backend=backend)
    np.testing.assert_array_equal(lower, expected.astype(np.float32))


@pytest.mark.parametrize("spec", ELEMENTWISE, ids=lambda s: s.name)
def test_out_partly_overlapping_the_input(spec, backend) -> None:
    buffer = _input(spec, shape=(20,))
    x, out = buffer[:-2], buffer[2:]
    expected = _call(spec, x.copy(), backend=backend)
    _call(spec, x, out=out, backend=backend)
    np.testing.assert_array_equal(out, expected)


def _bad_outs(shape):
    frozen = np.zeros(shape)
    frozen.flags.writeable = False
    return [
        (np.zeros((*shape, 1)), ValueError, "shape"),
        (frozen, ValueError, "read-only"),
        (np.zeros(shape, dtype=np.int64), TypeError, "same_kind"),
        ([0.0] * 3, TypeError, "ndarray"),
    ]


@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_bad_out_raises_and_writes_nothing(spec) -> None:
    x = _input(spec)
    shape = _call(spec, x).shape
    for out, error, message in _bad_outs(shape):
        before = np.array(out, copy=True)
        with pytest.raises(error, match=message):
            _call(spec, x, out=out)
        np.testing.assert_array_equal(np.asarray(out), before)


@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_errors_leave_out_untouched(spec) -> None:
    """A bad parameter or backend is found before anything is written."""
    x = _input(spec)
    out = np.full(_call(spec, x).shape, 7.0)
    with pytest.raises(ValueError, match="backend"):
        _call(spec, x, out=out, backend="no-such-backend")
    with pytest.raises(TypeError, match="unexpected keyword"):
        _call(spec, x, out=out, no_such_parameter=1)
    assert (out == 7.0).all()


# --------------------------------------------------------------------------- two outputs


@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_value_and_derivative_is_both(spec, backend) -> None:
    activation = fa.activations()[spec.name]
    x = _input(spec)
    params = example_params(spec)
    y, d = activation.value_and_derivative(x, backend=backend, **params)
    np.testing.assert_array_equal(y, activation(x, backend=backend, **params))
    np.testing.assert_array_equal(d, activation.derivative(x, backend=backend, **params))
    outs = (np.empty_like(y), np.empty_like(d))
    assert activation.value_and_derivative(x, out=outs, backend=backend, **params) == outs
    np.testing.assert_array_equal(outs[0], y)
    with pytest.raises(TypeError, match="pair"):
        activation.value_and_derivative(x, out=np.empty_like(y), **params)
    if spec.kind == "elementwise":
        with pytest.raises(ValueError, match="overlap"):
            activation.value_and_derivative(x, out=(outs[0], outs[0]), **params)


# --------------------------------------------------------------------------- backward


@pytest.mark.parametrize("spec", ELEMENTWISE, ids=lambda s: s.name)
def test_backward_is_grad_times_derivative(spec, backend) -> None:
    activation = fa.activations()[spec.name]
    params = example_params(spec)
    x = _input(spec)
    grad = np.random.default_rng(1).standard_normal(x.shape)
    got = activation.backward(grad, x, backend=backend, **params)
    got = got[0] if spec.param_grads else got
    expected = grad * activation.derivative(x, backend=backend, **params)
    np.testing.assert_allclose(got, expected, rtol=2e-16, atol=0)
    # grad broadcasts to x's shape; in place into grad works.
    row = grad[0]
    got_row = activation.backward(row, x, backend=backend, **params)
    got_row = got_row[0] if spec.param_grads else got_row
    expected_row = row * activation.derivative(x, backend=backend, **params)
    np.testing.assert_allclose(got_row, expected_row, rtol=2e-16)
    if not spec.param_grads:
        g = grad.copy()
        activation.backward(g, x, out=g, backend=backend, **params)
        np.testing.assert_array_equal(g, got)


@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_backward_argument_errors(spec) -> None:
    activation = fa.activations()[spec.name]
    params = example_params(spec)
    x = _input(spec)
    y = activation(x, **params)
    with pytest.raises(ValueError, match="exactly one of x or y"):
        activation.backward(np.ones_like(y), x, y=y, **params)
    with pytest.raises(ValueError, match="exactly one of x or y"):
        activation.backward(np.ones_like(y), **params)
    with pytest.raises(ValueError, match="grad"):
        activation.backward(np.ones((5, 7)), x, **params)
    if spec.y_backward is False:
        with pytest.raises(ValueError, match="pass x"):
            activation.backward(np.ones_like(y), y=y, **params)


@pytest.mark.parametrize(
    ("name", "params"),
    [("leaky_relu", {"negative_slope": 0.0}), ("leaky_relu", {"negative_slope": -0.1}),
     ("elu", {"alpha": -1.0}), ("celu", {"alpha": -2.0}),
     ("leaky_relu", {"negative_slope": np.array([0.1, -0.1, 0.2])})],
)
def test_y_backward_needs_positive_slope(name, params) -> None:
    y = np.linspace(-1, 1, 3)
    with pytest.raises(ValueError, match="pass x"):
        fa.activations()[name].backward(np.ones(3), y=y, **params)


def test_backward_promotes_like_numpy() -> None:
    x32 = np.linspace(-2, 2, 5, dtype=np.float32)
    assert fa.gelu.backward(np.ones(5, np.float32), x32).dtype == np.float32
    assert fa.gelu.backward(np.ones(5, np.float64), x32).dtype == np.float64
    assert fa.gelu.backward(np.ones(5, np.float16), x32.astype(np.float16)).dtype == np.float16


# --------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x: fa.gelu(x, approximate="x"), "approximate"),
        (lambda x: fa.softplus(x, beta=0), "beta"),
        (lambda x: fa.softplus(x, beta=np.array([1.0, 0.0, 1.0])), "beta"),
        (lambda x: fa.hardtanh(x, min_val=2, max_val=1), "min_val"),
        (lambda x: fa.softshrink(x, lambd=-1), "lambd"),
        (lambda x: fa.hardshrink(x, lambd=-0.1), "lambd"),
        (lambda x: fa.squareplus(x, b=-1), "b"),
        (lambda x: fa.celu(x, alpha=0), "alpha"),
        (lambda x: fa.elu(x, alpha=np.nan), "alpha"),
        (lambda x: fa.leaky_relu(x, negative_slope=np.inf), "negative_slope"),
        (lambda x: fa.leaky_relu(x, negative_slope=np.ones(4)), "negative_slope"),
        (lambda x: fa.prelu(x, np.ones((2, 3))), "weight"),
        (lambda x: fa.rrelu(x, lower=0.5, upper=0.1), "lower"),
        (lambda x: fa.rrelu(x, training=True), "seed"),
        (lambda x: fa.rrelu(x, training=True, seed=-1), "seed"),
        (lambda x: fa.rrelu(x, training=True, seed=2**64), "seed"),
        (lambda x: fa.softmax(x, axis=1), "axis"),
        (lambda x: fa.glu(x), "even"),
    ],
)
def test_bad_parameter_values_are_value_errors(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call(np.linspace(-1, 1, 3))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x: fa.prelu(x), "weight"),
        (lambda x: fa.leaky_relu(x, 0.1), "positional"),
        (lambda x: fa.leaky_relu(x, negative_slope="0.1"), "negative_slope"),
        (lambda x: fa.leaky_relu(x, negative_slope=1j), "negative_slope"),
        (lambda x: fa.rrelu(x, training=1, seed=0), "training"),
        (lambda x: fa.rrelu(x, training=True, seed=1.5), "seed"),
        (lambda x: fa.softmax(x, axis=0.0), "axis"),
    ],
)
def test_bad_parameter_types_are_type_errors(call, message) -> None:
    with pytest.raises(TypeError, match=message):
        call(np.linspace(-1, 1, 3))


def test_axis_error_is_numpy_axis_error() -> None:
    with pytest.raises(np.exceptions.AxisError):
        fa.softmax(np.ones((2, 3)), axis=2)


def test_per_channel_parameters_broadcast() -> None:
    """A (C, 1, 1) slope for NCHW data, as the contract describes."""
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    slope = np.array([0.1, 0.2, 0.3]).reshape(3, 1, 1)
    y = fa.leaky_relu(x, negative_slope=slope)
    np.testing.assert_allclose(y, np.where(x > 0, x, slope * x), rtol=1e-15)
    np.testing.assert_array_equal(y, fa.prelu(x, slope))


def test_parameters_are_cast_to_the_compute_dtype() -> None:
    x = np.array([-1.0], dtype=np.float32)
    slope = 0.1  # not a float32 value: the float32 one is used
    assert fa.leaky_relu(x, negative_slope=slope)[0] == np.float32(-1) * np.float32(slope)


# --------------------------------------------------------------------------- prelu, rrelu


def test_prelu_weight_gradient_sums_over_broadcast_axes(backend) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4))
    grad = rng.standard_normal((2, 3, 4))
    for weight in (np.float64(0.25), np.array([0.1, 0.2, 0.3]).reshape(3, 1),
                   rng.standard_normal((3, 4)), np.full((1, 1, 4), 0.5)):
        gx, gw = fa.prelu.backward(grad, x, weight=weight, backend=backend)
        assert np.shape(gw) == np.shape(weight)
        expected = np.zeros(np.shape(weight))
        wb = np.broadcast_to(weight, x.shape)
        for index in np.ndindex(x.shape):  # the definition, one element at a time
            target = tuple(0 if n == 1 else i for i, n in
                           zip(index[x.ndim - np.ndim(weight):], np.shape(weight), strict=True))
            if x[index] <= 0:
                expected[target] += grad[index] * x[index]
        np.testing.assert_allclose(gw, expected, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(gx, grad * np.where(x > 0, 1.0, wb), rtol=1e-15)
    outs = (np.empty_like(x), np.empty((3, 1)))
    result = fa.prelu.backward(grad, x, weight=np.ones((3, 1)), out=outs, backend=backend)
    assert result[0] is outs[0] and result[1] is outs[1]


def _splitmix_uniform(seed: int, i: int) -> float:
    """The contract's counter-based hash, with Python integers."""
    mask = 2**64 - 1

    def mix(z: int) -> int:
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    z = mix((mix(seed) + (i + 1) * 0x9E3779B97F4A7C15) & mask)
    return (z >> 11) * 2.0**-53


@pytest.mark.parametrize("seed", [0, 12345, 2**64 - 1])
def test_rrelu_training_slopes_are_the_counter_hash(seed, backend) -> None:
    x = -np.ones((3, 5))
    y = fa.rrelu(x, training=True, seed=seed, lower=0.1, upper=0.3, backend=backend)
    slopes = np.array([0.1 + 0.2 * _splitmix_uniform(seed, i) for i in range(15)])
    np.testing.assert_allclose(-y.ravel(), slopes, rtol=1e-15)
    d = fa.rrelu.derivative(x, training=True, seed=seed, lower=0.1, upper=0.3, backend=backend)
    np.testing.assert_array_equal(d * x, y)
    gx = fa.rrelu.backward(np.ones_like(x), x, training=True, seed=seed, lower=0.1, upper=0.3)
    np.testing.assert_array_equal(gx, d)
    # The index is the C-order position in x's shape, whatever x's memory order.
    yf = fa.rrelu(np.asfortranarray(x), training=True, seed=seed, lower=0.1, upper=0.3)
    np.testing.assert_array_equal(yf, y)


def test_rrelu_eval_is_leaky_relu_with_the_mean_slope() -> None:
    x = np.linspace(-3, 3, 13)
    np.testing.assert_array_equal(fa.rrelu(x), fa.leaky_relu(x, negative_slope=(1 / 8 + 1 / 3) / 2))


@pytest.mark.parametrize("seed", [0, 7, 2**63 + 5])
def test_rrelu_hash_is_the_same_in_numpy_and_in_c(seed) -> None:
    """The reference's NumPy hash and the compiled one (for the Cython backend) agree
    bit for bit, on any thread count: the slopes cannot depend on the backend."""
    from fastact import _reference
    from fastact._kernels import _runtime

    expected = _reference.rrelu_uniform(seed, (1000, 7))
    for threads in (1, 2):
        got = np.empty(7000)
        _runtime.rrelu_uniform(seed, 0, got, num_threads=threads)
        np.testing.assert_array_equal(got.reshape(1000, 7), expected)


def test_prelu_backward_in_place_still_gets_the_weight_gradient() -> None:
    x = np.array([[-1.0, 2, -3], [-4, 5, -6]])
    grad, weight = np.ones_like(x), np.full(3, 0.25)
    expected_gx, expected_gw = fa.prelu.backward(grad, x, weight=weight)
    for overwritten in ("x", "grad"):
        xi, gi = x.copy(), grad.copy()
        out = xi if overwritten == "x" else gi
        gx, gw = fa.prelu.backward(gi, xi, weight=weight, out=(out, None))
        assert gx is out
        np.testing.assert_array_equal(gx, expected_gx)
        np.testing.assert_array_equal(gw, expected_gw)


def test_python_scalar_grad_does_not_upcast() -> None:
    """NEP 50: a Python float is weak, as in ``2.0 * float32_array``."""
    assert fa.tanh.backward(2.0, np.ones(2, np.float32)).dtype == np.float32
    assert fa.tanh.backward(np.float64(2.0), np.ones(2, np.float32)).dtype == np.float64


def test_single_out_may_be_a_one_tuple() -> None:
    x, out = np.linspace(-1, 1, 5), np.empty(5)
    assert fa.relu(x, out=(out,)) is out
    with pytest.raises(ValueError, match="2 entries"):
        fa.relu.value_and_derivative(x, out=(out,))


def test_device_arrays_are_refused_clearly_without_a_gpu_backend() -> None:
    class DeviceArray:
        @property
        def __cuda_array_interface__(self) -> dict:
            return {"shape": (3,), "typestr": "<f4", "data": (0, False), "version": 3}

    if "cuda" not in fa.available_backends():
        with pytest.raises(NotImplementedError, match="CUDA device array"):
            fa.relu(DeviceArray())


def test_resolve_backend_checks_its_arguments() -> None:
    assert fa.resolve_backend("prelu", np.float64, method="backward_x") in fa.available_backends()
    with pytest.raises(ValueError, match="method"):
        fa.resolve_backend("gelu", np.float32, method="bogus")
    with pytest.raises(TypeError, match="complex"):
        fa.resolve_backend("gelu", np.complex64)


@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_methods_have_the_activation_signature(spec) -> None:
    activation = fa.activations()[spec.name]
    names = {p.name for p in spec.params}
    if spec.kind == "elementwise":
        names.add("bias")  # fused bias (issue 18), taken by every method
    for method in (activation.derivative, activation.value_and_derivative):
        assert set(inspect.signature(method).parameters) == {"x", "out", "backend"} | names
    backward = inspect.signature(activation.backward).parameters
    assert set(backward) == {"grad", "x", "y", "out", "backend"} | names
