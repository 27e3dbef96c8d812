"""The public activation objects, built from the registry.

An :class:`Activation` validates everything (inputs, dtypes, parameters, ``out``)
before any kernel runs, so an error never leaves ``out`` half written; then it asks
:mod:`fastact._dispatch` for the kernels of one backend and lets them write into the
result arrays. Nothing in this module is specific to one activation: the registry
says what differs.
"""

from __future__ import annotations

import functools
import inspect
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from fastact import _dispatch, _interop
from fastact._backends.base import METHODS
from fastact._registry import SPECS, ActivationSpec, Param, all_of, lookup

__all__ = ["Activation", "activations", "resolve_backend"]

_F16, _F32, _F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
#: float16 is computed in float32 and rounded once at the end (the contract).
_COMPUTE: dict[np.dtype, np.dtype] = {_F16: _F32, _F32: _F32, _F64: _F64}
_SEED_LIMIT = 2**64


# --------------------------------------------------------------------------- inputs


def _refuse_masked(value: Any, argument: str) -> None:
    """Masked arrays are refused: computing on their data would drop the mask silently
    (and np.ma's own ufunc rules, e.g. for domains, are not the contract's)."""
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            f"{argument} is a numpy.ma.MaskedArray; fastact does not apply masks: pass its "
            "data (np.ma.getdata(a), or a.filled(value)) and re-mask the result "
            "(np.ma.masked_array(result, mask=np.ma.getmaskarray(a)))"
        )


def _as_array(value: Any, argument: str) -> np.ndarray:
    if isinstance(value, np.ndarray):
        _refuse_masked(value, argument)
        return value
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as error:
        raise type(error)(f"{argument} could not be converted to an array: {error}") from None


def _result_dtype(dtype: np.dtype, argument: str) -> np.dtype:
    """The dtype np.tanh gives (bool/int8 -> float16, int16 -> float32, ...)."""
    if dtype.kind in "biuf":
        resolved = np.tanh.resolve_dtypes((dtype, None))[1]
        result = np.dtype(resolved.name)  # native byte order
        if result in _COMPUTE:
            return result
    raise TypeError(
        f"{argument} has dtype {dtype}; fastact computes real float16, float32 and float64 "
        "(bool and integer inputs are promoted as np.tanh does)"
    )


