"""Vectorisable scalar math for numba kernels, float32 and float64.

Numba from PyPI has no SVML, so ``math.exp`` and friends stay scalar libm
calls inside ``@vectorize`` loops (5-30x slower than NumPy's SIMD loops).
The functions here are built only from + - * /, ``llvm.fma``, ``llvm.sqrt``,
integer operations on the bit patterns, comparisons and selects, so LLVM's
loop vectoriser turns a ``@vectorize``/``@njit`` loop over them into AVX-512
code (``<8 x double>`` / ``<16 x float>``, no calls).

``PRIMITIVES[dtype_name][name]`` binds the names used by ``fastact._formulas``
(exp, expm1, log, log1p, tanh, erf, erfc, sqrt, hypot, fabs, copysign, fmin,
fmax, isnan, isinf) to njit functions callable from other njit/vectorize code.

Floating-point flags
--------------------
NumPy checks the FPU status flags after every ufunc loop, numba's included,
and warns on *invalid*, *divide* and *overflow*.  Vectorised code evaluates
every branch in every lane, and AVX-512 ordered compares (``vcmppd`` with the
LT_OS/LE_OS predicates LLVM emits for ``<``, ``<=``) and ``vminpd``/``vmaxpd``
raise *invalid* for a quiet NaN operand: measured, ``x if x > 0 else 0`` over
a NaN array warns "invalid value encountered".  So every decision here is an
integer comparison on the bit pattern, and every operand is made harmless
(clamped through an integer-selected value) before an operation that could
overflow, divide by zero or produce inf - inf.  Overflowing results (exp of
large x) are selected constants, so no overflow flag either.  Only the
*underflow* flag can be raised (gradual underflow of exp, erfc), and NumPy
ignores underflow by default.  ``lt``/``le``/``gt``/``ge`` are quiet
comparisons (False when either operand is NaN) for code built on top.

Floating-point semantics
------------------------
No fast-math flags: every function is plain IEEE (Horner steps use an
explicit ``llvm.fma``), so results are deterministic and do not depend on the
caller's flags.  This matters: ``reassoc`` would let LLVM fold the error-free
two-sum in ``log1p`` to zero and ``contract`` could fuse ``x*x`` in one of two
places an error-free product needs it.  The functions are plain ``@njit``
(not ``inline="always"``): numba's IR inlining would compile them with the
caller's fast-math flags, whereas LLVM inlines them into the caller's loop
(checked: no calls remain in the vectorised loop) keeping these flags.

Algorithms (float64)
--------------------
exp
    n = round(x / ln2) with the 1.5*2**52 shifter (no float->int conversion,
    which would raise *invalid* on NaN), r = x - n*ln2 (Cody-Waite, ln2 split
    as in fdlibm), exp(r) = 1 + (r + r**2 q(r)), q of degree 10 interpolated
    at Chebyshev nodes on |r| <= 0.3466 with mpmath (relative error 5e-18).
    2**n is applied as two bit-built factors 2**(n//2) * 2**(n - n//2), so
    the result underflows gradually through the subnormals with one rounding.
expm1
    The same reduction; expm1(x) = 2 * (s*e + (s - 1/2)) with s = 2**(n-1),
    e = expm1(r) = r + r**2 q(r): for |x| < ln2/2, n = 0 and the result is e
    itself (relative accuracy near 0), s - 1/2 is exact, the final *2 exact.
log, log1p
    fdlibm/musl (``e_log.c``/``s_log1p.c``, Sun Microsystems, freely
    redistributable): x = 2**k (1+f), sqrt(2)/2 <= 1+f < sqrt(2) from the bit
    pattern, s = f/(2+f), log(1+f) = f - hfsq + s*(hfsq + R(s**2)) with
    musl's Lg1..Lg7.  log1p uses f = x directly when 1+x is in that range,
    otherwise u = 1+x rounded with its exact error c (two-sum) added as c/u.
tanh
    tanh|x| = -t / (t + 2), t = expm1(-2|x|) (as musl's tanh), sign copied;
    |x| > 22 gives exactly +-1.
erf, erfc
    fdlibm/musl ``s_erf.c`` (same licence) rational approximations on
    [0, 0.84375), [0.84375, 1.25), [1.25, 2.857), [2.857, 28); for SIMD the
    coefficients of the two small-argument rationals are blended with selects
    into one evaluation, likewise the two tail rationals, so each call costs
    two rational evaluations whatever the mix of lanes.  The tail is
    exp(-z*z - 0.5625) * exp((z - x)(z + x) + R/S) / x with z = x rounded to
    21 bits (z*z exact), so erfc keeps its relative accuracy until it
    underflows (erfc(26) = 5.663e-296); erfc(x < 0) = 2 - erfc(-x).
sqrt
    ``llvm.sqrt`` (``vsqrtpd``), negative input selected to NaN without the
    *invalid* flag.

float32
    Native float32 arithmetic (8 lanes per ymm, 16 per zmm, twice float64's), the
    integer work on int32 bit patterns through int32 intrinsics (numba widens int32
    arithmetic to int64, which cost half the loop in <8 x i64> emulation on AVX2).
    exp and expm1: the same reduction with a 12-bit ln2_hi, degree-5 q; expm1's
    finish 2**n (e + (1 - 2**-n)) (fdlibm's split above n = 24). log, log1p:
    musl's logf structure with a 3-term R. tanh: x + x**3 P(x**2) up to 0.75, then
    1 - 2/(t + 2), t = expm1(2|x|). erf: x + x P(x**2) up to 1; erfc and erf's
    tail: exp(-x**2) t Q(t - c), t = 1/(1 + x/2), x**2 split exactly by an fma
    and t's rounding error corrected to first order. Every polynomial comes from
    tools/fit_f32_math.py. hypot: float64's method in float32.

Where LLVM inlines: the ufunc loop that ``@vectorize`` builds *calls* the
kernel and LLVM inlines it only below its inline threshold: exp, expm1, log,
tanh, sqrt kernels are inlined and vectorised; log1p, erf and erfc kernels
are not (measured: scalar calls, 11-30 ns/element).  An ``@njit`` loop (or a
``@guvectorize`` kernel with the loop inside) has the whole body in one
function and vectorises all of them (log1p 1.8, erf/erfc 4.6 ns/element).

Measured accuracy (float64: against mpmath, random bit patterns over all binades
plus |x| < 30 and tiny |x|, 9000+ points per function; float32: every 23rd
float32 bit pattern, 187e6 points, against float64 NumPy/SciPy), max ulp float64 /
float32: exp 0.97 / 0.97, expm1 1.04 / 1.32, log 0.68 / 0.81, log1p 0.64 / 0.84,
tanh 1.60 (x = 0.175, the -t/(t+2) branch) / 1.12, erf 0.85 / 0.96, erfc 1.39 /
3.62 (x = 1.89), sqrt 0.50 / 0.50.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["PRIMITIVES"]

_f64 = np.float64
_f32 = np.float32
_i64 = np.int64

# --------------------------------------------------------------------------
# Intrinsics: bit casts and a real fused multiply-add.


def _bitcast(src: Any, dst: Any, doc: str) -> Any:
    """An intrinsic src -> dst reinterpreting the bits (``builder.bitcast``: free in
    SIMD). An int64 source takes any integer (converted first: numba's integer
    arithmetic yields int64); an int32 source only int32."""
    lltype = {types.int64: ir.IntType(64), types.int32: ir.IntType(32),
              types.float64: ir.DoubleType(), types.float32: ir.FloatType()}[dst]  # fmt: skip

    def typer(typingctx: Any, x: Any) -> Any:
        integer_source = isinstance(src, types.Integer) and src == types.int64
        if not (x == src or (integer_source and isinstance(x, types.Integer))):
            return None

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            v = context.cast(builder, args[0], sig.args[0], src)
            return builder.bitcast(v, lltype)

        return dst(x), codegen

    typer.__doc__ = doc
    return intrinsic(typer)


_f64_bits: Any = _bitcast(types.float64, types.int64, "bit pattern of a float64 as int64")
_bits_f64: Any = _bitcast(types.int64, types.float64, "float64 with the given bit pattern")


def _fma_typer(typingctx: Any, a: Any, b: Any, c: Any) -> Any:
    """a*b + c with one rounding (``llvm.fma``: one vfmadd per lane)."""
    if not (a == b == c and isinstance(a, types.Float)):
        return None

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.fma(*args)

    return a(a, a, a), codegen


_fma: Any = intrinsic(_fma_typer)


def _clz64_typer(typingctx: Any, n: Any) -> Any:
    """Leading zero bits of an int64 (``llvm.ctlz``: vplzcntq on AVX-512)."""
    if n != types.int64:
        return None

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.ctlz(args[0], ir.Constant(ir.IntType(1), 0))

    return types.int64(types.int64), codegen


_clz64: Any = intrinsic(_clz64_typer)


# --------------------------------------------------------------------------
# Bit-pattern constants (int64 so numba never mixes in uint64 -> float64).

_ABS = _i64(0x7FFFFFFFFFFFFFFF)
_SIGN = _i64(-0x8000000000000000)
_INF_BITS = _i64(0x7FF0000000000000)
_HI32 = _i64(-0x100000000)  # keeps the high 32 bits (fdlibm's SET_LOW_WORD(z, 0))


def _bits_of(v: float) -> np.int64:
    return np.int64(np.array(v, dtype=np.float64).view(np.int64).item())


_INF = _f64(np.inf)
_NAN = _f64(np.nan)

# exp / expm1 ------------------------------------------------------------------
_LOG2E = _f64(1.4426950408889634)
_SHIFT = _f64(6755399441055744.0)  # 1.5 * 2**52: x + _SHIFT rounds x to an integer
_SHIFT_BITS = _bits_of(6755399441055744.0)
_LN2_HI = _f64(6.93147180369123816490e-01)  # fdlibm: n * _LN2_HI exact for |n| < 2**20
_LN2_LO = _f64(1.90821492927058770002e-10)
# q(r) = (expm1(r) - r) / r**2 on |r| <= 0.3466, degree 10, Chebyshev-node
# interpolation with mpmath (50 digits): max relative error 4.8e-18.
_Q0 = _f64(0.5)
_Q1 = _f64(0.1666666666666667)
_Q2 = _f64(0.04166666666666667)
_Q3 = _f64(0.008333333333326136)
_Q4 = _f64(0.001388888888888375)
_Q5 = _f64(0.00019841269874815834)
_Q6 = _f64(2.480158732554432e-05)
_Q7 = _f64(2.7557255406285044e-06)
_Q8 = _f64(2.7557273647451087e-07)
_Q9 = _f64(2.5105214474751413e-08)
_Q10 = _f64(2.0914685161418067e-09)
# Degree 5 for float32 results (computed in float64): relative error 2.9e-9,
# 1/20 of a float32 half-ulp.
_S0 = _f64(0.5000000013463886)
_S1 = _f64(0.16666666681621095)
_S2 = _f64(0.041666464944505696)
_S3 = _f64(0.008333310927615311)
_S4 = _f64(0.0013933647862928863)
_S5 = _f64(0.00019890988455544567)

_EXP_OVER = _bits_of(709.782712893384)  # largest x with finite exp(x)
_EXP_UNDER = _bits_of(745.1332191019412)  # exp(x) < 2**-1075 below -this: rounds to 0
_EXP_CLAMP = _bits_of(746.0)
_EXPM1_LOW = _bits_of(40.0)  # expm1(x) == -1.0 for x < -40 (e**-40 < 2**-55)


@njit(error_model="numpy", inline="always")
def _expm1_q(r: float) -> float:
    """expm1(r) for |r| <= 0.3466: r + r**2 q(r)."""
    q = _fma(r, _Q10, _Q9)
    q = _fma(r, q, _Q8)
    q = _fma(r, q, _Q7)
    q = _fma(r, q, _Q6)
    q = _fma(r, q, _Q5)
    q = _fma(r, q, _Q4)
    q = _fma(r, q, _Q3)
    q = _fma(r, q, _Q2)
    q = _fma(r, q, _Q1)
    q = _fma(r, q, _Q0)
    return _fma(r * r, q, r)


@njit(error_model="numpy", inline="always")
def _expm1_q_short(r: float) -> float:
    """expm1(r) for |r| <= 0.3466 to 3e-9 relative (enough for float32)."""
    q = _fma(r, _S5, _S4)
    q = _fma(r, q, _S3)
    q = _fma(r, q, _S2)
    q = _fma(r, q, _S1)
    q = _fma(r, q, _S0)
    return _fma(r * r, q, r)


@njit(error_model="numpy", inline="always")
def _reduce(x: float) -> tuple[float, int]:
    """r, n with x = n*ln2 + r, |r| <= 0.3466 (x finite, |x| < 2**20)."""
    kd = _fma(x, _LOG2E, _SHIFT)
    n = _f64_bits(kd) - _SHIFT_BITS
    k = kd - _SHIFT
    r = _fma(-k, _LN2_HI, x)
    r = _fma(-k, _LN2_LO, r)
    return r, n


@njit(error_model="numpy", inline="always")
def _expm1_reduced(x: float) -> tuple[float, int]:
    """expm1(r), n with x = n*ln2 + r; the rounding error of r is added back
    (fdlibm's correction: without it expm1 reached 1.29 ulp at x = 0.38)."""
    kd = _fma(x, _LOG2E, _SHIFT)
    n = _f64_bits(kd) - _SHIFT_BITS
    k = kd - _SHIFT
    rh = _fma(-k, _LN2_HI, x)  # exact
    r = _fma(-k, _LN2_LO, rh)
    rl = _fma(-k, _LN2_LO, rh - r)  # rh - r exact: r = rh + rl, rl tiny
    e = _expm1_q(r)
    return _fma(rl, e + 1.0, e), n


@njit(error_model="numpy", inline="always")
def _expm1_reduced_short(x: float) -> tuple[float, int]:
    """_expm1_reduced with the float32-grade polynomial."""
    kd = _fma(x, _LOG2E, _SHIFT)
    n = _f64_bits(kd) - _SHIFT_BITS
    k = kd - _SHIFT
    r = _fma(-k, _LN2_HI, x)
    r = _fma(-k, _LN2_LO, r)
    return _expm1_q_short(r), n


@njit(error_model="numpy", inline="always")
def _expm1_finish(e: float, n: int) -> float:
    """expm1(n*ln2 + r) from e = expm1(r): 2 * (s*e + (s - 1/2)), s = 2**(n-1)
    (n <= 1024); n == 0 returns e itself (halving a subnormal e would lose it)."""
    s = _bits_f64((n + 1022) << 52)
    return e if n == 0 else 2.0 * _fma(s, e, s - 0.5)


@njit(error_model="numpy", inline="always")
def _scale2(p: float, n: int) -> float:
    """p * 2**n for -1077 <= n <= 1025, one rounding (two normal factors)."""
    n1 = n >> 1
    n2 = n - n1
    return (p * _bits_f64((n1 + 1023) << 52)) * _bits_f64((n2 + 1023) << 52)


@njit(error_model="numpy", inline="always")
def exp_f64(x: float) -> float:
    ix = _f64_bits(x)
    ax = ix & _ABS
    xc = _bits_f64(min(ax, _EXP_CLAMP if ix < 0 else _EXP_OVER) | (ix & _SIGN))
    r, n = _reduce(xc)
    y = _scale2(_expm1_q(r) + 1.0, n)
    y = _INF if ix > _EXP_OVER else y  # +inf too (positive bits only)
    y = _f64(0.0) if (ix < 0) & (ax > _EXP_UNDER) else y  # -inf too
    return x if ax > _INF_BITS else y  # NaN in, NaN out (payload kept)


def key64_of(v: float) -> np.int64:
    """:func:`_key64` of v, computed in Python: a constant for the numba code."""
    ix = int(_bits_of(v))
    return _i64(ix ^ ((ix >> 63) & int(_ABS)))


_EXP_ROW_ZERO = _f64(-110.0)  # exp(-110) = 1.7e-48: below float32's smallest subnormal
_EXP_ROW_ZERO_KEY = key64_of(-110.0)


@njit(error_model="numpy", inline="always")
def exp_nonpositive_short_f64(x: float) -> float:
    """exp(x) for x <= 0 (or NaN), to 3e-9 relative (the degree-5 polynomial): for
    float32 results computed in float64, such as a float32 softmax row's shifted
    exponentials. 0 below -110 (exp(-110) rounds to 0 in float32 whatever it is
    divided by, if by at least 1), NaN for NaN; the scale is one normal factor. About a
    fifth of exp_f64's instructions (no overflow, subnormal or clamp cases)."""
    keep = _key64(x) > _EXP_ROW_ZERO_KEY  # integer order: no *invalid* from NaN
    xc = x if keep else _EXP_ROW_ZERO  # NaN lanes compute on NaN quietly
    r, n = _reduce(xc)
    y = (_expm1_q_short(r) + 1.0) * _bits_f64((n + 1023) << 52)
    y = y if keep else _f64(0.0)
    return x if x != x else y


@njit(error_model="numpy", inline="always")
def expm1_f64(x: float) -> float:
    ix = _f64_bits(x)
    ax = ix & _ABS
    xc = _bits_f64(min(ax, _EXPM1_LOW if ix < 0 else _EXP_OVER) | (ix & _SIGN))
    e, n = _expm1_reduced(xc)
    y = _expm1_finish(e, n)
    y = _INF if ix > _EXP_OVER else y
    y = _f64(-1.0) if (ix < 0) & (ax > _EXPM1_LOW) else y
    y = _bits_f64(_f64_bits(y) | (ix & _SIGN))  # sign(expm1(x)) = sign(x): -0 -> -0
    return x if ax > _INF_BITS else y


# log / log1p -----------------------------------------------------------------
# musl src/math/log.c (fdlibm e_log.c): Lg1..Lg7, |error of R| < 2**-58.45.
_LG1 = _f64(6.666666666666735130e-01)
_LG2 = _f64(3.999999999940941908e-01)
_LG3 = _f64(2.857142874366239149e-01)
_LG4 = _f64(2.222219843214978396e-01)
_LG5 = _f64(1.818357216161805012e-01)
_LG6 = _f64(1.531383769920937332e-01)
_LG7 = _f64(1.479819860511658591e-01)
_MIN_NORMAL = _i64(0x0010000000000000)
_TWO54 = _f64(18014398509481984.0)
_SQRT2_SHIFT = _i64(0x3FF0000000000000 - 0x3FE6A09E00000000)
_SQRT2_HALF_BITS = _i64(0x3FE6A09E00000000)
_MANT = _i64(0x000FFFFFFFFFFFFF)


@njit(error_model="numpy", inline="always")
def _log1p_kernel(f: float, k: float, c: float) -> float:
    """k*ln2 + log(1 + f) + c for sqrt(2)/2 - 1 <= f < sqrt(2) - 1 (fdlibm)."""
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * _fma(w, _fma(w, _LG6, _LG4), _LG2)
    t2 = z * _fma(w, _fma(w, _fma(w, _LG7, _LG5), _LG3), _LG1)
    r = t2 + t1
    return s * (hfsq + r) + _fma(k, _LN2_LO, c) - hfsq + f + k * _LN2_HI


@njit(error_model="numpy", inline="always")
def _split_log(ix: int) -> tuple[float, float]:
    """(f, k) with x = 2**k (1 + f), for x > 0 finite given as bits."""
    # subnormals normalised with integer shifts (an FP multiply by 2**54
    # would be evaluated in every lane and overflow for large x)
    sh = max(_clz64(ix) - 11, 0)
    ix2 = (ix << sh) + _SQRT2_SHIFT
    k = (ix2 >> 52) - 1023 - sh
    m = _bits_f64((ix2 & _MANT) + _SQRT2_HALF_BITS)
    return m - 1.0, _f64(k)


@njit(error_model="numpy", inline="always")
def log_f64(x: float) -> float:
    ix = _f64_bits(x)
    ax = ix & _ABS
    good = (ix > 0) & (ix < _INF_BITS)
    # integer clamps (not selects of a constant, which LLVM may fold an FP
    # operation into, evaluating it on the raw lane): bad lanes stay finite
    f, k = _split_log(min(max(ix, _i64(1)), _MAX_BITS))
    y = _log1p_kernel(f, k, 0.0)
    y = y if good else (_INF if ix == _INF_BITS else _NAN)
    y = -_INF if ax == 0 else y
    return x if ax > _INF_BITS else y


_SQRT2M1_BITS = _bits_of(0.41421356237309503)  # f = x directly for -0.2929 < x < 0.4142
_1MSQRTH_BITS = _bits_of(0.2928932188134524)
_MINUS_ONE_BITS = _bits_of(-1.0)
_MAX_BITS = _bits_of(1.7976931348623157e308)
_BELOW_ONE = _bits_of(0.9999999999999999)
_ONE_BITS = _bits_of(1.0)


@njit(error_model="numpy", inline="always")
def log1p_f64(x: float) -> float:
    ix = _f64_bits(x)
    ax = ix & _ABS
    small = (ax < _1MSQRTH_BITS) | ((ix >= 0) & (ix < _SQRT2M1_BITS))
    good = ((ix >= 0) & (ix < _INF_BITS)) | ((ix < 0) & (ax < _ONE_BITS))
    xc = _bits_f64(min(ax, _BELOW_ONE if ix < 0 else _MAX_BITS) | (ix & _SIGN))
    u = 1.0 + xc
    # two-sum: 1 + xc == u + c exactly (needs no reassociation; see above)
    bb = u - 1.0
    c = (1.0 - (u - bb)) + (xc - bb)
    f, k = _split_log(_f64_bits(u))
    f = xc if small else f
    k = _f64(0.0) if small else k
    c = _f64(0.0) if small else c / u
    y = _log1p_kernel(f, k, c)
    y = y if good else (_INF if ix == _INF_BITS else _NAN)
    y = -_INF if ix == _MINUS_ONE_BITS else y
    y = y if ix >= 0 else _bits_f64(_f64_bits(y) | _SIGN)  # -0 -> -0 (NaN: below)
    return x if ax > _INF_BITS else y


# tanh --------------------------------------------------------------------------
_TANH_SAT = _bits_of(22.0)  # tanh(22) == 1.0 in float64 (1 - 2e**-44 rounds up)


_B055 = _bits_of(0.5493061443340549)  # log(3)/2


@njit(error_model="numpy", inline="always")
def _tanh_abs(ac: float, big: bool) -> float:
    """tanh(ac) for 0 <= ac <= 22 through one expm1 (musl's tanh): below
    log(3)/2 -t/(t+2), t = expm1(-2ac); above 1 - 2/(t+2), t = expm1(2ac)
    (the single -t/(t+2) form reached 2.4 ulp near 1)."""
    e, n = _expm1_reduced(2.0 * ac if big else -2.0 * ac)
    t = _expm1_finish(e, n)
    return 1.0 - 2.0 / (t + 2.0) if big else -t / (t + 2.0)


@njit(error_model="numpy", inline="always")
def tanh_f64(x: float) -> float:
    ix = _f64_bits(x)
    ax = ix & _ABS
    ac = _bits_f64(min(ax, _TANH_SAT))
    # -t/(t+2) is -0 at 0: drop its sign, then copy x's
    y = _bits_f64((_f64_bits(_tanh_abs(ac, ax > _B055)) & _ABS) | (ix & _SIGN))
    return x if ax > _INF_BITS else y


# erf / erfc ----------------------------------------------------------------
# musl src/math/erf.c (fdlibm s_erf.c), coefficients verbatim.
_ERX = _f64(8.45062911510467529297e-01)
_PP = (1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
       -5.77027029648944159157e-03, -2.37630166566501626084e-05)
_QQ = (3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03,
       1.32494738004321644526e-04, -3.96022827877536812320e-06)
_PA = (-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
       3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
       -2.16637559486879084300e-03)
_QA = (1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02,
       1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02)
_RA = (-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01,
       -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02,
       -8.12874355063065934246e+01, -9.81432934416914548592e+00)
_SA = (1.96512716674392571292e+01, 1.37657754143519042600e+02, 4.34565877475229228821e+02,
       6.45387271733267880336e+02, 4.29008140027567833386e+02, 1.08635005541779435134e+02,
       6.57024977031928170135e+00, -6.04244152148580987438e-02)
_RB = (-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01,
       -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03,
       -4.83519191608651397019e+02)
_SB = (3.03380607434824582924e+01, 3.25792512996573918826e+02, 1.53672958608443695994e+03,
       3.19985821950859553908e+03, 2.55305040643316442583e+03, 4.74528541206955367215e+02,
       -2.24409524465858183362e+01)


def _blend(a: tuple[float, ...], b: tuple[float, ...], n: int) -> list[tuple[Any, Any]]:
    pad = (0.0,) * n
    return [(_f64(u), _f64(v)) for u, v in zip((*a, *pad)[:n], (*b, *pad)[:n], strict=True)]


# numerator/denominator coefficient pairs (region 0 value, region 1 value), low degree first
(_NA0, _NA1, _NA2, _NA3, _NA4, _NA5, _NA6) = _blend(_PP, _PA, 7)
(_DA1, _DA2, _DA3, _DA4, _DA5, _DA6) = _blend(_QQ, _QA, 6)
(_NB0, _NB1, _NB2, _NB3, _NB4, _NB5, _NB6, _NB7) = _blend(_RA, _RB, 8)
(_DB1, _DB2, _DB3, _DB4, _DB5, _DB6, _DB7, _DB8) = _blend(_SA, _SB, 8)

_B084 = _bits_of(0.84375)
_B125 = _bits_of(1.25)
_B2857 = _i64(0x4006DB6D00000000)  # fdlibm's 1/0.35 boundary (high word 0x4006DB6D)
_B6 = _bits_of(6.0)
_B28 = _bits_of(28.0)
_B025 = _bits_of(0.25)


@njit(error_model="numpy", inline="always")
def _erf_small(ax: float, small: bool) -> float:
    """P/Q of fdlibm's [0, 0.84375) (in x**2) or [0.84375, 1.25) (in |x| - 1)."""
    v = ax * ax if small else ax - 1.0
    p = _fma(v, _NA6[0] if small else _NA6[1], _NA5[0] if small else _NA5[1])
    p = _fma(v, p, _NA4[0] if small else _NA4[1])
    p = _fma(v, p, _NA3[0] if small else _NA3[1])
    p = _fma(v, p, _NA2[0] if small else _NA2[1])
    p = _fma(v, p, _NA1[0] if small else _NA1[1])
    p = _fma(v, p, _NA0[0] if small else _NA0[1])
    q = _fma(v, _DA6[0] if small else _DA6[1], _DA5[0] if small else _DA5[1])
    q = _fma(v, q, _DA4[0] if small else _DA4[1])
    q = _fma(v, q, _DA3[0] if small else _DA3[1])
    q = _fma(v, q, _DA2[0] if small else _DA2[1])
    q = _fma(v, q, _DA1[0] if small else _DA1[1])
    q = _fma(v, q, 1.0)
    return p / q


@njit(error_model="numpy", inline="always")
def _erfc_tail(ax: float, near: bool) -> float:
    """erfc(ax) for 1.25 <= ax <= 28 (fdlibm), relative accuracy until underflow."""
    s = 1.0 / (ax * ax)
    p = _fma(s, _NB7[0] if near else _NB7[1], _NB6[0] if near else _NB6[1])
    p = _fma(s, p, _NB5[0] if near else _NB5[1])
    p = _fma(s, p, _NB4[0] if near else _NB4[1])
    p = _fma(s, p, _NB3[0] if near else _NB3[1])
    p = _fma(s, p, _NB2[0] if near else _NB2[1])
    p = _fma(s, p, _NB1[0] if near else _NB1[1])
    p = _fma(s, p, _NB0[0] if near else _NB0[1])
    q = _fma(s, _DB8[0] if near else _DB8[1], _DB7[0] if near else _DB7[1])
    q = _fma(s, q, _DB6[0] if near else _DB6[1])
    q = _fma(s, q, _DB5[0] if near else _DB5[1])
    q = _fma(s, q, _DB4[0] if near else _DB4[1])
    q = _fma(s, q, _DB3[0] if near else _DB3[1])
    q = _fma(s, q, _DB2[0] if near else _DB2[1])
    q = _fma(s, q, _DB1[0] if near else _DB1[1])
    q = _fma(s, q, 1.0)
    z = _bits_f64(_f64_bits(ax) & _HI32)  # 21 significant bits: z*z exact
    # exp(-z*z - 0.5625): argument in [-785, -2.1], full range reduction
    a1 = -z * z - 0.5625
    r1, n1 = _reduce(a1)
    e1 = _scale2(_expm1_q(r1) + 1.0, n1)
    # exp((z - x)(z + x) + R/S): argument in [-0.22, 0.01], no reduction needed
    e2 = _expm1_q((z - ax) * (z + ax) + p / q) + 1.0
    return e1 * e2 / ax


@njit(error_model="numpy", inline="always")
def erf_f64(x: float) -> float:
    ix = _f64_bits(x)
    ax = ix & _ABS
    small = ax < _B084
    mid = ax < _B125
    a = _bits_f64(min(ax, _B125))  # integer clamps: see log_f64
    y0 = _erf_small(a, small)
    yt = 1.0 - _erfc_tail(_bits_f64(max(min(ax, _B6), _B125)), ax < _B2857)
    y = _bits_f64(_f64_bits(_ERX + y0 if ax >= _B084 else a + a * y0) | (ix & _SIGN))
    y = y if mid else _bits_f64(_f64_bits(yt if ax < _B6 else 1.0) | (ix & _SIGN))
    return x if ax > _INF_BITS else y


@njit(error_model="numpy", inline="always")
def erfc_f64(x: float) -> float:
    ix = _f64_bits(x)
    ax = ix & _ABS
    small = ax < _B084
    mid = ax < _B125
    a = _bits_f64(min(ax, _B125))  # integer clamps: see log_f64
    y0 = _erf_small(a, small)
    xm = _bits_f64(min(ax, _B125) | (ix & _SIGN))
    r = _erfc_tail(_bits_f64(max(min(ax, _B28), _B125)), ax < _B2857)
    # |x| < 0.84375: x < 1/4 (negative x included): 1 - (x + x*y), else fdlibm's
    # 0.5 - (x*y + (x - 0.5)) to keep the cancellation exact
    ys = 1.0 - (xm + xm * y0) if ix < _B025 else 0.5 - _fma(xm, y0, xm - 0.5)
    ym = (1.0 - _ERX) - y0 if ix >= 0 else 1.0 + (_ERX + y0)
    yt = r if ix >= 0 else 2.0 - r
    y = ys if small else (ym if mid else yt)
    y = _f64(0.0) if (ix >= _B28) else y  # erfc(28) = 6.6e-343: below the subnormals
    y = _f64(2.0) if (ix < 0) & (ax >= _B6) else y  # 2 - erfc(6) rounds to 2
    return x if ax > _INF_BITS else y


# sqrt and the trivial helpers ----------------------------------------------


@njit(error_model="numpy", inline="always")
def sqrt_f64(x: float) -> float:
    ix = _f64_bits(x)
    # negative x would raise *invalid* in vsqrtpd: its lanes take sqrt(+0);
    # sqrt(-0) = -0 (IEEE) and -NaN are passed through
    y = math.sqrt(_bits_f64(max(ix, _i64(0))))
    y = y if ix >= 0 else (x if (ix == _SIGN) | ((ix & _ABS) > _INF_BITS) else _NAN)
    return y


@njit(error_model="numpy", inline="always")
def fabs_f64(x: float) -> float:
    return _bits_f64(_f64_bits(x) & _ABS)


@njit(error_model="numpy", inline="always")
def copysign_f64(x: float, y: float) -> float:
    return _bits_f64((_f64_bits(x) & _ABS) | (_f64_bits(y) & _SIGN))


@njit(error_model="numpy", inline="always")
def isnan_f64(x: float) -> bool:
    return (_f64_bits(x) & _ABS) > _INF_BITS


@njit(error_model="numpy", inline="always")
def isinf_f64(x: float) -> bool:
    return (_f64_bits(x) & _ABS) == _INF_BITS


@njit(error_model="numpy", inline="always")
def hypot_f64(x: float, y: float) -> float:
    """sqrt(x*x + y*y) without spurious overflow or underflow, within 1 ulp: inf if
    either is inf (even with a NaN), else NaN if either is NaN (C99).

    Both operands are scaled by 2**-e, e the larger one's exponent (clamped to the
    normal range), so the squares lie below 32: exact power-of-two scaling, one
    scaling rule for every lane. Lanes with an inf or NaN compute hypot(1, 1): with
    both operands clamped to the largest double (as before), hypot(inf, inf)
    raised *overflow* (measured)."""
    ax, ay = _f64_bits(x) & _ABS, _f64_bits(y) & _ABS
    hi, lo = max(ax, ay), min(ax, ay)
    a = _bits_f64(hi)
    # inf/NaN lanes compute hypot(1, 1) (max(hi, MAX) overflowed in h for inf lanes)
    hc = hi if hi < _INF_BITS else _ONE_BITS
    lc = lo if lo < _INF_BITS else _ONE_BITS
    e = min(max((hc >> 52) - 1023, _i64(-1022)), _i64(1022))
    a_s = _bits_f64(hc) * _bits_f64((1023 - e) << 52)
    b_s = _bits_f64(lc) * _bits_f64((1023 - e) << 52)  # may underflow: then negligible
    h = math.sqrt(_fma(a_s, a_s, b_s * b_s)) * _bits_f64((1023 + e) << 52)
    h = a if hi > _INF_BITS else h  # a NaN (the larger bits are the NaN's)
    return _INF if (ax == _INF_BITS) | (ay == _INF_BITS) else h


@njit(error_model="numpy", inline="always")
def _key64(x: float) -> int:
    """int64 that orders like x (for non-NaN x; -0 < +0)."""
    ix = _f64_bits(x)
    return ix ^ ((ix >> 63) & _ABS)


@njit(error_model="numpy", inline="always")
def from_key64(k: int) -> float:
    """The float64 whose :func:`_key64` is k (the map is its own inverse on the bits)."""
    return _bits_f64(k ^ ((k >> 63) & _ABS))


#: The order key of a float64 (for non-NaN x; -0 < +0): an integer maximum of keys
#: is a reduction LLVM vectorises without fast-math flags (a float select-maximum is
#: not: numba marks no select nnan), e.g. fastact/_kernels/numba_rows.py's row maxima.
key64 = _key64


@njit(error_model="numpy", inline="always")
def lt_f64(a: float, b: float) -> bool:
    """a < b without raising *invalid* on NaN (False if either is NaN)."""
    both_zero = ((_f64_bits(a) | _f64_bits(b)) & _ABS) == 0
    return (_key64(a) < _key64(b)) & ((isnan_f64(a) | isnan_f64(b) | both_zero) ^ True)


@njit(error_model="numpy", inline="always")
def le_f64(a: float, b: float) -> bool:
    """a <= b quietly (False if either is NaN; -0 <= +0 and +0 <= -0)."""
    both_zero = ((_f64_bits(a) | _f64_bits(b)) & _ABS) == 0
    return ((_key64(a) <= _key64(b)) | both_zero) & ((isnan_f64(a) | isnan_f64(b)) ^ True)


def _ordered_helpers(lt: Any, le: Any, key: Any, isnan: Any) -> tuple[Any, Any, Any, Any]:
    """gt, ge, fmin, fmax of one dtype from its quiet lt/le, ordering key and isnan."""

    @njit(error_model="numpy", inline="always")
    def gt(a: Any, b: Any) -> bool:
        return lt(b, a)

    @njit(error_model="numpy", inline="always")
    def ge(a: Any, b: Any) -> bool:
        return le(b, a)

    @njit(error_model="numpy", inline="always")
    def fmin(a: Any, b: Any) -> Any:
        """C99 fmin: the smaller, or the other operand when one is NaN (quiet)."""
        y = a if key(a) < key(b) else b
        y = a if isnan(b) else y
        return b if isnan(a) else y

    @njit(error_model="numpy", inline="always")
    def fmax(a: Any, b: Any) -> Any:
        """C99 fmax: the larger, or the other operand when one is NaN (quiet)."""
        y = a if key(a) > key(b) else b
        y = a if isnan(b) else y
        return b if isnan(a) else y

    return gt, ge, fmin, fmax


gt_f64, ge_f64, fmin_f64, fmax_f64 = _ordered_helpers(lt_f64, le_f64, _key64, isnan_f64)


# float32: native float32 arithmetic -------------------------------------------
# Twice the lanes of float64 (8 per ymm, 16 per zmm). Decisions on int32 bit
# patterns as above, and the integer arithmetic stays int32: numba widens int32
# operands of + - & | << >> to int64, and LLVM cannot narrow a chain whose result
# is compared or selected (measured: elu float32 forward, a loop of 140 AVX2
# instructions per 8 elements, half of them emulating <8 x i64> (vpcmpgtq,
# vpackssdw, spills), 2.9 ns/element). So the integer operations of the float32
# code are the int32 intrinsics below; comparisons of two int32 values are plain
# (numba sign-extends both, which LLVM folds back to an i32 compare).
# The polynomials are fitted by tools/fit_f32_math.py (Chebyshev-node
# interpolation with mpmath, coefficients rounded to float32).
_i32 = np.int32


# int32 only (an int64 argument would be a widened value: a bug here)
_f32_bits: Any = _bitcast(types.float32, types.int32, "bit pattern of a float32 as int32")
_bits_f32: Any = _bitcast(types.int32, types.float32, "float32 with the given int32 bits")


def _int32_op(emit: Any, doc: str) -> Any:
    """An intrinsic (int32, int32) -> int32 that emits ``emit(builder, a, b)``."""

    def typer(typingctx: Any, a: Any, b: Any) -> Any:
        if a != types.int32 or b != types.int32:
            return None

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            return emit(builder, *args)

        return types.int32(types.int32, types.int32), codegen

    typer.__doc__ = doc
    return intrinsic(typer)


_and32: Any = _int32_op(lambda b, x, y: b.and_(x, y), "a & b")
_or32: Any = _int32_op(lambda b, x, y: b.or_(x, y), "a | b")
_xor32: Any = _int32_op(lambda b, x, y: b.xor(x, y), "a ^ b")
_add32: Any = _int32_op(lambda b, x, y: b.add(x, y), "a + b (wraps)")
_sub32: Any = _int32_op(lambda b, x, y: b.sub(x, y), "a - b (wraps)")
_shl32: Any = _int32_op(lambda b, x, y: b.shl(x, y), "a << b")
_sra32: Any = _int32_op(lambda b, x, y: b.ashr(x, y), "a >> b (arithmetic)")
_min32: Any = _int32_op(lambda b, x, y: b.select(b.icmp_signed("<", x, y), x, y), "min(a, b)")
_max32: Any = _int32_op(lambda b, x, y: b.select(b.icmp_signed(">", x, y), x, y), "max(a, b)")


def _bits32_of(v: float) -> np.int32:
    return np.int32(np.array(v, dtype=np.float32).view(np.int32).item())


_ABS32 = _i32(0x7FFFFFFF)
_SIGN32 = _i32(-0x80000000)
_INF32_BITS = _i32(0x7F800000)
_I0, _I1, _I23, _I31 = _i32(0), _i32(1), _i32(23), _i32(31)
_INF32 = _f32(np.inf)
_NAN32 = _f32(np.nan)
_ZERO32 = _f32(0.0)
_HALF32 = _f32(0.5)
_ONE32 = _f32(1.0)
_TWO32 = _f32(2.0)

_LOG2E32 = _f32(1.4426950408889634)
# kd = x*log2(e) + 1.5 * 2**23 rounds to an integer n held in kd's low mantissa
# bits: k = kd - 1.5 * 2**23 is n as a float32, and 2**n is built from kd's bits.
_SHIFT32 = _f32(12582912.0)
_POW2_BIAS = _i32(127 - int(_bits32_of(12582912.0)))  # + bits(kd) = n + 127
_POW2_NEG_BIAS = _i32(127 + int(_bits32_of(12582912.0)))  # - bits(kd) = 127 - n
# Cody-Waite: ln2 rounded to 12 significant bits (k * _LN2_HI32 exact for
# |k| < 2**12) and the rest.
_LN2_HI32 = _f32(0.693115234375)
_LN2_LO32 = _f32(3.194618329871446e-05)
# expm1(r) = r + r**2 q(r), |r| <= 0.35, degree 5 (tools/fit_f32_math.py):
# relative error 1.9e-9 for expm1(r), 8.1e-10 for exp(r) (float32 half-ulp 6e-8).
_E0 = _f32(0.5)
_E1 = _f32(0.1666666716337204)
_E2 = _f32(0.04166645556688309)
_E3 = _f32(0.00833331048488617)
_E4 = _f32(0.0013934532180428505)
_E5 = _f32(0.00019891970441676676)

# largest float32 x with exp(x) <= FLT_MAX (the next float32, 88.72283935546875,
# overflows); exp(x) < 2**-150 rounds to 0 below -103.97: clamp at -104
_F32_EXP_OVER = _bits32_of(88.72283172607422)
_F32_EXP_UNDER = _bits32_of(104.0)
_F32_EXPM1_LOW = _bits32_of(18.0)  # expm1(x) rounds to -1 below -17.33
_F32_60, _F32_M60, _F32_64 = _f32(60.0), _f32(-60.0), _f32(64.0)
_F32_100, _F32_M100, _F32_25 = _f32(100.0), _f32(-100.0), _f32(25.0)
_TWO60_32, _TWO_M60_32 = _f32(2.0**60), _f32(2.0**-60)


@njit(error_model="numpy", inline="always")
def _pow2_f32(kd: Any) -> Any:
    """2**n for kd = n + 1.5 * 2**23, -126 <= n <= 127."""
    return _bits_f32(_shl32(_add32(_f32_bits(kd), _POW2_BIAS), _I23))


@njit(error_model="numpy", inline="always")
def _pow2_neg_f32(kd: Any) -> Any:
    """2**-n for kd = n + 1.5 * 2**23, -127 <= n <= 126."""
    return _bits_f32(_shl32(_sub32(_POW2_NEG_BIAS, _f32_bits(kd)), _I23))


@njit(error_model="numpy", inline="always")
def _expm1_q_f32(r: Any) -> Any:
    q = _fma(r, _E5, _E4)
    q = _fma(r, q, _E3)
    q = _fma(r, q, _E2)
    q = _fma(r, q, _E1)
    q = _fma(r, q, _E0)
    return _fma(r * r, q, r)


@njit(error_model="numpy", inline="always")
def _reduce_f32(x: Any) -> tuple[Any, Any, Any, Any]:
    """r, rl, kd, k with x = k*ln2 + r + rl, |r| <= 0.35, rl the rounding error of r,
    k integral and kd = k + 1.5 * 2**23 (x finite, |x| < 2**12)."""
    kd = _fma(x, _LOG2E32, _SHIFT32)
    k = kd - _SHIFT32
    rh = _fma(-k, _LN2_HI32, x)  # exact: k*hi exact, and x, k*hi within a factor 2
    r = _fma(-k, _LN2_LO32, rh)
    rl = _fma(-k, _LN2_LO32, rh - r)
    return r, rl, kd, k


@njit(error_model="numpy", inline="always")
def _scale2_f32(p: Any, kd: Any, k: Any) -> Any:
    """p * 2**k for -150 <= k <= 128, one rounding: |k| > 100 is split into
    2**(k -+ 60) * 2**+-60 (two normal factors). k is finite: plain compares."""
    c = _F32_60 if k > _F32_100 else (_F32_M60 if k < _F32_M100 else _ZERO32)
    f2 = _TWO60_32 if k > _F32_100 else (_TWO_M60_32 if k < _F32_M100 else _ONE32)
    return (p * _pow2_f32(kd - c)) * f2


@njit(error_model="numpy", inline="always")
def _expm1_reduced_f32(x: Any) -> tuple[Any, Any, Any]:
    """expm1(r), kd, k with x = k*ln2 + r, r's rounding error added back."""
    r, rl, kd, k = _reduce_f32(x)
    e = _expm1_q_f32(r)
    return _fma(rl, e + _ONE32, e), kd, k


@njit(error_model="numpy", inline="always")
def _expm1_finish_f32(e: Any, kd: Any, k: Any) -> Any:
    """expm1(k*ln2 + r) from e = expm1(r), -26 <= k <= 128: 2**k (e + (1 - 2**-k)),
    with 1 - 2**-k exact for k < 25, else (e - 2**-k) + 1 (fdlibm's split: the
    float64 code's 2 (s e + (s - 1/2)) reached 1.38 ulp at x = 17, where s - 1/2
    is no longer exact in float32); 2**k applied as 2 * 2**(k-1) (2**128
    overflows)."""
    s = _pow2_f32(kd - _ONE32)
    tn = _pow2_neg_f32(kd if k < _F32_64 else _SHIFT32 + _F32_64)  # 2**-64: unseen
    v = e + (_ONE32 - tn) if k < _F32_25 else (e - tn) + _ONE32
    return e if k == _ZERO32 else _TWO32 * (s * v)


@njit(error_model="numpy", inline="always")
def _clamp_f32(ix: Any, ax: Any, neg_limit: Any, pos_limit: Any) -> Any:
    """x with |x| clamped to neg_limit (x < 0) or pos_limit (bit patterns); NaN
    lanes become a finite limit."""
    lim = neg_limit if ix < 0 else pos_limit
    return _bits_f32(_or32(_min32(ax, lim), _and32(ix, _SIGN32)))


@njit(error_model="numpy", inline="always")
def _exp_in_range_f32(x: Any) -> Any:
    """exp(x) for -104 <= x <= 88.7228 (no checks: for callers that know the range)."""
    r, _rl, kd, k = _reduce_f32(x)  # exp needs no correction of r: 0.97 ulp without
    return _scale2_f32(_expm1_q_f32(r) + _ONE32, kd, k)


@njit(error_model="numpy", inline="always")
def exp_f32(x: Any) -> Any:
    ix = _f32_bits(x)
    ax = _and32(ix, _ABS32)
    y = _exp_in_range_f32(_clamp_f32(ix, ax, _F32_EXP_UNDER, _F32_EXP_OVER))
    y = _INF32 if ix > _F32_EXP_OVER else y  # +inf too (positive bits only)
    y = _ZERO32 if (ix < 0) & (ax > _F32_EXP_UNDER) else y  # -inf too
    return x if ax > _INF32_BITS else y  # NaN in, NaN out


@njit(error_model="numpy", inline="always")
def expm1_f32(x: Any) -> Any:
    ix = _f32_bits(x)
    ax = _and32(ix, _ABS32)
    xc = _clamp_f32(ix, ax, _F32_EXPM1_LOW, _F32_EXP_OVER)
    e, kd, k = _expm1_reduced_f32(xc)
    y = _expm1_finish_f32(e, kd, k)
    y = _INF32 if ix > _F32_EXP_OVER else y
    y = -_ONE32 if (ix < 0) & (ax > _F32_EXPM1_LOW) else y
    # sign(expm1(x)) = sign(x): -0 -> -0
    y = _bits_f32(_or32(_f32_bits(y), _and32(ix, _SIGN32)))
    return x if ax > _INF32_BITS else y


# log / log1p: musl's logf structure, R(z) = z (c0 + c1 z + c2 z**2) fitted by
# tools/fit_f32_math.py: relative error of log(1+f) 2.5e-9 on the reduced range.
_LC0 = _f32(0.6666668653488159)
_LC1 = _f32(0.3998878002166748)
_LC2 = _f32(0.29579949378967285)
_SQRT2_SHIFT32 = _i32(0x3F800000 - 0x3F3504F3)
_SQRT2_HALF32 = _i32(0x3F3504F3)
_MANT32 = _i32(0x007FFFFF)
_I127 = _i32(127)
_F32_MAX_BITS = _bits32_of(3.4028234663852886e38)
_F32_MIN_NORMAL = _i32(0x00800000)
_ONE32_BITS = _bits32_of(1.0)
_TWO23_32, _F32_M23 = _f32(2.0**23), _f32(-23.0)


@njit(error_model="numpy", inline="always")
def _log1p_kernel_f32(f: Any, k: Any, c: Any) -> Any:
    """k*ln2 + log(1 + f) + c for sqrt(2)/2 - 1 <= f < sqrt(2) - 1."""
    hfsq = _HALF32 * f * f
    s = f / (_TWO32 + f)
    z = s * s
    r = z * _fma(z, _fma(z, _LC2, _LC1), _LC0)
    return s * (hfsq + r) + _fma(k, _LN2_LO32, c) - hfsq + f + k * _LN2_HI32


@njit(error_model="numpy", inline="always")
def _split_log_f32(ix: Any) -> tuple[Any, Any]:
    """(f, k) with x = 2**k (1 + f), sqrt(2)/2 <= 1 + f < sqrt(2), for x > 0 normal
    and finite given as bits."""
    ix2 = _add32(ix, _SQRT2_SHIFT32)
    k = _f32(_sub32(_sra32(ix2, _I23), _I127))  # vcvtdq2ps
    m = _bits_f32(_add32(_and32(ix2, _MANT32), _SQRT2_HALF32))
    return m - _ONE32, k


@njit(error_model="numpy", inline="always")
def log_f32(x: Any) -> Any:
    ix = _f32_bits(x)
    ax = _and32(ix, _ABS32)
    good = (ix > 0) & (ix < _INF32_BITS)
    xb = _min32(_max32(ix, _I1), _F32_MAX_BITS)  # bad lanes: some positive finite x
    # subnormals scaled by 2**23 (exact); the other lanes multiply the smallest
    # normal (an integer clamp: with a select of a constant LLVM may multiply the
    # raw lane and overflow, measured)
    sub = xb < _F32_MIN_NORMAL
    xs = _f32_bits(_bits_f32(_min32(xb, _F32_MIN_NORMAL)) * _TWO23_32)
    f, k = _split_log_f32(xs if sub else xb)
    y = _log1p_kernel_f32(f, k + _F32_M23 if sub else k, _ZERO32)
    y = y if good else (_INF32 if ix == _INF32_BITS else _NAN32)
    y = -_INF32 if ax == 0 else y
    return x if ax > _INF32_BITS else y


_F32_SQRT2M1 = _bits32_of(0.41421356237309503)
_F32_1MSQRTH = _bits32_of(0.2928932188134524)
_F32_MINUS_ONE = _bits32_of(-1.0)
_F32_BELOW_ONE = _bits32_of(0.9999999403953552)


@njit(error_model="numpy", inline="always")
def log1p_f32(x: Any) -> Any:
    ix = _f32_bits(x)
    ax = _and32(ix, _ABS32)
    small = (ax < _F32_1MSQRTH) | ((ix >= 0) & (ix < _F32_SQRT2M1))
    good = ((ix >= 0) & (ix < _INF32_BITS)) | ((ix < 0) & (ax < _ONE32_BITS))
    xc = _clamp_f32(ix, ax, _F32_BELOW_ONE, _F32_MAX_BITS)
    u = _ONE32 + xc  # >= 2**-24: normal
    bb = u - _ONE32  # two-sum: 1 + xc == u + c exactly
    c = (_ONE32 - (u - bb)) + (xc - bb)
    f, k = _split_log_f32(_f32_bits(u))
    f = xc if small else f
    k = _ZERO32 if small else k
    c = _ZERO32 if small else c / u
    y = _log1p_kernel_f32(f, k, c)
    y = y if good else (_INF32 if ix == _INF32_BITS else _NAN32)
    y = -_INF32 if ix == _F32_MINUS_ONE else y
    y = y if ix >= 0 else _bits_f32(_or32(_f32_bits(y), _SIGN32))  # -0 -> -0
    return x if ax > _INF32_BITS else y


_F32_TANH_SAT = _bits32_of(10.0)  # tanh(10) rounds to 1 in float32
# tanh(x) = x + x**3 P(x**2) for |x| <= 0.75, degree 6 (tools/fit_f32_math.py):
# relative error 8.9e-9. Above, 1 - 2/(t + 2) loses (1 - tanh)/tanh to
# cancellation: 1.46 ulp with the switch at log(3)/2, 0.57 at 0.75; the expm1 form
# -t/(t+2) that served below reached 2.2 ulp.
_F32_TANH_POLY = _bits32_of(0.75)
_T0 = _f32(-0.3333333432674408)
_T1 = _f32(0.133333221077919)
_T2 = _f32(-0.053965166211128235)
_T3 = _f32(0.021835781633853912)
_T4 = _f32(-0.008684717118740082)
_T5 = _f32(0.00308992643840611)
_T6 = _f32(-0.0006965330103412271)


@njit(error_model="numpy", inline="always")
def tanh_f32(x: Any) -> Any:
    ix = _f32_bits(x)
    ax = _and32(ix, _ABS32)
    ac = _bits_f32(_min32(ax, _F32_TANH_SAT))
    # |x| > 0.75: 1 - 2/(t + 2), t = expm1(2|x|)
    e, kd, k = _expm1_reduced_f32(_TWO32 * ac)
    t = _expm1_finish_f32(e, kd, k)
    big = _ONE32 - _TWO32 / (t + _TWO32)
    # below: the odd polynomial (x itself for tiny x: x*z underflows harmlessly)
    z = ac * ac
    p = _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _T6, _T5), _T4), _T3), _T2), _T1), _T0)
    small = _fma(ac * z, p, ac)
    y = big if ax > _F32_TANH_POLY else small
    y = _bits_f32(_or32(_f32_bits(y), _and32(ix, _SIGN32)))
    return x if ax > _INF32_BITS else y


