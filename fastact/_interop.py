"""Inputs that are not NumPy arrays: the adapters' floor, above :mod:`fastact._api`.

The API does not import this module: importing fastact installs :func:`intercept` as
the API's router (:func:`fastact._api.set_router`), which a call asks before it
converts anything, when an argument is not an ndarray, a NumPy or Python scalar or a
sequence. The adapters convert their arguments and call the public API again (or,
for device arrays, :mod:`fastact._device`, which validates through
:mod:`fastact._validate` and runs the ``"cuda"`` backend without a host round
trip); they validate with :mod:`fastact._validate`, as every path does. The array
types, in this order:

* **xarray** ``DataArray`` (as ``x``, ``grad``, ``y``, ``out`` or a parameter): the
  call runs on the underlying data (NumPy or dask) and the results keep the input's
  dims, coords, attrs and name. ``axis`` may be a dimension name. glu's result keeps
  the coordinates of the first half along its axis; the Jacobian of an axis function
  gets a new last dimension ``"<dim>_j"`` labelled like x along ``dim``. A
  DataArray parameter (prelu's weight) or ``bias=`` broadcasts against x by dimension
  name, and its gradient is labelled like it.
* **dask** arrays: the result is a lazy dask array computed blockwise, one fastact
  call per block. Parameters are validated when the graph is built (errors are
  raised then, not at ``compute()``); array parameters are computed then too (they
  are small: per-channel slopes) and sliced per block. The axis functions rechunk
  their axis to one chunk (a softmax row needs all of its elements; the other axes
  keep their chunks); rrelu with ``training=True`` runs as one block, because its
  slopes hash each element's C-order index in the whole array. ``bias=`` (NumPy or
  dask, kept lazy) goes blockwise like an array parameter. prelu's weight gradient
  and the bias gradient are summed per block in the kernel, then across blocks (in
  float64, rounded once). The backend is
  the one asked for when the graph is built (``use_backend`` holds for the thread
  that builds it, not for dask's workers). ``out=`` is refused: dask arrays are
  immutable.
* objects with ``__dlpack__`` (torch tensors, JAX arrays, ...): viewed through
  ``np.from_dlpack`` (no copy); ``out`` may be such an object too (it is returned).

Objects that only have ``__array__`` need nothing here: ``np.asarray`` in ``_api``
takes them.
"""

from __future__ import annotations

import operator
import string
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fastact import _api, _device, _dispatch
from fastact import _validate as V

__all__ = ["intercept"]

_PLAIN = _api._PLAIN


def _values(arrays: Mapping[str, Any], out: Any) -> list[Any]:
    values = list(arrays.values())
    if isinstance(out, tuple | list):
        values.extend(out)
    else:
        values.append(out)
    return values


def intercept(
    activation: Any,
    method: str,
    arrays: Mapping[str, Any],
    args: tuple[Any, ...],
    params: Mapping[str, Any],
    out: Any,
    backend: str | None,
) -> Any:
    """The result of a call whose inputs need another path, or NotImplemented.

    ``activation`` is the public :class:`fastact._api.Activation`; the other
    arguments are those of its ``_run``: ``method``, the named input arrays (``x``,
    or ``grad`` with ``x``/``y``), extra positional parameters, keyword parameters,
    ``out`` and ``backend``, all as the user passed them.
    """
    values = _values(arrays, out)
    if all(isinstance(v, _PLAIN) for v in values):
        return NotImplemented
    if any(_device.is_device_array(v) for v in values):
        return _device.call(activation, method, arrays, args, params, out, backend)
    data_array = _type_from("xarray", "DataArray")
    if data_array is not None and any(isinstance(v, data_array) for v in values):
        return _xarray_call(activation, method, arrays, args, params, out, backend)
    dask_array = _type_from("dask.array.core", "Array")
    if dask_array is not None and any(isinstance(v, dask_array) for v in values):
        return _dask_call(activation, method, arrays, args, params, out, backend)
    if any(_has_dlpack(v) for v in values):
        return _dlpack_call(activation, method, arrays, args, params, out, backend)
    return NotImplemented


# --------------------------------------------------------------------------- helpers


