"""The math of every elementwise activation, written once for every compiled backend.

Each function below is scalar Python over the primitives of
:mod:`fastact._primitives` (exp, expm1, log1p, tanh, erfc, hypot, select, ...), in a
subset that generators can translate: assignments to new names, one ``return``, float
literals, arithmetic, comparisons, ``and``/``or``/``not``, and calls to primitives or
to other functions of this module. ``tools/codegen.py`` turns them into C for the
Cython backend (float and double instantiations, vectorised by gcc); the numba
backend binds the same names to its own primitives. The independent NumPy reference
(:mod:`fastact._reference`) is written separately, and the tests hold every backend
to it and to mpmath.

The forms are the numerically stable ones (each comment says what the naive form
loses); they compute every branch and ``select`` one, because that is what SIMD
does. :data:`KERNELS` says which functions serve each activation: forward,
derivative, derivative from the output y, and parameter gradients. A function's
arguments after the first are the activation's real parameters, by their registry
names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from fastact._primitives import (
    by_dtype,
    copysign,
    erf,
    erfc,
    exp,
    expm1,
    fabs,
    hypot,
    isinf,
    isnan,
    log,
    log1p,
    select,
    sqrt,
    tanh,
)

__all__ = ["KERNELS", "VARIANT_PARAMS", "Kernels"]

Formula = Callable[..., float]

# ------------------------------------------------------------------------------ helpers


def keep_nan(x: float, r: float) -> float:
    """r, or x where x is NaN (a comparison sends NaN to one branch or the other)."""
    return select(isnan(x), x, r)


def times_slope(slope: float, x: float) -> float:
    """slope * x, except that a zero slope times +-inf is 0 (the limit), not NaN."""
    p = slope * x
    return select(isnan(p), 0.0, p)


def step(cond: bool, x: float) -> float:
    """A piecewise-constant derivative: 1 where cond, else 0; NaN kept."""
    return keep_nan(x, select(cond, 1.0, 0.0))


# ------------------------------------------------------------ sigmoid, log_sigmoid, tanh


def sigmoid(x: float) -> float:
    # Two-sided with e = exp(-|x|) <= 1: never overflows, never cancels (the one-sided
    # 1/(1+exp(-x)) overflows for x < -88.7 in float32).
    e = exp(-fabs(x))
    r = 1.0 / (1.0 + e)
    return select(x >= 0.0, r, e * r)


def sigmoid_derivative(x: float) -> float:
    # e/(1+e)^2, even in x. s*(1-s) is exactly 0 once s rounds to 1 (x > 16.6 in
    # float32) where the true value is e^-x.
    e = exp(-fabs(x))
    d = 1.0 + e
    return e / (d * d)


def sigmoid_from_output(y: float) -> float:
    # 1 - y is exact for y in [1/2, 1] (Sterbenz) and well conditioned below.
    return y * (1.0 - y)


def log_sigmoid(x: float) -> float:
    # min(x, 0) - log1p(exp(-|x|)): both terms <= 0, no cancellation, no overflow;
    # negated as a whole so that an underflowing result is -0.0 (the side of the limit).
    m = select(x < 0.0, x, 0.0)
    return -(log1p(exp(-fabs(x))) - m)


def log_sigmoid_derivative(x: float) -> float:
    return sigmoid(-x)


def tanh_forward(x: float) -> float:
    return tanh(x)


def tanh_derivative(x: float) -> float:
    # 4e/(1+e)^2 with e = exp(-2|x|): 1 - tanh(x)^2 is exactly 0 for |x| > 9 in float32
    # (tanh rounds to 1) where the true value is 4e^-2|x|.
    e = exp(-2.0 * fabs(x))
    d = 1.0 + e
    return (4.0 * e) / (d * d)


def tanh_from_output(y: float) -> float:
    # (1-y)(1+y): each factor is exact where it is small, unlike 1 - y*y.
    return (1.0 - y) * (1.0 + y)


# ------------------------------------------------------------ piecewise linear family


def relu(x: float) -> float:
    return select(x < 0.0, 0.0, x)  # NaN (and -0.0) pass through, as np.maximum


def relu_derivative(x: float) -> float:
    return step(x > 0.0, x)  # relu'(0) = 0


def relu6(x: float) -> float:
    return select(x < 0.0, 0.0, select(x > 6.0, 6.0, x))


def relu6_derivative(x: float) -> float:
    return step(x > 0.0 and x < 6.0, x)  # 0 at both kinks


def leaky(x: float, slope: float) -> float:
    return keep_nan(x, select(x > 0.0, x, times_slope(slope, x)))


def leaky_derivative(x: float, slope: float) -> float:
    return keep_nan(x, select(x > 0.0, 1.0, slope))  # f'(0) = slope


def leaky_relu(x: float, negative_slope: float) -> float:
    return leaky(x, negative_slope)


def leaky_relu_derivative(x: float, negative_slope: float) -> float:
    return leaky_derivative(x, negative_slope)


def prelu(x: float, weight: float) -> float:
    return leaky(x, weight)


def prelu_derivative(x: float, weight: float) -> float:
    return leaky_derivative(x, weight)


def prelu_weight_factor(x: float, weight: float) -> float:
    # d prelu / d weight = min(x, 0); NaN x propagates.
    return select(x > 0.0, 0.0, x)


def rrelu(x: float, lower: float, upper: float) -> float:
    # Evaluation mode: the mean slope. Training mode draws a slope per element and uses
    # prelu's kernels with it (the backend computes the counter-based slopes).
    return leaky(x, (lower + upper) * 0.5)


def rrelu_derivative(x: float, lower: float, upper: float) -> float:
    return leaky_derivative(x, (lower + upper) * 0.5)


def hardtanh(x: float, min_val: float, max_val: float) -> float:
    return select(x < min_val, min_val, select(x > max_val, max_val, x))


def hardtanh_derivative(x: float, min_val: float, max_val: float) -> float:
    return step(x > min_val and x < max_val, x)  # 0 at the edges


def softshrink(x: float, lambd: float) -> float:
    r = select(x > lambd, x - lambd, select(x < -lambd, x + lambd, 0.0))
    return keep_nan(x, r)


def shrink_derivative(x: float, lambd: float) -> float:
    return step(fabs(x) > lambd, x)  # 0 at +-lambd


def hardshrink(x: float, lambd: float) -> float:
    return keep_nan(x, select(fabs(x) > lambd, x, 0.0))


def threshold(x: float, threshold: float, value: float) -> float:
    return select(x <= threshold, value, x)  # NaN <= t is false: NaN passes through


def threshold_derivative(x: float, threshold: float, value: float) -> float:
    return step(x > threshold, x)


def linear(x: float) -> float:
    return x


def ones(x: float) -> float:
    return keep_nan(x, 1.0)


# ------------------------------------------------------------ exponential family

SELU_SCALE = 1.0507009873554804934193349852946
# scale * alpha of selu, split hi + lo per dtype (mpmath, 300 bits): hi is the constant
# of the negative branch, lo corrects y + scale*alpha where it cancels (h(y) near -hi).


def elu(x: float, alpha: float) -> float:
    # expm1, not exp(x) - 1, which loses everything for |x| < eps.
    return select(x > 0.0, x, alpha * expm1(x))


def elu_derivative(x: float, alpha: float) -> float:
    return keep_nan(x, select(x > 0.0, 1.0, alpha * exp(x)))  # f'(0) = alpha


def elu_from_output(y: float, alpha: float) -> float:
    # alpha*exp(x) = alpha*expm1(x) + alpha = y + alpha: one rounding of the exact sum.
    return keep_nan(y, select(y > 0.0, 1.0, y + alpha))


def selu(x: float) -> float:
    sa = by_dtype(1.7580993175506592, 1.7580993408473768)
    return select(x > 0.0, SELU_SCALE * x, sa * expm1(x))


def selu_derivative(x: float) -> float:
    sa = by_dtype(1.7580993175506592, 1.7580993408473768)
    return keep_nan(x, select(x > 0.0, SELU_SCALE, sa * exp(x)))


def selu_from_output(y: float) -> float:
    sa = by_dtype(1.7580993175506592, 1.7580993408473768)
    sa_lo = by_dtype(2.3296717444054593e-08, 1.41535193800845e-17)
    neg = (y + sa) + sa_lo  # y + sa is exact near -sa (Sterbenz)
    return keep_nan(y, select(y > 0.0, SELU_SCALE, neg))


def celu(x: float, alpha: float) -> float:
    t = x / alpha
    em = expm1(t)
    r = alpha * em
    # |t| tiny: x/alpha may have underflowed although the result is ~x; the series
    # x*(1 + t/2) has truncation error t^2/6 < eps there.
    series = x + x * (0.5 * t)
    r2 = select(fabs(t) < by_dtype(2.0**-13, 2.0**-30), series, r)
    # alpha < 0 sends t to +large: expm1 overflows while alpha*e^t may be finite;
    # e^(t + log|alpha|) is off by ~|t| eps, and cond(celu) ~ |t| there.
    big = copysign(exp(t + log(fabs(alpha))), alpha)
    r3 = select(isinf(em) and not isinf(t), big, r2)
    return keep_nan(x, select(x > 0.0, x, r3))


def celu_derivative(x: float, alpha: float) -> float:
    return keep_nan(x, select(x > 0.0, 1.0, exp(x / alpha)))


def celu_from_output(y: float, alpha: float) -> float:
    # exp(x/alpha) = (y + alpha)/alpha: the sum is exact where it cancels (y near -alpha).
    return keep_nan(y, select(y > 0.0, 1.0, (y + alpha) / alpha))


def exponential(x: float) -> float:
    return exp(x)


def identity_of_output(y: float) -> float:
    return y


# ------------------------------------------------------------ gelu, silu, mish, softplus


def gelu(x: float) -> float:
    # x * Phi(x) = x/2 * erfc(-x/sqrt 2). Never x/2 * (1 + erf(x/sqrt 2)): 1 + erf
    # cancels completely for x < -5.9 (float32). The rounding of x/sqrt 2 is excused by
    # the condition number (~x^2) where erfc is steep.
    r = (0.5 * x) * erfc(x * -0.7071067811865476)
    return select(isinf(x), select(x > 0.0, x, -0.0), r)


def gelu_derivative(x: float) -> float:
    # Phi(x) + x phi(x); near the minimum (x = -0.75) the two terms cancel, but only by a
    # factor the condition number excuses (their ratio to x f''(x) stays below 1).
    phi = exp((-0.5 * x) * x) * 0.3989422804014327
    r = 0.5 * erfc(x * -0.7071067811865476) + x * phi
    return select(isinf(x), select(x > 0.0, 1.0, -0.0), r)


def gelu_tanh(x: float) -> float:
    # 0.5*(1 + tanh(u)) = sigmoid(2u): no 1 + tanh cancellation for u < 0.
    u2 = (1.5957691216057308 * x) * (1.0 + (0.044715 * x) * x)
    s = sigmoid(u2)
    return select(s == 0.0, copysign(0.0, x), x * s)  # x = -inf: -0.0, not inf*0


def gelu_tanh_derivative(x: float) -> float:
    # f' = s + x*2u'*s*(1-s) = s*(1 + 2x u' sigmoid(-2u)), s = sigmoid(2u).
    u2 = (1.5957691216057308 * x) * (1.0 + (0.044715 * x) * x)
    s = sigmoid(u2)
    sm = sigmoid(-u2)
    du = 0.7978845608028654 * (1.0 + (0.134145 * x) * x)
    term = select(sm == 0.0, 0.0, ((2.0 * x) * du) * sm)  # x -> +inf: inf*0
    return select(s == 0.0, -0.0, s * (1.0 + term))  # x -> -inf: 0*inf


def silu(x: float, beta: float) -> float:
    # x*sigmoid(z), z = beta*x, with h = exp(-|z|/2) and e = h*h = exp(-|z|):
    #   z >= 0: x/(1 + e)
    #   z <  0: (x*h) * (h/(1 + e)): x*e alone underflows to 0 (or loses the subnormal
    #           bits) while x*e^z is still normal (beta = 1e-298, x = 1e300); the halves
    #           never overflow.
    z = beta * x
    h = exp(-0.5 * fabs(z))
    e = h * h
    r = select(z >= 0.0, x / (1.0 + e), (x * h) * (h / (1.0 + e)))
    # Limits at +-inf; beta = 0 (silu = x/2) makes z = 0*inf = NaN there.
    limit = select(z > 0.0, x, select(beta == 0.0, 0.5 * x, copysign(0.0, x)))
    return keep_nan(x, select(isinf(x), limit, r))


def silu_derivative(x: float, beta: float) -> float:
    # d/dx x*s(bx) = s*(1 + z*sigmoid(-z)), z = beta*x: a function of z alone, so the
    # rounding of beta*x counts as a perturbation of x. Near the minimum (z = -1.28)
    # 1 + z*sigmoid(-z) cancels by a factor the condition number excuses.
    z = beta * x
    e = exp(-fabs(z))
    r0 = 1.0 / (1.0 + e)
    s = select(z >= 0.0, r0, e * r0)
    sm = select(z >= 0.0, e * r0, r0)
    r = s * (1.0 + z * sm)
    r2 = select(isinf(z), select(z > 0.0, 1.0, -0.0), r)
    return keep_nan(x, select(isinf(x) and beta == 0.0, 0.5, r2))


def mish(x: float) -> float:
    # x * tanh(softplus(x)) with e = e^x, n = e(e + 2): tanh(log(1 + e)) = n/(n + 2),
    # written 1 - 2/(n + 2) for x > 0 so that it stays right when n overflows.
    e = exp(select(x < 40.0, x, 40.0))  # e^40 = 2.4e17: n/(n + 2) is 1 to 1e-35 there
    n = e * (e + 2.0)
    t = select(x <= 0.0, n / (n + 2.0), 1.0 - 2.0 / (n + 2.0))
    return select(isinf(x) and x < 0.0, -0.0, x * t)


def mish_derivative(x: float) -> float:
    # mish'(x) = e [(e + 2)(n + 2) + 4x(1 + e)] / (n + 2)^2, one quotient instead of
    # T + x sech^2 sigmoid (whose three roundings cost 9 ulp at x = -1.84 in float64).
    # e is capped at e^cap so that (n + 2)^2 ~ e^(4 cap) stays finite (float32: e^80 =
    # 5.5e34; float64: e^160 = 3e69); above the cap the derivative is 1 to within
    # 4e-17 (float32) or 1e-33 (float64). Where e^x underflows to 0 (x < -103 in
    # float32) the result is -0.0 (4x alone would overflow at x = -max).
    cap = by_dtype(20.0, 40.0)
    e = exp(select(x < cap, x, cap))
    n = e * (e + 2.0)
    d = n + 2.0
    bracket = (e + 2.0) * d + (4.0 * x) * (1.0 + e)
    r = (e * bracket) / (d * d)
    return select(x > cap, 1.0, select(e == 0.0, -0.0, r))


def softplus(x: float, beta: float, threshold: float) -> float:
    # log(1 + e^z)/beta, z = beta*x, split at z = 0 so that exp only sees -|z|:
    #   z > 0: x + log1p(e^-z)/beta (z/beta is x itself, right even when z overflows)
    #   z <= 0: log1p(e^z)/beta
    # threshold is +inf for "exact everywhere" (PyTorch's linear region otherwise).
    z = beta * x
    lp = log1p(exp(-fabs(z)))
    r = select(z > 0.0, x + lp / beta, lp / beta)
    # Deep tail with |beta| < 1: e^z is subnormal while e^z/beta need not be; dividing
    # would magnify its lost bits 1/beta times. e^(z - log|beta|) is off by ~|z| eps
    # relative, and cond = |z| there.
    tail = copysign(exp(z - log(fabs(beta))), beta)
    r2 = select(z < by_dtype(-80.0, -700.0) and fabs(beta) < 1.0, tail, r)
    return select(z > threshold, x, r2)


def softplus_derivative(x: float, beta: float, threshold: float) -> float:
    z = beta * x
    return select(z > threshold, 1.0, sigmoid(z))


# ------------------------------------------------------------ rational and algebraic


def softsign(x: float) -> float:
    return select(isinf(x), copysign(1.0, x), x / (1.0 + fabs(x)))  # inf/inf -> +-1


def softsign_derivative(x: float) -> float:
    # (1/(1 + |x|))^2, not 1/(1 + |x|)^2, which overflows to give 0 for |x| > 1.8e19 in
    # float32 where the true value 1/x^2 is still representable.
    r = 1.0 / (1.0 + fabs(x))
    return r * r


def hardsigmoid(x: float, slope: float, offset: float) -> float:
    v = times_slope(slope, x) + offset
    return keep_nan(x, select(v < 0.0, 0.0, select(v > 1.0, 1.0, v)))


def hardsigmoid_derivative(x: float, slope: float, offset: float) -> float:
    v = times_slope(slope, x) + offset  # the knees decided from v itself: 0 at both
    return keep_nan(x, select(v > 0.0 and v < 1.0, slope, 0.0))


def hardswish(x: float) -> float:
    inner = (x * (x + 3.0)) / 6.0  # x + 3 is exact near -3 (Sterbenz)
    return select(x >= 3.0, x, select(x <= -3.0, 0.0, inner))


def hardswish_derivative(x: float) -> float:
    # (2x + 3)/6, not x/3 + 1/2: 2x + 3 is exact near the root -1.5.
    inner = (2.0 * x + 3.0) / 6.0
    return select(x >= 3.0, 1.0, select(x <= -3.0, 0.0, inner))


def tanhshrink(x: float) -> float:
    # x - tanh x loses ~3 eps/x^2 relative near 0 (everything below |x| = 2.4e-4 in
    # float32). For |x| < 2 use Lambert's continued fraction tanh x = x/(1 + q),
    # q = t/(3 + t/(5 + ... t/25)), t = x^2, truncated at depth 12 (6e-21 relative at
    # |x| = 2) and collapsed into one quotient of polynomials with positive integer
    # coefficients (exact in float64): x - tanh x = x t N(t) / D(t), no cancellation.
    # Above 2 the subtraction loses less than a factor 2.
    t = x * x
    num = (
        2635284526875.0
        + t * (210822762150.0 + t * (4714049340.0 + t * (38798760.0 + t * (116025.0 + t * 90.0))))
    )
    den = 7905853580625.0 + t * (
        3794809718700.0
        + t * (252070693875.0 + t * (5237832600.0 + t * (41351310.0 + t * (120120.0 + t * 91.0))))
    )
    near = x * ((t * num) / den)
    return select(fabs(x) < 2.0, near, x - tanh(x))


def tanhshrink_derivative(x: float) -> float:
    th = tanh(x)
    return th * th


def half_sum(a: float, b: float) -> float:
    """(a + b)/2 for a, b >= 0: one rounding, no overflow, no halved subnormal lost."""
    s = a + b
    return select(isinf(s) and not isinf(a) and not isinf(b), 0.5 * a + 0.5 * b, 0.5 * s)


def squareplus(x: float, b: float) -> float:
    # (x + sqrt(x^2 + b))/2 with h = hypot(x, sqrt b) (x*x overflows):
    #   x >= 0: (x + h)/2
    #   x <  0: b/(2(h - x)) = b/(4w), w = (h + |x|)/2: x + h cancels totally for
    #           x < -1e4*sqrt(b) in float32.
    h = hypot(x, sqrt(b))
    w = half_sum(h, fabs(x))
    s = x + h
    pos = select(isinf(s) and not isinf(x), w, 0.5 * s)
    neg = (b / w) * 0.25
    return select(x >= 0.0, pos, neg)


def squareplus_derivative(x: float, b: float) -> float:
    #   x >= 0: (1 + x/h)/2 (h = 0 when x = b = 0: 1/2; x = inf: 1)
    #   x <  0: b/(2h(h - x)) = (r/h)(r/w)/4, r = sqrt b: quotients <= 1, no overflow.
    r = sqrt(b)
    h = hypot(x, r)
    w = half_sum(h, fabs(x))
    pos = select(h == 0.0, 0.5, select(isinf(x), 1.0, 0.5 * (1.0 + x / h)))
    neg = ((r / h) * (r / w)) * 0.25
    return select(x >= 0.0, pos, neg)


# ------------------------------------------------ thinc's: clipped_linear, hard_swish, dish, erf


def clipped_linear(x: float, slope: float, offset: float, min_val: float, max_val: float) -> float:
    v = times_slope(slope, x) + offset
    return keep_nan(x, select(v < min_val, min_val, select(v > max_val, max_val, v)))


def clipped_linear_derivative(
    x: float, slope: float, offset: float, min_val: float, max_val: float
) -> float:
    v = times_slope(slope, x) + offset  # the edges decided from v itself: 0 at both
    return keep_nan(x, select(v > min_val and v < max_val, slope, 0.0))


def thinc_hard_swish(x: float) -> float:
    # x * (0.2 x + 0.5) written x (x + 2.5) / 5: x + 2.5 is exact near the root -2.5
    # (Sterbenz), where 0.2 x + 0.5 would cancel its rounding of 0.2 x.
    inner = (x * (x + 2.5)) / 5.0
    return select(x >= 2.5, x, select(x <= -2.5, 0.0, inner))


def thinc_hard_swish_derivative(x: float) -> float:
    # 0.4 x + 0.5 written (2 x + 2.5) / 5: 2 x + 2.5 is exact near the root -1.25.
    inner = (2.0 * x + 2.5) / 5.0
    return select(x >= 2.5, 1.0, select(x <= -2.5, 0.0, inner))


def dish(x: float) -> float:
    # x (1 + u) / 2 with s = hypot(x, 1) (1 + x*x overflows for |x| > 1.3e154) and
    # u = x / s. For x < 0, 1 + u cancels (totally for x < -1e8 in float64, where the
    # result is 1/(4x)): there 1 + u = 1/(s (s - x)), so dish = u / (4 w) with
    # w = (s + |x|) / 2 = (s - x) / 2, a sum of positive terms.
    s = hypot(x, 1.0)
    u = x / s
    w = half_sum(s, fabs(x))
    pos = (0.5 * x) * (1.0 + u)
    neg = (0.25 * u) / w  # 4 w overflows for w > 4.5e307
    r = select(x >= 0.0, pos, neg)
    return select(isinf(x), select(x > 0.0, x, -0.0), r)  # u = inf/inf there


def dish_derivative(x: float) -> float:
    # 1/2 + u - u^3/2 = (1 + u (1 + 1/s^2)) / 2 (u = x/s, s^2 = 1 + x^2); for x < 0 the
    # sum cancels (to -1/(4 x^2) at -inf) and is rewritten (1 + x s) / (2 s^3 (s - x))
    # = ((x + 1/s) / s) (1/s) / (4 w): quotients of bounded size, no overflow of s^3
    # (at |x| > 2.6e12 in float32), one cancellation left in x + 1/s, at the root of
    # dish' (x = -0.786), where the condition number excuses it.
    s = hypot(x, 1.0)
    u = x / s
    w = half_sum(s, fabs(x))
    pos = 0.5 + (0.5 * u) * (1.0 + 1.0 / (s * s))
    neg = (((x + 1.0 / s) / s) / s) * (0.25 / w)
    r = select(x >= 0.0, pos, neg)
    return select(isinf(x), select(x > 0.0, 1.0, -0.0), r)


def erf_activation(x: float) -> float:
    return erf(x)


def erf_derivative(x: float) -> float:
    # 2/sqrt(pi) exp(-x^2); the rounding of x*x costs x^2 eps/2 relative, within the
    # condition number 2 x^2 of this function.
    return 1.1283791670955126 * exp(-(x * x))


# ------------------------------------------------------------ glu's halves


def glu_value(a: float, b: float) -> float:
    """a * sigmoid(b); a = +-inf with finite b stays +-inf where sigmoid(b) underflows."""
    return select(isinf(a) and not isinf(b) and not isnan(b), a, a * sigmoid(b))


def glu_db(a: float, b: float) -> float:
    """d(a * sigmoid(b))/db = a * sigmoid'(b), in the cancellation-free form."""
    return select(isinf(a) and not isinf(b) and not isnan(b), a, a * sigmoid_derivative(b))