def _compute_input(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``array`` as a plain ndarray in the compute dtype, native byte order (a copy only
    when needed; a subclass such as np.matrix becomes a view of its data, since kernels
    index and reshape their arrays as ndarrays)."""
    if array.dtype == dtype and array.dtype.isnative:
        return array if type(array) is np.ndarray else array.view(np.ndarray)
    with np.errstate(all="ignore"):
        return array.astype(dtype)


def _check_out(out: Any, shape: tuple[int, ...], dtype: np.dtype, argument: str) -> np.ndarray:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{argument} must be a numpy.ndarray, got {type(out).__name__}")
    _refuse_masked(out, argument)
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


def _may_write_directly(
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


def _subclass_of(arrays: Mapping[str, Any], sources: Sequence[np.ndarray]) -> np.ndarray | None:
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


def _wrap(like: np.ndarray, result: np.ndarray) -> Any:
    """``result`` as ``like``'s subclass, through its ``__array_wrap__`` (as a ufunc)."""
    return like.__array_wrap__(result, None, result.ndim == 0)


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether an array of ``shape`` broadcasts to ``target`` without enlarging it.

    NumPy's rule (trailing axes align; 1 stretches), written out: np.broadcast_shapes
    raises RuntimeError beyond 32 dimensions, while arrays may have 64.
    """
    if len(shape) > len(target):
        return False
    return all(s in (1, t) for s, t in zip(reversed(shape), reversed(target), strict=False))


# --------------------------------------------------------------------------- parameters


def _bind(spec: ActivationSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict:
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


def _real_param(spec: ActivationSpec, p: Param, value: Any, compute: np.dtype) -> np.ndarray:
    _refuse_masked(value, f"{spec.name}: {p.name}")
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise TypeError(
            f"{spec.name}: {p.name} must be a real number or array of them, "
            f"got {type(value).__name__} of dtype {array.dtype}"
        )
    # An array already in the compute dtype is validated where it is, without a copy or
    # a mask of its size (a per-element float32 slope array cost 1.25x the input): its
    # min and max tell NaN (min and max propagate it) and infinities. The kernels only
    # read it; _run counts it among the inputs that `out` must not partly overlap.
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


def _validate_params(
    spec: ActivationSpec, raw: Mapping[str, Any], shape: tuple[int, ...], compute: np.dtype
) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for p in spec.params:
        value = raw.get(p.name, p.default)
        if p.kind == "real":
            cast = _real_param(spec, p, value, compute)
            if cast.ndim == 0:
                params[p.name] = float(cast)
                continue
            if not _broadcasts_to(cast.shape, shape):
                raise ValueError(
                    f"{spec.name}: {p.name} of shape {cast.shape} does not broadcast to the "
                    f"input's shape {shape} (a parameter may not enlarge the result)"
                )
            params[p.name] = cast
        elif p.kind == "real_or_none":
            if value is None:
                params[p.name] = None
                continue
            cast = _real_param(spec, p, value, compute)
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
            params[p.name] = _seed(spec, p, value)
        elif p.kind == "axis":
            params[p.name] = _axis(spec, value, len(shape))
        else:  # pragma: no cover - the registry only declares the kinds above
            raise AssertionError(p.kind)
    if spec.constraint is not None:
        message = spec.constraint(params)
        if message:
            raise ValueError(f"{spec.name}: {message}")
    return params


def _integer(spec: ActivationSpec, name: str, value: Any) -> int:
    """``operator.index(value)``, refusing bools, with a TypeError naming the parameter."""
    if not isinstance(value, bool | np.bool_):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise TypeError(f"{spec.name}: {name} must be an integer, got {value!r}")


def _seed(spec: ActivationSpec, p: Param, value: Any) -> int | None:
    if value is None:
        return None
    seed = _integer(spec, p.name, value)
    if not 0 <= seed < _SEED_LIMIT:
        raise ValueError(f"{spec.name}: {p.name} must be in [0, 2**64), got {seed}")
    return seed


def _axis(spec: ActivationSpec, value: Any, ndim: int) -> int:
    axis = _integer(spec, "axis", value)
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(axis, ndim, f"{spec.name}: axis")
    return axis % ndim


# --------------------------------------------------------------------------- the objects


def _forward_shape(spec: ActivationSpec, shape: tuple[int, ...], params: Mapping) -> tuple:
    if not spec.halves_axis:
        return shape
    axis = params["axis"]
    if shape[axis] % 2:
        raise ValueError(
            f"{spec.name}: x has length {shape[axis]} along axis {axis}; it must be even "
            "(two halves)"
        )
    return (*shape[:axis], shape[axis] // 2, *shape[axis + 1 :])


def _result_shapes(
    spec: ActivationSpec, method: str, shape: tuple[int, ...], params: Mapping, raw: Mapping
) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """The output's shape y_shape (what grad broadcasts to) and the shapes of the
    results of ``method`` for a main input of ``shape``; a backward from y that the
    parameters do not allow raises here. Shared by every call path (host, device,
    dask), so that they agree on shapes and on this error."""
    if method == "backward_y":
        refusal = spec.y_backward_refusal(params)
        if refusal is not None:
            raise ValueError(f"{spec.name}.backward cannot use y=: {refusal}; pass x instead")
    y_shape = shape if method == "backward_y" else _forward_shape(spec, shape, params)
    jacobian = shape if spec.kind == "elementwise" else (*y_shape, shape[params["axis"]])
    if method == "forward":
        return y_shape, [y_shape]
    if method == "derivative":
        return y_shape, [jacobian]
    if method == "value_and_derivative":
        return y_shape, [y_shape, jacobian]
    param_grads = spec.param_grads if method == "backward_x" else ()
    return y_shape, [shape, *(np.shape(raw[name]) for name in param_grads)]


def _kernel_methods(spec: ActivationSpec, method: str) -> list[str]:
    """The kernels one call of ``method`` needs, all from one backend."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "backward_x":
        return [method, *(f"param_grad:{name}" for name in spec.param_grads)]
    return [method]


class Activation:
    """An activation function with its derivative and fused backward.

    Calling the object is the forward; see the class docstring of each activation
    (``help(fastact.gelu)``) for its formula and parameters.
    """

    spec: ActivationSpec

    def __init__(self, spec: ActivationSpec) -> None:
        self.spec = spec
        self.__name__ = spec.name
        self.__qualname__ = spec.name
        self.__signature__ = _signature(spec)
        # Validated default parameters per compute dtype, for the fast path (elementwise
        # activations whose parameters all have defaults).
        self._scalar_cache: dict[tuple, dict[str, Any]] = {}
        self._defaults_f32: dict[str, Any] | None = None
        self._defaults_f64: dict[str, Any] | None = None
        if spec.kind == "elementwise" and not spec.required_params:
            self._defaults_f32 = _validate_params(spec, {}, (), _F32)
            self._defaults_f64 = _validate_params(spec, {}, (), _F64)

    def __repr__(self) -> str:
        return f"<fastact activation {self.spec.name}>"

    def __reduce__(self) -> tuple[Callable[[str], Activation], tuple[str]]:
        return _by_name, (self.spec.name,)

    # -- public methods -------------------------------------------------------------

    def __call__(
        self, x: Any, /, *args: Any, out: Any = None, backend: str | None = None, **params: Any
    ) -> Any:
        if not args:
            done = self._fast("forward", x, None, out, backend, params)
            if done is not None:
                return done
        return self._run("forward", {"x": x}, args, params, out, backend)

    def derivative(
        self, x: Any, /, *args: Any, out: Any = None, backend: str | None = None, **params: Any
    ) -> Any:
        """The elementwise derivative f'(x) (for axis functions: the Jacobian along the
        axis, of shape ``y.shape + (x.shape[axis],)``)."""
        if not args:
            done = self._fast("derivative", x, None, out, backend, params)
            if done is not None:
                return done
        return self._run("derivative", {"x": x}, args, params, out, backend)

    def value_and_derivative(
        self, x: Any, /, *args: Any, out: Any = None, backend: str | None = None, **params: Any
    ) -> Any:
        """``(f(x), f'(x))`` in one pass; ``out`` is a pair."""
        return self._run("value_and_derivative", {"x": x}, args, params, out, backend)

    def backward(
        self,
        grad: Any,
        x: Any = None,
        *,
        y: Any = None,
        out: Any = None,
        backend: str | None = None,
        **params: Any,
    ) -> Any:
        """The vector-Jacobian product ``grad * f'(x)`` in one pass, from the input ``x``
        or, where the activation allows it, from the output ``y`` (exactly one)."""
        if (x is None) == (y is None):
            raise ValueError(f"{self.spec.name}.backward: pass exactly one of x or y=")
        if x is not None and not self.spec.param_grads:
            done = self._fast("backward_x", x, grad, out, backend, params)
            if done is not None:
                return done
        if x is not None:
            return self._run("backward_x", {"grad": grad, "x": x}, (), params, out, backend)
        return self._run("backward_y", {"grad": grad, "y": y}, (), params, out, backend)

    # -- the fast path ----------------------------------------------------------------

    def _scalar_params(self, params: Mapping[str, Any], dtype: np.dtype) -> dict | None:
        """Validated parameters for keyword values that are Python scalars, cached by
        value (None for anything else: arrays, unknown names, errors go the general
        way, which raises the errors)."""
        try:
            key = (dtype.char, *sorted(params.items()))
            return self._scalar_cache[key]
        except KeyError:
            pass
        except TypeError:  # unhashable values, or names that do not sort
            return None
        if not all(type(v) in (float, int, bool, str, type(None)) for v in params.values()):
            return None
        try:
            validated = _validate_params(self.spec, _bind(self.spec, (), params), (), dtype)
        except (TypeError, ValueError):
            return None
        if len(self._scalar_cache) >= 256:  # bounded: parameters swept over many values
            self._scalar_cache.clear()
        self._scalar_cache[key] = validated
        return validated

    def _fast(
        self,
        method: str,
        x: Any,
        grad: Any,
        out: Any,
        backend: str | None,
        params: Mapping[str, Any],
    ) -> Any:
        """The call without _run's generality, or None when it does not apply.

        It applies to the common case that costs _run ~15 us of Python per call: a
        native float32/float64 ndarray of at least one dimension, default parameters,
        grad (for backward) of x's dtype and shape, and ``out``
        absent or a writeable array of x's dtype and shape that is x itself or does not
        overlap it. Everything else (and every error) takes the general path, so the
        results are the same; only the Python overhead differs.
        """
        # Identity tests on the dtype singletons: `==` on dtypes costs ~0.2 us each.
        if type(x) is not np.ndarray or not x.ndim:
            return None
        dtype = x.dtype
        if dtype is _F32:
            defaults = self._defaults_f32
        elif dtype is _F64:
            defaults = self._defaults_f64
        else:
            return None
        if defaults is None:
            return None
        if params:
            defaults = self._scalar_params(params, dtype)
            if defaults is None:
                return None
        if grad is not None and (
            type(grad) is not np.ndarray or grad.dtype is not dtype or grad.shape != x.shape
        ):
            return None
        if out is None:
            out = np.empty(x.shape, dtype)
        elif not (
            type(out) is np.ndarray
            and out.dtype is dtype
            and out.shape == x.shape
            and out.flags.writeable
            and (out is x or not np.may_share_memory(out, x))
            and (grad is None or out is grad or not np.may_share_memory(out, grad))
        ):
            return None
        kernel = _dispatch.select_cached(self.spec.name, method, dtype, backend)
        if grad is None:
            kernel(x, out, **defaults)
        else:
            kernel(grad, x, out, **defaults)
        return out

    # -- the one code path ------------------------------------------------------------

    def _run(
        self,
        method: str,
        arrays: Mapping[str, Any],
        args: tuple[Any, ...],
        raw_kwargs: Mapping[str, Any],
        out: Any,
        backend: str | None,
    ) -> Any:
        spec = self.spec
        # Device arrays and other array types take their own path (fastact._interop).
        routed = _interop.intercept(self, method, arrays, args, raw_kwargs, out, backend)
        if routed is not NotImplemented:
            return routed
        raw = _bind(spec, args, raw_kwargs)
        main_name = "y" if method == "backward_y" else "x"
        main = _as_array(arrays[main_name], main_name)
        result_dtype = _result_dtype(main.dtype, main_name)
        grad = None
        if "grad" in arrays:
            grad = _as_array(arrays["grad"], "grad")
            grad_dtype = _result_dtype(grad.dtype, "grad")
            if type(arrays["grad"]) not in (int, float):  # Python scalars are weak (NEP 50)
                result_dtype = np.promote_types(result_dtype, grad_dtype)
        compute = _COMPUTE[result_dtype]
        params = _validate_params(spec, raw, main.shape, compute)
        # Shapes of the results, and of the gradient the backward takes.
        y_shape, shapes = _result_shapes(spec, method, main.shape, params, raw)
        if grad is not None and not _broadcasts_to(grad.shape, y_shape):
            raise ValueError(
                f"{spec.name}.backward: grad of shape {grad.shape} does not broadcast to "
                f"the output's shape {y_shape}"
            )

        outs = self._check_outs(out, shapes, result_dtype)
        _, kernels = _dispatch.select(spec.name, _kernel_methods(spec, method), compute, backend)

        # Convert, then compute into `out` itself where that is safe.
        inputs = [_compute_input(main, compute)]
        if grad is not None:
            inputs.insert(0, np.broadcast_to(_compute_input(grad, compute), y_shape))
        sources = [main] if grad is None else [grad, main]
        # Array parameters are the caller's arrays (not copies): inputs too.
        param_arrays = [v for v in params.values() if isinstance(v, np.ndarray)]
        # A parameter gradient (prelu's, computed first) must not overwrite an input
        # that grad_x still reads: any overlap with one goes through a temporary.
        direct = [
            o is not None and _may_write_directly(
                o, compute, sources + inputs + param_arrays,
                exact_ok=i == 0 or method != "backward_x",
            )
            for i, o in enumerate(outs)
        ]
        targets = [
            (o if type(o) is np.ndarray else o.view(np.ndarray))
            if ok and o is not None
            else np.empty(s, dtype=compute)
            for o, s, ok in zip(outs, shapes, direct, strict=True)
        ]
        if method == "value_and_derivative":
            kernels[0](*inputs, *targets, **params)
        else:
            # Parameter gradients first: the first kernel may write into its own input
            # (in place), which they still have to read.
            for kernel, target in reversed(list(zip(kernels, targets, strict=True))):
                kernel(*inputs, target, **params)

        wrapper = _subclass_of(arrays, sources)
        elementwise = spec.kind == "elementwise"
        results = []
        for i, (o, target, ok) in enumerate(zip(outs, targets, direct, strict=True)):
            if o is None:
                with np.errstate(all="ignore"):  # float32 -> float16 rounds, silently
                    result = target if result_dtype == compute else target.astype(result_dtype)
                # Results shaped like the input come back as its subclass, as a ufunc's
                # do; Jacobians and prelu's weight gradient are plain arrays.
                like_input = (i == 0 and (method != "derivative" or elementwise)) or (
                    method == "value_and_derivative" and elementwise
                )
                if wrapper is not None and like_input:
                    results.append(_wrap(wrapper, result))
                else:
                    results.append(result[()] if result.ndim == 0 else result)
            else:
                if not ok:
                    with np.errstate(all="ignore"):
                        np.copyto(o, target, casting="same_kind")
                results.append(o)
        return results[0] if len(results) == 1 else tuple(results)

    def _check_outs(
        self, out: Any, shapes: list[tuple], dtype: np.dtype
    ) -> list[np.ndarray | None]:
        if isinstance(out, tuple) and len(shapes) == 1 and len(out) == 1:
            out = out[0]  # ufuncs accept out=(array,) too
        if len(shapes) == 1:
            return [None if out is None else _check_out(out, shapes[0], dtype, "out")]
        if out is None:
            return [None] * len(shapes)
        if not isinstance(out, tuple | list):
            raise TypeError(f"out must be a pair of arrays (or None) here, got {out!r}")
        if len(out) != len(shapes):
            raise ValueError(f"out must have {len(shapes)} entries here, got {len(out)}")
        checked = [
            None if o is None else _check_out(o, s, dtype, f"out[{i}]")
            for i, (o, s) in enumerate(zip(out, shapes, strict=True))
        ]
        present = [o for o in checked if o is not None]
        if len(present) == 2 and np.may_share_memory(present[0], present[1]):
            raise ValueError("out[0] and out[1] must not overlap")
        return checked


# --------------------------------------------------------------------------- docs


def _signature(spec: ActivationSpec, *, backward: bool = False) -> inspect.Signature:
    """The signature of the forward (also of .derivative and .value_and_derivative), or
    with ``backward=True`` of .backward: (grad, x=None, *, y=None, params..., out, backend)."""
    kinds = inspect.Parameter
    if backward:
        parameters = [
            kinds("grad", kinds.POSITIONAL_OR_KEYWORD),
            kinds("x", kinds.POSITIONAL_OR_KEYWORD, default=None),
            kinds("y", kinds.KEYWORD_ONLY, default=None),
        ]
    else:
        parameters = [kinds("x", kinds.POSITIONAL_ONLY)]
        parameters += [kinds(p.name, kinds.POSITIONAL_OR_KEYWORD) for p in spec.required_params]
    for p in spec.params:
        if backward or not p.required:
            default = kinds.empty if p.required else p.default
            parameters.append(kinds(p.name, kinds.KEYWORD_ONLY, default=default))
    parameters += [
        kinds("out", kinds.KEYWORD_ONLY, default=None),
        kinds("backend", kinds.KEYWORD_ONLY, default=None),
    ]
    return inspect.Signature(parameters)


def _method_with_signature(
    function: Callable[..., Any], signature: inspect.Signature
) -> Callable[..., Any]:
    """``function`` under its own name with the activation's signature, for help() and
    inspect (the shared implementation takes ``*args, **params``)."""

    @functools.wraps(function)
    def method(self: Activation, *args: Any, **kwargs: Any) -> Any:
        return function(self, *args, **kwargs)

    self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[self_parameter, *signature.parameters.values()]
    )
    return method


