"""The public activation objects, built from the registry.

An :class:`Activation` validates everything (inputs, dtypes, parameters, ``out``)
before any kernel runs, so an error never leaves ``out`` half written; then it asks
:mod:`fastact._dispatch` for the kernels of one backend and lets them write into the
result arrays. Nothing in this module is specific to one activation: the registry
says what differs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from fastact import _bias, _dispatch
from fastact import _validate as V

# The compiled half of the API (built with the kernels it calls).
from fastact._kernels._fastcall import Base as _Base
from fastact._kernels._fastcall import Method as _Method
from fastact._kernels._fastcall import enable_vectorcall as _enable_vectorcall
from fastact._registry import SPECS, ActivationSpec, Param, lookup

__all__ = ["Activation", "activations", "resolve_backend"]

#: Set by the adapters' floor (fastact._interop registers itself when fastact is
#: imported): the function that takes calls whose arguments are not NumPy arrays,
#: scalars or sequences (device arrays, dask, xarray, DLPack objects). The API does not
#: import the adapters: they sit above it and call it.
_router: Callable[..., Any] | None = None

#: Types that never need routing (checked by identity first: the common case).
_PLAIN = (np.ndarray, np.generic, int, float, bool, list, tuple, type(None))


def set_router(router: Callable[..., Any] | None) -> None:
    """Install the adapters' entry (``router(activation, method, arrays, args, params,
    out, backend)`` -> result or NotImplemented); fastact._interop calls this."""
    global _router
    _router = router


def _plain(arrays: Mapping[str, Any], out: Any) -> bool:
    if not all(isinstance(v, _PLAIN) for v in arrays.values()):
        return False
    if isinstance(out, tuple | list):
        return all(isinstance(o, _PLAIN) for o in out)
    return isinstance(out, _PLAIN)


class Activation(_Base):
    """An activation function with its derivative and fused backward.

    Calling the object is the forward; see the class docstring of each activation
    (``help(fastact.gelu)``) for its formula and parameters.

    The common call (a native float32/float64 C-contiguous ndarray, scalar keyword
    parameters, ``out`` absent or a matching array) is served by the compiled base
    class (:mod:`fastact._kernels._fastcall`) with the cached plan of the general
    path; everything else, and every error, goes through :meth:`_run`.
    """

    spec: ActivationSpec

    def __init__(self, spec: ActivationSpec) -> None:
        self.spec = spec
        self.__name__ = spec.name
        self.__qualname__ = spec.name
        self.__signature__ = _signature(spec)

    def __repr__(self) -> str:
        return f"<fastact activation {self.spec.name}>"

    def __reduce__(self) -> tuple[Callable[[str], Activation], tuple[str]]:
        return _by_name, (self.spec.name,)

    # -- public methods (the forward, __call__, is the base class's) ---------------

    def derivative(
        self, x: Any, /, *args: Any, out: Any = None, backend: str | None = None, **params: Any
    ) -> Any:
        """The elementwise derivative f'(x) (for axis functions: the Jacobian along the
        axis, of shape ``y.shape + (x.shape[axis],)``)."""
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
        if x is not None:
            return self._run("backward_x", {"grad": grad, "x": x}, (), params, out, backend)
        return self._run("backward_y", {"grad": grad, "y": y}, (), params, out, backend)

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
        # Device arrays and other array types go to the adapters above (which call
        # this API again with NumPy arrays, or run device arrays through _device).
        if _router is not None and not _plain(arrays, out):
            routed = _router(self, method, arrays, args, raw_kwargs, out, backend)
            if routed is not NotImplemented:
                return routed
        bias = None
        if "bias" in raw_kwargs:  # not a parameter: an input that every method may take
            raw_kwargs = dict(raw_kwargs)
            bias = raw_kwargs.pop("bias")
        raw = V.bind(spec, args, raw_kwargs)
        main_name = "y" if method == "backward_y" else "x"
        main = V.as_array(arrays[main_name], main_name)
        result_dtype = V.result_dtype(main.dtype, main_name)
        grad = None
        if "grad" in arrays:
            grad = V.as_array(arrays["grad"], "grad")
            grad_dtype = V.result_dtype(grad.dtype, "grad")
            if type(arrays["grad"]) not in (int, float):  # Python scalars are weak (NEP 50)
                result_dtype = np.promote_types(result_dtype, grad_dtype)
        plan = V.plan(spec, method, raw, result_dtype, main.shape, backend)
        compute, params, kernels = plan.compute, plan.params, plan.kernels
        # Shapes of the results, and of the gradient the backward takes.
        y_shape, shapes = V.result_shapes(spec, method, main.shape, params, raw)
        if grad is not None and not V.broadcasts_to(grad.shape, y_shape):
            raise ValueError(
                f"{spec.name}.backward: grad of shape {grad.shape} does not broadcast to "
                f"the output's shape {y_shape}"
            )
        backward = method in ("backward_x", "backward_y")
        bias_array = None
        if bias is not None:
            bias_array = V.bias_input(spec, bias, compute, main.shape)
            if backward:  # the bias gradient comes last, in the bias's shape
                shapes = [*shapes, bias_array.shape]
        outs = self._check_outs(out, shapes, result_dtype)

        # Which results come back as the input's subclass (as a ufunc's do; Jacobians
        # and prelu's weight gradient are plain arrays), and how to wrap them: decided
        # now, so that a wrap that fails raises before anything is written.
        sources = [main] if grad is None else [grad, main]
        wrapper = V.subclass_of(arrays, sources)
        elementwise = spec.kind == "elementwise"
        like_input = [
            (i == 0 and (method != "derivative" or elementwise))
            or (method == "value_and_derivative" and elementwise)
            for i in range(len(shapes))
        ]
        wrap = None
        if wrapper is not None and any(
            o is None and like for o, like in zip(outs, like_input, strict=True)
        ):
            wrap = V.wrap_call(wrapper)

        # Convert, then compute into `out` itself where that is safe. A result dtype
        # narrower than the compute dtype (float16: bool, int8 and float16 inputs) is
        # rounded to it before it reaches `out`, whatever out's dtype, as np.tanh does.
        inputs = [V.compute_input(main, compute)]
        if grad is not None:
            inputs.insert(0, np.broadcast_to(V.compute_input(grad, compute), y_shape))
        # Array parameters are the caller's arrays (not copies): inputs too.
        param_arrays = [v for v in params.values() if isinstance(v, np.ndarray)]
        if bias_array is not None:
            param_arrays.append(bias_array)
        # A parameter gradient (prelu's, computed first) must not overwrite an input
        # that grad_x still reads, nor may the bias gradient: any overlap with one goes
        # through a temporary.
        direct = [
            o is not None and result_dtype == compute and V.may_write_directly(
                o, compute, sources + inputs + param_arrays,
                exact_ok=i == 0 or method == "value_and_derivative",
            )
            for i, o in enumerate(outs)
        ]
        targets = [
            (o if type(o) is np.ndarray else o.view(np.ndarray))
            if ok and o is not None
            else np.empty(s, dtype=compute)
            for o, s, ok in zip(outs, shapes, direct, strict=True)
        ]
        if bias_array is not None:
            bias_target = targets[-1] if backward else None
            _bias.run(
                method, kernels, inputs, bias_array,
                targets[:-1] if backward else targets, bias_target, params,
                spec.param_grads if method == "backward_x" else (),
                bias_target is not None and any(
                    np.may_share_memory(bias_target, a) for a in inputs + param_arrays
                ),
                plan.backend, spec.name,
            )
        elif method == "value_and_derivative":
            kernels[0](*inputs, *targets, **params)
        else:
            # Parameter gradients first: the first kernel may write into its own input
            # (in place), which they still have to read.
            for kernel, target in reversed(list(zip(kernels, targets, strict=True))):
                kernel(*inputs, target, **params)

        results = []
        for o, target, ok, like in zip(outs, targets, direct, like_input, strict=True):
            if ok:
                results.append(o)
                continue
            if o is not None:
                # Rounded to the result dtype first (float16), as np.tanh does; when
                # `out` has that dtype the copy itself rounds once, with no temporary
                # (in-place float16 stays within its 2 + 2 float16-array temporaries).
                rounded = result_dtype != compute and o.dtype != result_dtype
                with np.errstate(all="ignore"):  # float32 -> float16 rounds, silently
                    np.copyto(
                        o, target.astype(result_dtype) if rounded else target,
                        casting="same_kind",
                    )
                results.append(o)
                continue
            with np.errstate(all="ignore"):  # float32 -> float16 rounds, silently
                result = target if result_dtype == compute else target.astype(result_dtype)
            if wrap is not None and like:
                results.append(wrap(result))
            else:
                results.append(result[()] if result.ndim == 0 else result)
        return results[0] if len(results) == 1 else tuple(results)

    def _check_outs(
        self, out: Any, shapes: list[tuple], dtype: np.dtype
    ) -> list[np.ndarray | None]:
        if isinstance(out, tuple) and len(shapes) == 1 and len(out) == 1:
            out = out[0]  # ufuncs accept out=(array,) too
        if len(shapes) == 1:
            return [None if out is None else V.check_out(out, shapes[0], dtype, "out")]
        if out is None:
            return [None] * len(shapes)
        if not isinstance(out, tuple | list):
            raise TypeError(f"out must be a pair of arrays (or None) here, got {out!r}")
        if len(out) != len(shapes):
            raise ValueError(f"out must have {len(shapes)} entries here, got {len(out)}")
        checked = [
            None if o is None else V.check_out(o, s, dtype, f"out[{i}]")
            for i, (o, s) in enumerate(zip(out, shapes, strict=True))
        ]
        for i, first in enumerate(checked):
            for j in range(i + 1, len(checked)):
                second = checked[j]
                if first is not None and second is not None and np.may_share_memory(
                    first, second
                ):
                    raise ValueError(f"out[{i}] and out[{j}] must not overlap")
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
    if spec.kind == "elementwise":
        parameters.append(kinds("bias", kinds.KEYWORD_ONLY, default=None))
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

    # The compiled fast path, then ``function`` (the general path), with the signature.
    method: Callable[..., Any] = _Method(function.__name__, function, signature)  # type: ignore[assignment]
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


_BIAS_DOC = (
    "bias : array_like, optional\n"
    "    Added to x first, in the same pass: every method computes at x + bias (a\n"
    "    layer's ``act(x @ W + b)``), with no temporary of x's size. It broadcasts to\n"
    "    x and is cast to x's compute dtype, as parameters are. With it, ``.backward``\n"
    "    (from x or from y) also returns the bias gradient, grad * f'(x + bias) summed\n"
    "    to bias's shape, as its last result (``out=`` then takes one more array)."
)


def _docstring(spec: ActivationSpec) -> str:
    params = "\n".join(
        [
            "x : array_like\n    Input; any shape, strides and real dtype.",
            *(_param_doc(p) for p in spec.params),
            *([_BIAS_DOC] if spec.kind == "elementwise" else []),
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
    cls = type(spec.name, (Activation,), namespace)
    _enable_vectorcall(cls)  # CPython 3.11: a heap subclass does not inherit it
    return cls(spec)


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
    compute = V.COMPUTE[V.result_dtype(np.dtype(dtype), "the input")]
    chosen, _ = _dispatch.select(spec.name, V.kernel_methods(spec, method), compute, backend)
    return chosen
