"""The validation floor: a call (activation, method, arguments, backend choice) -> a
call plan.

Every call path goes through here: the NumPy API (:mod:`fastact._api`, its compiled
fast path :mod:`fastact._kernels._fastcall`), device arrays (:mod:`fastact._device`),
and the adapters above the API (dask, xarray, DLPack, :mod:`fastact.torch`), so they
accept and refuse the same calls with the same messages.

A :class:`Plan` holds what the validation of one call decides, apart from the
arrays themselves: the compute and result dtypes, the validated parameters (cast to
the compute dtype), the backend and its kernels. Plans are cached in
``fastact._dispatch._selected`` (the one cache of kernel selections, emptied when the
set of backends changes) under a key that cannot confuse distinct values: every
parameter value is keyed with its type, and floats also with their sign, so ``True``,
``1``, ``1.0``, ``-0.0`` and ``0.0`` are five keys (in Python ``True == 1 == 1.0``
and ``0.0 == -0.0``: a plain value key would make validation depend on call history,
issue 15 item 2). Only plans whose validation succeeded are cached, and only for
parameters that are scalars (arrays are validated on every call). The cache is
bounded (:data:`PLAN_CACHE_SIZE`).

This module imports only the registry and dispatch (the floor below): nothing from
the API or the adapters.
"""

from __future__ import annotations

import math
import operator
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fastact import _dispatch
from fastact._backends.base import METHODS
from fastact._registry import ActivationSpec, Param, all_of

__all__ = [
    "COMPUTE",
    "PLAN_CACHE_SIZE",
    "Plan",
    "bias_input",
    "bind",
    "check_bias",
    "check_out",
    "forward_shape",
    "kernel_methods",
    "param_key",
    "plan",
    "result_dtype",
    "result_shapes",
    "validate_params",
]

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
#: float16 is computed in float32 and rounded once at the end (the contract).
COMPUTE: dict[np.dtype, np.dtype] = {F16: F32, F32: F32, F64: F64}
_SEED_LIMIT = 2**64


# --------------------------------------------------------------------------- inputs


def refuse_masked(value: Any, argument: str) -> None:
    """Masked arrays are refused: computing on their data would drop the mask silently
    (and np.ma's own ufunc rules, e.g. for domains, are not the contract's)."""
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            f"{argument} is a numpy.ma.MaskedArray; fastact does not apply masks: pass its "
            "data (np.ma.getdata(a), or a.filled(value)) and re-mask the result "
            "(np.ma.masked_array(result, mask=np.ma.getmaskarray(a)))"
        )


def as_array(value: Any, argument: str) -> np.ndarray:
    if isinstance(value, np.ndarray):
        refuse_masked(value, argument)
        return value
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as error:
        raise type(error)(f"{argument} could not be converted to an array: {error}") from None


#: dtype -> result dtype, for the dtypes seen (a handful: resolve_dtypes costs ~1 us).
_RESULT_DTYPES: dict[np.dtype, np.dtype] = {}


def result_dtype(dtype: np.dtype, argument: str) -> np.dtype:
    """The dtype np.tanh gives (bool/int8 -> float16, int16 -> float32, ...)."""
    found = _RESULT_DTYPES.get(dtype)
    if found is not None:
        return found
    if dtype.kind in "biuf":
        resolved = np.tanh.resolve_dtypes((dtype, None))[1]
        result = np.dtype(resolved.name)  # native byte order
        if result in COMPUTE:
            if len(_RESULT_DTYPES) < 64:
                _RESULT_DTYPES[dtype] = result
            return result
    raise TypeError(
        f"{argument} has dtype {dtype}; fastact computes real float16, float32 and float64 "
        "(bool and integer inputs are promoted as np.tanh does)"
    )


