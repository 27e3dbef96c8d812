"""fastact's vector math, written once: exp, expm1, log, log1p, tanh, erf, erfc, hypot.

The functions below are scalar Python in the subset of :mod:`fastact._formulas`
(assignments, one ``return``, float literals, arithmetic, single comparisons,
``and``/``or``/``not``, ``select`` and calls), over a few bit-level primitives
of :mod:`fastact._primitives` (``pow2``, ``frexp_exp``/``frexp_mant``, ``chop``,
``widen``/``narrow``, ``copysign``, ``isnan``, ``sqrt``). The generators translate
them, like the formulas, into

* C (``tools/codegen.py`` -> ``fastact/_kernels/fa_math.h``): static inline
  functions that gcc vectorises inside the block loops of ``fa_driver.h``, for each
  target_clones variant (no libm or libmvec call is left);
* numba (``tools/codegen_numba.py`` -> ``fastact/_kernels/numba_kernels.py``): njit
  functions inlined into the kernel loops, which LLVM vectorises (no call left).

A function named ``<name>_f32`` or ``<name>_f64`` exists for that dtype only and is
what the formulas' ``<name>`` means there; ``<name>_f64`` may be called by its full
name from float32 code (with ``widen``/``narrow`` around it). float32 functions
compute in float32 arithmetic (16 AVX-512 lanes), except erf, erfc and hypot, which
compute in float64 (a float32 tail of erfc needs exp(-x**2) to ~x**2 more bits than
float32 has).

Rules that make the translations bit-identical to each other (and across the
AVX-512, AVX2 and baseline clones): no fused multiply-add (C is compiled with
``-ffp-contract=off``; numba's LLVM does not contract without fast-math flags), the
operations in the written order, and every branch computed and selected (so an
unselected lane may overflow or divide by zero: the C driver discards the flags, and
a numba njit loop's flags are never read by NumPy, which clears them before each of
its own loops).

Range reduction (exp, expm1, tanh): k = round(x/ln2) with the 1.5*2**p shifter (no
float-to-int conversion), r = x - k*ln2 in two steps (Cody-Waite: ln2_hi has few
enough bits that k*ln2_hi is exact), exp(r) = 1 + (r + r**2 q(r)), q interpolated at
Chebyshev nodes on |r| <= ln2/2 with mpmath (50 digits): relative error of
r + r**2 q(r) against expm1(r): degree 4 2.4e-8 (float32 exp: ~0.14 ulp of exp),
degree 5 5.3e-10 (float32 expm1/tanh), degree 10 4.8e-18 (float64). 2**k is applied
as two factors so that results underflow gradually with one rounding.
log, log1p: fdlibm's x = 2**k (1 + f), s = f/(2 + f), log(1 + f) = f - f**2/2 +
s (f**2/2 + R(s**2)); R: Taylor 2/3, 2/5, 2/7, 2/9 for float32, fdlibm's Lg1..Lg7
for float64. log1p adds the exact error of 1 + x (two-sum) as c/u.
erf, erfc: fdlibm's four rational approximations, with the coefficients of the two
small-argument rationals (and the two tail rationals) blended by selects so that
each call costs two rational evaluations whatever the lanes hold.
"""

from __future__ import annotations

from fastact._primitives import (
    chop,
    copysign,
    fabs,
    frexp_exp,
    frexp_mant,
    isinf,
    isnan,
    narrow,
    pow2,
    select,
    sqrt,
    widen,
)

__all__ = ["MATH_FUNCTIONS"]

INF = 1e999
NAN = INF - INF

# ------------------------------------------------------------------ exp, expm1: float32

LOG2E = 1.4426950408889634
SHIFT_F32 = 12582912.0  # 1.5 * 2**23: x + SHIFT rounds x to an integer (|x| < 2**22)
LN2_HI_F32 = 0.693145751953125  # 16 bits: k * LN2_HI exact for |k| < 2**8
LN2_LO_F32 = 1.4286068203094172e-06
# q(r) = (expm1(r) - r)/r**2, degree 4 (exp) and 5 (expm1, tanh): see the docstring.
E4_0 = 0.5
E4_1 = 0.16666576989698775
E4_2 = 0.041666554617204574
E4_3 = 0.008363179052722578
E4_4 = 0.0013926183587713494
E5_0 = 0.500000001346581
E5_1 = 0.16666666681623232
E5_2 = 0.041666464925285904
E5_3 = 0.0083333109254809
E5_4 = 0.0013933649996309251
E5_5 = 0.00019890990824673654
EXP_OVER_F32 = 88.72283172607422  # largest float32 x with a finite exp(x)