def _param_doc(p: Param) -> str:
    kind = {
        "real": "float or array_like",
        "real_or_none": "float or None",
        "choice": "{" + ", ".join(repr(c) for c in p.choices) + "}",
        "flag": "bool",
        "seed": "int or None",
        "axis": "int",
    }[p.kind]
    default = "required" if p.required else f"default {p.default!r}"
    requirement = f" Must be {p.requirement}." if p.requirement else ""
    return f"{p.name} : {kind}, {default}\n    {p.doc}{requirement}"


def _example(spec: ActivationSpec) -> str:
    kwargs = dict(spec.example_kwargs)
    for p in spec.required_params:
        kwargs.setdefault(p.name, 0.25)
    call_args = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    name = spec.name
    if spec.kind == "axis":
        width = 4 if spec.halves_axis else 3
        lines = [
            ">>> import numpy as np, fastact as fa",
            f">>> x = np.arange({2 * width}.0).reshape(2, {width})",
            f">>> y = fa.{name}(x, axis=-1)",
            f">>> jacobian = fa.{name}.derivative(x, axis=-1)   # shape y.shape + ({width},)",
            f">>> grad_x = fa.{name}.backward(np.ones_like(y), x, axis=-1)",
        ]
        if spec.y_backward is True:
            lines.append(f">>> grad_x = fa.{name}.backward(np.ones_like(y), y=y, axis=-1)")
        return "\n".join(lines)
    lines = [
        ">>> import numpy as np, fastact as fa",
        ">>> x = np.linspace(-4, 4, 9, dtype=np.float32)",
        f">>> y = fa.{name}(x{call_args})",
        f">>> d = fa.{name}.derivative(x{call_args})",
        f">>> grad_x = fa.{name}.backward(np.ones_like(x), x{call_args})",
    ]
    if spec.y_backward is True:
        lines.append(f">>> grad_x = fa.{name}.backward(np.ones_like(y), y=y{call_args})")
    lines.append(f">>> _ = fa.{name}(x{call_args}, out=x)   # in place")
    return "\n".join(lines)


