"""The one declaration of every activation.

Each activation is an :class:`ActivationSpec`: its name and aliases, its parameters
(defaults and validation), whether it works elementwise or along an axis, the text of
its formula, derivative and derivative-from-output for the docs, and when its
backward may be computed from the output ``y``.  The public objects
(:mod:`fastact._api`), the backends, the tests and the benchmarks are all driven from
:data:`SPECS`; nothing else lists activations.

This module imports nothing from fastact: it is data that every floor may read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np

__all__ = [
    "REQUIRED",
    "SELU_ALPHA",
    "SELU_SCALE",
    "SPECS",
    "ActivationSpec",
    "Param",
    "lookup",
]

SELU_ALPHA: Final = 1.6732632423543772848170429916717
SELU_SCALE: Final = 1.0507009873554804934193349852946


class _Required:
    """Marker for a parameter without a default (``prelu``'s weight)."""

    def __repr__(self) -> str:
        return "<required>"


REQUIRED: Final = _Required()

ParamKind = Literal["real", "real_or_none", "choice", "flag", "seed", "axis"]


@dataclass(frozen=True)
class Param:
    """One parameter of an activation.

    ``kind``:

    * ``"real"``: a scalar or an array that broadcasts to x's shape, cast to the
      compute dtype; ``check`` (vectorised predicate) and ``requirement`` (its text)
      validate the cast values; NaN is always refused, infinities unless ``allow_inf``.
    * ``"real_or_none"``: ``None`` or a real scalar (softplus's threshold).
    * ``"choice"``: one of ``choices`` (strings).
    * ``"flag"``: a bool.
    * ``"seed"``: ``None`` or an int in [0, 2**64).
    * ``"axis"``: an int, normalised against x's number of dimensions.
    """

    name: str
    kind: ParamKind
    default: Any
    doc: str
    check: Callable[[np.ndarray], np.ndarray] | None = None
    requirement: str = ""
    allow_inf: bool = False
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


YRule = bool | Callable[[Mapping[str, Any]], str | None]


@dataclass(frozen=True)
class ActivationSpec:
    """Everything fastact knows about one activation, in one place."""

    name: str
    title: str
    formula: str
    derivative: str
    params: tuple[Param, ...] = ()
    aliases: tuple[str, ...] = ()
    kind: Literal["elementwise", "axis"] = "elementwise"
    #: h(y) such that f'(x) = h(f(x)) (for axis functions: the backward from y), for the
    #: docs; None where y does not determine f'.
    derivative_from_output: str | None = None
    #: True, False, or a function of the validated parameters returning None when the
    #: y-backward is allowed and otherwise the reason (e.g. "negative_slope <= 0").
    y_backward: YRule = False
    #: Cross-parameter validation: returns an error message or None.
    constraint: Callable[[Mapping[str, Any]], str | None] | None = None
    #: Parameters whose gradient ``backward`` also returns (prelu's weight).
    param_grads: tuple[str, ...] = ()
    #: The output is half as long as x along ``axis`` (glu's two halves).
    halves_axis: bool = False
    notes: str = ""
    #: Keyword arguments used in the generated docstring example.
    example_kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def required_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.required)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def y_backward_refusal(self, params: Mapping[str, Any]) -> str | None:
        """None where ``backward(grad, y=y)`` is allowed, else why it is not."""
        rule = self.y_backward
        if rule is True:
            return None
        if rule is False:
            return "its derivative is not a function of its output"
        return rule({p.name: p.default for p in self.params} | dict(params))


# --------------------------------------------------------------------------- helpers


def _positive_where(name: str) -> Callable[[Mapping[str, Any]], str | None]:
    """y-rule for activations whose negative branch is invertible only when name > 0."""

    def rule(params: Mapping[str, Any]) -> str | None:
        if np.all(np.asarray(params[name]) > 0):
            return None
        return f"{name} <= 0 makes the output ambiguous (needs {name} > 0)"

    return rule


def _nonzero(v: np.ndarray) -> np.ndarray:
    return v != 0


def _nonnegative(v: np.ndarray) -> np.ndarray:
    return v >= 0


def all_of(test: Callable[..., Any], *values: Any) -> bool:
    """``np.all(test(*values))`` (the values broadcast together) without a boolean mask
    of their size: large arrays are tested in buffered pieces of 8192 elements (a
    per-element parameter array would have cost a mask of the input's size)."""
    arrays = [np.asarray(v) for v in values]
    if max(a.size for a in arrays) <= 8192 or max(a.ndim for a in arrays) > 32:
        return bool(np.all(test(*arrays)))  # nditer takes at most 32 dimensions
    with np.nditer(arrays, flags=["external_loop", "buffered", "zerosize_ok"],
                   buffersize=8192) as pieces:  # fmt: skip
        return all(bool(np.all(test(*piece))) for piece in pieces)