def compute_input(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``array`` as a plain ndarray in the compute dtype, native byte order (a copy only
    when needed; a subclass such as np.matrix becomes a view of its data, since kernels
    index and reshape their arrays as ndarrays)."""
    if array.dtype == dtype and array.dtype.isnative:
        return array if type(array) is np.ndarray else array.view(np.ndarray)
    with np.errstate(all="ignore"):
        return array.astype(dtype)


def check_out(out: Any, shape: tuple[int, ...], dtype: np.dtype, argument: str) -> np.ndarray:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{argument} must be a numpy.ndarray, got {type(out).__name__}")
    refuse_masked(out, argument)
    if out.shape != shape:
        raise ValueError(f"{argument} has shape {out.shape}, the result has shape {shape}")
    if not out.flags.writeable:
        raise ValueError(f"{argument} is read-only")
    if not np.can_cast(dtype, out.dtype, casting="same_kind"):
        raise TypeError(
            f"cannot write the {dtype} result into {argument} of dtype {out.dtype} "
            "(casting='same_kind')"
        )
    return out


def may_write_directly(
    out: np.ndarray, dtype: np.dtype, inputs: Sequence[np.ndarray], *, exact_ok: bool = True
) -> bool:
    """Whether a kernel may write into ``out`` itself.

    Kernels handle the in-place case (``out`` is exactly an input) but not an ``out``
    that partly overlaps an input (a shifted view); then the result goes through a
    temporary, as NumPy's ufuncs do. With ``exact_ok=False`` (a parameter gradient,
    computed before grad_x, which still reads the inputs) any overlap needs one.
    """
    if out.dtype != dtype or not out.dtype.isnative or not out.flags.aligned:
        return False
    for array in inputs:
        if not np.may_share_memory(out, array):
            continue
        same = (
            out.__array_interface__["data"][0] == array.__array_interface__["data"][0]
            and out.strides == array.strides
            and out.shape == array.shape
        )
        if not (exact_ok and same):
            return False
    return True


def subclass_of(arrays: Mapping[str, Any], sources: Sequence[np.ndarray]) -> np.ndarray | None:
    """The input whose type wraps new results: among the arguments that are ndarray
    subclasses, the one with the highest ``__array_priority__`` (the first on a tie),
    as NumPy's ufuncs choose; None when every argument is a plain ndarray (or not an
    array: Python scalars and lists give plain results)."""
    given = {id(v) for v in arrays.values()}
    chosen: np.ndarray | None = None
    for array in sources:
        if type(array) is np.ndarray or id(array) not in given:
            continue
        if chosen is None or array.__array_priority__ > chosen.__array_priority__:
            chosen = array
    return chosen


def wrap(like: np.ndarray, result: np.ndarray) -> Any:
    """``result`` as ``like``'s subclass, through its ``__array_wrap__`` (as a ufunc)."""
    return like.__array_wrap__(result, None, result.ndim == 0)


def broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether an array of ``shape`` broadcasts to ``target`` without enlarging it.

    NumPy's rule (trailing axes align; 1 stretches), written out: np.broadcast_shapes
    raises RuntimeError beyond 32 dimensions, while arrays may have 64.
    """
    if len(shape) > len(target):
        return False
    return all(s in (1, t) for s, t in zip(reversed(shape), reversed(target), strict=False))


def bias_input(spec: ActivationSpec, value: Any, compute: np.dtype, shape: tuple) -> np.ndarray:
    """The ``bias=`` of an elementwise call, in the compute dtype (cast as parameters
    are: to x's compute dtype, a copy only when needed), broadcasting to the main
    input's ``shape``. Its values are data: NaN and infinities are allowed (they
    propagate as in ``x + bias``)."""
    array = as_array(value, "bias")
    check_bias(spec, array.dtype, array.shape, compute, shape)
    return compute_input(array, compute)


def check_bias(
    spec: ActivationSpec, dtype: np.dtype, bias_shape: tuple, compute: np.dtype, shape: tuple
) -> None:
    """The checks of :func:`bias_input` on a bias's dtype and shape alone, for the
    paths that keep the bias where it lives (a lazy dask array, a device array)."""
    if spec.kind != "elementwise":
        raise TypeError(
            f"{spec.name}() got an unexpected keyword argument 'bias' (bias= is taken by "
            "the elementwise activations)"
        )
    if np.dtype(dtype).kind not in "biuf":
        raise TypeError(
            f"{spec.name}: bias has dtype {np.dtype(dtype)}; it must be real (it is cast "
            f"to the input's compute dtype, {compute})"
        )
    if not broadcasts_to(tuple(bias_shape), tuple(shape)):
        raise ValueError(
            f"{spec.name}: bias of shape {tuple(bias_shape)} does not broadcast to the "
            f"input's shape {tuple(shape)} (bias may not enlarge the result)"
        )


# --------------------------------------------------------------------------- parameters


def bind(spec: ActivationSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict:
    required = spec.required_params
    if len(args) > len(required):
        raise TypeError(
            f"{spec.name}() takes {len(required)} positional parameter(s) after the input "
            f"but {len(args)} were given (parameters with defaults are keyword-only)"
        )
    raw = {p.name: a for p, a in zip(required, args, strict=False)}
    known = {p.name for p in spec.params}
    for key, value in kwargs.items():
        if key not in known:
            raise TypeError(f"{spec.name}() got an unexpected keyword argument {key!r}")
        if key in raw:
            raise TypeError(f"{spec.name}() got multiple values for argument {key!r}")
        raw[key] = value
    for p in required:
        if p.name not in raw:
            raise TypeError(f"{spec.name}() missing required argument {p.name!r}")
    return raw


def real_param(spec: ActivationSpec, p: Param, value: Any, compute: np.dtype) -> np.ndarray:
    refuse_masked(value, f"{spec.name}: {p.name}")
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise TypeError(
            f"{spec.name}: {p.name} must be a real number or array of them, "
            f"got {type(value).__name__} of dtype {array.dtype}"
        )
    # An array already in the compute dtype is validated where it is, without a copy or
    # a mask of its size (a per-element float32 slope array cost 1.25x the input): its
    # min and max tell NaN (min and max propagate it) and infinities. The kernels only
    # read it; the API counts it among the inputs that `out` must not partly overlap.
    with np.errstate(all="ignore"):
        same = array.dtype == compute and array.flags.aligned
        cast = array if same else array.astype(compute)
        low, high = (cast.min(), cast.max()) if cast.size else (0.0, 0.0)
    if np.isnan(low) or np.isnan(high):
        raise ValueError(f"{spec.name}: {p.name} must not be NaN, got {value!r}")
    if not p.allow_inf and (np.isinf(low) or np.isinf(high)):
        raise ValueError(f"{spec.name}: {p.name} must be finite in {compute}, got {value!r}")
    if p.check is not None and not all_of(p.check, cast):
        shown = f"{value!r}" if np.array_equal(array, cast) else f"{value!r} ({cast} in {compute})"
        raise ValueError(f"{spec.name}: {p.name} must be {p.requirement}, got {shown}")
    return cast


def validate_params(
    spec: ActivationSpec, raw: Mapping[str, Any], shape: tuple[int, ...], compute: np.dtype
) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for p in spec.params:
        value = raw.get(p.name, p.default)
        if p.kind == "real":
            cast = real_param(spec, p, value, compute)
            if cast.ndim == 0:
                params[p.name] = float(cast)
                continue
            if not broadcasts_to(cast.shape, shape):
                raise ValueError(
                    f"{spec.name}: {p.name} of shape {cast.shape} does not broadcast to the "
                    f"input's shape {shape} (a parameter may not enlarge the result)"
                )
            params[p.name] = cast
        elif p.kind == "real_or_none":
            if value is None:
                params[p.name] = None
                continue
            cast = real_param(spec, p, value, compute)
            if cast.ndim != 0:
                raise ValueError(f"{spec.name}: {p.name} must be None or a scalar")
            params[p.name] = float(cast)
        elif p.kind == "choice":
            if not isinstance(value, str) or value not in p.choices:
                choices = ", ".join(repr(c) for c in p.choices)
                raise ValueError(f"{spec.name}: {p.name} must be one of {choices}, got {value!r}")
            params[p.name] = value
        elif p.kind == "flag":
            if not isinstance(value, bool | np.bool_):
                raise TypeError(f"{spec.name}: {p.name} must be a bool, got {value!r}")
            params[p.name] = bool(value)
        elif p.kind == "seed":
            params[p.name] = seed(spec, p, value)
        elif p.kind == "axis":
            params[p.name] = axis(spec, value, len(shape))
        else:  # pragma: no cover - the registry only declares the kinds above
            raise AssertionError(p.kind)
    if spec.constraint is not None:
        message = spec.constraint(params)
        if message:
            raise ValueError(f"{spec.name}: {message}")
    return params


def integer(spec: ActivationSpec, name: str, value: Any) -> int:
    """``operator.index(value)``, refusing bools, with a TypeError naming the parameter."""
    if not isinstance(value, bool | np.bool_):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise TypeError(f"{spec.name}: {name} must be an integer, got {value!r}")


def seed(spec: ActivationSpec, p: Param, value: Any) -> int | None:
    if value is None:
        return None
    seed = integer(spec, p.name, value)
    if not 0 <= seed < _SEED_LIMIT:
        raise ValueError(f"{spec.name}: {p.name} must be in [0, 2**64), got {seed}")
    return seed


def axis(spec: ActivationSpec, value: Any, ndim: int) -> int:
    axis = integer(spec, "axis", value)
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(axis, ndim, f"{spec.name}: axis")
    return axis % ndim


# --------------------------------------------------------------------------- the objects


def forward_shape(spec: ActivationSpec, shape: tuple[int, ...], params: Mapping) -> tuple:
    if not spec.halves_axis:
        return shape
    axis = params["axis"]
    if shape[axis] % 2:
        raise ValueError(
            f"{spec.name}: x has length {shape[axis]} along axis {axis}; it must be even "
            "(two halves)"
        )
    return (*shape[:axis], shape[axis] // 2, *shape[axis + 1 :])


def y_backward_check(spec: ActivationSpec, params: Mapping) -> None:
    """Raise if the parameters do not allow a backward from y."""
    refusal = spec.y_backward_refusal(params)
    if refusal is not None:
        raise ValueError(f"{spec.name}.backward cannot use y=: {refusal}; pass x instead")


def result_shapes(
    spec: ActivationSpec, method: str, shape: tuple[int, ...], params: Mapping, raw: Mapping
) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """The output's shape y_shape (what grad broadcasts to) and the shapes of the
    results of ``method`` for a main input of ``shape``; a backward from y that the
    parameters do not allow raises here. Shared by every call path (host, device,
    dask), so that they agree on shapes and on this error."""
    if method == "backward_y":
        y_backward_check(spec, params)
    y_shape = shape if method == "backward_y" else forward_shape(spec, shape, params)
    jacobian = shape if spec.kind == "elementwise" else (*y_shape, shape[params["axis"]])
    if method == "forward":
        return y_shape, [y_shape]
    if method == "derivative":
        return y_shape, [jacobian]
    if method == "value_and_derivative":
        return y_shape, [y_shape, jacobian]
    param_grads = spec.param_grads if method == "backward_x" else ()
    return y_shape, [shape, *(np.shape(raw[name]) for name in param_grads)]


def kernel_methods(spec: ActivationSpec, method: str) -> list[str]:
    """The kernels one call of ``method`` needs, all from one backend."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "backward_x":
        return [method, *(f"param_grad:{name}" for name in spec.param_grads)]
    return [method]




