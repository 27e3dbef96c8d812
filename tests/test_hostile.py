"""Hostile input, property-based, on every backend: each call works like a ufunc on a
clean copy or raises a clear error naming the argument, with nothing written.

What is drawn: every activation and method, float16/32/64, shapes from 0-d to 4-d
with empty ones, negative and zero strides, transposes, non-native byte order,
read-only inputs; ``out`` absent, the input itself, a view that overlaps the input
without being it, non-native, or read-only; grad as a Python scalar or a broadcast
array; Python scalars and nested lists as x. The expected result is the same call
on a C-contiguous native copy: bit for bit for elementwise activations, within the
accuracy bar for the axis functions (a row lying differently in memory may be
summed in another order).

Decisions (README, "Inputs"): ndarray subclasses (np.matrix, np.memmap, your own)
are computed on their data and results shaped like the input come back as the
subclass, through its ``__array_wrap__``, as a ufunc's do (the Jacobian and prelu's
weight gradient are plain arrays); masked arrays are refused with a TypeError naming
the argument, since computing on the data would drop the mask silently. An ``out``
whose elements overlap each other (zero strides) gets one of the values written, as
with NumPy; which one is not specified.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastact as fa
from conftest import BACKENDS, example_params
from fastact._registry import SPECS, ActivationSpec

DTYPES = [np.float16, np.float32, np.float64]
SENTINEL = 7.0

@pytest.fixture(autouse=True)
def _forget_selected_kernels():
    """Leave no kernel selections cached by these calls behind: tests that swap a
    backend's kernels (tests/test_numba_backend.py) would otherwise still get the
    cached ones (an order dependence of theirs, reported in issue 7)."""
    yield
    fa._dispatch._selected.clear()



def _methods(spec: ActivationSpec) -> list[str]:
    methods = ["forward", "backward_x"]
    if spec.kind == "elementwise":
        methods += ["derivative", "value_and_derivative"]
    if spec.y_backward is True:
        methods.append("backward_y")
    return methods


CASES = [(spec.name, m) for spec in SPECS for m in _methods(spec)]


@st.composite
def _values(draw, dtype, shape):
    finite = st.floats(-30, 30, width=np.dtype(dtype).itemsize * 8)
    special = st.sampled_from([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30])
    return draw(hnp.arrays(dtype, shape, elements=st.one_of(finite, special)))


@st.composite
def _hostile(draw, dtype, shape):
    """An array of ``shape`` laid out in a hostile way (values from ``_values``)."""
    layout = draw(st.sampled_from(["plain", "reversed", "zero", "transposed", "swapped"]))
    if layout == "zero" and shape:
        axis = draw(st.integers(0, len(shape) - 1))
        small = tuple(1 if i == axis else n for i, n in enumerate(shape))
        array = np.broadcast_to(draw(_values(dtype, small)), shape)  # read-only, stride 0
    elif layout == "transposed" and len(shape) > 1:
        array = draw(_values(dtype, shape[::-1])).T
    else:
        array = draw(_values(dtype, shape))
        if layout == "reversed":
            array = array[tuple(slice(None, None, -1) for _ in shape)]
        elif layout == "swapped":
            array = array.astype(array.dtype.newbyteorder())
    if draw(st.booleans()) and array.flags.writeable:
        array.flags.writeable = False
    return array


def _call(name: str, method: str, x, grad=None, **kwargs):
    activation = fa.activations()[name]
    if method == "forward":
        return activation(x, **kwargs)
    if method == "derivative":
        return activation.derivative(x, **kwargs)
    if method == "value_and_derivative":
        return activation.value_and_derivative(x, **kwargs)
    if method == "backward_y":
        return activation.backward(grad, y=x, **kwargs)
    return activation.backward(grad, x, **kwargs)


def _pieces(result) -> list[np.ndarray]:
    return [np.asarray(r) for r in (result if isinstance(result, tuple) else (result,))]


def _same(got, want, spec: ActivationSpec) -> None:
    for g, w in zip(_pieces(got), _pieces(want), strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        if spec.kind == "elementwise" or g.size == 0:
            np.testing.assert_array_equal(g, w)
            continue
        w64, g64 = w.astype(np.float64), g.astype(np.float64)
        eps = np.finfo(w.dtype).eps
        with np.errstate(all="ignore"):
            scale = np.max(np.abs(np.where(np.isfinite(w64), w64, 0)), initial=0.0)
            ok = (g64 == w64) | (np.isnan(g64) & np.isnan(w64))
            ok |= np.abs(g64 - w64) <= 8 * eps * (np.abs(w64) + scale)
        assert ok.all(), (g, w)


def _shape_for(spec: ActivationSpec, draw) -> tuple[tuple[int, ...], dict]:
    params = dict(example_params(spec))
    min_dims = 1 if spec.kind == "axis" else 0
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=4, min_side=0, max_side=5))
    if spec.kind == "axis":
        axis = draw(st.integers(-len(shape), len(shape) - 1))
        params["axis"] = axis
        if spec.halves_axis:
            shape = tuple(2 * (n // 2) if i == axis % len(shape) else n
                          for i, n in enumerate(shape))
    return shape, params


@given(case=st.sampled_from(CASES), dtype=st.sampled_from(DTYPES),
       backend=st.sampled_from(BACKENDS), data=st.data())
def test_hostile_layouts_and_outs_work_like_a_clean_copy(case, dtype, backend, data) -> None:
    name, method = case
    spec = fa._registry.lookup(name)
    shape, params = _shape_for(spec, data.draw)
    x = data.draw(_hostile(dtype, shape), label="x")
    if method == "backward_y" and spec.kind == "elementwise":
        # y must be a possible output: clip into the activation's range.
        x = _call(name, "forward", np.array(x, order="C"), backend=backend, **params)
        x = np.asarray(x)
    grad = None
    if method.startswith("backward"):
        y_shape = np.shape(_call(name, "forward", np.zeros(shape, dtype), **params))
        grad = data.draw(st.one_of(
            st.just(1.5),
            _hostile(dtype, y_shape),
            _hostile(dtype, y_shape[-1:]) if y_shape else st.just(-2.0),
        ), label="grad")
    clean_x = np.array(x, dtype=np.dtype(dtype), order="C")  # native, contiguous
    clean_grad = grad if not isinstance(grad, np.ndarray) else np.array(grad, order="C")
    expected = _call(name, method, clean_x, clean_grad, backend=backend, **params)
    _same(_call(name, method, x, grad, backend=backend, **params), expected, spec)

    # out: the input itself, a shifted view of the same buffer, non-native.
    pieces = _pieces(expected)
    if len(pieces) > 1 or not pieces[0].shape:
        return
    want = pieces[0]
    choice = data.draw(st.sampled_from(["in place", "overlap", "swapped"]), label="out")
    if choice == "in place":
        if want.shape != clean_x.shape or want.dtype != clean_x.dtype:
            return
        out = clean_x.copy()
        got = _call(name, method, out, grad if method.startswith("backward") else None,
                    out=out, backend=backend, **params)
    elif choice == "overlap":
        if want.dtype != clean_x.dtype or want.shape != clean_x.shape or not want.size:
            return
        shift = data.draw(st.integers(1, 3))
        buffer = np.zeros(clean_x.size + shift, clean_x.dtype)
        start = data.draw(st.sampled_from([0, shift]))
        view = buffer[start:start + clean_x.size].reshape(clean_x.shape)
        view[...] = clean_x
        out = buffer[shift - start:shift - start + clean_x.size].reshape(clean_x.shape)
        got = _call(name, method, view, grad, out=out, backend=backend, **params)
    else:
        out = np.full(want.shape, SENTINEL, want.dtype.newbyteorder())
        got = _call(name, method, x, grad, out=out, backend=backend, **params)
    assert got is out
    _same(out.astype(want.dtype), want, spec)


@given(case=st.sampled_from(CASES), dtype=st.sampled_from(DTYPES),
       backend=st.sampled_from(BACKENDS), data=st.data())
def test_read_only_out_is_refused_and_nothing_is_written(case, dtype, backend, data) -> None:
    name, method = case
    spec = fa._registry.lookup(name)
    shape, params = _shape_for(spec, data.draw)
    x = data.draw(_values(dtype, shape))
    grad = 1.0 if method.startswith("backward") else None
    if method == "backward_y" and spec.kind == "elementwise":
        x = np.asarray(_call(name, "forward", x, backend=backend, **params))
    expected = _pieces(_call(name, method, x, grad, backend=backend, **params))
    outs = [np.full(e.shape, SENTINEL, e.dtype) for e in expected]
    frozen = data.draw(st.integers(0, len(outs) - 1))
    outs[frozen].flags.writeable = False
    out = tuple(outs) if len(outs) > 1 else outs[0]
    prefix = f"out[{frozen}]" if len(outs) > 1 else "out"
    with pytest.raises(ValueError, match=re.escape(f"{prefix} is read-only")):
        _call(name, method, x, grad, out=out, backend=backend, **params)
    for o in outs:
        assert (o == SENTINEL).all()


PARAMETRISED = [s for s in SPECS if any(p.kind == "real" for p in s.params)]


@settings(max_examples=40)
@given(spec=st.sampled_from(PARAMETRISED), backend=st.sampled_from(BACKENDS), data=st.data())
def test_bad_parameters_name_themselves_and_write_nothing(spec, backend, data) -> None:
    """NaN, a shape that would enlarge the result, a complex or string value."""
    param = data.draw(st.sampled_from([p for p in spec.params if p.kind == "real"]))
    x = np.linspace(-2, 2, 12).reshape(3, 4)
    params = dict(example_params(spec))
    bad, error = data.draw(st.sampled_from([
        (np.nan, ValueError),
        (np.array([0.5, np.nan, 0.5, 0.5]), ValueError),
        (np.full((2, 3, 4), 0.25), ValueError),  # enlarges (3, 4)
        (np.full((5,), 0.25), ValueError),  # does not broadcast
        (0.25 + 1j, TypeError),
        ("0.25", TypeError),
    ]))
    params[param.name] = bad
    out = np.full(x.shape, SENTINEL)
    method = data.draw(st.sampled_from(["forward", "backward_x"]))
    if method == "forward":
        with pytest.raises(error, match=param.name):
            fa.activations()[spec.name](x, out=out, backend=backend, **params)
    else:
        target = (out, None) if spec.param_grads else out
        with pytest.raises(error, match=param.name):
            fa.activations()[spec.name].backward(np.ones_like(x), x, out=target,
                                                 backend=backend, **params)
    assert (out == SENTINEL).all()


@pytest.mark.parametrize("value", [0.5, -3, True, [[0.5, -1.0], [2.0, -0.25]], [[[1]], [[-2]]]])
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_python_scalars_and_nested_lists_are_arrays(spec, value, backend) -> None:
    activation = fa.activations()[spec.name]
    params = example_params(spec)
    array = np.asarray(value)
    if (spec.kind == "axis" and array.ndim == 0) or (spec.halves_axis and array.shape[-1] % 2):
        with pytest.raises(ValueError, match=r"axis|even"):
            activation(value, backend=backend, **params)
        return
    got = activation(value, backend=backend, **params)
    want = activation(array, backend=backend, **params)
    assert type(got) is type(want) and np.shape(got) == np.shape(want)
    np.testing.assert_array_equal(got, want)
    if array.ndim == 0:
        assert isinstance(got, np.generic)  # a NumPy scalar, as a ufunc returns


# --------------------------------------------------------------------------- subclasses


class Tagged(np.ndarray):
    """A subclass with a higher priority than the others (as astropy's units have)."""

    __array_priority__ = 50.0


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_subclasses_come_back_as_the_subclass(spec, backend) -> None:
    activation = fa.activations()[spec.name]
    params = example_params(spec)
    plain = np.array([[0.5, -1.0, 2.0, -0.25], [1.5, -3.0, 0.0, 4.0]])
    for sub in (np.matrix(plain), plain.view(Tagged)):
        y = activation(sub, backend=backend, **params)
        assert type(y) is type(sub), type(y)
        np.testing.assert_array_equal(np.asarray(y), activation(plain, backend=backend, **params))
        grad = np.ones(np.shape(y))
        gx = activation.backward(grad, sub, backend=backend, **params)
        gx = gx[0] if spec.param_grads else gx
        assert type(gx) is type(sub)
        if spec.kind == "elementwise":
            d = activation.derivative(sub, backend=backend, **params)
            assert type(d) is type(sub)
        else:  # the Jacobian has one more axis than a matrix may: a plain array
            assert type(activation.derivative(sub, backend=backend, **params)) is np.ndarray
    # Among several subclasses, the higher __array_priority__ wraps (as in ufuncs).
    grad = np.ones(np.shape(activation(plain, **params))).view(Tagged)
    gx = activation.backward(grad, np.matrix(plain), backend=backend, **params)
    assert type(gx[0] if spec.param_grads else gx) is Tagged


def test_memmap_in_and_out(tmp_path, backend) -> None:
    data = np.memmap(tmp_path / "x.f32", dtype=np.float32, mode="w+", shape=(64, 3))
    data[...] = np.linspace(-3, 3, data.size, dtype=np.float32).reshape(data.shape)
    expected = fa.gelu(np.array(data), backend=backend)
    y = fa.gelu(data, backend=backend)
    assert type(y) is np.ndarray  # memmap's __array_wrap__: a new result is in memory
    np.testing.assert_array_equal(y, expected)
    assert fa.gelu(data, out=data, backend=backend) is data
    np.testing.assert_array_equal(data, expected)


@pytest.mark.parametrize("where", ["x", "grad", "out", "weight"])
def test_masked_arrays_are_refused_naming_the_argument(where, backend) -> None:
    x = np.array([0.5, -1.0, 2.0])
    masked = np.ma.masked_array(x, mask=[False, True, False])
    out = np.full(3, SENTINEL)
    args = {"grad": np.ones(3), "x": x, "weight": np.full(3, 0.25)}
    if where == "out":
        out = np.ma.masked_array(out, mask=[False, True, False])
    else:
        args[where] = masked
    with pytest.raises(TypeError, match=f"{where}.*MaskedArray"):
        fa.prelu.backward(args["grad"], args["x"], weight=args["weight"], out=(out, None),
                          backend=backend)
    assert (np.ma.getdata(out) == SENTINEL).all()
    if where == "x":
        with pytest.raises(TypeError, match=r"x is a numpy\.ma\.MaskedArray"):
            fa.relu(masked, backend=backend)


# --------------------------------------------------------------------------- aliasing


@pytest.mark.parametrize("alias", ["x", "grad"])
def test_prelu_weight_gradient_into_an_input(alias, backend) -> None:
    """out[1] (the weight gradient, written first) may be an input that grad_x still
    needs: it was computed from the overwritten input before (a wrong grad_x)."""
    rng = np.random.default_rng(2)
    x, grad = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    weight = np.full((4, 3), 0.3)
    want = fa.prelu.backward(grad, x, weight=weight, backend=backend)
    x2, grad2 = x.copy(), grad.copy()
    target = x2 if alias == "x" else grad2
    got = fa.prelu.backward(grad2, x2, weight=weight, out=(None, target), backend=backend)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-15)
    assert got[1] is target


