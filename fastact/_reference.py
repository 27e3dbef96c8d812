"""Independent, numerically careful NumPy twin of every fastact activation (the test oracle).

This module is the reference that the test-suite compares every backend with. It is
written independently of the backends, in plain NumPy/SciPy float64 arithmetic, using the
textbook-stable form of each function: no cancellation, no spurious overflow or underflow,
and explicit limits at +-inf. Against mpmath (300+ bits) every forward and derivative here
stays within 8 ulp * max(1, condition number) over the whole finite float64 domain
(subnormals to +-1.79e308), which is the accuracy bar of the public contract
(/work/shared/API.md); float32 results are these float64 values rounded once.

Interface (pure math, no validation, the API layer validates and converts):

* every function takes float64 ndarrays (any shape, 0-d included, any strides) and float
  parameters that are Python scalars or float64 arrays broadcasting to x's shape, and returns
  a NEW float64 ndarray of x's shape; inputs are never written to;
* no NumPy floating-point warning escapes, whatever ``np.seterr`` says;
* ``ELEMENTWISE[name]`` is an :class:`Elementwise` (forward, derivative, derivative written as
  a function of the output, parameter gradients), ``ALONG_AXIS[name]`` an :class:`AlongAxis`.

Why the textbook formulas are not used (numbers are float64):

* ``s * (1 - s)`` for sigmoid' and ``1 - tanh(x)**2`` for tanh' lose every digit once s or
  tanh(x) round to 1 (x > 37.4 for sigmoid, x > 19.1 for tanh) and are 0 instead of ~1e-16..1e-308.
* ``0.5 * x * (1 + erf(x / sqrt(2)))`` for gelu cancels for x < 0: at x = -10 it is 0 instead
  of -7.6e-23 (off by 1e15 relative); erfc of the negated argument has no cancellation.
* ``x - tanh(x)`` near 0 keeps only the digits of x that tanh did not share: the relative
  error grows like 3 eps / x^2 (1e10 ulp at x = 1e-5), although tanhshrink is well
  conditioned (cond -> 3); a continued fraction gives it to < 1 ulp.
* ``log(1 + exp(x))`` overflows at x = 710 and is 0 instead of 1e-300 at x = -690.
* ``x * tanh(log1p(exp(x)))`` (mish) overflows to inf/inf = nan at x > 710.
* Library special functions are not always enough: scipy's erfc is off by up to 9 ulp on
  [0.5, 3) and flushes to 0 below x = -37.68 (gelu), so gelu uses a double-double series
  near 0 and erfcx elsewhere; where a derivative cancels towards an activation's minimum
  (gelu_tanh', silu', mish' near x = -1.2) the cancelling sums are formed in double-double.

Measured against mpmath (scratch harness, not shipped): every forward and derivative is
within 3.3 ulp * max(1, cond) in float64, and within 0.5 ulp of float32 when the float64
result is rounded to float32.
"""

from __future__ import annotations

import functools
import math
import types
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any, NamedTuple, TypeVar

import numpy as np
from scipy import special as _special

__all__ = [
    "ALONG_AXIS",
    "ELEMENTWISE",
    "AlongAxis",
    "Elementwise",
    "rrelu_uniform",
]

Array = np.ndarray
Param = float | np.ndarray
_F = TypeVar("_F", bound=Callable[..., Any])


class Elementwise(NamedTuple):
    """Reference kernels of one elementwise activation."""

    forward: Callable[..., np.ndarray]
    derivative: Callable[..., np.ndarray]
    derivative_from_output: Callable[..., np.ndarray] | None
    param_grads: Mapping[str, Callable[..., np.ndarray]] = types.MappingProxyType({})


class AlongAxis(NamedTuple):
    """Reference kernels of one activation that works along an axis."""

    forward: Callable[..., np.ndarray]
    jacobian: Callable[..., np.ndarray]
    backward_from_input: Callable[..., np.ndarray]
    backward_from_output: Callable[..., np.ndarray] | None


# --------------------------------------------------------------------------------------------
# plumbing
# --------------------------------------------------------------------------------------------