# --------------------------------------------------------------------------- wrapping


def wrap_call(like: np.ndarray) -> Any:
    """How ``like.__array_wrap__`` is to be called, found *before* any kernel runs
    (issue 15 item 8: a wrap that fails after the kernels ran would leave ``out``
    written by a call that raised).

    NumPy calls ``__array_wrap__(array, context, return_scalar)`` and falls back, with
    a DeprecationWarning, to the old ``(array, context)`` for a subclass that does not
    take the third argument; the convention is probed here on an empty array of
    ``like``'s type. Returns a function ``(result) -> wrapped``; errors of the probe
    (a wrap that refuses both conventions) are raised now.
    """
    probe = np.empty((0,), dtype=like.dtype)
    method = like.__array_wrap__
    try:
        method(probe, None, False)
    except TypeError:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            method(probe, None)  # raises now, before anything is written, if it fails too

        def old(result: np.ndarray) -> Any:
            warnings.warn(
                f"{type(like).__name__}.__array_wrap__ must accept context and "
                "return_scalar arguments (positionally) in the future (as NumPy says)",
                DeprecationWarning,
                stacklevel=4,
            )
            return method(result, None)

        return old
    return lambda result: method(result, None, result.ndim == 0)


# --------------------------------------------------------------------------- plans

#: Plans kept at most (parameters swept over many values would grow it without end).
PLAN_CACHE_SIZE = 1024

