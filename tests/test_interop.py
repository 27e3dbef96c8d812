"""Array protocols: dask (lazy, blockwise), xarray (labels kept), __dlpack__, __array__."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import fastact as fa
from conftest import example_params
from fastact._registry import SPECS

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
xr = pytest.importorskip("xarray")

ALL = list(SPECS)
ID = [s.name for s in SPECS]
# Chunks that split both axes, unevenly: rows of the axis functions span chunks.
SHAPE, CHUNKS = (6, 10), (4, 3)


def _data(seed: int, shape=SHAPE, dtype=np.float64) -> np.ndarray:
    return (3 * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)


def _kwargs(spec, axis: int) -> dict:
    params = example_params(spec)
    if spec.kind == "axis":
        params["axis"] = axis
    return params


def _assert_same(lazy, eager) -> None:
    if isinstance(eager, tuple):
        assert isinstance(lazy, tuple) and len(lazy) == len(eager)
        for a, b in zip(lazy, eager, strict=True):
            _assert_same(a, b)
        return
    assert isinstance(lazy, da.Array)
    computed = lazy.compute()
    assert computed.shape == np.shape(eager) and computed.dtype == np.asarray(eager).dtype
    # Blocks see the same rows and elements; only summed reductions (prelu's weight
    # gradient over blocks) may round differently.
    np.testing.assert_allclose(computed, eager, rtol=1e-13, atol=1e-13)


class _Counted:
    """Counts how often dask computes the input's blocks."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, block: np.ndarray) -> np.ndarray:
        self.calls += 1
        return block


# --------------------------------------------------------------------------- dask


@pytest.mark.parametrize(
    ("spec", "axis"),
    [(s, 0) for s in ALL] + [(s, 1) for s in ALL if s.kind == "axis"],
    ids=[s.name for s in ALL] + [f"{s.name}-axis1" for s in ALL if s.kind == "axis"],
)
def test_dask_forward_derivative_value_and_derivative(spec, axis: int) -> None:
    x = _data(0, (6, 10) if axis == 1 else (10, 6))
    counter = _Counted()
    lazy_x = da.from_array(x, chunks=CHUNKS).map_blocks(counter, dtype=x.dtype)
    built = counter.calls  # dask may call it once on an empty block, for its meta
    params = _kwargs(spec, axis)
    results = [
        (fa.activations()[spec.name](lazy_x, **params), fa.activations()[spec.name](x, **params)),
        (fa.activations()[spec.name].derivative(lazy_x, **params),
         fa.activations()[spec.name].derivative(x, **params)),
        (fa.activations()[spec.name].value_and_derivative(lazy_x, **params),
         fa.activations()[spec.name].value_and_derivative(x, **params)),
    ]
    assert counter.calls == built  # nothing computed while the graph is built
    for lazy, eager in results:
        _assert_same(lazy, eager)


@pytest.mark.parametrize("spec", ALL, ids=ID)
def test_dask_backward_from_x_and_y(spec) -> None:
    activation = fa.activations()[spec.name]
    x = _data(1)
    params = _kwargs(spec, 1)
    y = activation(x, **params)
    grad = _data(2, y.shape)
    lazy_x = da.from_array(x, chunks=CHUNKS)
    lazy_grad = da.from_array(grad, chunks=(3, 2))
    _assert_same(
        activation.backward(lazy_grad, lazy_x, **params), activation.backward(grad, x, **params)
    )
    if spec.y_backward is not False and spec.y_backward_refusal(params) is None:
        lazy_y = da.from_array(y, chunks=CHUNKS)
        _assert_same(
            activation.backward(lazy_grad, y=lazy_y, **params),
            activation.backward(grad, y=y, **params),
        )


@pytest.mark.parametrize("weight_shape", [(), (1,), (10,), (6, 1), (6, 10)])
def test_dask_prelu_weight_gradient_reduced_over_blocks(weight_shape) -> None:
    x, grad = _data(3), _data(4)
    weight = np.full(weight_shape, 0.2) + (_data(5, weight_shape) / 10 if weight_shape else 0)
    lazy = fa.prelu.backward(
        da.from_array(grad, chunks=CHUNKS), da.from_array(x, chunks=CHUNKS), weight=weight
    )
    eager = fa.prelu.backward(grad, x, weight=weight)
    _assert_same(lazy, eager)
    assert lazy[1].shape == np.shape(weight)
    _assert_same(fa.prelu(da.from_array(x, chunks=CHUNKS), weight), fa.prelu(x, weight))