def exp_f32(x: float) -> float:
    # exp(x < -104) rounds to 0 and exp(x > 88.8) overflows: those lanes (and NaN)
    # compute exp(0) or exp(88.8) and are replaced. Not a clamp at -104: its subnormal
    # product costs a microcode assist per vector (softplus over (-200, 200): 30
    # against 4 ns/element)
    xc = select(x > 88.8, 88.8, select(x < -104.0, 0.0, x))
    xn = select(isnan(x), 0.0, xc)
    k = (xn * LOG2E + SHIFT_F32) - SHIFT_F32
    r = (xn - k * LN2_HI_F32) - k * LN2_LO_F32
    q = E4_0 + r * (E4_1 + r * (E4_2 + r * (E4_3 + r * E4_4)))
    p = 1.0 + (r + (r * r) * q)
    # k in [-150, 128]: two normal factors 2**(k - k2) * 2**k2, one rounding
    k2 = select(k < -120.0, -60.0, select(k > 120.0, 1.0, 0.0))
    y = (p * pow2(k - k2)) * pow2(k2)
    return select(isnan(x), x, select(x > EXP_OVER_F32, INF, select(x < -104.0, 0.0, y)))


def expm1_core_f32(a: float) -> float:
    """expm1(a) for finite a in [-18.5, 88.8]."""
    k = (a * LOG2E + SHIFT_F32) - SHIFT_F32
    rh = a - k * LN2_HI_F32  # exact (Sterbenz)
    r = rh - k * LN2_LO_F32
    rl = (rh - r) - k * LN2_LO_F32  # r + rl = rh - k*LN2_LO to float32 precision**2
    q = E5_0 + r * (E5_1 + r * (E5_2 + r * (E5_3 + r * (E5_4 + r * E5_5))))
    e0 = r + (r * r) * q
    e = e0 + rl * (e0 + 1.0)
    # expm1 = 2**k (1 + e) - 1 = 2 (s e + (s - 1/2)), s = 2**(k - 1): s - 1/2 exact
    s = pow2(k - 1.0)
    return select(k == 0.0, e, 2.0 * (s * e + (s - 0.5)))


def expm1_f32(x: float) -> float:
    # expm1(-18.5) = -1 + 9e-9 rounds to -1
    xc = select(x > 88.8, 88.8, select(x < -18.5, -18.5, x))
    xn = select(isnan(x), 0.0, xc)
    y = select(x > EXP_OVER_F32, INF, expm1_core_f32(xn))
    return select(isnan(x), x, copysign(y, x))  # sign(expm1 x) = sign x: -0 -> -0


def tanh_f32(x: float) -> float:
    # |x| > 9.1: tanh rounds to 1. Below log(3)/2: -t/(t + 2), t = expm1(-2|x|);
    # above: 1 - 2/(t + 2), t = expm1(2|x|) (one expm1 either way).
    ax = select(fabs(x) > 9.1, 9.1, fabs(x))
    big = ax > 0.5493061443340549
    t = expm1_core_f32(select(isnan(x), 0.0, select(big, 2.0 * ax, -2.0 * ax)))
    y = select(big, 1.0 - 2.0 / (t + 2.0), -t / (t + 2.0))
    return select(isnan(x), x, copysign(y, x))


# ------------------------------------------------------------------ exp, expm1: float64

SHIFT_F64 = 6755399441055744.0  # 1.5 * 2**52
LN2_HI_F64 = 6.93147180369123816490e-01  # fdlibm: k * LN2_HI exact for |k| < 2**20
LN2_LO_F64 = 1.90821492927058770002e-10
Q0 = 0.5
Q1 = 0.1666666666666667
Q2 = 0.04166666666666667
Q3 = 0.008333333333326136
Q4 = 0.001388888888888375
Q5 = 0.00019841269874815834
Q6 = 2.480158732554432e-05
Q7 = 2.7557255406285044e-06
Q8 = 2.7557273647451087e-07
Q9 = 2.5105214474751413e-08
Q10 = 2.0914685161418067e-09
EXP_OVER_F64 = 709.782712893384


