"""PyTorch adapter: fastact's kernels inside autograd (``pip install "fastact[torch]"``).

For every activation of the registry there is

* an autograd function, ``FUNCTIONS[name]`` (a ``torch.autograd.Function``), whose
  forward and backward run fastact's kernels on NumPy views of the tensors: no copy
  in or out (outputs are allocated by torch, fastact writes into them);
* a functional form under the registry name, ``fastact.torch.gelu(x,
  approximate="tanh")``, with fastact's parameter names and an ``inplace=`` flag;
* an ``nn.Module``, ``MODULES[name]``: a drop-in for torch.nn's module where torch
  has one (same name, arguments, defaults and semantics: ``ReLU(inplace=False)``,
  ``GELU(approximate="none")``, ``Softplus(beta=1.0, threshold=20.0)``,
  ``PReLU(num_parameters=1, init=0.25)``, ``Softmax(dim=None)``, ...), and a CamelCase
  name for the others (``Squareplus(b=4.0)``, ``Exponential()``). fastact's extra
  parameters come after torch's, keyword-only (``SiLU(inplace=False, *, beta=1.0)``).
  The identity is ``Identity`` (torch's ``nn.Linear`` is an affine layer); unlike
  torch's, it returns a new tensor (fastact's linear), not the input object.
  ``Hardtanh``'s deprecated ``min_value``/``max_value`` aliases are not accepted.

What is saved for the backward: the input x, so that the gradient is computed from
x (fastact's derivative, accurate where the output has lost it: ELU's gradient at
x = -20 in float32 is 2.06e-9, where y + alpha gives 0.0). The axis functions
(softmax, log_softmax, softmin) save their output, as torch does. ``inplace=True``
writes the result into the input: then the backward runs from the output where
fastact has a backward from y (the contract lists them: sigmoid, tanh, relu, elu with
alpha > 0, ...), which costs what the output has lost to rounding (ELU, CELU, SELU:
y + alpha cancels for x << 0, relative error up to eps * alpha / |y + alpha|, and
SELU's gradient at -inf is 2.33e-8 in float32 instead of 0; torch's in-place ELU
does the same); where the backward needs x (SiLU, Mish, Hardswish, ...) a copy of x
is kept, as torch itself does.

Conventions that follow torch rather than fastact's NumPy API: prelu's weight has
one element or one per channel, the channel being dim 1 (``fastact.prelu`` itself
broadcasts NumPy-style from the trailing axes); softmax/log_softmax/softmin with
``dim=None`` choose the dim as torch does (0 for 0-, 1- and 3-d inputs, else 1) with
torch's deprecation warning; RReLU draws its per-element slopes in training mode from
a seed taken from torch's generator (so ``torch.manual_seed`` makes them
reproducible), and the backward sees the forward's slopes; softmax, log_softmax and
softmin of a 0-d tensor (dim 0 or -1) are those of a one-element vector (1, 0 and 1;
``fastact.softmax`` of a 0-d array raises AxisError, as NumPy's reductions do);
``hardshrink``/``Hardshrink`` with a negative ``lambd`` is the identity, as torch
computes it (``fastact.hardshrink`` refuses a negative lambd: the dead zone
``|x| <= lambd`` would be empty, most likely a sign error).

Tensors: float16, float32 and float64 on the CPU, any strides. bfloat16 has no NumPy
dtype: it is computed in float32 and rounded once (a copy each way). Other devices
(CUDA, MPS, meta) raise NotImplementedError naming the argument and its device: move
the tensor to the CPU, or use torch.nn's own module there. Integer and complex
tensors raise TypeError.

``torch.compile``: every fastact call is excluded from tracing
(``torch.compiler.disable``): the compiled graph breaks around it and fastact runs
eagerly there, with the same results and gradients. ``fullgraph=True`` therefore
raises torch's error about a disabled function instead of compiling.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from fastact import _validate
from fastact._api import Activation, activations
from fastact._registry import SPECS, ActivationSpec

__all__ = ["FUNCTIONS", "MODULES", "PReLU"]

_NATIVE = (torch.float16, torch.float32, torch.float64)
_OBJECTS: dict[str, Activation] = {s.name: activations()[s.name] for s in SPECS}

# --------------------------------------------------------------------------- tensors


def _check_tensor(tensor: Any, argument: str, spec: ActivationSpec) -> torch.Tensor:
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{spec.name}: {argument} must be a torch.Tensor, got "
                        f"{type(tensor).__name__}")
    if tensor.device.type != "cpu":
        raise NotImplementedError(
            f"{spec.name}: {argument} is on device {tensor.device}; fastact.torch computes "
            "CPU tensors (move it with .cpu(), or use torch.nn's own function there)"
        )
    if tensor.dtype not in _NATIVE and tensor.dtype is not torch.bfloat16:
        raise TypeError(
            f"{spec.name}: {argument} has dtype {tensor.dtype}; fastact.torch computes "
            "float16, bfloat16, float32 and float64 tensors"
        )
    return tensor


def _view(tensor: torch.Tensor) -> np.ndarray:
    """A NumPy view of ``tensor`` (bfloat16: a float32 copy, NumPy has no bfloat16)."""
    tensor = tensor.detach()
    if tensor.dtype is torch.bfloat16:
        tensor = tensor.float()
    return tensor.resolve_conj().resolve_neg().numpy()


def _empty(shape: tuple[int, ...], dtype: torch.dtype, like: torch.Tensor | None) -> torch.Tensor:
    """A tensor for fastact to write into (float32 standing in for bfloat16); it
    keeps ``like``'s memory format when it has ``like``'s shape."""
    compute = torch.float32 if dtype is torch.bfloat16 else dtype
    if like is not None and tuple(like.shape) == shape:
        return torch.empty_like(like, dtype=compute)
    return torch.empty(shape, dtype=compute)


def _finish(result: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return result if result.dtype is dtype else result.to(dtype)


def _has_internal_overlap(tensor: torch.Tensor) -> bool:
    return any(st == 0 and n > 1 for st, n in zip(tensor.stride(), tensor.shape, strict=True))


# --------------------------------------------------------------------------- autograd


def _output_shape(spec: ActivationSpec, shape: tuple[int, ...], params: Mapping) -> tuple:
    """The result's shape (glu: half along its axis), after fastact's own checks."""
    if not spec.halves_axis:
        return shape
    validated = _validate.validate_params(spec, params, shape, np.dtype(np.float64))
    return tuple(_validate.forward_shape(spec, shape, validated))


def _make_function(spec: ActivationSpec) -> type[torch.autograd.Function]:
    """The autograd function of one activation.

    ``apply(x, weight, params, inplace)``: ``weight`` is prelu's weight tensor already
    shaped to broadcast NumPy-style against x (None for the others); ``params`` the
    other fastact parameters; ``inplace`` writes the result into x.
    """
    activation = _OBJECTS[spec.name]
    from_y_possible = spec.y_backward is not False and not spec.halves_axis

    def forward(
        ctx: Any, x: torch.Tensor, weight: torch.Tensor | None, params: dict, inplace: bool
    ) -> torch.Tensor:
        x = _check_tensor(x, "x", spec)
        kwargs = dict(params)
        if weight is not None:
            kwargs["weight"] = _view(_check_tensor(weight, "weight", spec))
        # The backward runs from x whenever x survives the forward: from y it can cancel
        # (elu'(x) = y + alpha is 0.0 in float32 at x = -20, where it is 2.06e-9). From y
        # only where x is gone (in place), and for the axis functions (their backward
        # from x would compute the rows again; torch saves y there too).
        from_y = (
            from_y_possible
            and spec.y_backward_refusal(params) is None
            and (inplace or spec.kind != "elementwise")
        )
        needs_grad = any(ctx.needs_input_grad[:2])
        x_np = _view(x)
        saved_x = x if not (inplace and needs_grad and not from_y) else x.detach().clone()
        if inplace:
            if x.dtype is torch.bfloat16:
                x.copy_(torch.from_numpy(activation(x_np, **kwargs)))
            else:
                activation(x_np, out=x_np, **kwargs)
            ctx.mark_dirty(x)
            y = x
        else:
            shape = _output_shape(spec, tuple(x.shape), kwargs)
            target = _empty(shape, x.dtype, x)
            activation(x_np, out=target.numpy(), **kwargs)
            y = _finish(target, x.dtype)
        ctx.from_y = from_y
        ctx.params = kwargs if weight is None else {**kwargs, "weight": None}
        ctx.weight_shape = None if weight is None else tuple(weight.shape)
        if needs_grad:
            if from_y:
                ctx.save_for_backward(y, weight)
            else:
                ctx.save_for_backward(saved_x, weight)
        return y

    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        saved, weight = ctx.saved_tensors
        kwargs = dict(ctx.params)
        if weight is not None:
            kwargs["weight"] = _view(weight)
        g = _view(_check_tensor(grad, "grad", spec))
        target = _empty(tuple(saved.shape), saved.dtype, saved)
        if ctx.from_y:
            activation.backward(g, y=_view(saved), out=target.numpy(), **kwargs)
            return _finish(target, saved.dtype), None, None, None
        if weight is None:
            activation.backward(g, _view(saved), out=target.numpy(), **kwargs)
            return _finish(target, saved.dtype), None, None, None
        _, grad_weight = activation.backward(g, _view(saved), out=(target.numpy(), None),
                                             **kwargs)
        grad_w = torch.from_numpy(np.asarray(grad_weight)).reshape(ctx.weight_shape)
        return _finish(target, saved.dtype), grad_w.to(weight.dtype), None, None

    name = "".join(part.capitalize() for part in spec.name.split("_")) + "Function"
    namespace = {
        "__doc__": f"Autograd function of fastact.{spec.name}: {spec.formula}.",
        "__module__": __name__,
        "forward": staticmethod(forward),
        "backward": staticmethod(backward),
    }
    return type(name, (torch.autograd.Function,), namespace)


#: Registry name -> its ``torch.autograd.Function``.
FUNCTIONS: dict[str, type[torch.autograd.Function]] = {s.name: _make_function(s) for s in SPECS}


# --------------------------------------------------------------------------- functional


def _prelu_weight(x: torch.Tensor, weight: Any) -> torch.Tensor:
    """torch's prelu convention -> fastact's: one slope, or one per channel (dim 1)."""
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"prelu: weight must be a torch.Tensor, got {type(weight).__name__}")
    if weight.ndim > 1:
        raise ValueError(f"prelu: weight must be 0-d or 1-d, got shape {tuple(weight.shape)}")
    if weight.numel() == 1:
        return weight.reshape(())
    channels = x.shape[1] if x.ndim >= 2 else 1
    if weight.numel() != channels:
        raise ValueError(
            f"prelu: weight has {weight.numel()} elements; x of shape {tuple(x.shape)} has "
            f"{channels} channel(s) along dim 1 (weight needs 1 or that many)"
        )
    return weight.reshape((channels,) + (1,) * (x.ndim - 2))


_NOT_TRACED = (
    "fastact runs NumPy kernels on the tensors' memory: torch.compile runs it eagerly, "
    "between compiled graphs"
)


def _torch_rule(spec: ActivationSpec, params: dict) -> tuple[ActivationSpec, dict]:
    """Where torch computes what fastact's NumPy API refuses: hardshrink with a
    negative lambd keeps every x (|x| > lambd always holds), so it is the identity."""
    if spec.name == "hardshrink":
        lambd = params.get("lambd", 0.5)
        if isinstance(lambd, int | float) and not isinstance(lambd, bool) and lambd < 0:
            return _OBJECTS["linear"].spec, {}
    return spec, params


@torch.compiler.disable(reason=_NOT_TRACED)
def _apply(
    spec: ActivationSpec, x: torch.Tensor, weight: Any, params: dict, inplace: bool
) -> torch.Tensor:
    """Run the autograd function of ``spec`` (never traced by torch.compile)."""
    x = _check_tensor(x, "x", spec)
    if inplace:
        if spec.halves_axis:
            raise ValueError(f"{spec.name}: inplace=True is impossible (the result is smaller)")
        if torch.is_grad_enabled() and x.is_leaf and x.requires_grad:
            raise RuntimeError(
                f"{spec.name}: a leaf tensor that requires grad (x) cannot be modified in "
                "place; use inplace=False"
            )
        if _has_internal_overlap(x):
            raise ValueError(f"{spec.name}: x has elements that share memory (an expanded "
                             "tensor); it cannot be written in place")
    spec, params = _torch_rule(spec, params)
    if spec.kind == "axis" and x.ndim == 0 and not spec.halves_axis:
        axis = params.get("axis", -1)
        if axis in (0, -1):  # torch: a 0-d tensor is a one-element vector along dim 0/-1
            one = _apply(spec, x.reshape(1), weight, {**params, "axis": 0}, inplace)
            return x if inplace else one.reshape(())
    if spec.name == "prelu":
        weight = _prelu_weight(x, weight)
    if spec.name == "rrelu" and params.get("training") and params.get("seed") is None:
        params = {**params, "seed": int(torch.randint(0, 2**62, ()).item())}
    result: torch.Tensor = FUNCTIONS[spec.name].apply(x, weight, params, inplace)
    return result


def _make_functional(spec: ActivationSpec) -> Callable[..., torch.Tensor]:
    required = [p.name for p in spec.required_params if p.name != "weight"]

    def function(x: torch.Tensor, *args: Any, inplace: bool = False, **params: Any) -> Any:
        weight = None
        if spec.name == "prelu":
            if len(args) != 1:
                raise TypeError("prelu() takes x and weight")
            weight = args[0]
        else:
            if len(args) > len(required):
                raise TypeError(f"{spec.name}() takes {len(required)} positional parameter(s) "
                                f"after x, got {len(args)}")
            params.update(zip(required, args, strict=False))
        return _apply(spec, x, weight, params, inplace)

    function.__name__ = function.__qualname__ = spec.name
    function.__module__ = __name__
    kinds = inspect.Parameter
    parameters = [kinds("x", kinds.POSITIONAL_OR_KEYWORD)]
    parameters += [kinds(p.name, kinds.POSITIONAL_OR_KEYWORD) for p in spec.required_params]
    parameters += [kinds(p.name, kinds.KEYWORD_ONLY, default=p.default)
                   for p in spec.params if not p.required]
    parameters.append(kinds("inplace", kinds.KEYWORD_ONLY, default=False))
    function.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    prelu_note = (
        "\nweight has 1 element or one per channel (dim 1 of x), as in torch.\n"
        if spec.name == "prelu" else ""
    )
    function.__doc__ = (
        f"{spec.title}\n\n    {spec.formula}\n\nfastact's kernels under autograd; the "
        f"parameters are those of ``fastact.{spec.name}``.{prelu_note}\n"
        "Parameters\n----------\nx : torch.Tensor\n    A CPU floating-point tensor.\n"
        "inplace : bool, default False\n    Write the result into x.\n\n"
        "Returns\n-------\ntorch.Tensor\n"
    )
    return function


for _spec in SPECS:
    globals()[_spec.name] = _make_functional(_spec)


# --------------------------------------------------------------------------- modules

#: Registry name -> (torch.nn class name, its constructor arguments in torch's order,
#: defaults that differ from fastact's). ``dim`` is fastact's ``axis``.
_TORCH_NAMES: dict[str, tuple[str, tuple[str, ...], dict[str, Any]]] = {
    "sigmoid": ("Sigmoid", (), {}),
    "log_sigmoid": ("LogSigmoid", (), {}),
    "tanh": ("Tanh", (), {}),
    "relu": ("ReLU", ("inplace",), {}),
    "relu6": ("ReLU6", ("inplace",), {}),
    "leaky_relu": ("LeakyReLU", ("negative_slope", "inplace"), {}),
    "rrelu": ("RReLU", ("lower", "upper", "inplace"), {}),
    "elu": ("ELU", ("alpha", "inplace"), {}),
    "selu": ("SELU", ("inplace",), {}),
    "celu": ("CELU", ("alpha", "inplace"), {}),
    "gelu": ("GELU", ("approximate",), {}),
    "silu": ("SiLU", ("inplace",), {}),
    "mish": ("Mish", ("inplace",), {}),
    "softplus": ("Softplus", ("beta", "threshold"), {"threshold": 20.0}),
    "softsign": ("Softsign", (), {}),
    "hardsigmoid": ("Hardsigmoid", ("inplace",), {}),
    "hardswish": ("Hardswish", ("inplace",), {}),
    "hardtanh": ("Hardtanh", ("min_val", "max_val", "inplace"), {}),
    "tanhshrink": ("Tanhshrink", (), {}),
    "softshrink": ("Softshrink", ("lambd",), {}),
    "hardshrink": ("Hardshrink", ("lambd",), {}),
    "threshold": ("Threshold", ("threshold", "value", "inplace"), {}),
    "linear": ("Identity", (), {}),
    "softmax": ("Softmax", ("dim",), {"dim": None}),
    "log_softmax": ("LogSoftmax", ("dim",), {"dim": None}),
    "softmin": ("Softmin", ("dim",), {"dim": None}),
    "glu": ("GLU", ("dim",), {}),
}
#: Set by the module (training mode) or the adapter (the seed), never by the user.
_INTERNAL = ("training", "seed")


def _implicit_dim(name: str, ndim: int) -> int:
    """torch's rule for softmax(dim=None), with its warning."""
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to "
        "include dim=X as an argument.",
        UserWarning,
        stacklevel=4,
    )
    return 0 if ndim in (0, 1, 3) else 1