def _ordered(low: str, high: str) -> Callable[[Mapping[str, Any]], str | None]:
    def rule(params: Mapping[str, Any]) -> str | None:
        if all_of(np.less_equal, params[low], params[high]):
            return None
        return f"{low} must be <= {high}, got {low}={params[low]!r}, {high}={params[high]!r}"

    return rule


def _rrelu_constraint(params: Mapping[str, Any]) -> str | None:
    message = _ordered("lower", "upper")(params)
    if message:
        return message
    if params["training"] and params["seed"] is None:
        return (
            "rrelu(training=True) needs an integer seed= (the slopes are a counter-based "
            "hash of the seed and the element index, so backward can recompute them)"
        )
    return None


_AXIS = Param("axis", "axis", -1, "Axis along which the function is computed.")


def _real(name: str, default: Any, doc: str, **kw: Any) -> Param:
    return Param(name, "real", default, doc, **kw)


# --------------------------------------------------------------------------- the table

SPECS: Final[tuple[ActivationSpec, ...]] = (
    ActivationSpec(
        name="sigmoid",
        aliases=("expit", "logistic"),
        title="Logistic sigmoid.",
        formula="sigmoid(x) = 1 / (1 + exp(-x))",
        derivative="sigmoid'(x) = sigmoid(x) * (1 - sigmoid(x))",
        derivative_from_output="y * (1 - y)",
        y_backward=True,
    ),
    ActivationSpec(
        name="log_sigmoid",
        aliases=("logsigmoid",),
        title="Logarithm of the logistic sigmoid.",
        formula="log_sigmoid(x) = -log(1 + exp(-x)) = -softplus(-x)",
        derivative="log_sigmoid'(x) = sigmoid(-x)",
    ),
    ActivationSpec(
        name="tanh",
        title="Hyperbolic tangent.",
        formula="tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x))",
        derivative="tanh'(x) = 1 - tanh(x)**2 = sech(x)**2",
        derivative_from_output="(1 - y) * (1 + y)",
        y_backward=True,
    ),
    ActivationSpec(
        name="relu",
        title="Rectified linear unit.",
        formula="relu(x) = max(x, 0)",
        derivative="relu'(x) = 1 if x > 0 else 0 (0 at x = 0)",
        derivative_from_output="1 if y > 0 else 0",
        y_backward=True,
    ),
    ActivationSpec(
        name="relu6",
        title="ReLU clipped at 6.",
        formula="relu6(x) = min(max(x, 0), 6)",
        derivative="relu6'(x) = 1 if 0 < x < 6 else 0 (0 at 0 and 6)",
        derivative_from_output="1 if 0 < y < 6 else 0",
        y_backward=True,
    ),
    ActivationSpec(
        name="leaky_relu",
        title="Leaky rectified linear unit.",
        formula="leaky_relu(x) = x if x > 0 else negative_slope * x",
        derivative="leaky_relu'(x) = 1 if x > 0 else negative_slope (negative_slope at 0)",
        derivative_from_output="1 if y > 0 else negative_slope (needs negative_slope > 0)",
        params=(_real("negative_slope", 0.01, "Slope for x <= 0."),),
        y_backward=_positive_where("negative_slope"),
        example_kwargs={"negative_slope": 0.2},
    ),
    ActivationSpec(
        name="prelu",
        title="Parametric ReLU with a learnable, broadcast weight.",
        formula="prelu(x, weight) = x if x > 0 else weight * x",
        derivative="prelu'(x) = 1 if x > 0 else weight; d prelu / d weight = min(x, 0)",
        params=(
            _real(
                "weight",
                REQUIRED,
                "Slope for x <= 0; broadcasts to x by NumPy rules, e.g. shape (C, 1, 1) "
                "for one slope per channel of NCHW data.",
            ),
        ),
        param_grads=("weight",),
        notes=(
            "``prelu.backward(grad, x, weight=w)`` returns ``(grad_x, grad_weight)``, "
            "grad_weight summed to weight's shape."
        ),
        example_kwargs={"weight": 0.25},
    ),
    ActivationSpec(
        name="rrelu",
        title="Randomized leaky ReLU.",
        formula=(
            "rrelu(x) = x if x > 0 else a * x, with a = (lower + upper) / 2 in evaluation "
            "and a_i = lower + (upper - lower) * u_i in training"
        ),
        derivative="rrelu'(x) = 1 if x > 0 else a",
        params=(
            _real("lower", 1 / 8, "Lower bound of the random slope."),
            _real("upper", 1 / 3, "Upper bound of the random slope."),
            Param("training", "flag", False, "Draw a slope per element (needs seed)."),
            Param("seed", "seed", None, "Integer in [0, 2**64) that fixes the slopes."),
        ),
        constraint=_rrelu_constraint,
        notes=(
            "In training, u_i is a counter-based hash (SplitMix64) of (seed, i) with i the "
            "element's index in C order: every backend and thread count computes the same "
            "slopes, so ``backward(..., training=True, seed=s)`` sees the slopes of the forward."
        ),
        example_kwargs={"training": True, "seed": 0},
    ),
    ActivationSpec(
        name="elu",
        title="Exponential linear unit.",
        formula="elu(x) = x if x > 0 else alpha * (exp(x) - 1)",
        derivative="elu'(x) = 1 if x > 0 else alpha * exp(x) (alpha at 0)",
        derivative_from_output="1 if y > 0 else y + alpha (needs alpha > 0)",
        params=(_real("alpha", 1.0, "Scale of the negative branch."),),
        y_backward=_positive_where("alpha"),
    ),
    ActivationSpec(
        name="selu",
        title="Scaled exponential linear unit.",
        formula=(
            "selu(x) = scale * (x if x > 0 else alpha * (exp(x) - 1)), "
            f"alpha = {SELU_ALPHA!r}, scale = {SELU_SCALE!r}"
        ),
        derivative="selu'(x) = scale if x > 0 else scale * alpha * exp(x) (scale*alpha at 0)",
        derivative_from_output="scale if y > 0 else y + scale * alpha",
        y_backward=True,
    ),
    ActivationSpec(
        name="celu",
        title="Continuously differentiable exponential linear unit.",
        formula="celu(x) = max(0, x) + min(0, alpha * (exp(x / alpha) - 1))",
        derivative="celu'(x) = 1 if x > 0 else exp(x / alpha)",
        derivative_from_output="1 if y > 0 else y / alpha + 1 (needs alpha > 0)",
        params=(_real("alpha", 1.0, "Scale of the negative branch.", check=_nonzero,
                      requirement="!= 0"),),
        y_backward=_positive_where("alpha"),
    ),
    ActivationSpec(
        name="gelu",
        title="Gaussian error linear unit.",
        formula=(
            'gelu(x) = x * Phi(x) = x/2 * erfc(-x / sqrt(2)) (approximate="none"); '
            "x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x**3))) (approximate=\"tanh\")"
        ),
        derivative="gelu'(x) = Phi(x) + x * phi(x) (exact form)",
        params=(
            Param(
                "approximate",
                "choice",
                "none",
                'The exact form ("none", via erfc) or the tanh approximation ("tanh").',
                choices=("none", "tanh"),
            ),
        ),
        example_kwargs={"approximate": "tanh"},
    ),
    ActivationSpec(
        name="silu",
        aliases=("swish",),
        title="Sigmoid linear unit (swish).",
        formula="silu(x) = x * sigmoid(beta * x)",
        derivative="silu'(x) = s * (1 + beta * x * (1 - s)), s = sigmoid(beta * x)",
        params=(_real("beta", 1.0, "Slope inside the sigmoid (beta=1 is SiLU)."),),
    ),
    ActivationSpec(
        name="mish",
        title="Mish.",
        formula="mish(x) = x * tanh(softplus(x))",
        derivative="mish'(x) = tanh(softplus(x)) + x * sech(softplus(x))**2 * sigmoid(x)",
    ),
    ActivationSpec(
        name="softplus",
        title="Softplus.",
        formula=(
            "softplus(x) = log(1 + exp(beta * x)) / beta; "
            "x where beta * x > threshold (when threshold is a number)"
        ),
        derivative="softplus'(x) = sigmoid(beta * x) (1 in the linear region)",
        params=(
            _real("beta", 1.0, "Sharpness.", check=_nonzero, requirement="!= 0"),
            Param(
                "threshold",
                "real_or_none",
                None,
                "None: exact everywhere; a number: linear where beta * x > threshold "
                "(PyTorch uses 20).",
            ),
        ),
    ),
    ActivationSpec(
        name="softsign",
        title="Softsign.",
        formula="softsign(x) = x / (1 + |x|)",
        derivative="softsign'(x) = 1 / (1 + |x|)**2",
    ),
    ActivationSpec(
        name="hardsigmoid",
        aliases=("hard_sigmoid",),
        title="Piecewise-linear sigmoid.",
        formula="hardsigmoid(x) = clip(slope * x + offset, 0, 1)",
        derivative="hardsigmoid'(x) = slope where 0 < slope * x + offset < 1, else 0",
        params=(
            _real("slope", 1 / 6, "Slope of the linear part."),
            _real("offset", 0.5, "Value at x = 0."),
        ),
    ),
    ActivationSpec(
        name="hardswish",
        aliases=("hard_swish", "hard_silu"),
        title="Hard swish.",
        formula="hardswish(x) = x * clip(x + 3, 0, 6) / 6",
        derivative="hardswish'(x) = 0 for x <= -3, x/3 + 1/2 for -3 < x < 3, 1 for x >= 3",
    ),
    ActivationSpec(
        name="hardtanh",
        aliases=("hard_tanh",),
        title="Hard tanh (clip).",
        formula="hardtanh(x) = clip(x, min_val, max_val)",
        derivative="hardtanh'(x) = 1 if min_val < x < max_val else 0",
        derivative_from_output="1 if min_val < y < max_val else 0",
        params=(
            _real("min_val", -1.0, "Lower edge.", allow_inf=True),
            _real("max_val", 1.0, "Upper edge.", allow_inf=True),
        ),
        constraint=_ordered("min_val", "max_val"),
        y_backward=True,
        example_kwargs={"min_val": -2.0, "max_val": 2.0},
    ),
    ActivationSpec(
        name="tanhshrink",
        title="Tanh shrink.",
        formula="tanhshrink(x) = x - tanh(x)",
        derivative="tanhshrink'(x) = tanh(x)**2",
        notes="Accurate near 0, where x - tanh(x) ~ x**3/3 cancels in the naive form.",
    ),
    ActivationSpec(
        name="softshrink",
        title="Soft shrinkage.",
        formula="softshrink(x) = x - lambd if x > lambd, x + lambd if x < -lambd, else 0",
        derivative="softshrink'(x) = 1 if |x| > lambd else 0",
        params=(_real("lambd", 0.5, "Half-width of the dead zone.", check=_nonnegative,
                      requirement=">= 0"),),
    ),
    ActivationSpec(
        name="hardshrink",
        title="Hard shrinkage.",
        formula="hardshrink(x) = x if |x| > lambd else 0",
        derivative="hardshrink'(x) = 1 if |x| > lambd else 0",
        params=(_real("lambd", 0.5, "Half-width of the dead zone.", check=_nonnegative,
                      requirement=">= 0"),),
    ),
    ActivationSpec(
        name="threshold",
        title="Threshold.",
        formula="threshold(x) = value if x <= threshold else x (NaN passes through)",
        derivative="threshold'(x) = 1 if x > threshold else 0",
        params=(
            _real("threshold", REQUIRED, "Inputs at or below it are replaced.", allow_inf=True),
            _real("value", REQUIRED, "The replacement.", allow_inf=True),
        ),
        example_kwargs={"threshold": 0.1, "value": 0.0},
    ),
    ActivationSpec(
        name="squareplus",
        title="Squareplus.",
        formula="squareplus(x) = (x + sqrt(x**2 + b)) / 2",
        derivative="squareplus'(x) = (1 + x / sqrt(x**2 + b)) / 2 (1/2 at x = 0 when b = 0)",
        params=(_real("b", 4.0, "Smoothness.", check=_nonnegative, requirement=">= 0"),),
    ),
    ActivationSpec(
        name="clipped_linear",
        title="Clipped linear unit (thinc's clipped_linear).",
        formula="clipped_linear(x) = clip(slope * x + offset, min_val, max_val)",
        derivative=(
            "clipped_linear'(x) = slope where min_val < slope * x + offset < max_val, else 0"
        ),
        params=(
            _real("slope", 1.0, "Slope of the linear part."),
            _real("offset", 0.0, "Value at x = 0."),
            _real("min_val", 0.0, "Lower edge.", allow_inf=True),
            _real("max_val", 1.0, "Upper edge.", allow_inf=True),
        ),
        constraint=_ordered("min_val", "max_val"),
        notes=(
            "hardsigmoid is clipped_linear with min_val=0, max_val=1; hardtanh and relu6 "
            "are clipped_linear with slope 1, offset 0. The derivative is 0 at both edges."
        ),
        example_kwargs={"slope": 0.5, "offset": 0.25, "min_val": -1.0, "max_val": 1.0},
    ),
    ActivationSpec(
        name="thinc_hard_swish",
        title="Hard swish with the 0.2-slope hard sigmoid (thinc's hard_swish).",
        formula="thinc_hard_swish(x) = x * clip(0.2 * x + 0.5, 0, 1)",
        derivative=(
            "thinc_hard_swish'(x) = 0 for x <= -2.5, 0.4 x + 0.5 for -2.5 < x < 2.5, "
            "1 for x >= 2.5"
        ),
        notes=(
            "Not torch's hardswish (x * relu6(x + 3) / 6, fastact's ``hardswish``, whose "
            "alias ``hard_swish`` follows torch): this is thinc's ``Ops.hard_swish`` "
            "(Avenash and Viswanath 2019). At the kinks the derivative takes the outer "
            "pieces' values (0 at -2.5, 1 at 2.5), as fastact's hardswish does."
        ),
    ),
    ActivationSpec(
        name="dish",
        title="Dish (thinc's self-gated activation).",
        formula="dish(x) = x * (1 + x / sqrt(1 + x**2)) / 2",
        derivative=(
            "dish'(x) = 1/2 + x / sqrt(1 + x**2) - x**3 / (2 (1 + x**2)**1.5)"
        ),
        notes=(
            "A swish-like unit with an algebraic gate (x / sqrt(1 + x**2) for tanh), "
            "thinc's ``Ops.dish``; dish(x) -> 1/(4x) as x -> -inf."
        ),
    ),
    ActivationSpec(
        name="erf",
        title="Error function as an activation.",
        formula="erf(x) = 2 / sqrt(pi) * integral_0^x exp(-t**2) dt",
        derivative="erf'(x) = 2 / sqrt(pi) * exp(-x**2)",
        notes="thinc's ``Ops.erf`` uses the Abramowitz-Stegun 7.1.26 polynomial (1.5e-7).",
    ),
    ActivationSpec(
        name="exponential",
        title="Exponential.",
        formula="exponential(x) = exp(x)",
        derivative="exponential'(x) = exp(x)",
        derivative_from_output="y",
        y_backward=True,
    ),
    ActivationSpec(
        name="linear",
        aliases=("identity",),
        title="Identity.",
        formula="linear(x) = x",
        derivative="linear'(x) = 1",
        derivative_from_output="1",
        y_backward=True,
    ),
    ActivationSpec(
        name="softmax",
        kind="axis",
        title="Softmax along an axis.",
        formula="softmax(x)_i = exp(x_i - max(x)) / sum_j exp(x_j - max(x))",
        derivative="d softmax_i / d x_j = y_i * (delta_ij - y_j)",
        derivative_from_output="y * (grad - sum(grad * y))",
        params=(_AXIS,),
        y_backward=True,
    ),
    ActivationSpec(
        name="log_softmax",
        kind="axis",
        title="Logarithm of the softmax along an axis.",
        formula="log_softmax(x)_i = x_i - max(x) - log(sum_j exp(x_j - max(x)))",
        derivative="d log_softmax_i / d x_j = delta_ij - softmax(x)_j",
        derivative_from_output="grad - exp(y) * sum(grad)",
        params=(_AXIS,),
        y_backward=True,
    ),
    ActivationSpec(
        name="softmin",
        kind="axis",
        title="Softmin along an axis (softmax of -x).",
        formula="softmin(x) = softmax(-x)",
        derivative="d softmin_i / d x_j = -y_i * (delta_ij - y_j)",
        derivative_from_output="-y * (grad - sum(grad * y))",
        params=(_AXIS,),
        y_backward=True,
    ),
    ActivationSpec(
        name="glu",
        kind="axis",
        title="Gated linear unit: the first half of x times the sigmoid of the second.",
        formula="glu(x) = a * sigmoid(b), a, b = the two halves of x along axis",
        derivative="d glu / d a = sigmoid(b); d glu / d b = a * sigmoid(b) * (1 - sigmoid(b))",
        params=(_AXIS,),
        notes="x's length along axis must be even; the result is half as long there.",
        halves_axis=True,
    ),
)


_BY_NAME: Final[dict[str, ActivationSpec]] = {n: s for s in SPECS for n in s.names}


def lookup(name: str) -> ActivationSpec:
    """The spec of an activation by its name or an alias (ValueError otherwise)."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(_BY_NAME))
        raise ValueError(f"unknown activation {name!r}; known: {known}") from None