# erf / erfc (tools/fit_f32_math.py):
# |x| <= 1: erf(x) = x + x P(x**2), degree 6, relative error 1.5e-9;
# |x| >= 0.5: erfc(|x|) = exp(-x**2) t Q(t - 0.4826), t = 1/(1 + |x|/2), degree 10,
# relative error 1.3e-8 up to 10.1 (erfc(10.06) is below the smallest subnormal). x**2 is
# h + l exactly (fma), exp(-x**2) = exp(-h) (1 - l): the rounding of x*x alone
# would cost up to 2 x**2 * 2**-24 relative (60 ulp at x = 9).
_EP = tuple(_f32(c) for c in (0.12837916612625122, -0.3761262595653534, 0.1128358244895935,
                              -0.026853643357753754, 0.005187962669879198,
                              -0.0008006793214008212, 7.842288323445246e-05))
_EQ = tuple(_f32(c) for c in (0.49903300404548645, 0.6678946018218994, 0.5510479807853699,
                              0.15739044547080994, -0.16259326040744781,
                              -0.11353207379579544, 0.09035109728574753,
                              0.06456101685762405, -0.06890939921140671,
                              -0.022069159895181656, 0.022064736112952232))
_EQ_CENTRE = _f32(0.48264461755752563)
# S(u) = d(t Q)/dt to 0.25 % of Q, degree 3: corrects t Q(t) for t's rounding error
(_ES0, _ES1, _ES2, _ES3) = (_f32(0.8225272297859192), _f32(1.864194631576538),
                            _f32(1.7813472747802734), _f32(0.3294333517551422))