def _quiet(fn: _F) -> _F:
    """Run ``fn`` with every floating-point (and scipy.special) error ignored.

    The result is returned as a float64 ndarray that shares no memory with any input (so a
    0-d computation gives a 0-d array, not a NumPy scalar, and ``linear`` returns a copy).
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> np.ndarray:
        with np.errstate(all="ignore"), _special.errstate(all="ignore"):
            result = np.asarray(fn(*args, **kwargs), dtype=np.float64)
        for arg in (*args, *kwargs.values()):
            if isinstance(arg, np.ndarray) and np.may_share_memory(result, arg):
                return result.copy()
        return result

    return wrapper  # type: ignore[return-value]


def _keep_nan(x: Array, r: Array) -> Array:
    """r, with NaN wherever x is NaN (comparisons send NaN to one branch or the other)."""
    return np.where(np.isnan(x), x, r)


def _sigmoid(z: Array) -> Array:
    """1/(1+exp(-z)) evaluated two-sided so that neither branch overflows or cancels.

    With e = exp(-|z|) <= 1: z >= 0 -> 1/(1+e), z < 0 -> e/(1+e). Relative error <= 2 ulp
    for every z (the one-sided 1/(1+exp(-z)) is fine too, but exp(-z) overflows for z < -709
    and the warning has to be hidden; this form never overflows).
    """
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sigmoid_prime(z: Array) -> Array:
    """sigmoid'(z) = e/(1+e)^2 with e = exp(-|z|) (even in z).

    Never s*(1-s): once s rounds to 1 (z > 37.4) that is exactly 0 instead of e^-z, and for
    z in (1, 37.4) the subtraction 1 - s already loses up to 53 bits.
    """
    e = np.exp(-np.abs(z))
    return e / ((1.0 + e) * (1.0 + e))


# --------------------------------------------------------------------------------------------
# sigmoid, log_sigmoid, tanh
# --------------------------------------------------------------------------------------------


@_quiet
def _sigmoid_f(x: Array) -> Array:
    return _sigmoid(x)


@_quiet
def _sigmoid_d(x: Array) -> Array:
    return _sigmoid_prime(x)


@_quiet
def _sigmoid_h(y: Array) -> Array:
    # y*(1-y): 1-y is exact for y in [1/2, 1] (Sterbenz) and well conditioned below.
    return y * (1.0 - y)


@_quiet
def _log_sigmoid_f(x: Array) -> Array:
    # log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)); both terms <= 0, so no cancellation,
    # and exp never overflows (the naive -log1p(exp(-x)) overflows for x < -709). Negated
    # as a whole so that a result that underflows (x > 745, x = inf) is -0.0, the side the
    # limit comes from, not 0.0 - 0.0 = +0.0.
    return -(np.log1p(np.exp(-np.abs(x))) - np.minimum(x, 0.0))


@_quiet
def _log_sigmoid_d(x: Array) -> Array:
    return _sigmoid(-x)


@_quiet
def _tanh_f(x: Array) -> Array:
    return np.tanh(x)  # NumPy's tanh is within ~1.1 ulp (measured against mpmath)


@_quiet
def _tanh_d(x: Array) -> Array:
    # tanh'(x) = 1 - tanh^2 = 4e/(1+e)^2 with e = exp(-2|x|). 1 - tanh(x)**2 is exactly 0 for
    # |x| > 19.1 (tanh rounds to 1) where the true value is 4e^-2|x| (1e-17 .. 1e-323), and
    # loses log2(1/(1-tanh^2)) bits before that.
    e = np.exp(-2.0 * np.abs(x))
    return (4.0 * e) / ((1.0 + e) * (1.0 + e))


@_quiet
def _tanh_h(y: Array) -> Array:
    # (1-y)(1+y): each factor is exact where it is small (Sterbenz), unlike 1 - y*y.
    return (1.0 - y) * (1.0 + y)


# --------------------------------------------------------------------------------------------
# piecewise-linear family: relu, relu6, leaky_relu, prelu, rrelu, hardtanh, shrinks, threshold
# --------------------------------------------------------------------------------------------


def _step(cond: Array, x: Array, inside: Param = 1.0, outside: Param = 0.0) -> Array:
    """A piecewise-constant derivative: ``inside`` where cond, else ``outside``; NaN kept."""
    return _keep_nan(x, np.where(cond, inside, outside))


def _times_slope(slope: Param, x: Array) -> Array:
    """slope * x, except that a zero slope times +-inf is 0 (the limit of 0*x), not NaN."""
    p = slope * x
    return np.where(np.isnan(p) & ~np.isnan(x), 0.0, p)


def _signed_zero(fn: _F) -> _F:
    """f(+-0.0) = +-0.0: the sign of a zero input is kept by the activations that are
    x times a factor near 0 (relu, gelu, silu, mish), as IEEE multiplication, torch and
    fastact's compiled kernels give it (README, "Accuracy"). Applied
    after the formula, whose own sign at 0 (np.maximum(-0.0, 0.0) = +0.0, the
    double-double series' 0.0) is not the rule."""

    @functools.wraps(fn)
    def wrapper(x: Array, *args: Any, **kwargs: Any) -> np.ndarray:
        result = fn(x, *args, **kwargs)
        return np.where(np.asarray(x) == 0, np.asarray(x, dtype=np.float64), result)

    return wrapper  # type: ignore[return-value]


@_signed_zero
@_quiet
def _relu_f(x: Array) -> Array:
    return np.maximum(x, 0.0)  # np.maximum propagates NaN


@_quiet
def _relu_d(x: Array) -> Array:
    return _step(x > 0, x)  # relu'(0) = 0


@_quiet
def _relu_h(y: Array) -> Array:
    return _step(y > 0, y)


@_quiet
def _relu6_f(x: Array) -> Array:
    return np.clip(x, 0.0, 6.0)  # np.clip propagates NaN


@_quiet
def _relu6_d(x: Array) -> Array:
    return _step((x > 0) & (x < 6), x)  # 0 at both kinks


@_quiet
def _relu6_h(y: Array) -> Array:
    return _step((y > 0) & (y < 6), y)


def _leaky(x: Array, slope: Param) -> Array:
    return _keep_nan(x, np.where(x > 0, x, _times_slope(slope, x)))


def _leaky_d(x: Array, slope: Param) -> Array:
    return _step(x > 0, x, 1.0, slope)  # f'(0) = slope


@_quiet
def _leaky_relu_f(x: Array, negative_slope: Param = 0.01) -> Array:
    return _leaky(x, negative_slope)


@_quiet
def _leaky_relu_d(x: Array, negative_slope: Param = 0.01) -> Array:
    return _leaky_d(x, negative_slope)


@_quiet
def _leaky_relu_h(y: Array, negative_slope: Param = 0.01) -> Array:
    # Only called with negative_slope > 0, where y > 0 <=> x > 0.
    return _step(y > 0, y, 1.0, negative_slope)


@_quiet
def _prelu_f(x: Array, weight: Param) -> Array:
    return _leaky(x, weight)


@_quiet
def _prelu_d(x: Array, weight: Param) -> Array:
    return _leaky_d(x, weight)


@_quiet
def _prelu_grad_weight(grad: Array, x: Array, weight: Param) -> Array:
    """d(sum grad*prelu(x, weight))/d weight = sum of grad * min(x, 0) over broadcast axes."""
    wshape = np.shape(weight)
    # (np.broadcast_to: np.broadcast_arrays stops at 32 dimensions, arrays have 64.)
    grad = np.broadcast_to(np.asarray(grad, dtype=np.float64), np.shape(x))
    t = grad * np.where(x > 0, 0.0, x)  # NaN x lands in the x branch and propagates
    lead = t.ndim - len(wshape)
    if lead > 0:
        t = np.sum(t, axis=tuple(range(lead)))
    ones = tuple(i for i, n in enumerate(wshape) if n == 1 and t.shape[i] != 1)
    if ones:
        t = np.sum(t, axis=ones, keepdims=True)
    return np.reshape(t, wshape)


_M64 = 1 << 64
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB


def _mix64_int(z: int) -> int:
    """splitmix64 finaliser on a Python int (for the key)."""
    z = ((z ^ (z >> 30)) * _MIX1) % _M64
    z = ((z ^ (z >> 27)) * _MIX2) % _M64
    return z ^ (z >> 31)


def _mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (multiplication wraps modulo 2**64)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_MIX1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_MIX2)
    return z ^ (z >> np.uint64(31))


