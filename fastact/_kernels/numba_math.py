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

float32 versions compute in float64 internally (one final rounding: about
0.5 ulp), with the float64 code above or, for exp, expm1 and tanh, a degree-5
q (2.9e-9 relative).  A native float32 version (16 lanes instead of 8) was
not written for lack of time: it would be up to 2x faster for exp/tanh.

Where LLVM inlines: the ufunc loop that ``@vectorize`` builds *calls* the
kernel and LLVM inlines it only below its inline threshold: exp, expm1, log,
tanh, sqrt kernels are inlined and vectorised; log1p, erf and erfc kernels
are not (measured: scalar calls, 11-30 ns/element).  An ``@njit`` loop (or a
``@guvectorize`` kernel with the loop inside) has the whole body in one
function and vectorises all of them (log1p 1.8, erf/erfc 4.6 ns/element).

Measured accuracy (against mpmath, random bit patterns over all binades plus
|x| < 30 and tiny |x|, 9000+ points per function; float32 on every 97th bit
pattern against float64 NumPy/SciPy), max ulp float64 / float32:
exp 0.97 / 0.50, expm1 1.04 / 0.51, log 0.68 / 0.50, log1p 0.64 / 0.50,
tanh 1.60 (x = 0.175, the -t/(t+2) branch) / 0.51, erf 0.85 / 0.50,
erfc 1.39 / 0.50, sqrt 0.50 / 0.50.
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


def _f64_bits_typer(typingctx: Any, x: Any) -> Any:
    """Bit pattern of a float64 as int64 (``builder.bitcast``, free in SIMD)."""
    if x != types.float64:
        return None

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


_f64_bits: Any = intrinsic(_f64_bits_typer)


def _bits_f64_typer(typingctx: Any, n: Any) -> Any:
    """float64 with the given int64 bit pattern."""
    if not isinstance(n, types.Integer):
        return None

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        v = context.cast(builder, args[0], sig.args[0], types.int64)
        return builder.bitcast(v, ir.DoubleType())

    return types.float64(n), codegen


_bits_f64: Any = intrinsic(_bits_f64_typer)


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


# |x| of the larger operand above which hypot scales down by 2**-600 (its square
# would overflow), and below which it scales up by 2**600 (the squares would lose
# digits to underflow).
_HYPOT_BIG = _i64(0x5F30000000000000)  # 2**500
_HYPOT_SMALL = _i64(0x20B0000000000000)  # 2**-500
_TWO_M600 = _f64(2.0**-600)
_TWO_600 = _f64(2.0**600)


@njit(error_model="numpy", inline="always")
def hypot_f64(x: float, y: float) -> float:
    """sqrt(x*x + y*y) without overflow or underflow, within 1 ulp: inf if either is
    inf (even with a NaN), else NaN if either is NaN (C99)."""
    ax, ay = _f64_bits(x) & _ABS, _f64_bits(y) & _ABS
    hi, lo = max(ax, ay), min(ax, ay)
    a, b = _bits_f64(hi), _bits_f64(lo)
    # Power-of-two scaling is exact (b may underflow when scaled down: then b < a *
    # 2**-1000 and does not count).
    s = _TWO_M600 if hi > _HYPOT_BIG else (_TWO_600 if hi < _HYPOT_SMALL else 1.0)
    a_s = _bits_f64(min(hi, _i64(0x7FEFFFFFFFFFFFFF))) * s  # inf/NaN lanes: kept finite
    b_s = _bits_f64(min(lo, _i64(0x7FEFFFFFFFFFFFFF))) * s
    h = math.sqrt(_fma(a_s, a_s, b_s * b_s)) / s
    h = a if lo > _INF_BITS else h  # NaN (or inf with NaN, chosen next)
    return a if hi >= _INF_BITS else (b if lo == _INF_BITS else h)


@njit(error_model="numpy", inline="always")
def _key64(x: float) -> int:
    """int64 that orders like x (for non-NaN x; -0 < +0)."""
    ix = _f64_bits(x)
    return ix ^ ((ix >> 63) & _ABS)


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


@njit(error_model="numpy", inline="always")
def gt_f64(a: float, b: float) -> bool:
    return lt_f64(b, a)


@njit(error_model="numpy", inline="always")
def ge_f64(a: float, b: float) -> bool:
    return le_f64(b, a)


@njit(error_model="numpy", inline="always")
def fmin_f64(a: float, b: float) -> float:
    """C99 fmin: the smaller, or the other operand when one is NaN (quiet)."""
    y = a if _key64(a) < _key64(b) else b
    y = a if isnan_f64(b) else y
    return b if isnan_f64(a) else y


@njit(error_model="numpy", inline="always")
def fmax_f64(a: float, b: float) -> float:
    """C99 fmax: the larger, or the other operand when one is NaN (quiet)."""
    y = a if _key64(a) > _key64(b) else b
    y = a if isnan_f64(b) else y
    return b if isnan_f64(a) else y


# float32: computed in float64, one final rounding ----------------------------
_B110 = _bits_of(110.0)
_B10 = _bits_of(10.0)
# largest float32 x with exp(x) <= FLT_MAX (the next float32, 88.72283935546875,
# overflows)
_F32_EXP_OVER = _bits_of(88.72283172607422)