class _ActivationModule(nn.Module):
    """Base of the generated modules: binds the constructor arguments, runs fastact."""

    _spec: ActivationSpec
    _signature: inspect.Signature
    _torch_name: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        if self._torch_name == "Identity":  # torch's Identity takes and ignores anything
            args, kwargs = (), {}
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        self._arg_names = list(bound.arguments)
        for name, value in bound.arguments.items():
            setattr(self, name, value)
        self._check()

    def _check(self) -> None:
        """Parameter values are checked at construction, with fastact's messages (the
        axis only when an input says how many dimensions there are)."""
        if self._spec.kind != "elementwise":
            return
        raw = {k: v for k, v in self._params().items() if k not in _INTERNAL}
        spec, raw = _torch_rule(self._spec, raw)
        _validate.validate_params(spec, raw, (), np.dtype(np.float64))

    def _params(self) -> dict[str, Any]:
        params = {("axis" if n == "dim" else n): getattr(self, n)
                  for n in self._arg_names if n != "inplace"}
        if self._spec.name == "rrelu":
            params["training"] = self.training
        return params

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        params = self._params()
        if "axis" in params and params["axis"] is None:
            params["axis"] = _implicit_dim(self._spec.name, input.ndim)
        return _apply(self._spec, input, None, params, getattr(self, "inplace", False))

    def extra_repr(self) -> str:
        shown = []
        for name in self._arg_names:
            value = getattr(self, name)
            parameter = self._signature.parameters[name]
            if name == "inplace":
                if value:
                    shown.append("inplace=True")
            elif parameter.kind is not parameter.KEYWORD_ONLY or value != parameter.default:
                shown.append(f"{name}={value!r}")  # fastact's extras only when set
        return ", ".join(shown)