(_EP0, _EP1, _EP2, _EP3, _EP4, _EP5, _EP6) = _EP
(_EQ0, _EQ1, _EQ2, _EQ3, _EQ4, _EQ5, _EQ6, _EQ7, _EQ8, _EQ9, _EQ10) = _EQ
_F32_ERF_TAIL_MAX = _bits32_of(10.1)
_F32_B1, _F32_B05 = _bits32_of(1.0), _bits32_of(0.5)


@njit(error_model="numpy", inline="always")
def _erf_small_f32(x: Any) -> Any:
    """erf(x) for |x| <= 1."""
    z = x * x
    p = _fma(z, _EP6, _EP5)
    p = _fma(z, p, _EP4)
    p = _fma(z, p, _EP3)
    p = _fma(z, p, _EP2)
    p = _fma(z, p, _EP1)
    p = _fma(z, p, _EP0)
    return _fma(x, p, x)


@njit(error_model="numpy", inline="always")
def _erfc_tail_f32(a: Any) -> Any:
    """erfc(a) for 0.5 <= a <= 10.1 (other lanes: finite, unused).

    erfc's tail moves by 1.6 times the relative error of t (d log(t Q) / d log t
    at a = 1.5), and t = 1/(1 + a/2) rounded is up to an ulp off (erfc reached 5.4
    ulp at 1.52 without the correction): dt, the exact error of t (d + d_lo = 1 +
    a/2 exactly, fma residuals), adds dt S(t) to t Q(t). What is left (3.6 ulp at
    1.89, measured) is the float32 Horner sum (5.7e-8 there) and three roundings; with t
    and the polynomial in float64 the worst was 1.6 ulp, and gelu 1.4x slower."""
    d = _fma(_HALF32, a, _ONE32)
    d_lo = _fma(_HALF32, a, _ONE32 - d)  # exact: the rounding error of d
    t = _ONE32 / d
    dt = t * (_fma(-t, d, _ONE32) - t * d_lo)  # t_exact - t, to first order
    u = t - _EQ_CENTRE
    q = _fma(u, _EQ10, _EQ9)
    q = _fma(u, q, _EQ8)
    q = _fma(u, q, _EQ7)
    q = _fma(u, q, _EQ6)
    q = _fma(u, q, _EQ5)
    q = _fma(u, q, _EQ4)
    q = _fma(u, q, _EQ3)
    q = _fma(u, q, _EQ2)
    q = _fma(u, q, _EQ1)
    q = _fma(u, q, _EQ0)
    sd = _fma(u, _fma(u, _fma(u, _ES3, _ES2), _ES1), _ES0)
    tq = _fma(t, q, dt * sd)
    h = a * a
    lo = _fma(a, a, -h)  # a*a = h + lo exactly
    return _exp_in_range_f32(-h) * _fma(-lo, tq, tq)  # -102.01 <= -h <= -0.25