# --------------------------------------------------------------------------- backends agree


@settings(max_examples=30)
@given(
    name=st.sampled_from(["leaky_relu", "prelu", "rrelu", "threshold", "hardtanh"]),
    dtype=st.sampled_from([np.float32, np.float64]),
    data=st.data(),
)
def test_backends_agree_with_array_parameters(name, dtype, data) -> None:
    """Per-channel parameters and rrelu's training slopes: every backend within 2 ulp
    of the reference backend (x * slope rounded once there, twice in float32 kernels
    that round the slope first)."""
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6))
    x = data.draw(hnp.arrays(dtype, shape, elements=st.floats(-50, 50, width=32)))
    grad = data.draw(hnp.arrays(dtype, shape, elements=st.floats(-2, 2, width=32)))
    channel = data.draw(hnp.arrays(np.float64, shape[-1:], elements=st.floats(0.05, 0.45)))
    params: dict = {
        "leaky_relu": {"negative_slope": channel},
        "prelu": {"weight": channel},
        "rrelu": {"lower": channel, "upper": 0.5, "training": True,
                  "seed": data.draw(st.integers(0, 2**64 - 1))},
        "threshold": {"threshold": channel, "value": -channel},
        "hardtanh": {"min_val": -1 - channel, "max_val": channel},
    }[name]
    activation = fa.activations()[name]
    runs = {
        b: (activation(x, backend=b, **params), activation.backward(grad, x, backend=b, **params))
        for b in BACKENDS
    }
    for b, (y, gx) in runs.items():
        ry, rgx = runs["numpy"]
        np.testing.assert_allclose(y, ry, rtol=2 * np.finfo(dtype).eps, atol=0, err_msg=b)
        if isinstance(gx, tuple):  # prelu: (grad_x, grad_weight), the weight's a sum
            np.testing.assert_allclose(gx[0], rgx[0], rtol=2 * np.finfo(dtype).eps, err_msg=b)
            np.testing.assert_allclose(gx[1], rgx[1], rtol=1e-4 if dtype == np.float32
                                       else 1e-12, atol=1e-3, err_msg=b)
        else:
            np.testing.assert_allclose(gx, rgx, rtol=2 * np.finfo(dtype).eps, atol=0, err_msg=b)