#: Parameter value types whose plans are cached (arrays and other objects are not).
_KEYABLE = (float, int, bool, str, type(None), np.floating, np.integer, np.bool_)


def param_key(raw: Mapping[str, Any]) -> tuple | None:
    """A hashable key of bound parameter values that tells apart every pair of values
    validation may treat differently: ``(name, type, value, sign)`` per value (the
    sign of floats, since ``-0.0 == 0.0``); None when a value is not a scalar of a
    known type (its plan is then not cached)."""
    key: list[Any] = []
    for name, value in raw.items():
        kind = type(value)
        if not isinstance(value, _KEYABLE):
            return None
        if isinstance(value, float | np.floating):
            # NaN never reaches the cache: validation refuses it.
            key.append((name, kind, value, math.copysign(1.0, value)))
        else:
            key.append((name, kind, value))
    return tuple(key)


class Plan:
    """What validating one call decided (see the module docstring).

    ``params`` are the validated parameters as the kernels take them; ``kernels``
    are the kernels of :func:`kernel_methods` (``method``'s, then the parameter
    gradients'), all from ``backend``. ``fast`` and ``fast_bias`` are the compiled fast
    path's own data for this plan and for its calls with ``bias=`` (set by
    :mod:`fastact._kernels._fastcall`, None until then).
    """

    __slots__ = (
        "backend", "compute", "fast", "fast_bias", "kernels", "method", "params",
        "result_dtype", "spec",
    )

    def __init__(
        self,
        spec: ActivationSpec,
        method: str,
        result: np.dtype,
        compute: np.dtype,
        params: dict[str, Any],
        backend: str,
        kernels: list[Any],
    ) -> None:
        self.spec = spec
        self.method = method
        self.result_dtype = result
        self.compute = compute
        self.params = params
        self.backend = backend
        self.kernels = kernels
        self.fast: Any = None
        self.fast_bias: Any = None

    def __repr__(self) -> str:
        return (
            f"<Plan {self.spec.name}.{self.method} {self.result_dtype}->{self.compute} "
            f"on {self.backend} {self.params}>"
        )


def plan(
    spec: ActivationSpec,
    method: str,
    raw: Mapping[str, Any],
    result: np.dtype,
    shape: tuple[int, ...],
    backend: Any,
) -> Plan:
    """The plan of a call of ``spec``'s ``method`` with bound parameters ``raw``
    (:func:`bind`), result dtype ``result`` (:func:`result_dtype`, after promotion
    with grad's), a main input of ``shape`` and the ``backend=`` argument (None: the
    current choice). Raises what the call would raise; cached (see the module
    docstring): the key holds everything the plan depends on (an axis function's
    plan depends on the number of dimensions, through the axis)."""
    choice = _dispatch.current_backend() if backend is None else backend
    pkey = param_key(raw)
    key: tuple | None = None
    if pkey is not None and isinstance(choice, str):
        ndim = len(shape) if spec.kind == "axis" else -1
        # result.num, not the dtype: the compiled fast path builds this key from the
        # array's type number (and hashing a dtype costs ~0.1 us).
        key = ("plan", spec.name, method, result.num, ndim, choice, pkey)
        cache = _dispatch._selected
        found = cache.get(key)
        if found is not None:
            return found
    compute = COMPUTE[result]
    params = validate_params(spec, raw, shape, compute)
    if method == "backward_y":  # before caching: the fast path relies on the plan for it
        y_backward_check(spec, params)
    chosen, kernels = _dispatch.select(spec.name, kernel_methods(spec, method), compute, choice)
    made = Plan(spec, method, result, compute, params, chosen, kernels)
    if key is not None:
        cache = _dispatch._selected
        if len(cache) >= PLAN_CACHE_SIZE:
            cache.clear()
        cache[key] = made
    return made