@njit(error_model="numpy", inline="always")
def erf_f32(x: Any) -> Any:
    ix = _f32_bits(x)
    ax = _and32(ix, _ABS32)
    xs = _bits_f32(_or32(_min32(ax, _F32_B1), _and32(ix, _SIGN32)))  # integer clamps
    a = _bits_f32(_max32(_min32(ax, _F32_ERF_TAIL_MAX), _F32_B05))
    big = _bits_f32(_or32(_f32_bits(_ONE32 - _erfc_tail_f32(a)), _and32(ix, _SIGN32)))
    y = _erf_small_f32(xs) if ax <= _F32_B1 else big  # 1 - erfc rounds to 1 above 3.92
    return x if ax > _INF32_BITS else y


@njit(error_model="numpy", inline="always")
def erfc_f32(x: Any) -> Any:
    ix = _f32_bits(x)
    ax = _and32(ix, _ABS32)
    xs = _bits_f32(_or32(_min32(ax, _F32_B05), _and32(ix, _SIGN32)))
    a = _bits_f32(_max32(_min32(ax, _F32_ERF_TAIL_MAX), _F32_B05))
    tail = _erfc_tail_f32(a)
    tail = tail if ix >= 0 else _TWO32 - tail  # 2 - erfc(|x|) rounds to 2 below -3.9
    y = _ONE32 - _erf_small_f32(xs) if ax < _F32_B05 else tail
    y = _ZERO32 if ix > _F32_ERF_TAIL_MAX else y  # +inf too
    return x if ax > _INF32_BITS else y