def rrelu_uniform(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Counter-based uniforms u in [0, 1) for rrelu's training slopes (float64, ``shape``).

    key = mix64(seed mod 2**64); z_i = mix64(key + (i + 1) * GOLDEN mod 2**64) with i the
    C-order index; u_i = (z_i >> 11) * 2**-53 (53 random bits, exactly representable).
    """
    key = _mix64_int(int(seed) % _M64)
    n = math.prod(shape)
    with np.errstate(all="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = _mix64(np.uint64(key) + i * np.uint64(_GOLDEN))
        u = (z >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return u.reshape(shape)


def _rrelu_slope(x: Array, lower: Param, upper: Param, training: bool, seed: int | None) -> Param:
    if training:
        assert seed is not None  # the API checked it (the registry's rrelu constraint)
        return lower + (upper - lower) * rrelu_uniform(seed, x.shape)
    return (lower + upper) / 2


@_quiet
def _rrelu_f(
    x: Array,
    lower: Param = 1.0 / 8.0,
    upper: Param = 1.0 / 3.0,
    training: bool = False,
    seed: int | None = None,
) -> Array:
    return _leaky(x, _rrelu_slope(x, lower, upper, training, seed))


@_quiet
def _rrelu_d(
    x: Array,
    lower: Param = 1.0 / 8.0,
    upper: Param = 1.0 / 3.0,
    training: bool = False,
    seed: int | None = None,
) -> Array:
    return _leaky_d(x, _rrelu_slope(x, lower, upper, training, seed))


@_quiet
def _hardtanh_f(x: Array, min_val: Param = -1.0, max_val: Param = 1.0) -> Array:
    return np.clip(x, min_val, max_val)


@_quiet
def _hardtanh_d(x: Array, min_val: Param = -1.0, max_val: Param = 1.0) -> Array:
    return _step((x > min_val) & (x < max_val), x)  # 0 at the edges


@_quiet
def _hardtanh_h(y: Array, min_val: Param = -1.0, max_val: Param = 1.0) -> Array:
    return _step((y > min_val) & (y < max_val), y)


@_quiet
def _softshrink_f(x: Array, lambd: Param = 0.5) -> Array:
    r = np.where(x > lambd, x - lambd, np.where(x < -lambd, x + lambd, 0.0))
    return _keep_nan(x, r)


@_quiet
def _shrink_d(x: Array, lambd: Param = 0.5) -> Array:
    return _step(np.abs(x) > lambd, x)  # 0 at +-lambd


@_quiet
def _hardshrink_f(x: Array, lambd: Param = 0.5) -> Array:
    return _keep_nan(x, np.where(np.abs(x) > lambd, x, 0.0))


@_quiet
def _threshold_f(x: Array, threshold: Param, value: Param) -> Array:
    return np.where(x <= threshold, value, x)  # NaN <= t is False: NaN passes through


@_quiet
def _threshold_d(x: Array, threshold: Param, value: Param) -> Array:
    return _step(x > threshold, x)


@_quiet
def _linear_f(x: Array) -> Array:
    return np.array(x, dtype=np.float64, copy=True)


@_quiet
def _ones_nan(x: Array) -> Array:
    return _keep_nan(x, np.ones_like(x, dtype=np.float64))


# --------------------------------------------------------------------------------------------
# exponential family: elu, selu, celu, exponential
# --------------------------------------------------------------------------------------------


@_quiet
def _elu_f(x: Array, alpha: Param = 1.0) -> Array:
    # expm1, not exp(x) - 1: the subtraction has relative error ~eps/|x| for small |x|
    # (x = -1e-10: 7 correct digits; exactly 0 for |x| < 1.1e-16, where elu(x) = x).
    return np.where(x > 0, x, alpha * np.expm1(x))


@_quiet
def _elu_d(x: Array, alpha: Param = 1.0) -> Array:
    return _keep_nan(x, np.where(x > 0, 1.0, alpha * np.exp(x)))  # f'(0) = alpha


@_quiet
def _elu_h(y: Array, alpha: Param = 1.0) -> Array:
    # alpha*exp(x) = alpha*expm1(x) + alpha = y + alpha: one rounding of the exact sum.
    return _keep_nan(y, np.where(y > 0, 1.0, y + alpha))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
# scale*alpha as a double-double (hi + lo, computed with mpmath at 300 bits). hi is the one
# float constant of the negative branch; lo is used where y + scale*alpha cancels (h(y) for
# y near -scale*alpha, where hi alone would be off by up to 1.4e-17 absolute).
_SELU_SA = 1.7580993408473768
_SELU_SA_LO = 1.41535193800845e-17


@_quiet
def _selu_f(x: Array) -> Array:
    return np.where(x > 0, _SELU_SCALE * x, _SELU_SA * np.expm1(x))


@_quiet
def _selu_d(x: Array) -> Array:
    return _keep_nan(x, np.where(x > 0, _SELU_SCALE, _SELU_SA * np.exp(x)))


@_quiet
def _selu_h(y: Array) -> Array:
    neg = (y + _SELU_SA) + _SELU_SA_LO  # y + _SELU_SA is exact near -scale*alpha (Sterbenz)
    return _keep_nan(y, np.where(y > 0, _SELU_SCALE, neg))


def _celu_neg(x: Array, alpha: Param) -> Array:
    """alpha*expm1(x/alpha), the x <= 0 branch of celu, robust for any alpha != 0."""
    t = x / alpha
    em = np.expm1(t)
    r = alpha * em
    # |t| < 2^-30: x/alpha may have underflowed (x subnormal, alpha large) although the
    # result is ~x; alpha*expm1(t) = x*(1 + t/2 + t^2/6 ...), truncation error < 2^-62.
    r = np.where(np.abs(t) < 2.0**-30, x + x * (0.5 * t), r)
    # alpha < 0 sends t to +large: expm1(t) overflows (t > 709.78) while alpha*e^t may still
    # be finite; e^(t + log|alpha|) has relative error ~|t| eps, and cond(celu) ~ |t|.
    big = np.isinf(em) & np.isfinite(t)
    return np.where(big, np.copysign(np.exp(t + np.log(np.abs(alpha))), alpha), r)


@_quiet
def _celu_f(x: Array, alpha: Param = 1.0) -> Array:
    return _keep_nan(x, np.where(x > 0, x, _celu_neg(x, alpha)))


@_quiet
def _celu_d(x: Array, alpha: Param = 1.0) -> Array:
    return _keep_nan(x, np.where(x > 0, 1.0, np.exp(x / alpha)))


@_quiet
def _celu_h(y: Array, alpha: Param = 1.0) -> Array:
    # exp(x/alpha) = 1 + y/alpha = (y + alpha)/alpha: the sum is exact where it cancels
    # (y near -alpha), unlike y/alpha + 1 whose first rounding would be amplified.
    return _keep_nan(y, np.where(y > 0, 1.0, (y + alpha) / alpha))


@_quiet
def _exp_f(x: Array) -> Array:
    return np.exp(x)


@_quiet
def _exp_h(y: Array) -> Array:
    return np.array(y, dtype=np.float64, copy=True)


# --------------------------------------------------------------------------------------------
# double-double arithmetic: error-free transformations (NumPy has no fma, so products are
# split with Veltkamp's constant); used only where float64 formulas are not accurate enough
# --------------------------------------------------------------------------------------------

_SPLIT = 134217729.0  # 2**27 + 1


def _split(a: Param) -> tuple[Param, Param]:
    c = _SPLIT * a
    hi = c - (c - a)
    return hi, a - hi


def _two_prod(a: Param, b: Param) -> tuple[Param, Param]:
    """a*b = p + e exactly (|a|, |b| < 2**996, no underflow)."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _fast_two_sum(a: Param, b: Param) -> tuple[Param, Param]:
    """a + b = s + e exactly, for |a| >= |b|."""
    s = a + b
    return s, b - (s - a)


def _two_sum(a: Param, b: Param) -> tuple[Param, Param]:
    """a + b = s + e exactly (Knuth), any order of magnitude."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _dd_mul(ah: Param, al: Param, bh: Param, bl: Param) -> tuple[Param, Param]:
    p, e = _two_prod(ah, bh)
    return _fast_two_sum(p, e + (ah * bl + al * bh))


def _dd_add(ah: Param, al: Param, bh: Param, bl: Param) -> tuple[Param, Param]:
    s, e = _two_sum(ah, bh)
    return _fast_two_sum(s, e + (al + bl))


# --------------------------------------------------------------------------------------------
# gelu (exact and tanh), silu, mish, softplus
# --------------------------------------------------------------------------------------------

_SQRT_HALF = 0.7071067811865476  # sqrt(1/2)
_INV_SQRT_2PI = 0.3989422804014327  # 1/sqrt(2 pi)
_SQRT_2_OVER_PI = 0.7978845608028654  # sqrt(2/pi)
_SQRT_2_OVER_PI_LO = -4.98465440455546e-17  # sqrt(2/pi) - _SQRT_2_OVER_PI
_GELU_K = 0.044715


def _gelu_u(x: Array) -> Array:
    """u = sqrt(2/pi) * x * (1 + 0.044715 x^2); gelu_tanh = x * sigmoid(2u)."""
    return (_SQRT_2_OVER_PI * x) * (1.0 + (_GELU_K * x) * x)


def _dd_const(c: Fraction) -> tuple[float, float]:
    hi = float(c)
    return hi, float(c - Fraction(hi))


# 1/sqrt(2 pi) as a double-double (mpmath, 300 bits).
_INV_SQRT_2PI_LO = -2.49232720227773e-17
# Phi(x) = 1/2 + x/sqrt(2 pi) * sum_n (-x^2/2)^n / (n! (2n+1)) and, adding x*phi(x) =
# x/sqrt(2 pi) * sum_n (-x^2/2)^n / n!, gelu'(x) = 1/2 + x/sqrt(2 pi) * sum_n (-x^2/2)^n
# (2n+2)/(n! (2n+1)). Summed in double-double for |x| <= 2.5 with 36 terms: truncation error
# 4e-23 relative at |x| = 2.5, and the alternating sum loses ~12 of the 106 bits.
_GELU_SERIES_LIMIT = 2.5
_GELU_SERIES_TERMS = 36
_GELU_DD_TERMS = 16
_PHI_COEFFS = [
    _dd_const(Fraction(1, math.factorial(n) * (2 * n + 1))) for n in range(_GELU_SERIES_TERMS)
]
_GELU_D_COEFFS = [
    _dd_const(Fraction(2 * n + 2, math.factorial(n) * (2 * n + 1)))
    for n in range(_GELU_SERIES_TERMS)
]


def _half_plus_series(x: Array, coeffs: list[tuple[float, float]]) -> tuple[Param, Param]:
    """1/2 + x/sqrt(2 pi) * sum_n coeffs[n] (-x^2/2)^n as a double-double (Horner).

    The terms n >= 16 (< 4e-6 of the sum for |x| <= 2.5) are summed in plain float64; their
    rounding errors stay below 1e-3 ulp of the result even after the cancellation in 1/2 + ...
    """
    p, q = _two_prod(x, x)
    wh, wl = -0.5 * p, -0.5 * q  # -x^2/2 exactly
    tail: Param = coeffs[-1][0]
    for ch, _ in reversed(coeffs[_GELU_DD_TERMS:-1]):
        tail = tail * wh + ch
    wh_hi, wh_lo = _split(wh)
    ah: Param = tail
    al: Param = 0.0
    for ch, cl in reversed(coeffs[:_GELU_DD_TERMS]):
        # (ah + al) * (wh + wl), with the split of wh hoisted out of the loop
        prod = ah * wh
        a_hi, a_lo = _split(ah)
        err = ((a_hi * wh_hi - prod) + a_hi * wh_lo + a_lo * wh_hi) + a_lo * wh_lo
        ah, al = _fast_two_sum(prod, err + (ah * wl + al * wh))
        ah, al = _dd_add(ah, al, ch, cl)
    ah, al = _dd_mul(ah, al, _INV_SQRT_2PI, _INV_SQRT_2PI_LO)
    ah, al = _dd_mul(ah, al, x, 0.0)
    return _dd_add(ah, al, 0.5, 0.0)


def _exp_half_square(x: Array) -> tuple[Array, Param]:
    """exp(-x^2/2) as a product e * c, without the rounding error of x*x.

    x*x = p + q exactly, exp(-(p+q)/2) = exp(-p/2) * (1 - q/2) (|q| <= 2^-53 p, so the
    dropped q^2/8 is < 1e-27 relative). exp(-0.5*x*x) instead is off by x^2/2 * 2^-53
    relative (700 ulp at x = 37). x is clipped to +-64, where exp is 0 anyway.
    """
    xc = np.clip(x, -64.0, 64.0)
    p, q = _two_prod(xc, xc)
    return np.exp(-0.5 * p), 1.0 - 0.5 * q


def _gelu_exact(x: Array, derivative: bool) -> Array:
    """gelu(x) = x Phi(x) (or its derivative Phi(x) + x phi(x)) in three ranges.

    |x| <= 2.5: the double-double series above (error < 0.6 ulp). Library erfc is not good
      enough here: scipy's erfc is off by up to 9 ulp for arguments in [0.5, 3) (measured
      against mpmath), which put gelu' at 6.8 of the 8 allowed ulp near x = -1.2.
    x > 2.5: Phi = erfc(-x/sqrt2)/2 = 1 - erfc(x/sqrt2)/2, no cancellation.
    x < -2.5: Phi = erfcx(a) exp(-a^2)/2, a = -x/sqrt2. scipy's erfc flushes to 0 once
      a^2 > 709.78 (x < -37.68) though gelu is representable down to x = -38.56 (3e14 ulp
      lost at x = -37.69), and is off by ~a^2 ulp before that (485 ulp at a = 26); erfcx
      (well conditioned, cond ~ 1) times the split exp(-x^2/2) is not.
    """
    r = np.empty(x.shape)
    mid = np.abs(x) <= _GELU_SERIES_LIMIT
    low = x < -_GELU_SERIES_LIMIT
    high = ~(mid | low)  # x > 2.5 and NaN
    xm, xl, xh = x[mid], x[low], x[high]
    if derivative:
        r[mid] = _half_plus_series(xm, _GELU_D_COEFFS)[0]
    else:
        ph, pl = _half_plus_series(xm, _PHI_COEFFS)
        r[mid] = _dd_mul(ph, pl, xm, 0.0)[0]
    e, c = _exp_half_square(xl)
    erfcx = _special.erfcx(-xl * _SQRT_HALF)
    if derivative:
        r[low] = ((0.5 * erfcx + xl * _INV_SQRT_2PI) * c) * e
    else:
        r[low] = ((0.5 * xl * erfcx) * c) * e
    erfc = _special.erfc(-xh * _SQRT_HALF)
    if derivative:
        e, c = _exp_half_square(xh)
        r[high] = 0.5 * erfc + xh * ((e * c) * _INV_SQRT_2PI)
    else:
        r[high] = (0.5 * xh) * erfc
    if derivative:  # limits: gelu'(+inf) = 1, gelu'(-inf) = -0 (x*phi = inf*0 there)
        return np.where(x == np.inf, 1.0, np.where(x == -np.inf, -0.0, r))
    return np.where(x == -np.inf, -0.0, r)  # x*Phi = -inf*0 at -inf


# x*sigmoid(v) and sigmoid(v)*(1 + p*sigmoid(-v)) are the forward and derivative of both silu
# (v = p = beta*x) and gelu_tanh (v = 2u, p = 2x u'). For v < 0 the derivative's bracket
# cancels (the minimum of the activation): at x = -1.21, gelu_tanh' = s*(1 + p*sm) has
# p*sm = -2.0, and the ~2.5 ulp of error in p*sm became 8.9 ulp of the result. So both are
# written over e = exp(-|v|), with v and p carried as double-doubles and 1 + e, (1 + e)^2 and
# the cancelling sum 1 + e + p formed exactly:
#   v <  0:  x*sigmoid(v) = x e/(1 + e),  derivative = e (1 + e + p)/(1 + e)^2
#   v >= 0:  x*sigmoid(v) = x/(1 + e),    derivative = (1 + e + p e)/(1 + e)^2  (p >= 0 there)
# leaving exp's own error (<= 0.67 ulp) and three or four roundings.


def _exp_neg_abs(vh: Param, vl: Param) -> tuple[Param, Param, Param, Param]:
    """For v = vh + vl: e0 = exp(-|vh|), c (e = exp(-|v|) = e0 (1 + c)) and 1 + e = th + tl."""
    e0 = np.exp(-np.abs(vh))
    c = -np.sign(vh) * vl
    th, tl = _fast_two_sum(1.0, e0)
    return e0, c, th, tl + e0 * c


def _x_sigmoid(x: Array, vh: Param, vl: Param) -> Array:
    """x * sigmoid(vh + vl) for finite x, v (within ~2.5 ulp, exp included)."""
    e0, c, th, tl = _exp_neg_abs(vh, vl)
    q_neg = (x * e0) / th
    q_pos = x / th
    neg = q_neg + q_neg * (c - tl / th)  # x e0 (1 + c)/(th + tl)
    pos = q_pos - q_pos * (tl / th)  # x/(th + tl)
    return np.where(vh < 0, neg, pos)


def _sigmoid_bracket(vh: Param, vl: Param, ph: Param, pl: Param) -> Array:
    """sigmoid(v) * (1 + p*sigmoid(-v)) for finite double-doubles v = vh + vl, p = ph + pl."""
    e0, c, th, tl = _exp_neg_abs(vh, vl)
    sq, sq_err = _two_prod(th, th)
    den = sq + (sq_err + 2.0 * th * tl)  # (1 + e)^2, one rounding
    sh, sl = _two_sum(th, ph)
    neg = e0 * (sh + (((sl + tl) + pl) + sh * c))  # e (1 + e + p)
    pos = th + (tl + (ph + pl) * e0)  # 1 + e + p e
    return np.where(vh < 0, neg, pos) / den


# gelu_tanh is done this way for |x| <= 10; beyond, s or sigmoid(-2u) is < 1e-70 and the
# condition numbers are > 200, so the plain float64 formulas are far inside the bar.
_GELU_TANH_DD_LIMIT = 10.0


def _gelu_tanh_dd(x: Array) -> tuple[Param, Param, Param, Param]:
    """2u = 2 sqrt(2/pi) x (1 + k x^2) and p = 2x u' = 2 sqrt(2/pi) x (1 + 3k x^2), |x| <= 10.

    Returned as double-doubles (vh, vl, ph, pl), exact but for the float constant
    k = 0.044715 (relative error 6e-18, entering with weight k x^2/(1 + k x^2)).
    """
    ah, al = _two_prod(x, 2.0 * _SQRT_2_OVER_PI)
    ah, al = _fast_two_sum(ah, al + x * (2.0 * _SQRT_2_OVER_PI_LO))
    sq, sq_err = _two_prod(x, x)
    kh, kl = _two_prod(sq, _GELU_K)
    kl = kl + sq_err * _GELU_K
    bh, bl = _dd_add(1.0, 0.0, kh, kl)  # 1 + k x^2
    k3h, k3l = _two_prod(kh, 3.0)
    ch, cl = _dd_add(1.0, 0.0, k3h, k3l + 3.0 * kl)  # 1 + 3k x^2
    vh, vl = _dd_mul(ah, al, bh, bl)
    ph, pl = _dd_mul(ah, al, ch, cl)
    return vh, vl, ph, pl


@_signed_zero
@_quiet
def _gelu_f(x: Array, approximate: str = "none") -> Array:
    if approximate == "tanh":
        # 0.5*(1 + tanh(u)) = sigmoid(2u): no 1 + tanh cancellation (which is total for
        # u < -19: gelu_tanh(-10) would be 0 instead of -2e-30).
        s = _sigmoid(2.0 * _gelu_u(x))
        r = np.where(s == 0.0, np.copysign(0.0, x), x * s)  # x = -inf: -0.0, not nan
        mid = np.abs(x) <= _GELU_TANH_DD_LIMIT
        xm = x[mid]
        vh, vl, _, _ = _gelu_tanh_dd(xm)
        r[mid] = _x_sigmoid(xm, vh, vl)
        return r
    # Never 0.5*x*(1 + erf(x/sqrt2)): 1 + erf cancels for x < 0 (at x = -10 it is 0 and
    # gelu would be off by 1e15 relative).
    return _gelu_exact(x, derivative=False)


@_quiet
def _gelu_d(x: Array, approximate: str = "none") -> Array:
    if approximate == "tanh":
        # f' = s + x*2u'*s*(1-s) = s*(1 + p sigmoid(-2u)), s = sigmoid(2u), p = 2x u'.
        u = _gelu_u(x)
        s = _sigmoid(2.0 * u)
        sm = _sigmoid(-2.0 * u)
        du = _SQRT_2_OVER_PI * (1.0 + (3.0 * _GELU_K * x) * x)
        term = np.where(sm == 0.0, 0.0, (2.0 * x) * du * sm)  # x -> +inf: inf*0
        r = np.where(s == 0.0, -0.0, s * (1.0 + term))  # x -> -inf: 0*inf
        mid = np.abs(x) <= _GELU_TANH_DD_LIMIT
        r[mid] = _sigmoid_bracket(*_gelu_tanh_dd(x[mid]))
        return r
    return _gelu_exact(x, derivative=True)


@_signed_zero
@_quiet
def _silu_f(x: Array, beta: Param = 1.0) -> Array:
    # x*sigmoid(z), z = beta*x carried as a double-double: where z < 0 the rounding of
    # beta*x is not excused by the condition number (x outside sigmoid does not move with it;
    # at beta = 1.7, x = -1.4 it alone costs 1.2 ulp).
    z = beta * x
    _, zl = _two_prod(np.broadcast_to(beta, x.shape), x)
    zl = np.where(np.isfinite(zl), zl, 0.0)  # |beta| or |x| > 2^996: e^z is 0 or 1 anyway
    r = _x_sigmoid(x, z, zl)
    # z < -700: sigmoid(z) = e^z (to 1e-304) is subnormal or 0 while x*e^z may be a normal
    # number (beta = 1e-298, x = 1e300: z = -800, f = -e^-109); x*sigmoid(z) would be 0 or
    # lose up to |x|/2 subnormal ulps. e^(z + log|x|) is off by ~|z| eps, and cond ~ |z|.
    tail = np.copysign(np.exp(z + np.log(np.abs(x))), x)
    r = np.where(z < -700.0, tail, r)
    # Limits at +-inf; beta = 0 (silu = x/2) makes z = 0 * inf = NaN there, not the input.
    limit = np.where(z > 0, x, np.where(beta == 0, 0.5 * x, np.copysign(0.0, x)))
    r = np.where(np.isinf(x), limit, r)
    return _keep_nan(x, r)


@_quiet
def _silu_d(x: Array, beta: Param = 1.0) -> Array:
    # d/dx x*s(bx) = s + bx*s*(1-s) = s*(1 + z*sigmoid(-z)), z = beta*x: a function of z
    # alone, so the rounding of beta*x counts as a perturbation of x (excused by cond).
    z = beta * x
    r = _sigmoid_bracket(z, 0.0, z, 0.0)
    r = np.where(z == np.inf, 1.0, np.where(z == -np.inf, -0.0, r))
    r = np.where(np.isinf(x) & (beta == 0), 0.5, r)  # silu = x/2: z = 0 * inf is NaN
    return _keep_nan(x, r)


def _mish_parts(x: Array) -> tuple[Array, Array]:
    """(e^x, tanh(softplus(x))) without overflow or cancellation.

    With e = e^x and n = e(e + 2): tanh(log(1 + e)) = n/(n + 2). For x <= 0 this quotient
    is accurate as it stands (n in [0, 3]); for x > 0 it is written 1 - 2/(n + 2), which
    stays right when n overflows (x > 354) instead of becoming inf/inf.
    """
    e = np.exp(x)
    n = e * (e + 2.0)
    t = np.where(x <= 0, n / (n + 2.0), 1.0 - 2.0 / (n + 2.0))
    return e, t


# For -50 <= x <= 20 mish and mish' are formed in double-double over e = e^x:
#   T = tanh(softplus x) = n/(n + 2), n = e(e + 2)
#   mish'(x) = T + x sech^2(softplus x) sigmoid(x) = e [(e + 2)(n + 2) + 4x(1 + e)]/(n + 2)^2
# (sech^2 = 4(n + 1)/(n + 2)^2, n + 1 = (1 + e)^2). The bracket cancels towards the minimum
# at x = -1.19; evaluated exactly it leaves exp's 0.67 ulp and two roundings (the float64
# T + x*sech2*sigmoid was 9 ulp off at x = -1.84, where cond = 1.2). Below -50 the condition
# numbers are > 49, above 20 T = 1 - 2e-17 and sech^2 < 2e-17: the float64 formulas suffice.
_MISH_DD_RANGE = (-50.0, 20.0)


def _mish_dd(x: Array) -> tuple[Param, Param, Param, Param, Param, Param]:
    """e, n, (n + 2) and the bracket (e + 2)(n + 2) + 4x(1 + e) for -50 <= x <= 20."""
    e = np.exp(x)
    ah, al = _fast_two_sum(2.0, e)  # e + 2
    nh, nl = _two_prod(e, ah)
    nh, nl = _fast_two_sum(nh, nl + e * al)  # n = e (e + 2)
    dh, dl = _dd_add(2.0, 0.0, nh, nl)  # n + 2
    wh, wl = _fast_two_sum(1.0, e)  # 1 + e
    ph, pl = _dd_mul(ah, al, dh, dl)
    qh, ql = _two_prod(x, wh)
    bh, bl = _dd_add(ph, pl, 4.0 * qh, 4.0 * (ql + x * wl))
    return e, nh, nl, dh, dl, bh + bl


@_signed_zero
@_quiet
def _mish_f(x: Array) -> Array:
    _, t = _mish_parts(x)
    r = np.where(x == -np.inf, -0.0, x * t)
    mid = (x >= _MISH_DD_RANGE[0]) & (x <= _MISH_DD_RANGE[1])
    xm = x[mid]
    _, nh, nl, dh, dl, _ = _mish_dd(xm)
    q = nh / dh  # T = (nh + nl)/(dh + dl) = q + (nh - q dh + nl - q dl)/dh
    p, p_err = _two_prod(q, dh)
    corr = (((nh - p) - p_err) + nl - q * dl) / dh
    fh, fl = _two_prod(xm, q)
    r[mid] = fh + (fl + xm * corr)
    return r


@_quiet
def _mish_d(x: Array) -> Array:
    # Outside [-50, 20]: f' = T + x * sech^2(softplus x) * sigmoid(x). sech^2 = 1 - T^2
    # cancels (0 for x > 19); with w = (1+e)^2 = e^(2 softplus): sech^2 = 4/(w + 2 + 1/w),
    # and 4/inf = 0 once w overflows (x > 354), where the true value is < 1e-307.
    e, t = _mish_parts(x)
    w = (1.0 + e) * (1.0 + e)
    sech2 = 4.0 / (w + 2.0 + 1.0 / w)
    r = t + x * sech2 * _sigmoid(x)
    r = np.where(x == np.inf, 1.0, np.where(x == -np.inf, -0.0, r))
    mid = (x >= _MISH_DD_RANGE[0]) & (x <= _MISH_DD_RANGE[1])
    em, _, _, dh, dl, bracket = _mish_dd(x[mid])
    sq, sq_err = _two_prod(dh, dh)
    den = sq + (sq_err + 2.0 * dh * dl)  # (n + 2)^2
    r[mid] = (em * bracket) / den
    return r


@_quiet
def _softplus_f(x: Array, beta: Param = 1.0, threshold: Param | None = None) -> Array:
    # log(1 + e^z)/beta, z = beta*x, split at z = 0 so that exp only sees -|z|:
    #   z > 0:  x + log1p(e^-z)/beta   (log(1+e^z) = z + log1p(e^-z); z/beta is x itself,
    #           which stays right when z overflows for a huge beta)
    #   z <= 0: log1p(e^z)/beta
    z = beta * x
    lp = np.log1p(np.exp(-np.abs(z)))
    r = np.where(z > 0, x + lp / beta, lp / beta)
    # z < -700 and |beta| < 1: e^z is subnormal (or 0) while e^z/beta need not be: dividing
    # the subnormal e^z by beta = 1e-10 would magnify its rounding error 1e10 times.
    # e^(z - log|beta|) is off by ~(|z| + |log beta|) eps relative; cond = |z| > 700 there.
    abs_beta = np.abs(beta)
    tail = np.copysign(np.exp(z - np.log(abs_beta)), beta)
    r = np.where((z < -700.0) & (abs_beta < 1.0), tail, r)
    if threshold is not None:
        r = np.where(z > threshold, x, r)  # PyTorch's linear region
    return r


@_quiet
def _softplus_d(x: Array, beta: Param = 1.0, threshold: Param | None = None) -> Array:
    z = beta * x
    r = _sigmoid(z)
    if threshold is not None:
        r = np.where(z > threshold, 1.0, r)
    return r


# --------------------------------------------------------------------------------------------
# rational and algebraic: softsign, hardsigmoid, hardswish, tanhshrink, squareplus
# --------------------------------------------------------------------------------------------


@_quiet
def _softsign_f(x: Array) -> Array:
    return np.where(np.isinf(x), np.sign(x), x / (1.0 + np.abs(x)))  # inf/inf -> +-1


@_quiet
def _softsign_d(x: Array) -> Array:
    # (1/(1+|x|))^2, not 1/(1+|x|)^2: the square overflows for |x| > 1.3e154 and would give
    # 0 where the true value 1/x^2 is still >= 5e-324 (up to |x| = 4.5e161).
    r = 1.0 / (1.0 + np.abs(x))
    # Below |x| = 1e150, 1/(1+|x|)^2 with 1 + |x| and its square formed exactly: two
    # roundings instead of r's rounding doubled (3 ulp -> 1 ulp).
    th, tl = _two_sum(1.0, np.abs(np.clip(x, -1e150, 1e150)))
    sq, sq_err = _two_prod(th, th)
    exact = 1.0 / (sq + (sq_err + 2.0 * th * tl))
    return np.where(np.abs(x) < 1e150, exact, r * r)


@_quiet
def _hardsigmoid_f(x: Array, slope: Param = 1.0 / 6.0, offset: Param = 0.5) -> Array:
    v = _times_slope(slope, x) + offset
    return _keep_nan(x, np.clip(v, 0.0, 1.0))


@_quiet
def _hardsigmoid_d(x: Array, slope: Param = 1.0 / 6.0, offset: Param = 0.5) -> Array:
    v = _times_slope(slope, x) + offset  # decide the knees from v itself: 0 at both knees
    return _step((v > 0) & (v < 1), x, slope, 0.0)


@_quiet
def _hardswish_f(x: Array) -> Array:
    inner = (x * (x + 3.0)) / 6.0  # x + 3 is exact near -3 (Sterbenz)
    return np.where(x >= 3, x, np.where(x <= -3, 0.0, inner))


@_quiet
def _hardswish_d(x: Array) -> Array:
    # x/3 + 1/2 written (2x + 3)/6: 2x + 3 is exact near the root -1.5, so the result is
    # within 1 ulp everywhere (x/3 + 1/2 would cancel its rounding of x/3 there).
    inner = (2.0 * x + 3.0) / 6.0
    return np.where(x >= 3, 1.0, np.where(x <= -3, 0.0, inner))


# Depth of Lambert's continued fraction for tanh on |x| < 2: with the innermost partial
# denominator 2*12+1 = 25, the truncation error at x = 2 is 6e-21 relative (5e-5 ulp); depth
# 10 would give 1.6e-16 (~1.4 ulp).
_TANHSHRINK_CF_DEPTH = 12
_TANHSHRINK_CF_LIMIT = 2.0


@_quiet
def _tanhshrink_f(x: Array) -> Array:
    # tanh x = x/(1 + q), q = x^2/(3 + x^2/(5 + x^2/(7 + ...))), so x - tanh x = x*q/(1+q)
    # with every term positive: no cancellation (x - tanh(x) has relative error ~3 eps/x^2,
    # 1e10 ulp at x = 1e-5 and all digits lost for |x| < 1e-8). For |x| >= 2 the subtraction
    # loses at most a factor x/(x - tanh x) < 2. Subnormal x: t underflows to 0 and so does the
    # result (x^3/3 < 5e-324 for |x| < 2.4e-108).
    small = np.abs(x) < _TANHSHRINK_CF_LIMIT
    xs = np.where(small, x, 0.0)
    t = xs * xs
    d = np.full_like(t, 2.0 * _TANHSHRINK_CF_DEPTH + 1.0)
    for k in range(_TANHSHRINK_CF_DEPTH - 1, 0, -1):
        d = (2.0 * k + 1.0) + t / d
    q = t / d
    near = xs * (q / (1.0 + q))  # one rounding into the subnormal range at most
    return np.where(small, near, x - np.tanh(x))


@_quiet
def _tanhshrink_d(x: Array) -> Array:
    th = np.tanh(x)
    return th * th


def _half_sum(a: Array, b: Array) -> Array:
    """(a + b)/2 for a, b >= 0: one rounding, no overflow, no halved subnormal flushed to 0."""
    s = a + b
    return np.where(np.isinf(s) & np.isfinite(a) & np.isfinite(b), 0.5 * a + 0.5 * b, 0.5 * s)


@_quiet
def _squareplus_f(x: Array, b: Param = 4.0) -> Array:
    # (x + sqrt(x^2 + b))/2 with h = hypot(x, sqrt b) (x*x overflows for |x| > 1.3e154).
    #   x >= 0: (x + h)/2 (half of the sum, 0.5*x + 0.5*h when the sum overflows)
    #   x <  0: b/(2(h - x)) = b/(4w), w = (h + |x|)/2 never overflows. (x + h cancels
    #           totally for x < -1e8*sqrt(b): it is 0 where the result is b/(4|x|).)
    h = np.hypot(x, np.sqrt(b))
    w = _half_sum(h, np.abs(x))
    s = x + h
    pos = np.where(np.isinf(s) & np.isfinite(x), w, 0.5 * s)
    neg = (b / w) * 0.25
    return np.where(x >= 0, pos, neg)


@_quiet
def _squareplus_d(x: Array, b: Param = 4.0) -> Array:
    #   x >= 0: (1 + x/h)/2, with h == 0 (x = b = 0) -> 1/2 and x = inf -> 1
    #   x <  0: (1 + x/h)/2 = b/(2h(h - x)) = (r/h)(r/w)/4 with r = sqrt(b), w = (h - x)/2.
    #           Products of two quotients <= 1: no overflow (h*(h - x) overflows at |x| >
    #           1.3e154) and no subnormal intermediate magnified afterwards (b/h would be,
    #           for b subnormal).
    r = np.sqrt(b)
    h = np.hypot(x, r)
    w = _half_sum(h, np.abs(x))
    pos = 0.5 * (1.0 + x / h)
    pos = np.where(h == 0.0, 0.5, np.where(x == np.inf, 1.0, pos))
    neg = ((r / h) * (r / w)) * 0.25
    return np.where(x >= 0, pos, neg)


# --------------------------------------------------------------------------------------------
# thinc's: clipped_linear, thinc_hard_swish, dish, erf
# --------------------------------------------------------------------------------------------


@_quiet
def _clipped_linear_f(
    x: Array, slope: Param = 1.0, offset: Param = 0.0, min_val: Param = 0.0, max_val: Param = 1.0
) -> Array:
    v = _times_slope(slope, x) + offset
    return _keep_nan(x, np.minimum(np.maximum(v, min_val), max_val))


@_quiet
def _clipped_linear_d(
    x: Array, slope: Param = 1.0, offset: Param = 0.0, min_val: Param = 0.0, max_val: Param = 1.0
) -> Array:
    v = _times_slope(slope, x) + offset  # the edges decided from v: 0 at both
    return _step((v > min_val) & (v < max_val), x, slope, 0.0)


@_quiet
def _thinc_hard_swish_f(x: Array) -> Array:
    # x (x/5 + 1/2) as ((x + 2.5) * x) * 0.2: x + 2.5 exact near the root -2.5 (Sterbenz)
    inner = ((x + 2.5) * x) * 0.2
    return np.where(x >= 2.5, x, np.where(x <= -2.5, 0.0, inner))


@_quiet
def _thinc_hard_swish_d(x: Array) -> Array:
    # 0.4 x + 0.5 as (x + 1.25) * 0.4: x + 1.25 exact near the root -1.25
    inner = (x + 1.25) * 0.4
    return np.where(x >= 2.5, 1.0, np.where(x <= -2.5, 0.0, inner))


# Below this, dish and dish' are their asymptotic forms 1/(4x) and -1/(4x^2) (relative
# error ~ 1/x^2 = 1e-140); above it s^3 (s - x) stays below 2e280, no overflow.
_DISH_ASYMPTOTIC = -1e70


@_quiet
def _dish_f(x: Array) -> Array:
    # x >= 0: (x + x u)/2, u = x/s, s = hypot(x, 1): positive terms.
    # x <  0: x (s + x)/(2 s) with s + x = 1/(s - x): x / (2 s (s - x)), no cancellation.
    s = np.hypot(x, 1.0)
    pos = 0.5 * x + 0.5 * (x * (x / s))
    neg = np.where(x < _DISH_ASYMPTOTIC, 0.25 / x, 0.5 * x / (s * (s - x)))
    r = np.where(x >= 0, pos, neg)
    return np.where(x == np.inf, np.inf, r)


@_quiet
def _dish_d(x: Array) -> Array:
    # x >= 0: 1/2 + u (1 - u^2/2), u = x/s in [0, 1]: positive terms.
    # x <  0: (1 + x s) / (2 s^3 (s - x)) (1/2 + u - u^3/2 rationalised; 1 + x s cancels
    #         only at the root of dish', x = -0.786).
    s = np.hypot(x, 1.0)
    u = x / s
    pos = 0.5 + u * (1.0 - 0.5 * u * u)
    neg = np.where(
        x < _DISH_ASYMPTOTIC, (-0.25 / x) / x, (1.0 + x * s) / (2.0 * s**3 * (s - x))
    )
    r = np.where(x >= 0, pos, neg)
    return np.where(x == np.inf, 1.0, r)


_TWO_OVER_SQRT_PI = 1.1283791670955126  # 2/sqrt(pi)


@_quiet
def _erf_f(x: Array) -> Array:
    return _special.erf(x)


@_quiet
def _erf_d(x: Array) -> Array:
    return _TWO_OVER_SQRT_PI * np.exp(-np.square(x))


# --------------------------------------------------------------------------------------------
# along an axis: softmax, log_softmax, softmin, glu
# --------------------------------------------------------------------------------------------


def _last(a: Array, axis: int) -> Array:
    return np.moveaxis(a, axis % max(a.ndim, 1), -1) if a.ndim else a


class _SoftmaxParts(NamedTuple):
    d: Array  # x - max, rounded
    d_lo: Array  # its rounding error (x - max = d + d_lo exactly, 0 where not finite)
    e: Array  # exp(x - max) (1 at the first maximum, exactly)
    rest: Array  # sum of e without the first maximum (keepdims)
    total: Array  # 1 + rest
    first: Array  # index of the first maximum (keepdims)


def _softmax_parts(xm: Array) -> _SoftmaxParts:
    """Max-shifted pieces of softmax along the last axis of xm (length >= 1).

    x - max is carried as a double-double (TwoSum), so a big spread in the row (x - max =
    -700 is rounded by up to 5.7e-14 absolute, 256 ulp of exp) costs nothing. The sum is
    split as 1 + rest so that log_softmax can use log1p(rest): log(total) would lose
    everything below eps/rest relative when one entry dominates (rest = 1e-10: 6 digits).
    """
    m = np.max(xm, axis=-1, keepdims=True)
    d = xm - m
    bb = d - xm
    d_lo = (xm - (d - bb)) + (-m - bb)  # exact rounding error of xm + (-m) (Knuth TwoSum)
    d_lo = np.where(np.isfinite(d_lo), d_lo, 0.0)
    ed = np.exp(d)
    e = ed + ed * d_lo  # exp(d + d_lo), |d_lo| <= 1.3e-13
    first = np.argmax(xm, axis=-1)[..., None]
    e_rest = e.copy()
    np.put_along_axis(e_rest, first, 0.0, axis=-1)
    # + (e_first - 1): exactly 0 for a finite maximum, NaN when the maximum is +inf or NaN, so
    # such a row is all NaN as plain arithmetic makes it.
    rest = np.sum(e_rest, axis=-1, keepdims=True) + (np.take_along_axis(e, first, -1) - 1.0)
    return _SoftmaxParts(d, d_lo, e, rest, 1.0 + rest, first)


def _empty_axis(x: Array, axis: int) -> bool:
    return x.ndim > 0 and x.shape[axis] == 0


def _softmax_last(xm: Array) -> Array:
    p = _softmax_parts(xm)
    return p.e / p.total


def _softmax_jac_last(xm: Array) -> Array:
    """J[..., i, j] = y_i (delta_ij - y_j), the diagonal without the 1 - y_i cancellation."""
    p = _softmax_parts(xm)
    y = p.e / p.total
    # 1 - y_i = (total - e_i)/total; total - e_i is exact-ish for i != first (>= 1 and >= total/2)
    # and equals rest for the first maximum, where 1 - y_i would cancel (y_i -> 1).
    c = p.total - p.e
    np.put_along_axis(c, p.first, p.rest, axis=-1)
    jac = -(y[..., :, None] * y[..., None, :])
    n = xm.shape[-1]
    idx = np.arange(n)
    jac[..., idx, idx] = y * (c / p.total)
    return jac


def _softmax_vjp(g: Array, y: Array, k: Array, complement: Array) -> Array:
    """y_i (g_i - sum_j g_j y_j), with the dominant entry k formed without cancelling:
    there sum_j g_j y_j ~ g_k, so g_k - sum cancels (2,908 ulp on a float64 row of
    condition 12.4); y_k (g_k (1 - y_k) - sum_{j != k} g_j y_j) does not, given an
    accurate ``complement`` = 1 - y_k (keepdims, as k)."""
    gy = g * y
    out = y * (g - np.sum(gy, axis=-1, keepdims=True))
    y_k, g_k = np.take_along_axis(y, k, -1), np.take_along_axis(g, k, -1)
    np.put_along_axis(gy, k, 0.0, axis=-1)
    out_k = y_k * (g_k * complement - np.sum(gy, axis=-1, keepdims=True))
    np.put_along_axis(out, k, out_k, axis=-1)
    return out


def _softmax_vjp_from_y(g: Array, y: Array) -> Array:
    """From the given y: k its largest entry, 1 - y_k exact (Sterbenz, y_k >= 1/2; below
    that nothing cancels)."""
    if y.shape[-1] == 0:
        return g * y
    k = np.argmax(y, axis=-1)[..., None]
    return _softmax_vjp(g, y, k, 1.0 - np.take_along_axis(y, k, -1))


@_quiet
def _softmax_f(x: Array, axis: int = -1) -> Array:
    if _empty_axis(x, axis):
        return np.zeros(x.shape)
    return np.moveaxis(_softmax_last(_last(x, axis)), -1, axis)


@_quiet
def _softmax_jac(x: Array, axis: int = -1) -> Array:
    n = x.shape[axis]
    if n == 0:
        return np.zeros((*x.shape, 0))
    return np.moveaxis(_softmax_jac_last(_last(x, axis)), -2, axis)


@_quiet
def _softmax_bx(grad: Array, x: Array, axis: int = -1) -> Array:
    if _empty_axis(x, axis):
        return np.zeros(x.shape)
    # From x, 1 - y_k at the first maximum is rest / total (the small terms' sum), more
    # accurate than 1 - y_k from a rounded y_k.
    p = _softmax_parts(_last(x, axis))
    y = p.e / p.total
    vjp = _softmax_vjp(_last(grad, axis), y, p.first, p.rest / p.total)
    return np.moveaxis(vjp, -1, axis)


@_quiet
def _softmax_by(grad: Array, y: Array, axis: int = -1) -> Array:
    if _empty_axis(y, axis):
        return np.zeros(y.shape)
    return np.moveaxis(_softmax_vjp_from_y(_last(grad, axis), _last(y, axis)), -1, axis)


@_quiet
def _log_softmax_f(x: Array, axis: int = -1) -> Array:
    if _empty_axis(x, axis):
        return np.zeros(x.shape)
    p = _softmax_parts(_last(x, axis))
    # (x - max) - log(sum): both parts <= 0, no cancellation; d_lo added last.
    y = (p.d - np.log1p(p.rest)) + p.d_lo
    return np.moveaxis(y, -1, axis)


@_quiet
def _log_softmax_jac(x: Array, axis: int = -1) -> Array:
    n = x.shape[axis]
    if n == 0:
        return np.zeros((*x.shape, 0))
    p = _softmax_parts(_last(x, axis))
    y = p.e / p.total
    c = p.total - p.e
    np.put_along_axis(c, p.first, p.rest, axis=-1)
    jac = np.broadcast_to(-y[..., None, :], (*y.shape, n)).copy()
    idx = np.arange(n)
    jac[..., idx, idx] = c / p.total  # 1 - softmax_i without cancellation
    return np.moveaxis(jac, -2, axis)


@_quiet
def _log_softmax_bx(grad: Array, x: Array, axis: int = -1) -> Array:
    if _empty_axis(x, axis):
        return np.zeros(x.shape)
    g = _last(grad, axis)
    y = _softmax_last(_last(x, axis))
    return np.moveaxis(g - y * np.sum(g, axis=-1, keepdims=True), -1, axis)


@_quiet
def _log_softmax_by(grad: Array, y: Array, axis: int = -1) -> Array:
    if _empty_axis(y, axis):
        return np.zeros(y.shape)
    g = _last(grad, axis)
    r = g - np.exp(_last(y, axis)) * np.sum(g, axis=-1, keepdims=True)
    return np.moveaxis(r, -1, axis)


@_quiet
def _softmin_f(x: Array, axis: int = -1) -> Array:
    return _softmax_f(-x, axis)


@_quiet
def _softmin_jac(x: Array, axis: int = -1) -> Array:
    return -_softmax_jac(-x, axis)


@_quiet
def _softmin_bx(grad: Array, x: Array, axis: int = -1) -> Array:
    return -_softmax_bx(grad, -x, axis)


@_quiet
def _softmin_by(grad: Array, y: Array, axis: int = -1) -> Array:
    return -_softmax_by(grad, y, axis)


def _glu_halves(xm: Array) -> tuple[Array, Array]:
    half = xm.shape[-1] // 2
    return xm[..., :half], xm[..., half:]


def _glu_value(a: Array, b: Array) -> Array:
    # a*sigmoid(b); a = +-inf with finite b is +-inf even where sigmoid(b) underflows to 0.
    return np.where(np.isinf(a) & np.isfinite(b), a, a * _sigmoid(b))


def _glu_db(a: Array, b: Array) -> Array:
    """d(a*sigmoid(b))/db = a*sigmoid'(b), sigmoid' in the cancellation-free form."""
    return np.where(np.isinf(a) & np.isfinite(b), a, a * _sigmoid_prime(b))


@_quiet
def _glu_f(x: Array, axis: int = -1) -> Array:
    a, b = _glu_halves(_last(x, axis))
    return np.moveaxis(_glu_value(a, b), -1, axis)


@_quiet
def _glu_jac(x: Array, axis: int = -1) -> Array:
    xm = _last(x, axis)
    a, b = _glu_halves(xm)
    half = a.shape[-1]
    jac = np.zeros((*a.shape, xm.shape[-1]))
    idx = np.arange(half)
    jac[..., idx, idx] = _sigmoid(b)
    jac[..., idx, idx + half] = _glu_db(a, b)
    return np.moveaxis(jac, -2, axis)


@_quiet
def _glu_bx(grad: Array, x: Array, axis: int = -1) -> Array:
    a, b = _glu_halves(_last(x, axis))
    g = _last(grad, axis)
    gx = np.concatenate([g * _sigmoid(b), g * _glu_db(a, b)], axis=-1)
    return np.moveaxis(gx, -1, axis)


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------

ELEMENTWISE: dict[str, Elementwise] = {
    "sigmoid": Elementwise(_sigmoid_f, _sigmoid_d, _sigmoid_h),
    "log_sigmoid": Elementwise(_log_sigmoid_f, _log_sigmoid_d, None),
    "tanh": Elementwise(_tanh_f, _tanh_d, _tanh_h),
    "relu": Elementwise(_relu_f, _relu_d, _relu_h),
    "relu6": Elementwise(_relu6_f, _relu6_d, _relu6_h),
    "leaky_relu": Elementwise(_leaky_relu_f, _leaky_relu_d, _leaky_relu_h),
    "prelu": Elementwise(
        _prelu_f, _prelu_d, None, types.MappingProxyType({"weight": _prelu_grad_weight})
    ),
    "rrelu": Elementwise(_rrelu_f, _rrelu_d, None),
    "elu": Elementwise(_elu_f, _elu_d, _elu_h),
    "selu": Elementwise(_selu_f, _selu_d, _selu_h),
    "celu": Elementwise(_celu_f, _celu_d, _celu_h),
    "gelu": Elementwise(_gelu_f, _gelu_d, None),
    "silu": Elementwise(_silu_f, _silu_d, None),
    "mish": Elementwise(_mish_f, _mish_d, None),
    "softplus": Elementwise(_softplus_f, _softplus_d, None),
    "softsign": Elementwise(_softsign_f, _softsign_d, None),
    "hardsigmoid": Elementwise(_hardsigmoid_f, _hardsigmoid_d, None),
    "hardswish": Elementwise(_hardswish_f, _hardswish_d, None),
    "hardtanh": Elementwise(_hardtanh_f, _hardtanh_d, _hardtanh_h),
    "tanhshrink": Elementwise(_tanhshrink_f, _tanhshrink_d, None),
    "softshrink": Elementwise(_softshrink_f, _shrink_d, None),
    "hardshrink": Elementwise(_hardshrink_f, _shrink_d, None),
    "threshold": Elementwise(_threshold_f, _threshold_d, None),
    "squareplus": Elementwise(_squareplus_f, _squareplus_d, None),
    "clipped_linear": Elementwise(_clipped_linear_f, _clipped_linear_d, None),
    "thinc_hard_swish": Elementwise(_thinc_hard_swish_f, _thinc_hard_swish_d, None),
    "dish": Elementwise(_dish_f, _dish_d, None),
    "erf": Elementwise(_erf_f, _erf_d, None),
    "exponential": Elementwise(_exp_f, _exp_f, _exp_h),
    "linear": Elementwise(_linear_f, _ones_nan, _ones_nan),
}

ALONG_AXIS: dict[str, AlongAxis] = {
    "softmax": AlongAxis(_softmax_f, _softmax_jac, _softmax_bx, _softmax_by),
    "log_softmax": AlongAxis(_log_softmax_f, _log_softmax_jac, _log_softmax_bx, _log_softmax_by),
    "softmin": AlongAxis(_softmin_f, _softmin_jac, _softmin_bx, _softmin_by),
    "glu": AlongAxis(_glu_f, _glu_jac, _glu_bx, None),
}