# ------------------------------------------------------------------------------ table


@dataclass(frozen=True)
class Kernels:
    """The formulas serving one activation (or one variant of it)."""

    forward: Formula
    derivative: Formula
    #: h(y) with f'(x) = h(f(x)), where the activation allows backward from y.
    from_output: Formula | None = None
    #: parameter name -> d f / d parameter (elementwise); the backend multiplies by
    #: grad and sums over the parameter's broadcast axes.
    param_factors: Mapping[str, Formula] = field(default_factory=lambda: MappingProxyType({}))


#: Activations whose kernels depend on a "choice" parameter: name -> that parameter.
VARIANT_PARAMS: Mapping[str, str] = MappingProxyType({"gelu": "approximate"})

#: Canonical name (or, for variants, (name, choice)) -> its formulas.
KERNELS: Mapping[str | tuple[str, str], Kernels] = MappingProxyType(
    {
        "sigmoid": Kernels(sigmoid, sigmoid_derivative, sigmoid_from_output),
        "log_sigmoid": Kernels(log_sigmoid, log_sigmoid_derivative),
        "tanh": Kernels(tanh_forward, tanh_derivative, tanh_from_output),
        "relu": Kernels(relu, relu_derivative, relu_derivative),
        "relu6": Kernels(relu6, relu6_derivative, relu6_derivative),
        "leaky_relu": Kernels(leaky_relu, leaky_relu_derivative, leaky_relu_derivative),
        "prelu": Kernels(
            prelu,
            prelu_derivative,
            param_factors=MappingProxyType({"weight": prelu_weight_factor}),
        ),
        "rrelu": Kernels(rrelu, rrelu_derivative),
        "elu": Kernels(elu, elu_derivative, elu_from_output),
        "selu": Kernels(selu, selu_derivative, selu_from_output),
        "celu": Kernels(celu, celu_derivative, celu_from_output),
        ("gelu", "none"): Kernels(gelu, gelu_derivative),
        ("gelu", "tanh"): Kernels(gelu_tanh, gelu_tanh_derivative),
        "silu": Kernels(silu, silu_derivative),
        "mish": Kernels(mish, mish_derivative),
        "softplus": Kernels(softplus, softplus_derivative),
        "softsign": Kernels(softsign, softsign_derivative),
        "hardsigmoid": Kernels(hardsigmoid, hardsigmoid_derivative),
        "hardswish": Kernels(hardswish, hardswish_derivative),
        "hardtanh": Kernels(hardtanh, hardtanh_derivative, hardtanh_derivative),
        "tanhshrink": Kernels(tanhshrink, tanhshrink_derivative),
        "softshrink": Kernels(softshrink, shrink_derivative),
        "hardshrink": Kernels(hardshrink, shrink_derivative),
        "threshold": Kernels(threshold, threshold_derivative),
        "squareplus": Kernels(squareplus, squareplus_derivative),
        "clipped_linear": Kernels(clipped_linear, clipped_linear_derivative),
        "thinc_hard_swish": Kernels(thinc_hard_swish, thinc_hard_swish_derivative),
        "dish": Kernels(dish, dish_derivative),
        "erf": Kernels(erf_activation, erf_derivative),
        "exponential": Kernels(exponential, exponential, identity_of_output),
        "linear": Kernels(linear, ones, ones),
    }
)