@njit(error_model="numpy", inline="always")
def sqrt_f32(x: Any) -> Any:
    ix = _f32_bits(x)
    # negative lanes take sqrt(+0) (no *invalid*); -0 and NaN pass through
    y = math.sqrt(_bits_f32(_max32(ix, _I0)))
    nan_or_m0 = (ix == _SIGN32) | (_and32(ix, _ABS32) > _INF32_BITS)
    return y if ix >= 0 else (x if nan_or_m0 else _NAN32)


@njit(error_model="numpy", inline="always")
def fabs_f32(x: Any) -> Any:
    return abs(x)  # llvm.fabs: an and-mask, no flags


@njit(error_model="numpy", inline="always")
def copysign_f32(x: Any, y: Any) -> Any:
    return _bits_f32(_or32(_and32(_f32_bits(x), _ABS32), _and32(_f32_bits(y), _SIGN32)))


@njit(error_model="numpy", inline="always")
def isnan_f32(x: Any) -> bool:
    return _and32(_f32_bits(x), _ABS32) > _INF32_BITS


@njit(error_model="numpy", inline="always")
def isinf_f32(x: Any) -> bool:
    return _and32(_f32_bits(x), _ABS32) == _INF32_BITS


_IM126, _I126 = _i32(-126), _i32(126)