def _type_from(module: str, name: str) -> type | None:
    """``module.name`` if the module is already imported, else None: an object of a
    library's type exists only once that library is imported, so nothing is imported
    here (importing dask costs ~0.3 s)."""
    loaded = sys.modules.get(module)
    return getattr(loaded, name, None) if loaded is not None else None


def _has_dlpack(value: Any) -> bool:
    return not isinstance(value, _PLAIN) and hasattr(value, "__dlpack__")


def _call(
    activation: Any,
    method: str,
    arrays: Mapping[str, Any],
    args: tuple[Any, ...],
    params: Mapping[str, Any],
    out: Any,
    backend: str | None,
) -> Any:
    """Call ``activation``'s public ``method`` again with converted arguments."""
    kwargs = dict(params)
    if out is not None:
        kwargs["out"] = out
    if backend is not None:
        kwargs["backend"] = backend
    if method == "backward_x":
        return activation.backward(arrays["grad"], arrays["x"], *args, **kwargs)
    if method == "backward_y":
        return activation.backward(arrays["grad"], *args, y=arrays["y"], **kwargs)
    function = activation if method == "forward" else getattr(activation, method)
    return function(arrays["x"], *args, **kwargs)


def _main_name(method: str) -> str:
    return "y" if method == "backward_y" else "x"


def _axis_number(activation: Any, axis: Any, dims: Sequence[str]) -> Any:
    """A dimension name given as ``axis`` -> its position (other values unchanged)."""
    if not isinstance(axis, str):
        return axis
    if axis not in dims:
        raise ValueError(
            f"{activation.spec.name}: axis {axis!r} is not a dimension of x "
            f"(dims: {', '.join(map(str, dims))})"
        )
    return list(dims).index(axis)


# --------------------------------------------------------------------------- DLPack


def _from_dlpack(value: Any, argument: str) -> Any:
    if not _has_dlpack(value):
        return value
    try:
        return np.from_dlpack(value)
    except (BufferError, RuntimeError, TypeError, ValueError) as error:
        raise TypeError(
            f"{argument} ({type(value).__name__}) could not be read through DLPack: {error}"
        ) from None


def _dlpack_call(
    activation: Any,
    method: str,
    arrays: Mapping[str, Any],
    args: tuple[Any, ...],
    params: Mapping[str, Any],
    out: Any,
    backend: str | None,
) -> Any:
    converted = {name: _from_dlpack(value, name) for name, value in arrays.items()}
    if isinstance(out, tuple | list):
        out_views: Any = tuple(_from_dlpack(o, f"out[{i}]") for i, o in enumerate(out))
    else:
        out_views = _from_dlpack(out, "out")
    result = _call(activation, method, converted, args, params, out_views, backend)
    if out is None:
        return result
    # The caller's own objects, as a ufunc returns its out.
    if isinstance(out, tuple | list) and isinstance(result, tuple):
        return tuple(r if o is None else o for r, o in zip(result, out, strict=True))
    return out


# --------------------------------------------------------------------------- xarray