def expm1_poly_f64(r: float) -> float:
    q = Q0 + r * (Q1 + r * (Q2 + r * (Q3 + r * (Q4 + r * (Q5 + r * (Q6 + r * (Q7 + r * (
        Q8 + r * (Q9 + r * Q10)))))))))  # fmt: skip
    return r + (r * r) * q


def exp_f64(x: float) -> float:
    xc = select(x > 709.8, 709.8, select(x < -746.0, 0.0, x))  # as exp_f32
    xn = select(isnan(x), 0.0, xc)
    k = (xn * LOG2E + SHIFT_F64) - SHIFT_F64
    r = (xn - k * LN2_HI_F64) - k * LN2_LO_F64
    p = 1.0 + expm1_poly_f64(r)
    k2 = select(k < -1000.0, -100.0, select(k > 1000.0, 1.0, 0.0))
    y = (p * pow2(k - k2)) * pow2(k2)
    return select(isnan(x), x, select(x > EXP_OVER_F64, INF, select(x < -746.0, 0.0, y)))


def expm1_core_f64(a: float) -> float:
    """expm1(a) for finite a in [-40, 709.8]."""
    k = (a * LOG2E + SHIFT_F64) - SHIFT_F64
    rh = a - k * LN2_HI_F64
    r = rh - k * LN2_LO_F64
    rl = (rh - r) - k * LN2_LO_F64
    e0 = expm1_poly_f64(r)
    e = e0 + rl * (e0 + 1.0)
    s = pow2(k - 1.0)
    return select(k == 0.0, e, 2.0 * (s * e + (s - 0.5)))


def expm1_f64(x: float) -> float:
    xc = select(x > 709.8, 709.8, select(x < -40.0, -40.0, x))
    xn = select(isnan(x), 0.0, xc)
    y = select(x > EXP_OVER_F64, INF, expm1_core_f64(xn))
    return select(isnan(x), x, copysign(y, x))


def tanh_f64(x: float) -> float:
    ax = select(fabs(x) > 22.0, 22.0, fabs(x))  # tanh(22) rounds to 1
    big = ax > 0.5493061443340549
    t = expm1_core_f64(select(isnan(x), 0.0, select(big, 2.0 * ax, -2.0 * ax)))
    y = select(big, 1.0 - 2.0 / (t + 2.0), -t / (t + 2.0))
    return select(isnan(x), x, copysign(y, x))


# ------------------------------------------------------------------ log, log1p

LG1 = 6.666666666666735130e-01  # fdlibm/musl e_log.c, |error of R| < 2**-58.45
LG2 = 3.999999999940941908e-01
LG3 = 2.857142874366239149e-01
LG4 = 2.222219843214978396e-01
LG5 = 1.818357216161805012e-01
LG6 = 1.531383769920937332e-01
LG7 = 1.479819860511658591e-01


def log_kernel_f32(f: float, k: float, c: float) -> float:
    """k ln2 + log(1 + f) + c for sqrt(2)/2 - 1 <= f < sqrt(2) - 1."""
    hfsq = (0.5 * f) * f
    s = f / (2.0 + f)
    z = s * s
    # Taylor 2/(2j + 1): the first omitted term, 2/11 z**5 s, is < 1e-9 relative
    rz = z * (0.6666666666666666 + z * (0.4 + z * (0.2857142857142857 + z * 0.2222222222222222)))
    return (((s * (hfsq + rz) + (k * LN2_LO_F32 + c)) - hfsq) + f) + k * LN2_HI_F32


def log_kernel_f64(f: float, k: float, c: float) -> float:
    hfsq = (0.5 * f) * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (LG2 + w * (LG4 + w * LG6))
    t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)))
    return (((s * (hfsq + (t2 + t1)) + (k * LN2_LO_F64 + c)) - hfsq) + f) + k * LN2_HI_F64


def log_special(x: float, y: float) -> float:
    """log's result y for x > 0 finite; -inf at 0, NaN below, inf at inf, NaN kept."""
    y2 = select(x > 0.0, y, select(x == 0.0, -INF, NAN))
    return select(isnan(x), x, select(x == INF, INF, y2))


def log_f32(x: float) -> float:
    sub = x < 1.1754943508222875e-38  # subnormals scaled to normal by 2**24
    xs = x * select(sub, 16777216.0, 1.0)
    k = frexp_exp(xs) - select(sub, 24.0, 0.0)
    return log_special(x, log_kernel_f32(frexp_mant(xs) - 1.0, k, 0.0))