@njit(error_model="numpy", inline="always")
def exp_f32(x: Any) -> Any:
    xd = _f64(x)
    ix = _f64_bits(xd)
    ax = ix & _ABS
    # float32 exp overflows above 88.72 and underflows below -103.97: clamp
    # to +-110 so the float64 arithmetic stays normal; the cast rounds once.
    # Clamp to [-110, 88.7228317]: the float64 value stays normal and its
    # float32 cast finite even if LLVM moves the cast before the select below
    # (measured: with a +110 clamp the cast raised *overflow*).
    xc = _bits_f64(min(ax, _B110 if ix < 0 else _F32_EXP_OVER) | (ix & _SIGN))
    kd = _fma(xc, _LOG2E, _SHIFT)
    n = _f64_bits(kd) - _SHIFT_BITS
    k = kd - _SHIFT
    r = _fma(-k, _LN2_HI, xc)
    r = _fma(-k, _LN2_LO, r)
    y = (_expm1_q_short(r) + 1.0) * _bits_f64((n + 1023) << 52)
    y = _INF if ix > _F32_EXP_OVER else y  # selected: the cast would raise overflow
    return _f32(xd if ax > _INF_BITS else y)


@njit(error_model="numpy", inline="always")
def expm1_f32(x: Any) -> Any:
    xd = _f64(x)
    ix = _f64_bits(xd)
    ax = ix & _ABS
    # Clamp to [-110, 88.7228317]: the float64 value stays normal and its
    # float32 cast finite even if LLVM moves the cast before the select below
    # (measured: with a +110 clamp the cast raised *overflow*).
    xc = _bits_f64(min(ax, _B110 if ix < 0 else _F32_EXP_OVER) | (ix & _SIGN))
    e, n = _expm1_reduced_short(xc)
    y = _expm1_finish(e, n)
    y = _INF if ix > _F32_EXP_OVER else y  # selected: the cast would raise overflow
    y = _bits_f64(_f64_bits(y) | (ix & _SIGN))  # -0 -> -0
    return _f32(xd if ax > _INF_BITS else y)


@njit(error_model="numpy", inline="always")
def log_f32(x: Any) -> Any:
    return _f32(log_f64(_f64(x)))


@njit(error_model="numpy", inline="always")
def log1p_f32(x: Any) -> Any:
    return _f32(log1p_f64(_f64(x)))


@njit(error_model="numpy", inline="always")
def tanh_f32(x: Any) -> Any:
    xd = _f64(x)
    ix = _f64_bits(xd)
    ax = ix & _ABS
    ac = _bits_f64(min(ax, _B10))  # tanh(10) rounds to 1 in f32
    e, n = _expm1_reduced_short(-2.0 * ac)
    t = _expm1_finish(e, n)
    y = _bits_f64((_f64_bits(-t / (t + 2.0)) & _ABS) | (ix & _SIGN))
    return _f32(xd if ax > _INF_BITS else y)


@njit(error_model="numpy", inline="always")
def erf_f32(x: Any) -> Any:
    return _f32(erf_f64(_f64(x)))


@njit(error_model="numpy", inline="always")
def erfc_f32(x: Any) -> Any:
    return _f32(erfc_f64(_f64(x)))


@njit(error_model="numpy", inline="always")
def sqrt_f32(x: Any) -> Any:
    return _f32(sqrt_f64(_f64(x)))


@njit(error_model="numpy", inline="always")
def fabs_f32(x: Any) -> Any:
    return abs(x)  # llvm.fabs: an and-mask, no flags


@njit(error_model="numpy", inline="always")
def copysign_f32(x: Any, y: Any) -> Any:
    return _f32(copysign_f64(_f64(x), _f64(y)))


@njit(error_model="numpy", inline="always")
def isnan_f32(x: Any) -> bool:
    return isnan_f64(_f64(x))


@njit(error_model="numpy", inline="always")
def isinf_f32(x: Any) -> bool:
    return isinf_f64(_f64(x))


@njit(error_model="numpy", inline="always")
def hypot_f32(x: Any, y: Any) -> Any:
    # Exact squares in float64 (|x| < 2**128: no overflow, no underflow below
    # float32's subnormals), one sqrt and one final rounding.
    xd, yd = _f64(x), _f64(y)
    ax, ay = fabs_f64(xd), fabs_f64(yd)
    h = sqrt_f64(_fma(xd, xd, yd * yd))
    h = ax if isinf_f64(ax) else (ay if isinf_f64(ay) else h)
    return _f32(h)


@njit(error_model="numpy", inline="always")
def fmin_f32(a: Any, b: Any) -> Any:
    return _f32(fmin_f64(_f64(a), _f64(b)))


@njit(error_model="numpy", inline="always")
def fmax_f32(a: Any, b: Any) -> Any:
    return _f32(fmax_f64(_f64(a), _f64(b)))


@njit(error_model="numpy", inline="always")
def lt_f32(a: Any, b: Any) -> bool:
    return lt_f64(_f64(a), _f64(b))


@njit(error_model="numpy", inline="always")
def le_f32(a: Any, b: Any) -> bool:
    return le_f64(_f64(a), _f64(b))


@njit(error_model="numpy", inline="always")
def gt_f32(a: Any, b: Any) -> bool:
    return lt_f64(_f64(b), _f64(a))


@njit(error_model="numpy", inline="always")
def ge_f32(a: Any, b: Any) -> bool:
    return le_f64(_f64(b), _f64(a))


_NAMES = ("exp", "expm1", "log", "log1p", "tanh", "erf", "erfc", "sqrt", "hypot",
          "fabs", "copysign", "fmin", "fmax", "isnan", "isinf", "lt", "le", "gt", "ge")

PRIMITIVES: dict[str, dict[str, Any]] = {
    dt: {name: globals()[f"{name}_{suffix}"] for name in _NAMES}
    for dt, suffix in (("float32", "f32"), ("float64", "f64"))
}
"""dtype name -> primitive name -> njit function of that dtype."""