def _xarray_call(
    activation: Any,
    method: str,
    arrays: Mapping[str, Any],
    args: tuple[Any, ...],
    params: Mapping[str, Any],
    out: Any,
    backend: str | None,
) -> Any:
    import xarray as xr

    spec = activation.spec
    labelled = [arrays[_main_name(method)], arrays.get("grad")]
    template = next((v for v in labelled if isinstance(v, xr.DataArray)), None)
    dims: tuple = () if template is None else tuple(template.dims)

    def unwrap(value: Any) -> Any:
        if not isinstance(value, xr.DataArray):
            return value
        if template is not None and set(value.dims) == set(dims):
            value = value.transpose(*dims)
        return value.data

    raw = dict(params)
    if "axis" in raw:
        raw["axis"] = _axis_number(activation, raw["axis"], dims)
    # DataArray parameters, by keyword or (the required ones) by position.
    weights: dict[str, Any] = {}
    for name, value in list(raw.items()):
        if isinstance(value, xr.DataArray):
            weights[name] = value
            raw[name] = _param_by_dims(spec.name, name, value, dims)
    positional = list(args)
    for i, (p, value) in enumerate(zip(spec.required_params, args, strict=False)):
        if isinstance(value, xr.DataArray):
            weights[p.name] = value
            positional[i] = _param_by_dims(spec.name, p.name, value, dims)
    args = tuple(positional)
    plain = {name: unwrap(value) for name, value in arrays.items()}
    if isinstance(out, tuple | list):
        out_data: Any = tuple(_out_data(o, f"out[{i}]", xr) for i, o in enumerate(out))
    else:
        out_data = _out_data(out, "out", xr)
    result = _call(activation, method, plain, args, raw, out_data, backend)
    if template is None:
        return result

    axis = raw.get("axis", -1)
    axis = axis % len(dims) if dims else 0
    results = list(result) if isinstance(result, tuple) else [result]
    # The results after grad_x of a backward: the parameters' gradients (from x),
    # then the bias's; each labelled like the DataArray it belongs to.
    gradients = list(spec.param_grads) if method == "backward_x" else []
    if raw.get("bias") is not None and method in ("backward_x", "backward_y"):
        gradients.append("bias")
    outs = list(out) if isinstance(out, tuple | list) else [out]
    outs += [None] * (len(results) - len(outs))
    labelled_results = []
    for i, (value, given) in enumerate(zip(results, outs, strict=True)):
        if isinstance(given, xr.DataArray):
            labelled_results.append(given)
        elif gradients and i > 0:
            name = gradients[i - 1]
            labelled_results.append(_label_param_grad(value, weights.get(name), dims, xr))
        else:
            labelled_results.append(_label(value, template, axis, spec, xr))
    return labelled_results[0] if len(labelled_results) == 1 else tuple(labelled_results)


def _out_data(value: Any, argument: str, xr: Any) -> Any:
    if not isinstance(value, xr.DataArray):
        return value
    if not isinstance(value.data, np.ndarray):
        raise TypeError(
            f"{argument} must be a NumPy-backed DataArray to be written into, got one "
            f"holding {type(value.data).__name__}"
        )
    return value.data


def _param_by_dims(activation: str, name: str, value: Any, dims: Sequence[str]) -> Any:
    """A DataArray parameter as an array that broadcasts to x by dimension name:
    its dims in x's order, with length-1 axes for x's other dims."""
    if not dims:
        return value.data
    missing = [d for d in value.dims if d not in dims]
    if missing:
        raise ValueError(
            f"{activation}: {name} has dims {missing} that x (dims {list(dims)}) does not have"
        )
    ordered = value.transpose(*[d for d in dims if d in value.dims])
    shape = tuple(ordered.sizes[d] if d in ordered.dims else 1 for d in dims)
    return np.reshape(ordered.data, shape)  # a dask-backed one stays lazy


def _label_param_grad(value: Any, weight: Any, dims: Sequence[str], xr: Any) -> Any:
    """A parameter's gradient (in the layout of :func:`_param_by_dims`) labelled like
    the DataArray parameter it belongs to."""
    if weight is None:
        return value
    ordered = [d for d in dims if d in weight.dims]
    shaped = value.reshape(tuple(weight.sizes[d] for d in ordered))
    labelled = xr.DataArray(shaped, dims=ordered).transpose(*weight.dims)
    return weight.copy(data=labelled.data)