@njit(error_model="numpy", inline="always")
def hypot_f32(x: Any, y: Any) -> Any:
    """hypot_f64's method in float32: within 1 ulp (b*b rounded, then one fma:
    relative error of the sum <= 1.5 * 2**-24, halved by the sqrt)."""
    ax = _and32(_f32_bits(x), _ABS32)
    ay = _and32(_f32_bits(y), _ABS32)
    hi, lo = _max32(ax, ay), _min32(ax, ay)
    a = _bits_f32(hi)
    hc = hi if hi < _INF32_BITS else _ONE32_BITS  # inf/NaN lanes: hypot(1, 1)
    lc = lo if lo < _INF32_BITS else _ONE32_BITS
    e = _min32(_max32(_sub32(_sra32(hc, _I23), _I127), _IM126), _I126)
    down = _bits_f32(_shl32(_sub32(_I127, e), _I23))  # 2**-e
    a_s, b_s = _bits_f32(hc) * down, _bits_f32(lc) * down
    h = math.sqrt(_fma(a_s, a_s, b_s * b_s)) * _bits_f32(_shl32(_add32(_I127, e), _I23))
    h = a if hi > _INF32_BITS else h  # a NaN (the larger bits are the NaN's)
    return _INF32 if (ax == _INF32_BITS) | (ay == _INF32_BITS) else h