def _docstring(spec: ActivationSpec) -> str:
    params = "\n".join(
        [
            "x : array_like\n    Input; any shape, strides and real dtype.",
            *(_param_doc(p) for p in spec.params),
            "out : ndarray, optional\n    Where to write the result (may be x itself).",
            "backend : str, optional\n    Backend for this call (default: the current one, "
            "normally 'auto').",
        ]
    )
    if not spec.derivative_from_output:
        from_output = "\nThe backward needs x (the derivative is not a function of the output)."
    elif spec.kind == "axis":
        from_output = (
            f"\nFrom the output: ``{spec.name}.backward(grad, y=y)`` = "
            f"{spec.derivative_from_output}."
        )
    else:
        from_output = (
            f"\nFrom the output: f'(x) = {spec.derivative_from_output}, so "
            f"``{spec.name}.backward(grad, y=y)`` works."
        )
    aliases = f"\nAliases: {', '.join(spec.aliases)}." if spec.aliases else ""
    notes = f"\n\n{spec.notes}" if spec.notes else ""
    jacobian = " (the Jacobian along axis)" if spec.kind == "axis" else ""
    methods = "\n".join(
        [
            f"- ``{spec.name}.derivative(x, ...)``: f'(x){jacobian}",
            f"- ``{spec.name}.backward(grad, x, ...)``: the vector-Jacobian product, fused",
            f"- ``{spec.name}.value_and_derivative(x, ...)``: both in one pass",
        ]
    )
    return f"""{spec.title}

    {spec.formula}

Derivative:

    {spec.derivative}
{from_output}{aliases}{notes}

Parameters
----------
{params}

Returns
-------
ndarray or scalar
    The result, with x's shape and the dtype ``np.tanh`` would give (float16 is
    computed in float32); a scalar for a 0-d input, ``out`` when given.

Methods
-------
{methods}

Examples
--------
{_example(spec)}
"""