def _label(value: Any, template: Any, axis: int, spec: Any, xr: Any) -> Any:
    """``value`` with ``template``'s labels: same shape, glu's half, or a Jacobian."""
    shape = np.shape(value)
    if shape == template.shape:
        return template.copy(data=value)
    if not template.dims:
        return value
    dim = template.dims[axis]
    n = template.sizes[dim]
    base = template
    if spec.halves_axis:
        base = template.isel({dim: slice(0, n // 2)})
    if shape == base.shape:
        return base.copy(data=value)
    if shape == (*base.shape, n):  # the Jacobian along the axis
        new_dim = f"{dim}_j"
        coords = dict(base.coords)
        if dim in template.coords:
            coords[new_dim] = template.coords[dim].values
        return xr.DataArray(
            value, dims=(*base.dims, new_dim), coords=coords, attrs=dict(template.attrs),
            name=template.name,
        )
    return value


# --------------------------------------------------------------------------- dask


def _dask_call(
    activation: Any,
    method: str,
    arrays: Mapping[str, Any],
    args: tuple[Any, ...],
    params: Mapping[str, Any],
    out: Any,
    backend: str | None,
) -> Any:
    import dask.array as da

    spec = activation.spec
    if out is not None:
        raise TypeError(
            "out= cannot be used with dask arrays (they are immutable); "
            "use the returned lazy array"
        )
    main_name = _main_name(method)

    # Validate everything now, with the messages of the NumPy path.
    params = dict(params)
    bias = params.pop("bias", None)  # an input of every elementwise method, not a parameter
    raw = V.bind(spec, args, params)
    raw = {k: (v.compute() if isinstance(v, da.Array) else v) for k, v in raw.items()}
    main = da.asarray(arrays[main_name])
    result_dtype = V.result_dtype(main.dtype, main_name)
    grad = None
    if "grad" in arrays:
        grad_value = arrays["grad"]
        grad = da.asarray(grad_value)
        grad_dtype = V.result_dtype(grad.dtype, "grad")
        if type(grad_value) not in (int, float):  # Python scalars are weak (NEP 50)
            result_dtype = np.promote_types(result_dtype, grad_dtype)
    chosen = backend if backend is not None else _dispatch.current_backend()
    validated = V.plan(spec, method, raw, result_dtype, main.shape, chosen).params
    y_shape = V.result_shapes(spec, method, main.shape, validated, raw)[0]
    if bias is not None:
        if not isinstance(bias, da.Array):
            bias = V.as_array(bias, "bias")  # the blocks cast it, as the NumPy path does
        V.check_bias(spec, bias.dtype, bias.shape, result_dtype, main.shape)

    ndim = main.ndim
    axis: int = validated.get("axis", -1)
    if grad is not None and not V.broadcasts_to(grad.shape, y_shape):
        raise ValueError(
            f"{spec.name}.backward: grad of shape {grad.shape} does not broadcast to "
            f"the output's shape {y_shape}"
        )

    # Chunks: the axis of the axis functions whole; rrelu's training slopes whole.
    if spec.kind == "axis":
        main = main.rechunk({axis: -1})
    elif validated.get("training"):
        main = main.rechunk(-1)
    letters = string.ascii_lowercase[:ndim]
    y_letters = letters
    adjust: dict[str, Any] = {}
    if spec.halves_axis and method != "backward_y":
        y_letters = letters[:axis] + "z" + letters[axis + 1 :]
        adjust = {letters[axis]: y_shape[axis]}

    inputs: list[Any] = []
    names = []
    if grad is not None:
        y_chunks = tuple(
            (y_shape[i],) if y_letters[i] == "z" else main.chunks[i] for i in range(ndim)
        )
        grad = da.broadcast_to(grad, y_shape).rechunk(y_chunks)
        inputs += [grad, y_letters]
        names.append("grad")
    inputs += [main, letters]
    names.append(main_name)

    # Array parameters and the bias: padded to x's ndim and passed blockwise, length-1
    # axes broadcast (a dask bias stays lazy, rechunked like x).
    static = {k: v for k, v in validated.items() if not isinstance(v, np.ndarray)}
    arrays_params = {k: v for k, v in validated.items() if isinstance(v, np.ndarray)}
    if bias is not None:
        arrays_params["bias"] = bias
    for name, value in arrays_params.items():
        padded_shape = (1,) * (ndim - value.ndim) + tuple(value.shape)
        chunks = tuple((1,) if padded_shape[i] == 1 else main.chunks[i] for i in range(ndim))
        if isinstance(value, da.Array):
            inputs += [value.reshape(padded_shape).rechunk(chunks), letters]
        else:
            inputs += [da.from_array(value.reshape(padded_shape), chunks=chunks), letters]
        names.append(name)
    # The gradients that come after grad_x: the parameters' (backward from x), then
    # the bias's (last, as on the NumPy path), each summed over the blocks.
    reduced = {name: np.shape(raw[name]) for name in spec.param_grads} if (
        method == "backward_x") else {}
    if bias is not None and method in ("backward_x", "backward_y"):
        reduced["bias"] = tuple(bias.shape)

    block = _BlockCall(activation, method, names, static, chosen)
    meta = np.empty((0,) * ndim, dtype=result_dtype)
    y_meta_kwargs: dict[str, Any] = {"dtype": result_dtype, "meta": meta}

    if method == "forward":
        return da.blockwise(
            block, letters, *inputs, adjust_chunks=adjust or None, concatenate=True,
            **y_meta_kwargs,
        )
    if method in ("backward_x", "backward_y") and not reduced:
        return da.blockwise(block, letters, *inputs, concatenate=True, **y_meta_kwargs)
    if method == "derivative":
        if spec.kind == "elementwise":
            return da.blockwise(block, letters, *inputs, concatenate=True, **y_meta_kwargs)
        n = main.shape[axis]
        return da.blockwise(
            block, letters + "Z", *inputs, new_axes={"Z": n}, adjust_chunks=adjust or None,
            concatenate=True, dtype=result_dtype, meta=np.empty((0,) * (ndim + 1), result_dtype),
        )

    # Two results from one kernel call per block: blocks of pairs, then each half.
    pairs = da.blockwise(
        block, letters, *inputs, concatenate=True, meta=np.empty((0,) * ndim, dtype=object)
    )
    if method == "value_and_derivative":
        y_chunks = main.chunks
        if spec.halves_axis:
            y_chunks = tuple(
                (y_shape[i],) if i == axis else main.chunks[i] for i in range(ndim)
            )
        value = pairs.map_blocks(
            operator.itemgetter(0), chunks=y_chunks, dtype=result_dtype, meta=meta
        )
        if spec.kind == "elementwise":
            derivative = pairs.map_blocks(
                operator.itemgetter(1), chunks=main.chunks, dtype=result_dtype, meta=meta
            )
        else:
            derivative = pairs.map_blocks(
                operator.itemgetter(1), chunks=(*y_chunks, (main.shape[axis],)),
                new_axis=ndim, dtype=result_dtype,
                meta=np.empty((0,) * (ndim + 1), result_dtype),
            )
        return value, derivative
    # A backward with gradients to reduce (prelu's weight, the bias): grad_x, then
    # each gradient summed over the blocks along the axes it was broadcast on (the
    # blocks' sums added in float64, then rounded once).
    results = [
        pairs.map_blocks(operator.itemgetter(0), chunks=main.chunks, dtype=result_dtype,
                         meta=meta)
    ]
    for i, shape in enumerate(reduced.values(), start=1):
        padded_shape = (1,) * (ndim - len(shape)) + tuple(shape)
        broadcast = tuple(j for j in range(ndim) if padded_shape[j] == 1)
        chunks = tuple(
            (1,) * main.numblocks[j] if j in broadcast else main.chunks[j] for j in range(ndim)
        )
        partial = pairs.map_blocks(
            _ParamGradBlock(i, ndim), chunks=chunks, dtype=result_dtype, meta=meta
        )
        total = partial.sum(axis=broadcast, keepdims=True, dtype=np.float64)
        results.append(total.astype(result_dtype).reshape(shape))
    return tuple(results)


class _BlockCall:
    """One fastact call on one block (a class, not a closure: dask pickles and
    tokenizes the graph's functions, and names it in its task keys)."""

    def __init__(
        self, activation: Any, method: str, names: list[str], static: dict, backend: str
    ) -> None:
        self.activation = activation
        self.method = method
        self.names = names
        self.static = static
        self.backend = backend
        self.__name__ = f"fastact-{activation.spec.name}-{method}"

    def __call__(self, *blocks: Any) -> Any:
        values = dict(zip(self.names, blocks, strict=True))
        arrays: dict[str, Any] = {k: values.pop(k) for k in ("grad", "x", "y") if k in values}
        # Array parameters arrive as their blocks (of the weight padded to x's ndim);
        # a parameter's gradient comes back in that block's shape.
        params = {**self.static, **values}
        return _call(self.activation, self.method, arrays, (), params, None, self.backend)


class _ParamGradBlock:
    """The parameter gradient of one block, with length 1 along the broadcast axes."""

    def __init__(self, index: int, ndim: int) -> None:
        self.index = index
        self.ndim = ndim
        self.__name__ = "fastact-param-grad"

    def __call__(self, pair: Any) -> Any:
        value = np.asarray(pair[self.index])
        # A scalar parameter's gradient is 0-d: give it the block's number of axes.
        return value.reshape((1,) * (self.ndim - value.ndim) + value.shape)


_api.set_router(intercept)