def test_dask_rrelu_training_matches_the_whole_array() -> None:
    x = _data(6)
    lazy = fa.rrelu(da.from_array(x, chunks=CHUNKS), training=True, seed=11)
    np.testing.assert_array_equal(lazy.compute(), fa.rrelu(x, training=True, seed=11))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.int16])
def test_dask_dtypes_follow_the_numpy_rules(dtype) -> None:
    x = _data(7, dtype=dtype)
    lazy = fa.tanh(da.from_array(x, chunks=CHUNKS))
    assert lazy.dtype == fa.tanh(x).dtype
    np.testing.assert_array_equal(lazy.compute(), fa.tanh(x))


def test_dask_errors_are_raised_when_the_graph_is_built() -> None:
    lazy = da.from_array(_data(8), chunks=CHUNKS)
    with pytest.raises(ValueError, match="beta must be != 0"):
        fa.softplus(lazy, beta=0)
    with pytest.raises(TypeError, match="out="):
        fa.gelu(lazy, out=np.empty(SHAPE))
    with pytest.raises(ValueError, match="pass x instead"):
        fa.gelu.backward(lazy, y=lazy)
    with pytest.raises(ValueError, match="grad of shape"):
        fa.gelu.backward(da.ones((3,), chunks=2), lazy)
    with pytest.raises(np.exceptions.AxisError):
        fa.softmax(lazy, axis=2)
    with pytest.raises(ValueError, match="unknown backend"):
        fa.gelu(lazy, backend="nope")


def test_dask_backend_chosen_when_the_graph_is_built() -> None:
    lazy = da.from_array(_data(9), chunks=CHUNKS)
    with fa.use_backend("numpy"):
        result = fa.gelu(lazy)
    _assert_same(result, fa.gelu(_data(9), backend="numpy"))


@pytest.mark.parametrize("name", ["gelu", "sigmoid", "relu", "prelu", "rrelu", "softplus"])
@pytest.mark.parametrize("bias_shape", [(10,), (6, 1), (), (6, 10)])
def test_dask_bias_blockwise_and_its_gradient_over_blocks(name, bias_shape) -> None:
    """bias= on dask arrays (issue 18): each block at x + b, the bias gradient summed
    over the blocks; a NumPy bias or a lazy one, nothing computed while building."""
    activation = fa.activations()[name]
    spec = activation.spec
    params = example_params(spec)
    x, grad = _data(20), _data(21)
    b = _data(22, bias_shape)
    counter = _Counted()
    lazy_x = da.from_array(x, chunks=CHUNKS).map_blocks(counter, dtype=x.dtype)
    lazy_grad = da.from_array(grad, chunks=(3, 2))
    for bias in (b, da.from_array(np.asarray(b), chunks=2)):
        built = counter.calls
        lazy = [
            (activation(lazy_x, bias=bias, **params), activation(x, bias=b, **params)),
            (activation.derivative(lazy_x, bias=bias, **params),
             activation.derivative(x, bias=b, **params)),
            (activation.value_and_derivative(lazy_x, bias=bias, **params),
             activation.value_and_derivative(x, bias=b, **params)),
            (activation.backward(lazy_grad, lazy_x, bias=bias, **params),
             activation.backward(grad, x, bias=b, **params)),
        ]
        if spec.y_backward is True:
            y = activation(x, bias=b, **params)
            lazy.append((activation.backward(lazy_grad, y=da.from_array(y, chunks=CHUNKS),
                                             bias=bias, **params),
                         activation.backward(grad, y=y, bias=b, **params)))
        assert counter.calls == built
        for got, want in lazy:
            _assert_same(got, want)
        assert lazy[3][0][-1].shape == np.shape(b)


def test_dask_bias_float32_gradient_summed_in_float64_and_errors_at_build() -> None:
    x = da.from_array(np.full((4000, 3), 1.0, np.float32), chunks=(7, 3))
    grad = da.from_array(np.full((4000, 3), 0.1, np.float32), chunks=(7, 3))
    _, gb = fa.linear.backward(grad, x, bias=np.zeros(3, np.float32))
    assert gb.dtype == np.float32
    np.testing.assert_array_equal(gb.compute(), np.float32(np.float32(0.1) * 4000.0))
    with pytest.raises(ValueError, match="bias of shape"):
        fa.relu(x, bias=np.ones(4))
    with pytest.raises(ValueError, match="bias of shape"):
        fa.relu(x, bias=da.ones((2, 3), chunks=1))
    with pytest.raises(TypeError, match="bias has dtype complex"):
        fa.relu(x, bias=da.ones(3, dtype=complex, chunks=1))
    with pytest.raises(TypeError, match="unexpected keyword argument 'bias'"):
        fa.softmax(x, bias=np.ones(3))


