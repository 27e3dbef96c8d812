"""Property-based: random shapes, strides, dtypes and parameters for any activation.

Whatever the layout of the input and of ``out``, the result equals the result on a
contiguous copy, bit for bit, and every backend agrees with the reference.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastact as fa
from conftest import BACKENDS, example_params
from fastact._registry import SPECS

ELEMENTWISE_NAMES = [s.name for s in SPECS if s.kind == "elementwise"]
FLOATS = st.sampled_from([np.float16, np.float32, np.float64])


@st.composite
def strided_arrays(draw, dtype, min_dims=0):
    """An array viewed through random steps (negative ones included) and transposes."""
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=4, min_side=0, max_side=5))
    base = draw(
        hnp.arrays(
            dtype,
            tuple(2 * n + 1 for n in shape),
            elements=st.floats(-50, 50, width=np.dtype(dtype).itemsize * 8),
        )
    )
    steps = draw(
        st.lists(st.sampled_from([1, 2, -1, -2]), min_size=len(shape), max_size=len(shape))
    )
    view = base[tuple(slice(None, None, s) for s in steps)]
    view = view[tuple(slice(0, n) for n in shape)]
    if view.ndim > 1 and draw(st.booleans()):
        view = view.T
    return view


@given(
    name=st.sampled_from(ELEMENTWISE_NAMES),
    dtype=FLOATS,
    data=st.data(),
    backend=st.sampled_from(BACKENDS),
)
def test_layout_never_changes_the_result(name, dtype, data, backend) -> None:
    spec = fa._registry.lookup(name)
    x = data.draw(strided_arrays(dtype))
    activation = fa.activations()[name]
    params = example_params(spec)
    contiguous = np.array(x, order="C")  # (np.ascontiguousarray makes 0-d 1-d)
    expected = activation(contiguous, backend=backend, **params)
    np.testing.assert_array_equal(activation(x, backend=backend, **params), expected)
    out = data.draw(strided_arrays(dtype)) if x.ndim else np.empty((), dtype)
    if out.shape == x.shape:
        out = out.copy() if not out.flags.writeable else out
        activation(x, out=out, backend=backend, **params)
        np.testing.assert_array_equal(out, expected)
    grad = np.ones_like(contiguous)
    got = activation.backward(grad, x, backend=backend, **params)
    want = activation.backward(grad, contiguous, backend=backend, **params)
    if spec.param_grads:
        got, want = got[0], want[0]
    np.testing.assert_array_equal(got, want)


@given(
    axis_name=st.sampled_from(["softmax", "log_softmax", "softmin", "glu"]),
    data=st.data(),
    backend=st.sampled_from(BACKENDS),
)
def test_axis_functions_on_random_layouts(axis_name, data, backend) -> None:
    x = data.draw(strided_arrays(np.float64, min_dims=1))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    if axis_name == "glu" and x.shape[axis] % 2:
        x = x.take(range(x.shape[axis] - 1), axis=axis)
    activation = fa.activations()[axis_name]
    expected = activation(np.ascontiguousarray(x), axis=axis, backend="numpy")
    got = activation(x, axis=axis, backend=backend)
    # A compiled backend may sum a row in another order for another layout (SIMD
    # within contiguous rows, across adjacent ones): the same bits are not promised,
    # the accuracy bar is (8 ulp + 8 eps times the row's largest magnitude).
    eps = np.finfo(np.float64).eps
    scale = np.max(np.abs(expected), axis=axis, keepdims=True, initial=0.0)
    with np.errstate(invalid="ignore"):
        bar = 8 * eps * (np.abs(expected) + scale)
    same = (got == expected) | (np.isnan(got) & np.isnan(expected))
    assert np.all(same | (np.abs(got - expected) <= bar))


@given(
    slope=hnp.arrays(np.float64, hnp.array_shapes(max_dims=2, max_side=3),
                     elements=st.floats(-2, 2)),
    data=st.data(),
)
def test_parameter_broadcasting_matches_numpy(slope, data) -> None:
    """A parameter broadcasts to x when NumPy says it does, and is refused otherwise."""
    x = data.draw(hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=3),
                             elements=st.floats(-5, 5)))
    try:
        fits = np.broadcast_shapes(slope.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if fits:
        y = fa.leaky_relu(x, negative_slope=slope)
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(y, np.where(x > 0, x, slope * x))
    else:
        try:
            fa.leaky_relu(x, negative_slope=slope)
        except ValueError as error:
            assert "negative_slope" in str(error)
        else:
            raise AssertionError("a parameter that enlarges the result was accepted")