def log_f64(x: float) -> float:
    sub = x < 2.2250738585072014e-308
    xs = x * select(sub, 18014398509481984.0, 1.0)
    k = frexp_exp(xs) - select(sub, 54.0, 0.0)
    return log_special(x, log_kernel_f64(frexp_mant(xs) - 1.0, k, 0.0))


def log1p_special(x: float, y: float) -> float:
    y2 = select(x > -1.0, y, select(x == -1.0, -INF, NAN))
    # sign(log1p x) = sign x: -0 -> -0
    return select(isnan(x), x, copysign(select(x == INF, INF, y2), x))


def log1p_f32(x: float) -> float:
    # -0.29 < x < 0.41: 1 + x is already in [sqrt(2)/2, sqrt(2)): f = x, exactly
    small = x > -0.2928932188134524 and x < 0.41421356237309503
    u = 1.0 + x
    bb = u - 1.0
    c = (1.0 - (u - bb)) + (x - bb)  # two-sum: 1 + x = u + c exactly
    f = select(small, x, frexp_mant(u) - 1.0)
    k = select(small, 0.0, frexp_exp(u))
    return log1p_special(x, log_kernel_f32(f, k, select(small, 0.0, c / u)))


def log1p_f64(x: float) -> float:
    small = x > -0.2928932188134524 and x < 0.41421356237309503
    u = 1.0 + x
    bb = u - 1.0
    c = (1.0 - (u - bb)) + (x - bb)
    f = select(small, x, frexp_mant(u) - 1.0)
    k = select(small, 0.0, frexp_exp(u))
    return log1p_special(x, log_kernel_f64(f, k, select(small, 0.0, c / u)))


# ------------------------------------------------------------------ erf, erfc (float64)
# fdlibm/musl s_erf.c coefficients (Sun Microsystems, freely redistributable): the
# rationals of [0, 0.84375) in x**2 (PP/QQ) and [0.84375, 1.25) in |x| - 1 (PA/QA)
# blended into one (N*/D*), likewise the tails [1.25, 1/0.35) (RA/SA) and
# [1/0.35, 28) (RB/SB) in 1/x**2.
ERX = 8.45062911510467529297e-01
B2857 = 2.8571414947509766  # fdlibm's 1/0.35 boundary (high word 0x4006DB6D)


def erf_small_f64(a: float) -> float:
    """P/Q of [0, 0.84375) (in a**2), or of [0.84375, 1.25] (in a - 1), a >= 0."""
    small = a < 0.84375
    v = select(small, a * a, a - 1.0)
    p6 = select(small, 0.0, -0.002166375594868791)
    p5 = v * p6 + select(small, 0.0, 0.035478304325618236)
    p4 = v * p5 + select(small, -2.3763016656650163e-05, -0.11089469428239668)
    p3 = v * p4 + select(small, -0.005770270296489442, 0.31834661990116175)
    p2 = v * p3 + select(small, -0.02848174957559851, -0.3722078760357013)
    p1 = v * p2 + select(small, -0.3250421072470015, 0.41485611868374833)
    p0 = v * p1 + select(small, 0.12837916709551256, -0.0023621185607526594)
    q5 = select(small, 0.0, 0.011984499846799107)
    q4 = v * q5 + select(small, -3.960228278775368e-06, 0.01363708391202905)
    q3 = v * q4 + select(small, 0.00013249473800432164, 0.12617121980876164)
    q2 = v * q3 + select(small, 0.005081306281875766, 0.07182865441419627)
    q1 = v * q2 + select(small, 0.0650222499887673, 0.540397917702171)
    q0 = v * q1 + select(small, 0.39791722395915535, 0.10642088040084423)
    q = v * q0 + 1.0
    return p0 / q