# --------------------------------------------------------------------------- xarray


def _labelled(data: np.ndarray):
    return xr.DataArray(
        data,
        dims=("time", "channel"),
        coords={"time": np.arange(data.shape[0]) * 0.5, "channel": [f"c{i}" for i in
                                                                 range(data.shape[1])]},
        attrs={"units": "V"},
        name="signal",
    )


def _same_labels(result, template) -> None:
    assert isinstance(result, xr.DataArray)
    assert result.dims == template.dims and result.name == template.name
    assert result.attrs == template.attrs
    for name, coord in template.coords.items():
        np.testing.assert_array_equal(result.coords[name].values, coord.values)


@pytest.mark.parametrize("spec", ALL, ids=ID)
def test_xarray_keeps_labels(spec) -> None:
    activation = fa.activations()[spec.name]
    x = _labelled(_data(10))
    params = _kwargs(spec, 1)
    y = activation(x, **params)
    eager = activation(x.values, **params)
    np.testing.assert_array_equal(y.values, eager)
    template = x.isel(channel=slice(0, 5)) if spec.halves_axis else x
    _same_labels(y, template)
    gx = activation.backward(xr.ones_like(y), x, **params)
    gx = gx[0] if isinstance(gx, tuple) else gx
    _same_labels(gx, x)
    d = activation.derivative(x, **params)
    if spec.kind == "elementwise":
        _same_labels(d, x)
    else:
        assert d.dims == (*template.dims, "channel_j")
        np.testing.assert_array_equal(d.coords["channel_j"].values, x.channel.values)


def test_xarray_axis_by_dimension_name_and_lazy_dask() -> None:
    x = _labelled(_data(11))
    np.testing.assert_array_equal(
        fa.softmax(x, axis="time").values, fa.softmax(x.values, axis=0)
    )
    with pytest.raises(ValueError, match="'space' is not a dimension"):
        fa.softmax(x, axis="space")
    lazy = x.chunk({"time": 2})
    y = fa.log_softmax(lazy, axis="time")
    assert isinstance(y.data, da.Array)
    _same_labels(y, x)
    np.testing.assert_allclose(y.values, fa.log_softmax(x.values, axis=0), rtol=1e-14)


def test_xarray_prelu_weight_broadcasts_by_dimension_name() -> None:
    x = _labelled(_data(12))
    weight = xr.DataArray(np.linspace(0.1, 0.5, 10), dims=("channel",),
                          coords={"channel": x.channel}, name="slope")
    y = fa.prelu(x, weight)
    np.testing.assert_array_equal(y.values, fa.prelu(x.values, weight.values))
    _, gw = fa.prelu.backward(xr.ones_like(x), x, weight=weight)
    _, expected = fa.prelu.backward(np.ones(SHAPE), x.values, weight=weight.values)
    _same_labels(gw, weight)
    np.testing.assert_allclose(gw.values, expected, rtol=1e-14)


def test_xarray_weight_along_a_leading_dimension() -> None:
    """A weight over "time" (the first dim) broadcasts along time, by name, whether it
    is passed by position or by keyword."""
    x = _labelled(_data(15))
    weight = xr.DataArray(np.linspace(0.1, 0.6, 6), dims=("time",))
    expected = fa.prelu(x.values, weight.values[:, None])
    np.testing.assert_array_equal(fa.prelu(x, weight).values, expected)
    np.testing.assert_array_equal(fa.prelu(x, weight=weight).values, expected)
    _, gw = fa.prelu.backward(xr.ones_like(x), x, weight=weight)
    assert gw.dims == ("time",) and gw.shape == (6,)
    with pytest.raises(ValueError, match="weight has dims"):
        fa.prelu(x, xr.DataArray(np.ones(3), dims=("space",)))