@njit(error_model="numpy", inline="always")
def _key32(x: Any) -> Any:
    """int32 that orders like x (for non-NaN x; -0 < +0)."""
    ix = _f32_bits(x)
    return _xor32(ix, _and32(_sra32(ix, _I31), _ABS32))


@njit(error_model="numpy", inline="always")
def _both_zero32(a: Any, b: Any) -> bool:
    return _and32(_or32(_f32_bits(a), _f32_bits(b)), _ABS32) == 0


@njit(error_model="numpy", inline="always")
def lt_f32(a: Any, b: Any) -> bool:
    """a < b without raising *invalid* on NaN (False if either is NaN)."""
    return (_key32(a) < _key32(b)) & ((isnan_f32(a) | isnan_f32(b) | _both_zero32(a, b)) ^ True)


@njit(error_model="numpy", inline="always")
def le_f32(a: Any, b: Any) -> bool:
    """a <= b quietly (False if either is NaN; -0 <= +0 and +0 <= -0)."""
    return ((_key32(a) <= _key32(b)) | _both_zero32(a, b)) & ((isnan_f32(a) | isnan_f32(b)) ^ True)


gt_f32, ge_f32, fmin_f32, fmax_f32 = _ordered_helpers(lt_f32, le_f32, _key32, isnan_f32)


_NAMES = ("exp", "expm1", "log", "log1p", "tanh", "erf", "erfc", "sqrt", "hypot",
          "fabs", "copysign", "fmin", "fmax", "isnan", "isinf", "lt", "le", "gt", "ge")

PRIMITIVES: dict[str, dict[str, Any]] = {
    dt: {name: globals()[f"{name}_{suffix}"] for name in _NAMES}
    for dt, suffix in (("float32", "f32"), ("float64", "f64"))
}
"""dtype name -> primitive name -> njit function of that dtype."""