def erfc_tail_f64(ax: float) -> float:
    """erfc(ax) for 1.25 <= ax <= 28, relative accuracy until it underflows:
    exp(-z*z - 0.5625) exp((z - ax)(z + ax) + P/Q) / ax, z = ax to 21 bits (z*z exact)."""
    near = ax < B2857
    s = 1.0 / (ax * ax)
    p7 = select(near, -9.814329344169145, 0.0)
    p6 = s * p7 + select(near, -81.2874355063066, -483.5191916086514)
    p5 = s * p6 + select(near, -184.60509290671104, -1025.0951316110772)
    p4 = s * p5 + select(near, -162.39666946257347, -637.5664433683896)
    p3 = s * p4 + select(near, -62.375332450326006, -160.63638485582192)
    p2 = s * p3 + select(near, -10.558626225323291, -17.757954917754752)
    p1 = s * p2 + select(near, -0.6938585727071818, -0.799283237680523)
    p0 = s * p1 + select(near, -0.009864944034847148, -0.0098649429247001)
    q7 = select(near, -0.0604244152148581, 0.0)
    q6 = s * q7 + select(near, 6.570249770319282, -22.44095244658582)
    q5 = s * q6 + select(near, 108.63500554177944, 474.52854120695537)
    q4 = s * q5 + select(near, 429.00814002756783, 2553.0504064331644)
    q3 = s * q4 + select(near, 645.3872717332679, 3199.8582195085955)
    q2 = s * q3 + select(near, 434.56587747522923, 1536.729586084437)
    q1 = s * q2 + select(near, 137.65775414351904, 325.7925129965739)
    q0 = s * q1 + select(near, 19.651271667439257, 30.33806074348246)
    q = s * q0 + 1.0
    z = chop(ax)
    e1 = exp_f64((-z) * z - 0.5625)
    e2 = exp_f64((z - ax) * (z + ax) + p0 / q)
    return (e1 * e2) / ax


def erf_f64(x: float) -> float:
    ax = fabs(x)
    small = ax < 0.84375
    a = select(ax < 1.25, ax, 1.25)
    y0 = erf_small_f64(a)
    yt = 1.0 - erfc_tail_f64(select(ax < 1.25, 1.25, select(ax > 6.0, 6.0, ax)))
    ys = select(small, a + a * y0, ERX + y0)
    y = select(ax < 1.25, ys, select(ax < 6.0, yt, 1.0))  # erf(6) rounds to 1
    return select(isnan(x), x, copysign(y, x))


def erfc_f64(x: float) -> float:
    ax = fabs(x)
    small = ax < 0.84375
    a = select(ax < 1.25, ax, 1.25)
    y0 = erf_small_f64(a)
    xm = copysign(a, x)
    r = erfc_tail_f64(select(ax < 1.25, 1.25, select(ax > 28.0, 28.0, ax)))
    # |x| < 0.84375: 1 - (x + x*y) below 1/4, else fdlibm's 0.5 - (x*y + (x - 0.5)),
    # whose cancellation is exact
    ys = select(x < 0.25, 1.0 - (xm + xm * y0), 0.5 - (xm * y0 + (xm - 0.5)))
    ym = select(x >= 0.0, (1.0 - ERX) - y0, 1.0 + (ERX + y0))
    yt = select(x >= 0.0, r, 2.0 - r)
    y = select(small, ys, select(ax < 1.25, ym, yt))
    # erfc(28) = 6.6e-343 is below the subnormals; 2 - erfc(6) rounds to 2
    y2 = select(x >= 28.0, 0.0, select(x <= -6.0, 2.0, y))
    return select(isnan(x), x, y2)


def erf_f32(x: float) -> float:
    return narrow(erf_f64(widen(x)))


def erfc_f32(x: float) -> float:
    return narrow(erfc_f64(widen(x)))


# ------------------------------------------------------------------ hypot


def hypot_f64(x: float, y: float) -> float:
    # sqrt(hi**2 + lo**2) scaled by a power of two (exact) when hi**2 would overflow or
    # lose digits to underflow; inf if either is inf (even with a NaN), else NaN kept
    ax = fabs(x)
    ay = fabs(y)
    hi = select(ax > ay, ax, ay)
    lo = select(ax > ay, ay, ax)
    sc = select(
        hi > 3.273390607896142e150, 2.0**-600, select(hi < 3.054936363499605e-151, 2.0**600, 1.0)
    )
    hs = hi * sc
    ls = lo * sc
    h = sqrt(hs * hs + ls * ls) / sc
    return select(isinf(x) or isinf(y), INF, h)


def hypot_wide_f64(x: float, y: float) -> float:
    """hypot of two float32 values given in float64: the squares are exact."""
    return select(isinf(x) or isinf(y), INF, sqrt(x * x + y * y))


def hypot_f32(x: float, y: float) -> float:
    return narrow(hypot_wide_f64(widen(x), widen(y)))


#: The math functions the formulas may call, each defined here for both dtypes.
MATH_FUNCTIONS = ("exp", "expm1", "log", "log1p", "tanh", "erf", "erfc", "hypot")