def test_more_than_32_dimensions(backend) -> None:
    """NumPy 2 allows 64 axes; np.broadcast_shapes and the C rrelu walker stop at 32
    (they raised RuntimeError and ValueError here)."""
    shape = (1,) * 20 + (2,) * 6 + (1,) * 14
    x = np.linspace(-2, 2, 64).reshape(shape)
    weight = np.full((2,) * 6 + (1,) * 14, 0.2)
    gx, gw = fa.prelu.backward(np.ones(shape), x, weight=weight, backend=backend)
    np.testing.assert_array_equal(gx, np.where(x > 0, 1.0, 0.2))
    np.testing.assert_allclose(gw.ravel(), np.minimum(x, 0).ravel(), rtol=1e-15)
    y = fa.rrelu(x, training=True, seed=4, backend=backend)
    want = fa.rrelu(x.ravel(), training=True, seed=4, backend=backend).reshape(shape)
    np.testing.assert_array_equal(y, want)  # the C-order index is the same


# --------------------------------------------------------------------------- reductions

COMPILED = [b for b in BACKENDS if b not in ("numpy", "cuda")]


@pytest.mark.parametrize("kind", ["constant", "random"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("backend", COMPILED)
def test_prelu_weight_gradient_is_summed_to_the_contracts_accuracy(kind, dtype, backend) -> None:
    """All terms of one sign (condition number 1): float32 within 1 ulp of the exact
    sum (summed in float64), float64 within 2 (a compensated sum of the pieces).
    2**24 equal terms are the worst case of a float32 running sum (every addition
    rounds the same way): a float32 accumulation of the pieces was 55 ulp off at 2**26
    elements on cython, 130 on numba (issue 15, item 6); measured at 2**26 after the
    fix: 0 ulp in float32, at most 1 in float64, both backends."""
    import math

    n = 1 << (24 if dtype == np.float32 else 22)
    rng = np.random.default_rng(6)
    x = np.full(n, -0.1, dtype) if kind == "constant" else -rng.random(n, dtype=dtype)
    exact = math.fsum(x.astype(np.float64).tolist()) if dtype == np.float64 else float(
        np.float32(x.sum(dtype=np.float64))  # 2**24 float32 terms: exact in float64
    )
    _, gw = fa.prelu.backward(np.ones(1, dtype), x, weight=np.asarray(0.25, dtype),
                              backend=backend)
    ulps = abs(float(gw) - exact) / float(np.spacing(dtype(abs(exact))))
    assert ulps <= (1 if dtype == np.float32 else 2), (ulps, float(gw), exact)


# --------------------------------------------------------------------------- rrelu slopes


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rrelu_slopes_are_the_same_on_every_path(dtype) -> None:
    """Array bounds, scalar bounds, every backend: the same slopes bit for bit (the
    contract). cython's array-bound path rounded upper - lower to float32 first: 18,012
    of 100,000 float32 slopes 1 ulp off (issue 15, item 9)."""
    n = 100_000
    x = -np.ones(n, dtype)
    rng = np.random.default_rng(9)
    lo = rng.uniform(0.05, 0.2, n).astype(dtype)
    hi = rng.uniform(0.25, 0.5, n).astype(dtype)
    want = fa.rrelu(x, lower=lo, upper=hi, training=True, seed=9, backend="numpy")
    one_lo, one_hi = dtype(0.1), dtype(0.3)
    want_scalar = fa.rrelu(x, lower=float(one_lo), upper=float(one_hi), training=True, seed=9,
                           backend="numpy")
    for b in BACKENDS:
        if b == "cuda":
            continue
        got = fa.rrelu(x, lower=lo, upper=hi, training=True, seed=9, backend=b)
        assert np.sum(got != want) == 0, b
        for bounds in ((float(one_lo), float(one_hi)), (np.full(n, one_lo), np.full(n, one_hi))):
            got = fa.rrelu(x, lower=bounds[0], upper=bounds[1], training=True, seed=9, backend=b)
            assert np.sum(got != want_scalar) == 0, (b, type(bounds[0]))


def test_rrelu_training_beyond_32_dimensions(backend) -> None:
    """A non-contiguous x and array bounds with 40 axes: numba raised NumPy's
    "RuntimeError: this function only supports up to 32 dimensions" (issue 15,
    item 10); every path gives the slopes of the same C-order index."""
    if backend == "cuda":
        pytest.skip("host arrays of 40 axes: the cuda backend takes device arrays")
    shape = (1,) * 20 + (2,) * 6 + (1,) * 14
    base = np.linspace(-2, 2, 128).reshape((*shape[:-1], 2))
    x = base[..., ::2]  # non-contiguous, of `shape`
    assert x.shape == shape and not x.flags.c_contiguous
    lower = np.full(shape, 0.1)
    flat = np.ascontiguousarray(x).ravel()
    want = fa.rrelu(flat, training=True, seed=4, lower=0.1, backend="numpy").reshape(shape)
    want_gx = fa.rrelu.backward(np.ones(flat.size), flat, training=True, seed=4, lower=0.1,
                                backend="numpy").reshape(shape)
    for params in ({"lower": 0.1}, {"lower": lower}):
        y = fa.rrelu(x, training=True, seed=4, backend=backend, **params)
        np.testing.assert_array_equal(y, want)
        gx = fa.rrelu.backward(np.ones(shape), x, training=True, seed=4, backend=backend,
                               **params)
        np.testing.assert_array_equal(gx, want_gx)


# --------------------------------------------------------------------------- signed zeros

#: x times a factor near 0: f(-0.0) = -0.0 (as torch and IEEE multiplication give it).
SIGN_KEEPING = ["relu", "gelu", "silu", "mish"]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("name", SIGN_KEEPING)
def test_a_zero_input_keeps_its_sign(name, dtype, backend) -> None:
    """One rule on every backend: f(+-0.0) = +-0.0 (the reference gave +0.0 for -0.0
    where cython and numba gave -0.0, issue 15, item 11)."""
    activation = fa.activations()[name]
    x = np.array([-0.0, 0.0, -0.0], dtype)
    extras = [{}] + ([{"approximate": "tanh"}] if name == "gelu" else []) + (
        [{"beta": 1.7}] if name == "silu" else [])
    for params in extras:
        y = activation(x, backend=backend, **params)
        v, _ = activation.value_and_derivative(x, backend=backend, **params)
        for got in (y, v):
            assert np.all(got == 0) and list(np.signbit(got)) == [True, False, True], (
                params, got)
