"""High-precision reference definitions of the fastact activations (the test oracle).

Every function here is written from the mathematics with mpmath, independently of
fastact (which this module must never import): a wrong formula in the library cannot
hide by agreeing with itself.  Two rules make the values trustworthy where float
formulas cancel catastrophically (``x - tanh x`` near 0, ``1 - tanh(x)^2`` for large
``x``, ``1 + erf(x)`` for negative ``x``):

* the formulas are chosen without cancellation (``sech^2`` as ``4e/(1+e)^2`` with
  ``e = exp(-2|x|)``, ``erfc`` instead of ``1 + erf``, ``exp(-|x|)/(1+exp(-|x|))^2``
  for the sigmoid's derivative, ...), and
* each point is evaluated at a working precision chosen from the point
  (:func:`working_precision`: 320 bits plus 4 bits per binade of ``|x|`` plus 3 bits per
  unit of ``|x|`` up to 1200), far more than the 106 bits a double-double needs, so
  even a cancellation that slipped through costs nothing visible (test_oracle.py
  checks that doubling it changes no stored bit).

Inputs are Python floats (or mpf) and are taken exactly.  Parameters arrive as the
Python floats that are representable in the dtype under test (the table generator casts
them) and are used exactly; only the SELU constants and the 0.044715 of the tanh GELU
are the exact decimal numbers of their definitions.  At ``x = +-inf`` the functions are
evaluated at ``+-10**1000``: the result is within ``10**-1000`` (relative) of the
limit, so :func:`to_binary` of it is the limit, with the sign with which ``f``
approaches a zero limit (``gelu(-inf) -> -0.0``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import mpmath
from mpmath import mpf

__all__ = [
    "CASES",
    "ELEMENTWISE",
    "KINKS",
    "SELU_ALPHA",
    "SELU_SCALE",
    "Y_CAPABLE",
    "Case",
    "cast_params",
    "derivative",
    "derivative_from_output",
    "forward",
    "glu_jacobian_row",
    "glu_row",
    "log_softmax_jacobian_row",
    "log_softmax_row",
    "resolve_params",
    "second_derivative",
    "softmax_jacobian_row",
    "softmax_row",
    "softmin_jacobian_row",
    "softmin_row",
    "to_binary",
    "working_precision",
]

ParamValue: TypeAlias = float | str | None
Params: TypeAlias = Mapping[str, ParamValue]
Number: TypeAlias = float | int | mpf

#: The SELU constants, as the exact decimal numbers of the contract (not their floats).
SELU_ALPHA = "1.6732632423543772848170429916717"
SELU_SCALE = "1.0507009873554804934193349852946"
#: The cubic coefficient of the tanh approximation of GELU, as an exact decimal.
GELU_TANH_COEFF = "0.044715"

#: Where ``x = +-inf`` is evaluated: far enough that every limit is reached to
#: within 10**-1000, near enough that mpmath stays fast.
_INF_PROXY_EXP = 1000
#: Precision of the axis functions, whose formulas below have no cancellation once
#: the differences ``x_i - max`` are taken exactly.
_AXIS_PREC = 320

_REQUIRED = object()


# --------------------------------------------------------------------------- precision


def working_precision(x: Number) -> int:
    """Bits of working precision for a point: generous, and growing where it must.

    4 bits per binade of ``|x|`` cover formulas whose conditioning grows like ``x^3``
    (``exp(-x^2/2)``, the tanh GELU's ``x^3``) or shrinks like ``x^2`` (``x - tanh x``
    near 0); 3 bits per unit of ``|x|`` (capped at 1200) cover any cancellation
    against ``exp(-2|x|)``.  320 bits is three times what a double-double needs.
    """
    v = _to_mpf(x)
    if not mpmath.isfinite(v) or v == 0:
        return 320
    a = abs(v)
    return 320 + 4 * abs(int(mpmath.mag(a))) + 3 * int(min(a, mpf(1200)))


def _to_mpf(x: Number) -> mpf:
    """Convert exactly (mpf(float) rounds to the context precision, so raise it)."""
    if isinstance(x, mpf):
        return x
    if isinstance(x, int):
        with mpmath.workprec(max(64, x.bit_length())):
            return mpf(x)
    with mpmath.workprec(64):
        return mpf(float(x))


def to_binary(v: mpf, mant_bits: int = 53, min_exp: int = -1022, max_exp: int = 1023) -> float:
    """Round an mpf to the nearest binary floating-point number, ties to even.

    Returns a Python float (the binary32 values are all representable in it).
    Written here because ``float(mpf)`` rounds twice for subnormal results and
    loses the sign of an underflow; this keeps it (``-1e-400 -> -0.0``).
    ``mant_bits``/``min_exp``/``max_exp`` are those of the target format
    (53/-1022/1023 for binary64, 24/-126/127 for binary32).
    """
    if mpmath.isnan(v):
        return math.nan
    if mpmath.isinf(v):
        return math.inf if v > 0 else -math.inf
    sign, man, exp, bc = v._mpf_
    if man == 0:
        return 0.0
    e = exp + bc - 1  # floor(log2 |v|)
    q = max(e, min_exp) - (mant_bits - 1)  # exponent of the last place
    s = -1.0 if sign else 1.0
    if e < q - 1:  # below half the smallest subnormal (exp(-1e308) has a huge e)
        return s * 0.0
    if e > max_exp:
        return s * math.inf
    shift = exp - q
    if shift >= 0:
        n = man << shift
    else:
        n = man >> (-shift)
        rem = man - (n << (-shift))
        half = 1 << (-shift - 1)
        if rem > half or (rem == half and n & 1):
            n += 1
    if n == 0:
        return s * 0.0
    if n.bit_length() + q > max_exp + 1:
        return s * math.inf
    return s * math.ldexp(float(n), q)


def _limit_proxy(x: float) -> mpf:
    with mpmath.workprec(4 * _INF_PROXY_EXP):
        p = mpf(10) ** _INF_PROXY_EXP
    return p if x > 0 else mpmath.fneg(p, exact=True)


# --------------------------------------------------------------------- building blocks


def _exp(x: mpf) -> mpf:
    """exp at the context precision, dodging mpmath's slow path for large integers.

    mpmath computes ``exp(n)`` for an integer ``n`` above 600 bits of precision as
    ``e**n`` by repeated squaring (seconds for ``n ~ 1e308``); shifting the argument
    by an exact 1/2 takes its fast range reduction instead, for one more rounding.
    """
    if mpmath.isfinite(x) and x._mpf_[2] >= 0 and mpmath.mag(x) > 8 and mpmath.mp.prec > 600:
        half = mpf(0.5)
        return mpmath.exp(mpmath.fadd(x, half, exact=True)) * mpmath.exp(-half)
    return mpmath.exp(x)


def _expm1(x: mpf) -> mpf:
    """exp(x) - 1; below -1 the subtraction cannot cancel (the result is <= -0.63)."""
    if x < -1:
        return _exp(x) - 1
    return mpmath.expm1(x)


def _sigmoid(t: mpf) -> mpf:
    """1/(1+exp(-t)) through exp(-|t|), which never overflows nor cancels."""
    e = _exp(-abs(t))
    return 1 / (1 + e) if t >= 0 else e / (1 + e)


def _sigmoid_prime(t: mpf) -> mpf:
    """sigmoid(t)(1 - sigmoid(t)) = e/(1+e)^2 with e = exp(-|t|): no 1 - s."""
    e = _exp(-abs(t))
    return e / (1 + e) ** 2


def _softplus1(t: mpf) -> mpf:
    """log(1 + exp(t)) as t + log1p(exp(-t)) above 0, log1p(exp(t)) below."""
    if t > 0:
        return t + mpmath.log1p(_exp(-t))
    return mpmath.log1p(_exp(t))


def _tanh(x: mpf) -> mpf:
    if abs(x) <= 1:
        return mpmath.tanh(x)
    e = _exp(-2 * abs(x))
    t = (1 - e) / (1 + e)
    return t if x > 0 else -t


def _sech2(x: mpf) -> mpf:
    """1 - tanh(x)^2 = 4e/(1+e)^2 with e = exp(-2|x|): exact far into the tail."""
    e = _exp(-2 * abs(x))
    return 4 * e / (1 + e) ** 2


def _erfc_asymptotic(z: mpf, z2: mpf) -> mpf:
    """erfc(z) for large z from its asymptotic series; z2 = z^2 given exactly.

    exp(-z^2)/(z sqrt(pi)) * sum (-1)^n (2n-1)!!/(2 z^2)^n, summed while the terms
    fall; the caller guarantees z^2 >= 2*prec + 64 so they fall below 2^-prec first.
    """
    prec = mpmath.mp.prec
    eps = mpf(2) ** (-prec - 16)
    total = mpf(1)
    term = mpf(1)
    n = 1
    while True:
        new = -term * (2 * n - 1) / (2 * z2)
        if abs(new) >= abs(term):
            raise ArithmeticError("erfc asymptotic series diverged before converging")
        term = new
        total += term
        if abs(term) < eps:
            break
        n += 1
    return _exp(-z2) / (z * mpmath.sqrt(mpmath.pi)) * total


def _erfc(z: mpf, z2: mpf) -> mpf:
    """erfc(z) with z2 = z^2 exact; 2 - erfc(-z) below 0 (a sum, no cancellation)."""
    if z < 0:
        return 2 - _erfc(-z, z2)
    if z2 >= 2 * mpmath.mp.prec + 64:
        return _erfc_asymptotic(z, z2)
    return mpmath.erfc(z)


def _phi_cdf(x: mpf) -> mpf:
    """Phi(x) = erfc(-x/sqrt 2)/2, with (x/sqrt 2)^2 = x^2/2 taken exactly."""
    z2 = mpmath.fmul(x, x, exact=True) / 2
    return _erfc(-x / mpmath.sqrt(2), z2) / 2


def _phi_pdf(x: mpf) -> mpf:
    x2 = mpmath.fmul(x, x, exact=True)
    return _exp(-x2 / 2) / mpmath.sqrt(2 * mpmath.pi)


def _clip(v: mpf, lo: mpf, hi: mpf) -> mpf:
    return lo if v < lo else hi if v > hi else v


def _ind(cond: bool) -> mpf:
    return mpf(1) if cond else mpf(0)


# ------------------------------------------------------------------ the activations

_P = dict[str, object]  # resolved parameters: floats as mpf, strings and None as they are


def _f_sigmoid(x: mpf, p: _P) -> mpf:
    return _sigmoid(x)


def _d_sigmoid(x: mpf, p: _P) -> mpf:
    return _sigmoid_prime(x)


def _h_sigmoid(y: mpf, p: _P) -> mpf:
    return y * (1 - y)


def _f_log_sigmoid(x: mpf, p: _P) -> mpf:
    # log sigmoid(x) = -log(1 + exp(-x)); both branches add terms of one sign.
    if x < 0:
        return x - mpmath.log1p(_exp(x))
    return -mpmath.log1p(_exp(-x))


def _d_log_sigmoid(x: mpf, p: _P) -> mpf:
    return _sigmoid(-x)


def _f_tanh(x: mpf, p: _P) -> mpf:
    return _tanh(x)


def _d_tanh(x: mpf, p: _P) -> mpf:
    return _sech2(x)


def _h_tanh(y: mpf, p: _P) -> mpf:
    return (1 - y) * (1 + y)


def _f_relu(x: mpf, p: _P) -> mpf:
    return x if x > 0 else mpf(0)


def _d_relu(x: mpf, p: _P) -> mpf:
    return _ind(x > 0)


def _h_relu(y: mpf, p: _P) -> mpf:
    return _ind(y > 0)


def _f_relu6(x: mpf, p: _P) -> mpf:
    return _clip(x, mpf(0), mpf(6))


def _d_relu6(x: mpf, p: _P) -> mpf:
    return _ind(0 < x < 6)


def _h_relu6(y: mpf, p: _P) -> mpf:
    return _ind(0 < y < 6)


def _leaky(slope_key: str) -> tuple[Callable[[mpf, _P], mpf], ...]:
    def f(x: mpf, p: _P) -> mpf:
        return x if x > 0 else _slope(p, slope_key) * x

    def d(x: mpf, p: _P) -> mpf:
        return mpf(1) if x > 0 else _slope(p, slope_key)

    def h(y: mpf, p: _P) -> mpf:
        return mpf(1) if y > 0 else _slope(p, slope_key)

    return f, d, h


def _slope(p: _P, key: str) -> mpf:
    if key == "rrelu":
        return (_m(p, "lower") + _m(p, "upper")) / 2
    return _m(p, key)


def _m(p: _P, key: str) -> mpf:
    v = p[key]
    assert isinstance(v, mpf)
    return v


def _f_elu(x: mpf, p: _P) -> mpf:
    return x if x > 0 else _m(p, "alpha") * _expm1(x)


def _d_elu(x: mpf, p: _P) -> mpf:
    return mpf(1) if x > 0 else _m(p, "alpha") * _exp(x)


def _h_elu(y: mpf, p: _P) -> mpf:
    return mpf(1) if y > 0 else y + _m(p, "alpha")


def _selu_consts() -> tuple[mpf, mpf]:
    return mpf(SELU_ALPHA), mpf(SELU_SCALE)


def _f_selu(x: mpf, p: _P) -> mpf:
    alpha, scale = _selu_consts()
    return scale * x if x > 0 else scale * alpha * _expm1(x)


def _d_selu(x: mpf, p: _P) -> mpf:
    alpha, scale = _selu_consts()
    return scale if x > 0 else scale * alpha * _exp(x)


def _h_selu(y: mpf, p: _P) -> mpf:
    alpha, scale = _selu_consts()
    return scale if y > 0 else y + scale * alpha


def _f_celu(x: mpf, p: _P) -> mpf:
    a = _m(p, "alpha")
    return x if x > 0 else a * _expm1(x / a)


def _d_celu(x: mpf, p: _P) -> mpf:
    a = _m(p, "alpha")
    return mpf(1) if x > 0 else _exp(x / a)


def _h_celu(y: mpf, p: _P) -> mpf:
    return mpf(1) if y > 0 else y / _m(p, "alpha") + 1


def _gelu_tanh_u(x: mpf) -> tuple[mpf, mpf]:
    """u = sqrt(2/pi)(x + c x^3) and du/dx, for 0.5x(1 + tanh u) = x sigmoid(2u)."""
    c1 = mpmath.sqrt(2 / mpmath.pi)
    c2 = mpf(GELU_TANH_COEFF)
    x2 = mpmath.fmul(x, x, exact=True)
    u = c1 * (x + c2 * x2 * x)
    du = c1 * (1 + 3 * c2 * x2)
    return u, du


def _f_gelu(x: mpf, p: _P) -> mpf:
    if p["approximate"] == "tanh":
        # 1 + tanh(u) = 2 sigmoid(2u): no cancellation for negative u.
        u, _ = _gelu_tanh_u(x)
        return x * _sigmoid(2 * u)
    return x * _phi_cdf(x)


def _d_gelu(x: mpf, p: _P) -> mpf:
    if p["approximate"] == "tanh":
        u, du = _gelu_tanh_u(x)
        return _sigmoid(2 * u) + 2 * x * du * _sigmoid_prime(2 * u)
    return _phi_cdf(x) + x * _phi_pdf(x)


def _f_silu(x: mpf, p: _P) -> mpf:
    return x * _sigmoid(_m(p, "beta") * x)


def _d_silu(x: mpf, p: _P) -> mpf:
    bx = _m(p, "beta") * x
    return _sigmoid(bx) + bx * _sigmoid_prime(bx)


def _mish_parts(x: mpf) -> tuple[mpf, mpf]:
    """t = tanh(softplus(x)) and dt/dx, as rational functions of e = exp(-|x|).

    With n = e^x(e^x + 2): tanh(log(1 + e^x)) = n/(n + 2) and
    d/dx = sech^2(softplus) sigmoid(x) = 4(n + 1)/(n + 2)^2 * sigmoid(x); written in
    e = exp(-|x|) neither overflows nor cancels on either side.
    """
    e = _exp(-abs(x))
    if x >= 0:
        q = 1 + 2 * e + 2 * e * e
        t = (1 + 2 * e) / q
        dt = 4 * e * e * (1 + e) / q**2
    else:
        q = e * e + 2 * e + 2
        t = e * (e + 2) / q
        dt = 4 * e * (1 + e) / q**2
    return t, dt


def _f_mish(x: mpf, p: _P) -> mpf:
    t, _ = _mish_parts(x)
    return x * t


def _d_mish(x: mpf, p: _P) -> mpf:
    t, dt = _mish_parts(x)
    return t + x * dt


def _softplus_linear(x: mpf, p: _P) -> bool:
    thr = p["threshold"]
    return thr is not None and _m(p, "beta") * x > thr


def _f_softplus(x: mpf, p: _P) -> mpf:
    if _softplus_linear(x, p):
        return x
    b = _m(p, "beta")
    return _softplus1(b * x) / b


def _d_softplus(x: mpf, p: _P) -> mpf:
    if _softplus_linear(x, p):
        return mpf(1)
    return _sigmoid(_m(p, "beta") * x)


def _f_softsign(x: mpf, p: _P) -> mpf:
    return x / (1 + abs(x))


def _d_softsign(x: mpf, p: _P) -> mpf:
    return 1 / (1 + abs(x)) ** 2


def _f_hardsigmoid(x: mpf, p: _P) -> mpf:
    return _clip(_m(p, "slope") * x + _m(p, "offset"), mpf(0), mpf(1))


def _d_hardsigmoid(x: mpf, p: _P) -> mpf:
    t = _m(p, "slope") * x + _m(p, "offset")
    return _m(p, "slope") if 0 < t < 1 else mpf(0)


def _f_hardswish(x: mpf, p: _P) -> mpf:
    return x * _clip(x + 3, mpf(0), mpf(6)) / 6


def _d_hardswish(x: mpf, p: _P) -> mpf:
    if x <= -3:
        return mpf(0)
    if x < 3:
        return x / 3 + mpf(0.5)
    return mpf(1)


def _f_hardtanh(x: mpf, p: _P) -> mpf:
    return _clip(x, _m(p, "min_val"), _m(p, "max_val"))


def _d_hardtanh(x: mpf, p: _P) -> mpf:
    return _ind(_m(p, "min_val") < x < _m(p, "max_val"))


def _h_hardtanh(y: mpf, p: _P) -> mpf:
    return _ind(_m(p, "min_val") < y < _m(p, "max_val"))


def _f_tanhshrink(x: mpf, p: _P) -> mpf:
    # Cancels like x^3/3 near 0; working_precision adds 4 bits per binade of |x|
    # against the 2 that the cancellation costs.
    return x - _tanh(x)


def _d_tanhshrink(x: mpf, p: _P) -> mpf:
    return _tanh(x) ** 2


def _f_softshrink(x: mpf, p: _P) -> mpf:
    lam = _m(p, "lambd")
    if x > lam:
        return x - lam
    if x < -lam:
        return x + lam
    return mpf(0)


def _d_shrink(x: mpf, p: _P) -> mpf:
    return _ind(abs(x) > _m(p, "lambd"))


def _f_hardshrink(x: mpf, p: _P) -> mpf:
    return x if abs(x) > _m(p, "lambd") else mpf(0)


def _f_threshold(x: mpf, p: _P) -> mpf:
    return _m(p, "value") if x <= _m(p, "threshold") else x


def _d_threshold(x: mpf, p: _P) -> mpf:
    return _ind(x > _m(p, "threshold"))


def _f_squareplus(x: mpf, p: _P) -> mpf:
    b = _m(p, "b")
    s = mpmath.sqrt(mpmath.fmul(x, x, exact=True) + b)
    if x >= 0:
        return (x + s) / 2
    return b / (2 * (s - x))  # (x + s)/2 rationalised: s - x = s + |x|


def _d_squareplus(x: mpf, p: _P) -> mpf:
    b = _m(p, "b")
    s = mpmath.sqrt(mpmath.fmul(x, x, exact=True) + b)
    if s == 0:
        return mpf(0.5)  # b = 0, x = 0: the contract's convention
    if x >= 0:
        return (1 + x / s) / 2
    return b / (2 * s * (s - x))  # (1 + x/s)/2 rationalised


def _f_clipped_linear(x: mpf, p: _P) -> mpf:
    t = _m(p, "slope") * x + _m(p, "offset")
    return _clip(t, _m(p, "min_val"), _m(p, "max_val"))


def _d_clipped_linear(x: mpf, p: _P) -> mpf:
    t = _m(p, "slope") * x + _m(p, "offset")
    return _m(p, "slope") if _m(p, "min_val") < t < _m(p, "max_val") else mpf(0)


def _f_thinc_hard_swish(x: mpf, p: _P) -> mpf:
    return x * _clip(x / 5 + mpf(1) / 2, mpf(0), mpf(1))


def _d_thinc_hard_swish(x: mpf, p: _P) -> mpf:
    if x <= mpf(-5) / 2:
        return mpf(0)
    if x >= mpf(5) / 2:
        return mpf(1)
    return 2 * x / 5 + mpf(1) / 2


def _f_dish(x: mpf, p: _P) -> mpf:
    s = mpmath.sqrt(1 + mpmath.fmul(x, x, exact=True))
    if x >= 0:
        return x * (1 + x / s) / 2
    return x / (2 * s * (s - x))  # x (s + x) / (2 s) rationalised


def _d_dish(x: mpf, p: _P) -> mpf:
    s = mpmath.sqrt(1 + mpmath.fmul(x, x, exact=True))
    if x >= 0:
        return mpf(1) / 2 + x / s - x**3 / (2 * s**3)
    return (1 + x * s) / (2 * s**3 * (s - x))  # 1/2 + x/s - x^3/(2 s^3) rationalised


def _f_erf(x: mpf, p: _P) -> mpf:
    return mpmath.erf(x)


def _d_erf(x: mpf, p: _P) -> mpf:
    return 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-mpmath.fmul(x, x, exact=True))


def _f_exponential(x: mpf, p: _P) -> mpf:
    return _exp(x)


def _h_exponential(y: mpf, p: _P) -> mpf:
    return y


def _f_linear(x: mpf, p: _P) -> mpf:
    return x


def _one(x: mpf, p: _P) -> mpf:
    return mpf(1)


# ----------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class _Spec:
    f: Callable[[mpf, _P], mpf]
    d: Callable[[mpf, _P], mpf]
    h: Callable[[mpf, _P], mpf] | None
    defaults: dict[str, object]


_leaky_f, _leaky_d, _leaky_h = _leaky("negative_slope")
_prelu_f, _prelu_d, _ = _leaky("weight")
_rrelu_f, _rrelu_d, _ = _leaky("rrelu")

_SPECS: dict[str, _Spec] = {
    "sigmoid": _Spec(_f_sigmoid, _d_sigmoid, _h_sigmoid, {}),
    "log_sigmoid": _Spec(_f_log_sigmoid, _d_log_sigmoid, None, {}),
    "tanh": _Spec(_f_tanh, _d_tanh, _h_tanh, {}),
    "relu": _Spec(_f_relu, _d_relu, _h_relu, {}),
    "relu6": _Spec(_f_relu6, _d_relu6, _h_relu6, {}),
    "leaky_relu": _Spec(_leaky_f, _leaky_d, _leaky_h, {"negative_slope": 0.01}),
    "prelu": _Spec(_prelu_f, _prelu_d, None, {"weight": _REQUIRED}),
    "rrelu": _Spec(_rrelu_f, _rrelu_d, None, {"lower": 1 / 8, "upper": 1 / 3}),
    "elu": _Spec(_f_elu, _d_elu, _h_elu, {"alpha": 1.0}),
    "selu": _Spec(_f_selu, _d_selu, _h_selu, {}),
    "celu": _Spec(_f_celu, _d_celu, _h_celu, {"alpha": 1.0}),
    "gelu": _Spec(_f_gelu, _d_gelu, None, {"approximate": "none"}),
    "silu": _Spec(_f_silu, _d_silu, None, {"beta": 1.0}),
    "mish": _Spec(_f_mish, _d_mish, None, {}),
    "softplus": _Spec(_f_softplus, _d_softplus, None, {"beta": 1.0, "threshold": None}),
    "softsign": _Spec(_f_softsign, _d_softsign, None, {}),
    "hardsigmoid": _Spec(_f_hardsigmoid, _d_hardsigmoid, None, {"slope": 1 / 6, "offset": 0.5}),
    "hardswish": _Spec(_f_hardswish, _d_hardswish, None, {}),
    "hardtanh": _Spec(_f_hardtanh, _d_hardtanh, _h_hardtanh, {"min_val": -1.0, "max_val": 1.0}),
    "tanhshrink": _Spec(_f_tanhshrink, _d_tanhshrink, None, {}),
    "softshrink": _Spec(_f_softshrink, _d_shrink, None, {"lambd": 0.5}),
    "hardshrink": _Spec(_f_hardshrink, _d_shrink, None, {"lambd": 0.5}),
    "threshold": _Spec(
        _f_threshold, _d_threshold, None, {"threshold": _REQUIRED, "value": _REQUIRED}
    ),
    "squareplus": _Spec(_f_squareplus, _d_squareplus, None, {"b": 4.0}),
    "clipped_linear": _Spec(
        _f_clipped_linear,
        _d_clipped_linear,
        None,
        {"slope": 1.0, "offset": 0.0, "min_val": 0.0, "max_val": 1.0},
    ),
    "thinc_hard_swish": _Spec(_f_thinc_hard_swish, _d_thinc_hard_swish, None, {}),
    "dish": _Spec(_f_dish, _d_dish, None, {}),
    "erf": _Spec(_f_erf, _d_erf, None, {}),
    "exponential": _Spec(_f_exponential, _f_exponential, _h_exponential, {}),
    "linear": _Spec(_f_linear, _one, _one, {}),
}

#: The elementwise activations, by their canonical names.
ELEMENTWISE: tuple[str, ...] = tuple(_SPECS)

#: The elementwise activations whose derivative is a function of the output (the
#: contract's list; leaky_relu only for slope > 0, elu and celu for alpha > 0).
Y_CAPABLE: frozenset[str] = frozenset(n for n, s in _SPECS.items() if s.h is not None)


def resolve_params(name: str, params: Params | None = None) -> dict[str, ParamValue]:
    """The parameters of one call: the defaults of ``name`` updated by ``params``.

    Raises KeyError for an unknown activation, TypeError for an unknown or missing
    parameter, so a typo in a test cannot silently test the defaults.
    """
    spec = _SPECS[name]
    out: dict[str, object] = dict(spec.defaults)
    for k, v in (params or {}).items():
        if k not in spec.defaults:
            raise TypeError(f"{name} has no parameter {k!r}")
        out[k] = v
    missing = [k for k, v in out.items() if v is _REQUIRED]
    if missing:
        raise TypeError(f"{name} needs parameter(s) {missing}")
    return out  # type: ignore[return-value]


def _mp_params(name: str, params: Params | None) -> _P:
    p: _P = {}
    for k, v in resolve_params(name, params).items():
        if isinstance(v, str) or v is None:
            p[k] = v
        else:
            p[k] = _to_mpf(float(v))
    if name == "gelu" and p["approximate"] not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', not {p['approximate']!r}")
    return p


def _evaluate(fn: Callable[[mpf, _P], mpf], name: str, x: Number, params: Params | None) -> mpf:
    p = _mp_params(name, params)
    xm = _to_mpf(x)
    if mpmath.isnan(xm):
        return mpf("nan")
    if mpmath.isinf(xm):
        xm = _limit_proxy(float(xm))
    with mpmath.workprec(max(working_precision(xm), mpmath.mp.prec)):
        return +fn(xm, p)


def forward(name: str, x: Number, params: Params | None = None) -> mpf:
    """f(x) of the activation ``name`` with ``params`` (defaults filled in).

    NaN gives NaN; ``+-inf`` gives the value at ``+-10**1000`` (the limit to 1000
    digits; :func:`to_binary` of it is the limit with the sign of its approach).
    The precision is :func:`working_precision` of x, or the caller's mpmath
    precision if that is higher (so mpmath.diff of these functions works).
    """
    return _evaluate(_SPECS[name].f, name, x, params)


def derivative(name: str, x: Number, params: Params | None = None) -> mpf:
    """f'(x), with the contract's values at the kinks (relu'(0) = 0, elu'(0) = alpha...)."""
    return _evaluate(_SPECS[name].d, name, x, params)


def derivative_from_output(name: str, y: Number, params: Params | None = None) -> mpf:
    """h(y), the derivative as a function of the output, evaluated exactly at ``y``.

    The contract holds the y-path to h at the given float y (not to f'(x)), so this
    is what a backward-from-y is compared with.  ValueError for activations (or
    parameters) that do not allow it.
    """
    spec = _SPECS[name]
    if spec.h is None:
        raise ValueError(f"{name} has no derivative from the output; pass x")
    p = _mp_params(name, params)
    if name == "leaky_relu" and not _m(p, "negative_slope") > 0:
        raise ValueError("leaky_relu: the derivative from y needs negative_slope > 0")
    if name in ("elu", "celu") and not _m(p, "alpha") > 0:
        raise ValueError(f"{name}: the derivative from y needs alpha > 0")
    ym = _to_mpf(y)
    if mpmath.isnan(ym):
        return mpf("nan")
    with mpmath.workprec(max(working_precision(ym), mpmath.mp.prec)):
        return +spec.h(ym, p)


def second_derivative(name: str, x: Number, params: Params | None = None) -> mpf:
    """f''(x) by a central difference of :func:`derivative`, for condition numbers.

    The step is relative, ``|x| * 2**-(64 + 2|log2|x||)``, so it never reaches a kink
    the dtype can tell apart from x (a float32 neighbour is 2**-24 away), and the
    truncation error (relative ``h^2 f'''/f''``) stays below 2**-64 even where f''
    varies like exp(x^2).  The working precision is raised by the step's bits so the
    difference does not cancel.  At x = 0 the step is absolute, 2**-80.  The result
    is good to far more digits than a condition number needs, except at a kink,
    where f'' does not exist (the generator marks those points instead).
    """
    spec = _SPECS[name]
    p = _mp_params(name, params)
    xm = _to_mpf(x)
    if mpmath.isnan(xm):
        return mpf("nan")
    if mpmath.isinf(xm):
        xm = _limit_proxy(float(xm))
    base = working_precision(xm)
    if xm == 0:
        step_bits, hexp = 80, -80
    else:
        lg = int(mpmath.mag(xm))
        step_bits = 64 + 2 * abs(lg)
        hexp = lg - step_bits
    with mpmath.workprec(base + step_bits + 64):
        h = mpmath.ldexp(mpf(1), hexp)
        up = spec.d(mpmath.fadd(xm, h, exact=True), p)
        down = spec.d(mpmath.fsub(xm, h, exact=True), p)
        return (up - down) / (2 * h)


# ---------------------------------------------------------------------------- kinks


def _kinks_exact(name: str, params: Params | None) -> list[mpf]:
    p = _mp_params(name, params)
    with mpmath.workprec(320):
        ks: list[mpf]
        if name in ("relu", "leaky_relu", "prelu", "rrelu", "elu", "celu", "selu"):
            ks = [mpf(0)]
        elif name == "relu6":
            ks = [mpf(0), mpf(6)]
        elif name == "hardsigmoid":
            slope, offset = _m(p, "slope"), _m(p, "offset")
            ks = [] if slope == 0 else [-offset / slope, (1 - offset) / slope]
        elif name == "hardswish":
            ks = [mpf(-3), mpf(3)]
        elif name == "thinc_hard_swish":
            ks = [mpf(-5) / 2, mpf(5) / 2]
        elif name == "clipped_linear":
            slope, offset = _m(p, "slope"), _m(p, "offset")
            edges = [e for e in (_m(p, "min_val"), _m(p, "max_val")) if mpmath.isfinite(e)]
            ks = [] if slope == 0 else [(e - offset) / slope for e in edges]
        elif name == "hardtanh":
            ks = [_m(p, "min_val"), _m(p, "max_val")]
        elif name in ("softshrink", "hardshrink"):
            ks = [-_m(p, "lambd"), _m(p, "lambd")]
        elif name == "threshold":
            ks = [_m(p, "threshold")]
        elif name == "softplus":
            thr = p["threshold"]
            ks = [] if thr is None else [thr / _m(p, "beta")]
        elif name == "squareplus":
            ks = [mpf(0)] if _m(p, "b") == 0 else []
        else:
            ks = []
        out: list[mpf] = []
        for k in sorted(ks):
            if not out or k != out[-1]:
                out.append(+k)
        return out


def KINKS(name: str, params: Params | None = None) -> list[float]:
    """x positions where f' jumps (or f itself, for threshold/hardshrink), as floats.

    The knees of hardsigmoid (-offset/slope, (1-offset)/slope) are generally not
    floats; they are rounded to the nearest binary64 here.  Near these points the
    derivative is a convention (or a coin toss in floating point), so the tables
    excuse it (cond_d = inf) and the kink tests check the conventions instead.
    """
    return [to_binary(k) for k in _kinks_exact(name, params)]


def kinks_exact(name: str, params: Params | None = None) -> list[mpf]:
    """The kinks of :func:`KINKS` as exact mpf values (for distances in ulps)."""
    return _kinks_exact(name, params)


# ---------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One activation with one parameter set: a unit of the reference tables."""

    id: str
    name: str
    params: dict[str, ParamValue] = field(default_factory=dict)


def _case(id_: str, name: str, **params: ParamValue) -> Case:
    return Case(id_, name, resolve_params(name, params))


CASES: list[Case] = [
    _case("sigmoid", "sigmoid"),
    _case("log_sigmoid", "log_sigmoid"),
    _case("tanh", "tanh"),
    _case("relu", "relu"),
    _case("relu6", "relu6"),
    _case("leaky_relu", "leaky_relu"),
    _case("leaky_relu-0.2", "leaky_relu", negative_slope=0.2),
    _case("prelu", "prelu", weight=0.25),
    _case("prelu-neg0.5", "prelu", weight=-0.5),
    _case("rrelu", "rrelu"),
    _case("rrelu-0.1-0.3", "rrelu", lower=0.1, upper=0.3),
    _case("elu", "elu"),
    _case("elu-0.5", "elu", alpha=0.5),
    _case("selu", "selu"),
    _case("celu", "celu"),
    _case("celu-2", "celu", alpha=2.0),
    _case("gelu", "gelu"),
    _case("gelu-tanh", "gelu", approximate="tanh"),
    _case("silu", "silu"),
    _case("silu-1.5", "silu", beta=1.5),
    _case("mish", "mish"),
    _case("softplus", "softplus"),
    _case("softplus-b2-t20", "softplus", beta=2.0, threshold=20.0),
    _case("softsign", "softsign"),
    _case("hardsigmoid", "hardsigmoid"),
    _case("hardsigmoid-0.25", "hardsigmoid", slope=0.25, offset=0.5),
    _case("hardswish", "hardswish"),
    _case("hardtanh", "hardtanh"),
    _case("hardtanh-m2-3", "hardtanh", min_val=-2.0, max_val=3.0),
    _case("tanhshrink", "tanhshrink"),
    _case("softshrink", "softshrink"),
    _case("softshrink-1", "softshrink", lambd=1.0),
    _case("hardshrink", "hardshrink"),
    _case("hardshrink-1", "hardshrink", lambd=1.0),
    _case("threshold", "threshold", threshold=0.5, value=-2.0),
    _case("threshold-m1-0", "threshold", threshold=-1.0, value=0.0),
    _case("squareplus", "squareplus"),
    _case("squareplus-b0", "squareplus", b=0.0),
    _case("squareplus-b1", "squareplus", b=1.0),
    _case("clipped_linear", "clipped_linear"),
    _case(
        "clipped_linear-0.5-0.25-m1-1",
        "clipped_linear",
        slope=0.5,
        offset=0.25,
        min_val=-1.0,
        max_val=1.0,
    ),
    _case("thinc_hard_swish", "thinc_hard_swish"),
    _case("dish", "dish"),
    _case("erf", "erf"),
    _case("exponential", "exponential"),
    _case("linear", "linear"),
]


def cast_params(params: Params, dtype: object) -> dict[str, ParamValue]:
    """The parameters as the dtype holds them: floats rounded to ``dtype``, exactly.

    The implementation casts parameters to the compute dtype, so the oracle must be
    evaluated with the cast values (0.01 in float32 is 0.00999999977648258...).
    ``dtype`` is anything ``numpy.dtype`` takes.
    """
    import numpy as np  # local: the oracle's mathematics does not need numpy

    dt = np.dtype(dtype)  # type: ignore[call-overload]
    out: dict[str, ParamValue] = {}
    for k, v in params.items():
        out[k] = v if isinstance(v, str) or v is None else float(dt.type(v))
    return out


# ---------------------------------------------------------------- axis functions


def _row(xs: Sequence[Number]) -> list[mpf]:
    return [_to_mpf(x) for x in xs]


def _row_is_nan(xs: list[mpf]) -> bool:
    """The contract: NaN in, or +inf in, or nothing but -inf: the row is NaN."""
    if any(mpmath.isnan(x) for x in xs) or any(mpmath.isinf(x) and x > 0 for x in xs):
        return True
    return all(mpmath.isinf(x) for x in xs)


def _softmax_parts(xs: list[mpf]) -> tuple[list[mpf], list[mpf], mpf, list[mpf]]:
    """e_i = exp(x_i - max) with the difference taken exactly, their sum, and for
    each i the sum of the others (so 1 - s_i is a sum, never a subtraction)."""
    finite = [x for x in xs if mpmath.isfinite(x)]
    m = max(finite)
    ds = [mpmath.fsub(x, m, exact=True) if mpmath.isfinite(x) else mpf("-inf") for x in xs]
    es = [mpf(0) if mpmath.isinf(d) else _exp(d) for d in ds]
    total = mpmath.fsum(es)
    others = [mpmath.fsum(es[:i] + es[i + 1 :]) for i in range(len(es))]
    return ds, es, total, others


def softmax_row(xs: Sequence[Number]) -> list[mpf]:
    """softmax of one row: exp(x_i)/sum exp(x_j), exact for any magnitudes."""
    row = _row(xs)
    if not row:
        return []
    if _row_is_nan(row):
        return [mpf("nan")] * len(row)
    with mpmath.workprec(_AXIS_PREC):
        _, es, total, _ = _softmax_parts(row)
        return [e / total for e in es]


def log_softmax_row(xs: Sequence[Number]) -> list[mpf]:
    """x_i - log sum exp(x_j) as (x_i - max) - log1p(sum of the non-max terms).

    Both terms are <= 0, so nothing cancels, even where the result is tiny (the
    largest element of a row with one dominant entry).
    """
    row = _row(xs)
    if not row:
        return []
    if _row_is_nan(row):
        return [mpf("nan")] * len(row)
    with mpmath.workprec(_AXIS_PREC):
        ds, es, _, others = _softmax_parts(row)
        k = max(range(len(row)), key=lambda i: (es[i], -i))  # an arg-max, e_k = 1
        lse = mpmath.log1p(others[k])
        return [mpf("-inf") if mpmath.isinf(d) else d - lse for d in ds]


def softmin_row(xs: Sequence[Number]) -> list[mpf]:
    """softmin(x) = softmax(-x) (so a -inf in x is a +inf of softmax: a NaN row)."""
    return softmax_row(_negated(xs))


def _negated(xs: Sequence[Number]) -> list[mpf]:
    """-x exactly, whatever the caller's mpmath precision."""
    return [mpmath.fneg(_to_mpf(x), exact=True) for x in xs]


def _nan_matrix(n_rows: int, n_cols: int) -> list[list[mpf]]:
    return [[mpf("nan")] * n_cols for _ in range(n_rows)]


def _softmax_family_jacobian(
    xs: Sequence[Number], entry: Callable[[int, int, list[mpf], mpf, list[mpf]], mpf]
) -> list[list[mpf]]:
    """J[i][j] = entry(i, j, es, total, others) from the softmax parts of the row; a
    NaN row gives a NaN matrix, an empty row an empty one."""
    row = _row(xs)
    n = len(row)
    if n and _row_is_nan(row):
        return _nan_matrix(n, n)
    with mpmath.workprec(_AXIS_PREC):
        if not n:
            return []
        _, es, total, others = _softmax_parts(row)
        return [[entry(i, j, es, total, others) for j in range(n)] for i in range(n)]


def softmax_jacobian_row(xs: Sequence[Number]) -> list[list[mpf]]:
    """J[i][j] = dy_i/dx_j = s_i (delta_ij - s_j); the diagonal as s_i * (sum of the
    other s_k), without the cancellation of 1 - s_i."""

    def entry(i: int, j: int, es: list[mpf], total: mpf, others: list[mpf]) -> mpf:
        s_i = es[i] / total
        return s_i * (others[i] / total) if i == j else -s_i * (es[j] / total)

    return _softmax_family_jacobian(xs, entry)


def log_softmax_jacobian_row(xs: Sequence[Number]) -> list[list[mpf]]:
    """J[i][j] = delta_ij - s_j, the diagonal as the sum of the other s_k."""

    def entry(i: int, j: int, es: list[mpf], total: mpf, others: list[mpf]) -> mpf:
        return others[i] / total if i == j else -es[j] / total

    return _softmax_family_jacobian(xs, entry)


def softmin_jacobian_row(xs: Sequence[Number]) -> list[list[mpf]]:
    """d softmax(-x)/dx = -(the softmax Jacobian at -x)."""
    jac = softmax_jacobian_row(_negated(xs))
    return [_negated(r) for r in jac]


def _glu_halves(xs: Sequence[Number]) -> tuple[list[mpf], list[mpf]]:
    row = _row(xs)
    if len(row) % 2:
        raise ValueError(f"glu needs an even length along the axis, got {len(row)}")
    h = len(row) // 2
    return row[:h], row[h:]


def _sigmoid_any(t: mpf) -> mpf:
    if mpmath.isinf(t):
        return mpf(1) if t > 0 else mpf(0)
    return _sigmoid(t)


def _sigmoid_prime_any(t: mpf) -> mpf:
    return mpf(0) if mpmath.isinf(t) else _sigmoid_prime(t)


def glu_row(xs: Sequence[Number]) -> list[mpf]:
    """glu: a * sigmoid(b) with a the first half, b the second (IEEE inf*0 -> NaN)."""
    a, b = _glu_halves(xs)
    with mpmath.workprec(_AXIS_PREC):
        return [ai * _sigmoid_any(bi) for ai, bi in zip(a, b, strict=True)]


def glu_jacobian_row(xs: Sequence[Number]) -> list[list[mpf]]:
    """J[i][j] for y_i = a_i sigmoid(b_i): sigmoid(b_i) at j = i and
    a_i sigmoid'(b_i) at j = n/2 + i, 0 elsewhere (shape n/2 x n)."""
    a, b = _glu_halves(xs)
    h = len(a)
    with mpmath.workprec(_AXIS_PREC):
        jac: list[list[mpf]] = []
        for i in range(h):
            r = [mpf(0)] * (2 * h)
            r[i] = _sigmoid_any(b[i])
            r[h + i] = a[i] * _sigmoid_prime_any(b[i])
            jac.append(r)
        return jac