def _make_module(spec: ActivationSpec) -> type[nn.Module]:
    kinds = inspect.Parameter
    torch_name, torch_args, overrides = _TORCH_NAMES.get(
        spec.name, ("".join(part.capitalize() for part in spec.name.split("_")), None, {})
    )
    fastact_names = {p.name: p for p in spec.params}
    parameters = []
    if torch_args is None:  # no torch.nn counterpart: fastact's parameters, in order
        torch_args = tuple(p.name for p in spec.params if p.name not in _INTERNAL)
        if spec.y_backward is not False and not spec.halves_axis:
            torch_args += ("inplace",)
    for name in torch_args:
        if name == "inplace":
            default: Any = False
        elif name in overrides:
            default = overrides[name]
        else:
            p = fastact_names["axis" if name == "dim" else name]
            default = kinds.empty if p.required else p.default
        parameters.append(kinds(name, kinds.POSITIONAL_OR_KEYWORD, default=default))
    for p in spec.params:  # fastact's extra parameters, keyword-only
        if p.name not in torch_args and p.name not in _INTERNAL and p.name != "axis":
            parameters.append(kinds(p.name, kinds.KEYWORD_ONLY, default=p.default))
    signature = inspect.Signature(parameters)
    drop_in = f"Drop-in for ``torch.nn.{torch_name}``; " if spec.name in _TORCH_NAMES else ""
    doc = (
        f"{spec.title}\n\n    {spec.formula}\n\n{drop_in}fastact's forward and backward "
        f"kernels (``fastact.{spec.name}``) under autograd, on CPU tensors.\n\n"
        f"Parameters\n----------\n"
        + "".join(f"{p.name} : default {p.default!r}\n" for p in parameters)
    )

    def init(self: _ActivationModule, *args: Any, **kwargs: Any) -> None:
        _ActivationModule.__init__(self, *args, **kwargs)

    init.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[kinds("self", kinds.POSITIONAL_ONLY), *parameters]
    )
    namespace = {
        "__doc__": doc,
        "__module__": __name__,
        "__init__": init,
        "_spec": spec,
        "_signature": signature,
        "_torch_name": torch_name,
    }
    return type(torch_name, (_ActivationModule,), namespace)


class PReLU(nn.Module):
    """Parametric ReLU with a learnable slope: drop-in for ``torch.nn.PReLU``.

    ``weight`` has ``num_parameters`` elements, initialised to ``init``: one slope for
    every element, or one per channel (dim 1 of the input).

    Parameters
    ----------
    num_parameters : int, default 1
        1, or the number of channels of the input.
    init : float, default 0.25
        Initial slope.
    device, dtype : optional
        Of the weight, as in torch.
    """

    def __init__(
        self,
        num_parameters: int = 1,
        init: float = 0.25,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = nn.Parameter(torch.empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.constant_(self.weight, self.init)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return _apply(_OBJECTS["prelu"].spec, input, self.weight, {}, False)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


#: Registry name -> its ``nn.Module`` class.
MODULES: dict[str, type[nn.Module]] = {
    s.name: PReLU if s.name == "prelu" else _make_module(s) for s in SPECS
}
for _module in MODULES.values():
    globals()[_module.__name__] = _module
__all__ += sorted([m.__name__ for m in MODULES.values() if m is not PReLU])
__all__ += sorted(s.name for s in SPECS)