def test_xarray_bias_by_dimension_name_and_its_labelled_gradient() -> None:
    x = _labelled(_data(16))
    bias = xr.DataArray(np.linspace(-1, 1, 10), dims=("channel",),
                        coords={"channel": x.channel}, name="b")
    y = fa.gelu(x, bias=bias)
    _same_labels(y, x)
    np.testing.assert_array_equal(y.values, fa.gelu(x.values, bias=bias.values))
    gx, gb = fa.gelu.backward(xr.ones_like(x), x, bias=bias)
    want_gx, want_gb = fa.gelu.backward(np.ones(SHAPE), x.values, bias=bias.values)
    _same_labels(gx, x)
    _same_labels(gb, bias)
    np.testing.assert_array_equal(gx.values, want_gx)
    np.testing.assert_allclose(gb.values, want_gb, rtol=1e-14)
    # Along the leading dimension, by name; from y; a plain bias's gradient stays plain.
    time_bias = xr.DataArray(np.linspace(-1, 1, 6), dims=("time",))
    np.testing.assert_array_equal(fa.relu(x, bias=time_bias).values,
                                  fa.relu(x.values, bias=time_bias.values[:, None]))
    y = fa.sigmoid(x, bias=time_bias)
    _, gb = fa.sigmoid.backward(xr.ones_like(x), y=y, bias=time_bias)
    assert gb.dims == ("time",)
    _, plain = fa.relu.backward(xr.ones_like(x), x, bias=np.ones(10))
    assert isinstance(plain, np.ndarray) and plain.shape == (10,)
    # Lazy (dask-backed) data and bias stay lazy.
    lazy = fa.gelu(x.chunk({"time": 2}), bias=bias.chunk({"channel": 5}))
    assert isinstance(lazy.data, da.Array)
    np.testing.assert_array_equal(lazy.values, fa.gelu(x.values, bias=bias.values))


def test_xarray_out() -> None:
    x = _labelled(_data(13))
    out = xr.zeros_like(x)
    assert fa.tanh(x, out=out) is out
    # fastact's own result on the plain array: never np.tanh bit for bit (another
    # library's tanh differs by an ulp here and there; both are within the contract).
    np.testing.assert_array_equal(out.values, fa.tanh(x.values))


# --------------------------------------------------------------------------- DLPack, __array__


class _DLPackOnly:
    """An array that exposes only the DLPack protocol (no __array__)."""

    def __init__(self, array: np.ndarray) -> None:
        self._array = array

    def __dlpack__(self, **kwargs):
        return self._array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()


class _ArrayOnly:
    def __init__(self, array: np.ndarray) -> None:
        self._array = array

    def __array__(self, dtype=None, copy=None):
        return self._array if dtype is None else self._array.astype(dtype)


class _BrokenDLPack:
    def __dlpack__(self, **kwargs):
        raise BufferError("device memory")

    def __dlpack_device__(self):
        return (2, 0)


@pytest.mark.parametrize("spec", ALL, ids=ID)
def test_dlpack_and_array_objects(spec) -> None:
    activation = fa.activations()[spec.name]
    x = _data(14)
    params = _kwargs(spec, -1)
    expected = activation(x, **params)
    np.testing.assert_array_equal(activation(_DLPackOnly(x), **params), expected)
    np.testing.assert_array_equal(activation(_ArrayOnly(x), **params), expected)
    out = np.empty_like(expected)
    wrapped = _DLPackOnly(out)
    assert activation(_DLPackOnly(x), out=wrapped, **params) is wrapped
    np.testing.assert_array_equal(out, expected)
    grad = np.ones_like(expected)
    np.testing.assert_array_equal(
        np.asarray(activation.backward(_DLPackOnly(grad), _DLPackOnly(x), **params)[0]
                   if spec.param_grads else
                   activation.backward(_DLPackOnly(grad), _DLPackOnly(x), **params)),
        np.asarray(activation.backward(grad, x, **params)[0] if spec.param_grads
                   else activation.backward(grad, x, **params)),
    )


def test_dlpack_errors_name_the_argument() -> None:
    with pytest.raises(TypeError, match=r"x .*DLPack.*device memory"):
        fa.gelu(_BrokenDLPack())
    with pytest.raises(TypeError, match=r"grad .*DLPack"):
        fa.gelu.backward(_BrokenDLPack(), _DLPackOnly(np.ones(3)))


def test_torch_tensors_through_dlpack() -> None:
    torch = pytest.importorskip("torch")
    t = torch.linspace(-3, 3, 7)
    np.testing.assert_array_equal(fa.gelu(t), fa.gelu(t.numpy()))
    out = torch.empty(7)
    assert fa.gelu(t, out=out) is out
    np.testing.assert_array_equal(out.numpy(), fa.gelu(t.numpy()))
    with pytest.raises(TypeError, match=r"x .*DLPack"):
        fa.gelu(t.requires_grad_())


def test_readme_examples_run() -> None:
    """The code of the README's "Inside other frameworks" section runs as written."""
    pytest.importorskip("torch")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Inside other frameworks", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["gw"].compute().shape == (256,)
    assert namespace["loss"].grad_fn is not None
