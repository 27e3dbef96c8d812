"""Fit the float32 polynomials of fastact/_kernels/numba_math.py (native float32 math).

Usage (from the repository root)::

    python tools/fit_f32_math.py

Prints each polynomial's coefficients rounded to float32 and its relative error
over its interval (the fit is Chebyshev-node interpolation with mpmath at 60
digits, evaluated after rounding the coefficients to float32, in exact
arithmetic: the error of the approximation alone, not of its float32
evaluation). The numbers in numba_math.py come from this script.
"""

from __future__ import annotations

import mpmath
import numpy as np

mpmath.mp.dps = 60


def _interpolate(f, lo: float, hi: float, degree: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Coefficients (low degree first) of the polynomial through f at degree+1
    Chebyshev nodes of [lo, hi], rounded to float32."""
    n = degree + 1
    nodes = [(mpmath.mpf(lo) + hi) / 2 + (mpmath.mpf(hi) - lo) / 2
             * mpmath.cos(mpmath.pi * (2 * k + 1) / (2 * n)) for k in range(n)]  # fmt: skip
    a = mpmath.matrix([[t**j for j in range(n)] for t in nodes])
    b = mpmath.matrix([f(t) for t in nodes])
    c = mpmath.lu_solve(a, b)
    return [float(np.float32(float(c[j]))) for j in range(n)]


def _fit_rounded(f, lo: float, hi: float, degree: int, basis_power: int = 0,  # type: ignore[no-untyped-def]
                 weight=None) -> list[float]:
    """Like _interpolate, but against the rounding of the coefficients: fit by
    relative least squares at 8 (degree + 1) Chebyshev nodes, round the lowest
    coefficient to float32, refit the others with it fixed, and so on (rounding all
    at once cost up to 10x the error of the fit for the erfc tail). The error is
    relative to ``weight(t)`` (default: f itself)."""
    m = 8 * (degree + 1)
    nodes = [(mpmath.mpf(lo) + hi) / 2 + (mpmath.mpf(hi) - lo) / 2
             * mpmath.cos(mpmath.pi * (2 * k + 1) / (2 * m)) for k in range(m)]  # fmt: skip
    values = [f(t) for t in nodes]
    weights = values if weight is None else [weight(t) for t in nodes]
    fixed: list[float] = []
    for j in range(degree + 1):
        rows, rhs = [], []
        for t, v, w in zip(nodes, values, weights, strict=True):
            rest = v - sum(c * t ** (i + basis_power) for i, c in enumerate(fixed))
            rows.append([t ** (i + basis_power) / w for i in range(j, degree + 1)])
            rhs.append(rest / w)
        c = mpmath.qr_solve(mpmath.matrix(rows), mpmath.matrix(rhs))[0]
        fixed.append(float(np.float32(float(c[0]))))
    return fixed


def _max_rel(approx, exact, lo: float, hi: float) -> float:  # type: ignore[no-untyped-def]
    worst = mpmath.mpf(0)
    for t in mpmath.linspace(lo, hi, 2001):
        if t == 0:
            continue
        e = exact(t)
        worst = max(worst, abs((approx(t) - e) / e))
    return float(worst)


def _horner(c: list[float]):  # type: ignore[no-untyped-def]
    def p(t):  # type: ignore[no-untyped-def]
        acc = mpmath.mpf(c[-1])
        for v in reversed(c[:-1]):
            acc = acc * t + v
        return acc

    return p


def exp_poly(degree: int = 5) -> None:
    """expm1(r) = r + r**2 q(r) on |r| <= ln2/2 (+ a little for the rounding of n)."""
    h = 0.35

    def q(t):  # type: ignore[no-untyped-def]
        if abs(t) < 1e-20:  # an odd node count puts one node at cos(pi/2) ~ 1e-61
            return mpmath.mpf(1) / 2 + t / 6
        return (mpmath.expm1(t) - t) / t**2

    c = _interpolate(q, -h, h, degree)
    p = _horner(c)
    err = _max_rel(lambda t: t + t * t * p(t), mpmath.expm1, -h, h)
    err_exp = _max_rel(lambda t: 1 + t + t * t * p(t), mpmath.exp, -h, h)
    print(f"expm1 q degree {degree}: {c}\n  rel. error of expm1(r) {err:.3g}, exp(r) {err_exp:.3g}")


def log_poly(degree: int = 4) -> None:
    """fdlibm's log(1+f) = f - hfsq + s*(hfsq + R(z)), s = f/(2+f), z = s*s,
    R(z) = z*(c0 + c1 z + ...) for sqrt(2)/2 <= 1+f < sqrt(2)."""
    smax = (mpmath.sqrt(2) - 1) / (mpmath.sqrt(2) + 1)  # 0.1716

    def r_over_z(z):  # type: ignore[no-untyped-def]
        if abs(z) < 1e-20:
            return mpmath.mpf(2) / 3
        s = mpmath.sqrt(z)
        f = 2 * s / (1 - s)
        hfsq = f * f / 2
        return ((mpmath.log1p(f) - f + hfsq) / s - hfsq) / z

    c = _interpolate(r_over_z, 0.0, float(smax**2), degree - 1)
    p = _horner(c)

    def approx(s):  # type: ignore[no-untyped-def]
        f = 2 * s / (1 - s)
        hfsq = f * f / 2
        return f - hfsq + s * (hfsq + s * s * p(s * s))

    err = _max_rel(approx, lambda s: mpmath.log1p(2 * s / (1 - s)), float(-smax), float(smax))
    print(f"log R(z)/z degree {degree - 1}: {c}\n  rel. error of log(1+f) {err:.3g}")


def tanh_poly(degree: int = 6, h: float = 0.75) -> None:
    """tanh(x) = x + x**3 P(x**2) for |x| <= h (where tanh_f32 does not go through
    expm1: above, 1 - 2/(t + 2) loses (1 - tanh)/tanh ulps to cancellation, 1.46
    ulp at h = log(3)/2, under 1 at 0.75)."""

    def p_of(z):  # type: ignore[no-untyped-def]
        if abs(z) < 1e-20:
            return -mpmath.mpf(1) / 3
        x = mpmath.sqrt(z)
        return (mpmath.tanh(x) - x) / x**3

    c = _interpolate(p_of, 0.0, h * h, degree)
    p = _horner(c)
    err = _max_rel(lambda x: x + x**3 * p(x * x), mpmath.tanh, -h, h)
    print(f"tanh P(z) degree {degree}: {c}\n  rel. error of tanh(x) {err:.3g}")


def erf_poly(degree: int = 6, h: float = 1.0) -> None:
    """erf(x) = x + x P(x**2) for |x| <= h (erfc_f32 uses it as 1 - erf below 0.5);
    x + x P, not x P': 2/sqrt(pi) rounded to float32 is 5.4e-8 off, P(0) = 0.128
    rounded is 6e-9 off."""

    def p_of(z):  # type: ignore[no-untyped-def]
        if abs(z) < 1e-30:
            return 2 / mpmath.sqrt(mpmath.pi) - 1
        x = mpmath.sqrt(z)
        return mpmath.erf(x) / x - 1

    def w_of(z):  # type: ignore[no-untyped-def]
        return p_of(z) + 1

    c = _fit_rounded(p_of, 0.0, h * h, degree, weight=w_of)
    p = _horner(c)
    err = _max_rel(lambda x: x + x * p(x * x), mpmath.erf, -h, h)
    print(f"erf P(z) degree {degree} on |x| <= {h}: {c}\n  rel. error of erf(x) {err:.3g}")


def erfc_tail(degree: int = 10, lo: float = 0.5, hi: float = 10.1, a: float = 0.5) -> None:
    """erfc(x) = exp(-x**2) t Q(t - c), t = 1/(1 + a x), for lo <= x <= hi
    (erfc(10.06) is below float32's smallest subnormal); Q in powers of t - c, c the
    middle of t's range: in powers of t the coefficients alternate up to 0.69 and
    their float32 Horner sum cancelled to 5.4 ulp at x = 1.5; Q(t - c) alone, t's
    factor taken in, cancels in the far tail (6 ulp at x = 8.4, Q = 0.07 from
    coefficients near 0.9)."""
    t_lo, t_hi = 1 / (1 + a * hi), 1 / (1 + a * lo)
    centre = float(np.float32((t_lo + t_hi) / 2))

    def q_of(u):  # type: ignore[no-untyped-def]
        t = u + centre
        x = (1 / t - 1) / a
        return mpmath.erfc(x) * mpmath.exp(x * x) / t

    c = _fit_rounded(q_of, t_lo - centre, t_hi - centre, degree)
    p = _horner(c)
    worst = mpmath.mpf(0)
    for x in mpmath.linspace(lo, hi, 3001):
        t = 1 / (1 + a * x)
        worst = max(worst, abs(t * p(t - centre) / (mpmath.erfc(x) * mpmath.exp(x * x)) - 1))
    print(f"erfc tail Q(t - {centre!r}) degree {degree}, t = 1/(1 + {a} x), {lo} <= x <= {hi}:"
          f" {c}\n  rel. error of erfc(x) exp(x**2) {float(worst):.3g}")
    # S = d(t Q(t))/dt, to correct t Q(t) for the rounding error dt of t:
    # t Q(t) + dt S(t) (dt ~ 1e-7 t: S needs a few % only).
    def s_of(u):  # type: ignore[no-untyped-def]
        return mpmath.diff(lambda v: (v + centre) * p(v), u)

    cs = _fit_rounded(s_of, t_lo - centre, t_hi - centre, 3, weight=lambda u: p(u))
    ps = _horner(cs)
    worst = max(abs(ps(u) - s_of(u)) / p(u)
                for u in mpmath.linspace(t_lo - centre, t_hi - centre, 400))
    print(f"  S(t - c) = d(t Q)/dt, degree 3: {cs}, error relative to Q {float(worst):.3g}")


if __name__ == "__main__":
    for d in (5, 6, 7):
        erf_poly(d)
    erfc_tail(10)
    tanh_poly(6)
    for d in (4, 5):
        exp_poly(d)
    for d in (3, 4):
        log_poly(d)
    print(f"float32 half-ulp (relative): {2.0**-24:.3g}")
