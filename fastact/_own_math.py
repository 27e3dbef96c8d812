"""fastact's own versions of some primitives, for the C backend, in the formula language.

``tools/codegen.py`` maps each primitive of :mod:`fastact._primitives`, per dtype, either
to glibc's libm function (vectorised through libmvec) or to the function of this module
named ``own_<primitive>``, translated into C like the formulas (``fa_own_tanh_f32``, ...);
its table ``_IMPL`` says which, with the measured numbers. Calls of primitives inside
these functions always go to libm (libmvec), never back to this module.

The functions are written in the subset of :mod:`fastact._formulas` (assignments, one
``return``, float literals, selects), over :mod:`fastact._primitives`, so that the tests
can run them as plain Python too. Both arms of a select are computed: an unselected arm
may overflow or be NaN, never more (the C driver discards the floating-point flags).

The algorithms are the ones the numba backend's ``numba_math.py`` uses where they need
no bit manipulation (the formula language has none):

``own_tanh_f32``, ``own_tanh_f64`` (``own_<name>_<f32|f64>`` serves that dtype only)
    |x| < log(3)/2: |x| + |x| s P(s), s = x**2, P fitted to (tanh(x) - x)/x**3 (least
    squares on Chebyshev nodes, relative weights, mpmath targets; degree 4 in s for
    float32, relative error 4e-9 in float64 arithmetic; degree 10 for float64, 6e-17);
    above, 1 - 2/(e + 1) with e = exp(2|x|) (libm's exp, the cheap one in libmvec: its
    error is damped by 2e/(e + 1)**2 < 0.4), |x| clamped to 10 (float32) / 22
    (float64), where tanh rounds to 1. The sign of x is copied last, so tanh(-0) = -0
    and subnormal x returns x (x*x underflows to 0); a NaN |x| fails every comparison
    and reaches exp unchanged. (tanh on libmvec's expm1, -t/(t + 2) with
    t = expm1(-2|x|), as numba_math.py does, measured slower than libmvec's tanh: see
    tools/codegen.py.)
``own_expm1_f32``
    |x| < log 2: x + x**2 Q(x), Q fitted to (expm1(x) - x)/x**2 (as P above; degree 6,
    relative error 1.5e-9 in float64 arithmetic); above, exp(x) - 1 (libm's exp; the
    subtraction at most doubles exp's relative error there, and never cancels below
    -log 2); x = +-0 returns x. No float64 version: the float64 fit stalled at 5e-16
    (2-4 ulp) in the time there was.
``own_log1p``
    log(u) - ((u - 1) - x)/u with u = 1 + x rounded: (u - 1) - x is the exact rounding
    error of u (|x| <= 1; negligible beside u above), and dividing it by u is the
    first-order correction of log(u), whose own error then dominates. u = 0 (x = -1)
    and u = inf skip the correction (its 0/0 and inf - inf); x = +-0 returns x itself
    (log1p(-0) = -0).
"""

from __future__ import annotations

from fastact._primitives import copysign, exp, fabs, isinf, log, select

__all__ = ["own_expm1_f32", "own_log1p", "own_tanh_f32", "own_tanh_f64"]


def own_tanh_f32(x: float) -> float:
    a = fabs(x)
    s = a * a
    p = -0.0066095623187720776
    p1 = p * s + 0.021308623254299164
    p2 = p1 * s + -0.05390921235084534
    p3 = p2 * s + 0.13333112001419067
    p4 = p3 * s + -0.3333333134651184
    small = a + a * (s * p4)
    ac = select(a > 10.0, 10.0, a)  # NaN stays NaN
    big = 1.0 - 2.0 / (exp(2.0 * ac) + 1.0)
    return copysign(select(a < 0.5493061443340549, small, big), x)


def own_tanh_f64(x: float) -> float:
    a = fabs(x)
    s = a * a
    p = -2.0268933194193862e-05
    p1 = p * s + 8.463957013496807e-05
    p2 = p1 * s + -0.00023434996690537192
    p3 = p2 * s + 0.000588841527249823
    p4 = p3 * s + -0.001455642947837054
    p5 = p4 * s + 0.0035921080611587366
    p6 = p5 * s + -0.008863234227404437
    p7 = p6 * s + 0.02186948848675611
    p8 = p7 * s + -0.05396825396730688
    p9 = p8 * s + 0.13333333333332623
    p10 = p9 * s + -0.33333333333333304
    small = a + a * (s * p10)
    ac = select(a > 22.0, 22.0, a)  # NaN stays NaN
    big = 1.0 - 2.0 / (exp(2.0 * ac) + 1.0)
    return copysign(select(a < 0.5493061443340549, small, big), x)


def own_expm1_f32(x: float) -> float:
    q = 2.468178172421176e-05
    q1 = q * x + 0.0002009604504564777
    q2 = q1 * x + 0.0013891318812966347
    q3 = q2 * x + 0.008332625962793827
    q4 = q3 * x + 0.04166659712791443
    q5 = q4 * x + 0.16666671633720398
    q6 = q5 * x + 0.5
    small = x + x * (x * q6)
    r = select(fabs(x) < 0.6931471805599453, small, exp(x) - 1.0)
    return select(x == 0.0, x, r)  # -0 -> -0


def own_log1p(x: float) -> float:
    u = 1.0 + x
    c = (u - 1.0) - x
    corr = select(u == 0.0 or isinf(u), 0.0, c / u)
    return select(x == 0.0, x, log(u) - corr)