def _make(spec: ActivationSpec) -> Activation:
    forward, backward = _signature(spec), _signature(spec, backward=True)
    namespace = {
        "__doc__": _docstring(spec),
        "__module__": "fastact",
        "__signature__": forward,  # help() shows the call, not the constructor
        "derivative": _method_with_signature(Activation.derivative, forward),
        "value_and_derivative": _method_with_signature(Activation.value_and_derivative, forward),
        "backward": _method_with_signature(Activation.backward, backward),
    }
    return type(spec.name, (Activation,), namespace)(spec)


_OBJECTS: dict[str, Activation] = {spec.name: _make(spec) for spec in SPECS}
_ALL_NAMES: dict[str, Activation] = {n: _OBJECTS[s.name] for s in SPECS for n in s.names}


def _by_name(name: str) -> Activation:
    return _ALL_NAMES[name]


def activations() -> dict[str, Activation]:
    """Every activation by name, aliases included (``{"gelu": fa.gelu, ...}``)."""
    return dict(_ALL_NAMES)


def resolve_backend(
    name: str, dtype: Any, backend: str = "auto", *, method: str = "forward"
) -> str:
    """The backend a call of activation ``name`` on an input of ``dtype`` would use.

    ``method`` is one of "forward", "derivative", "value_and_derivative", "backward_x",
    "backward_y". Raises like the call would (unknown names, unsupported dtypes, an
    explicit backend that does not serve it).
    """
    spec = lookup(name)
    compute = _COMPUTE[_result_dtype(np.dtype(dtype), "the input")]
    chosen, _ = _dispatch.select(spec.name, _kernel_methods(spec, method), compute, backend)
    return chosen
