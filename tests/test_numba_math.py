"""fastact._kernels.numba_math: accuracy against mpmath, special values, flags.

Every primitive runs inside a ``guvectorize`` loop, which LLVM vectorises
(the code under test is the SIMD code) and after which NumPy checks the FPU
flags, so "no warnings" is tested on the vector path: AVX-512 compares raise
*invalid* on NaN where scalar ones do not.
"""

from __future__ import annotations

import warnings
from typing import Any

import mpmath
import numpy as np
import pytest

numba = pytest.importorskip("numba")

from fastact._kernels.numba_math import PRIMITIVES  # noqa: E402

UNARY = ("exp", "expm1", "log", "log1p", "tanh", "erf", "erfc", "sqrt")
MP = {"exp": mpmath.exp, "expm1": mpmath.expm1, "log": mpmath.log, "log1p": mpmath.log1p,
      "tanh": mpmath.tanh, "erf": mpmath.erf, "erfc": mpmath.erfc, "sqrt": mpmath.sqrt}
# max error in ulp measured over 9000+ points (float32: every 23rd bit pattern,
# 187e6 points; see the module docstring), with headroom. The float32 functions
# are native float32 (erfc's tail: float32 Horner sums and roundings, 3.6 ulp).
BOUND = {"float64": {"exp": 1.0, "expm1": 1.2, "log": 1.0, "log1p": 1.0, "tanh": 2.0,
                     "erf": 1.0, "erfc": 2.0, "sqrt": 0.5},
         "float32": {"exp": 1.0, "expm1": 1.4, "log": 0.9, "log1p": 0.9, "tanh": 1.2,
                     "erf": 1.0, "erfc": 4.0, "sqrt": 0.5}}
_CACHE: dict[tuple[str, str], Any] = {}


def kernel(name: str, dtype: str) -> Any:
    key = (name, dtype)
    if key not in _CACHE:
        f = PRIMITIVES[dtype][name]
        nt = getattr(numba, dtype)

        @numba.guvectorize([(nt[:], nt[:])], "(n)->(n)", cache=True)
        def run(x: Any, out: Any) -> None:  # pragma: no cover - compiled
            for i in range(x.shape[0]):
                out[i] = f(x[i])

        _CACHE[key] = run
    return _CACHE[key]


def call(name: str, x: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no FP warning for any input
        return kernel(name, x.dtype.name)(x)  # type: ignore[no-any-return]


def sample(dtype: str, n: int) -> np.ndarray:
    """Deterministic: random bit patterns over all binades + the busy range."""
    rng = np.random.default_rng(20261)
    it, ft = (np.int64, np.float64) if dtype == "float64" else (np.int32, np.float32)
    bits = rng.integers(np.iinfo(it).min, np.iinfo(it).max, n, dtype=it)
    x = bits.view(ft)
    x = x[np.isfinite(x)]
    dense = rng.uniform(-30, 30, n).astype(ft)
    small = (rng.uniform(-1, 1, n) * 10.0 ** rng.uniform(-12, 0, n)).astype(ft)
    return np.concatenate([x, dense, small])


def ulp_error(y: float, ref: Any, dtype: str) -> float:
    fi = np.finfo(dtype)
    if mpmath.isnan(ref):
        return 0.0 if np.isnan(y) else np.inf
    rf = float(ref)
    big = abs(ref) > mpmath.mpf(float(fi.max))
    if big:  # overflows to inf in the format
        return 0.0 if y == np.copysign(np.inf, rf) else np.inf
    if not np.isfinite(y):
        return np.inf
    a = abs(np.dtype(dtype).type(rf))
    ulp = float(np.spacing(a)) if a >= fi.smallest_normal else float(fi.smallest_subnormal)
    if np.isinf(ulp):
        ulp = float(np.spacing(fi.max))
    return float(abs(mpmath.mpf(float(y)) - ref) / ulp)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", UNARY)
def test_accuracy_vs_mpmath(name: str, dtype: str) -> None:
    x = sample(dtype, 300)
    if name == "erfc":  # mpmath gives up far out; erfc(x > 28) == 0 is checked below
        x = x[np.abs(x) < 1e6]
    y = call(name, x)
    f = MP[name]
    with mpmath.workprec(120):
        errs = []
        for xi, yi in zip(x.tolist(), y.tolist(), strict=True):
            try:
                ref = f(mpmath.mpf(xi))
            except ValueError:
                ref = mpmath.nan
            if isinstance(ref, mpmath.mpc):  # log/sqrt of a negative number
                ref = mpmath.nan
            errs.append(ulp_error(yi, ref, dtype))
    i = int(np.argmax(errs))
    assert errs[i] <= BOUND[dtype][name], f"{name}({x[i]!r}) = {y[i]!r}: {errs[i]:.2f} ulp"


INF, NAN = np.inf, np.nan
SPECIAL = {
    "exp": [(NAN, NAN), (INF, INF), (-INF, 0.0), (0.0, 1.0), (-0.0, 1.0), (1000.0, INF),
            (-1000.0, 0.0)],
    "expm1": [(NAN, NAN), (INF, INF), (-INF, -1.0), (0.0, 0.0), (-0.0, -0.0),
              (1000.0, INF), (-1000.0, -1.0)],
    "log": [(NAN, NAN), (INF, INF), (-INF, NAN), (0.0, -INF), (-0.0, -INF), (1.0, 0.0),
            (-1.0, NAN)],
    "log1p": [(NAN, NAN), (INF, INF), (-INF, NAN), (0.0, 0.0), (-0.0, -0.0), (-1.0, -INF),
              (-2.0, NAN)],
    "tanh": [(NAN, NAN), (INF, 1.0), (-INF, -1.0), (0.0, 0.0), (-0.0, -0.0), (30.0, 1.0),
             (-30.0, -1.0)],
    "erf": [(NAN, NAN), (INF, 1.0), (-INF, -1.0), (0.0, 0.0), (-0.0, -0.0), (7.0, 1.0)],
    "erfc": [(NAN, NAN), (INF, 0.0), (-INF, 2.0), (0.0, 1.0), (-0.0, 1.0), (30.0, 0.0),
             (-7.0, 2.0)],
    "sqrt": [(NAN, NAN), (INF, INF), (-INF, NAN), (0.0, 0.0), (-0.0, -0.0), (-1.0, NAN),
             (4.0, 2.0)],
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", UNARY)
def test_special_values(name: str, dtype: str) -> None:
    x = np.array([a for a, _ in SPECIAL[name]] * 9, dtype=dtype)  # > one SIMD width
    want = np.array([b for _, b in SPECIAL[name]] * 9, dtype=dtype)
    y = call(name, x)
    np.testing.assert_array_equal(y, want)
    num = ~np.isnan(want)  # the sign of a NaN result is unspecified
    np.testing.assert_array_equal(np.signbit(y[num]), np.signbit(want[num]))


def test_no_warnings_anywhere() -> None:
    """Every primitive over NaN, +-inf, +-max, +-0 and random bits: no FP warning."""
    for dtype in ("float32", "float64"):
        fi = np.finfo(dtype)
        edge = np.array([NAN, -NAN, INF, -INF, fi.max, -fi.max, 0.0, -0.0,
                         fi.smallest_subnormal, -fi.smallest_subnormal], dtype=dtype)
        x = np.concatenate([np.tile(edge, 8), sample(dtype, 2000)])
        for name in UNARY:
            call(name, x)  # raises on a warning


def test_f64_tails_and_thresholds() -> None:
    x = np.array([26.0, -26.0, 709.782712893384, 709.7827128933841, -745.13, -708.5,
                  5e-324, 1e-300, 1e-18], dtype=np.float64)
    erfc = call("erfc", x[:2])
    assert erfc[0] == pytest.approx(5.663192408856143e-296, rel=4e-16)
    assert erfc[1] == 2.0
    e = call("exp", x[2:6])
    assert np.isfinite(e[0]) and e[1] == np.inf
    assert 0 < e[2] < np.finfo(np.float64).smallest_normal  # gradual underflow
    assert e[3] == pytest.approx(float(mpmath.exp(-708.5)), rel=3e-16)
    assert call("expm1", x[6:]).tolist() == x[6:].tolist()  # expm1(x) == x below 2**-54
    assert call("log1p", x[6:]).tolist() == x[6:].tolist()
    assert call("tanh", x[6:]).tolist() == x[6:].tolist()
    assert call("log", np.array([5e-324]))[0] == pytest.approx(-744.4400719213812, rel=1e-15)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["exp", "expm1", "log", "log1p", "tanh", "erf", "sqrt"])
def test_monotone(name: str, dtype: str) -> None:
    x = np.linspace(-40 if name not in ("log", "sqrt") else 1e-6, 40, 20001, dtype=dtype)
    x = np.concatenate([x, np.nextafter(x, np.inf, dtype=dtype)])
    x.sort()
    y = call(name, x)
    ok = ~np.isnan(y)
    assert np.all(np.diff(y[ok]) >= 0)
    assert np.all(np.diff(call("erfc", x)) <= 0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_helpers(dtype: str) -> None:
    p = PRIMITIVES[dtype]
    nt = getattr(numba, dtype)
    fmin, fmax, copysign, fabs = p["fmin"], p["fmax"], p["copysign"], p["fabs"]
    isnan, lt, le, gt, ge = p["isnan"], p["lt"], p["le"], p["gt"], p["ge"]

    @numba.njit
    def run(a: Any, b: Any) -> Any:  # pragma: no cover - compiled
        return (fmin(a, b), fmax(a, b), copysign(a, b), fabs(a),
                isnan(a), lt(a, b), le(a, b), gt(a, b), ge(a, b))

    one, two = nt(1.0), nt(2.0)
    assert run(one, two) == (1.0, 2.0, 1.0, 1.0, False, True, True, False, False)
    r = run(nt(NAN), two)
    assert r[:2] == (2.0, 2.0) and r[4] and not any(r[5:])  # C99 fmin/fmax
    r = run(nt(-0.0), nt(0.0))
    assert r[5:] == (False, True, False, True)  # -0 == +0
    assert np.signbit(run(one, nt(-3.0))[2])


_HYPOT: dict[str, Any] = {}


def hypot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    dtype = x.dtype.name
    if dtype not in _HYPOT:
        f = PRIMITIVES[dtype]["hypot"]
        nt = getattr(numba, dtype)

        @numba.guvectorize([(nt[:], nt[:], nt[:])], "(n),(n)->(n)", cache=True)
        def run(a: Any, b: Any, out: Any) -> None:  # pragma: no cover - compiled
            for i in range(a.shape[0]):
                out[i] = f(a[i], b[i])

        _HYPOT[dtype] = run
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return _HYPOT[dtype](x, y)  # type: ignore[no-any-return]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_hypot_accuracy_and_special_values(dtype: str) -> None:
    x, y = sample(dtype, 400), np.roll(sample(dtype, 400), 7)
    # operands of every relative size, scaled near both ends of the range
    x = np.concatenate([x, y * 1e-3, np.array([3.0, 1e-30, 1e30], dtype=dtype)])
    y = np.concatenate([y, y, np.array([4.0, 1e-30, 1e30], dtype=dtype)])
    fi = np.finfo(dtype)
    finite = np.abs(np.hypot(x.astype(np.float64), y.astype(np.float64))) < float(fi.max) / 2
    x, y = x[finite], y[finite]
    h = hypot(x, y)
    with mpmath.workprec(120):
        errs = [ulp_error(hi, mpmath.sqrt(mpmath.mpf(xi) ** 2 + mpmath.mpf(yi) ** 2), dtype)
                for xi, yi, hi in zip(x.tolist(), y.tolist(), h.tolist(), strict=True)]
    i = int(np.argmax(errs))
    assert errs[i] <= 1.0, f"hypot({x[i]!r}, {y[i]!r}) = {h[i]!r}: {errs[i]:.2f} ulp"
    a = np.array([INF, NAN, -INF, NAN, 0.0, -0.0, 3.0, fi.smallest_subnormal] * 3, dtype=dtype)
    b = np.array([NAN, INF, 1.0, 2.0, 0.0, 0.0, -4.0, fi.smallest_subnormal] * 3, dtype=dtype)
    want = np.array([INF, INF, INF, NAN, 0.0, 0.0, 5.0, fi.smallest_subnormal] * 3, dtype=dtype)
    np.testing.assert_array_equal(hypot(a, b), want)


def test_exp_nonpositive_short_for_float32_rows() -> None:
    """The float32 softmax rows' exponential (numba_rows): within 3e-9 relative of
    mpmath on [-110, 0], 0 below -110 and at -inf, NaN kept, no FP warning."""
    from fastact._kernels.numba_math import exp_nonpositive_short_f64

    @numba.guvectorize([(numba.float64[:], numba.float64[:])], "(n)->(n)")
    def run(x: Any, out: Any) -> None:  # pragma: no cover - compiled
        for i in range(x.shape[0]):
            out[i] = exp_nonpositive_short_f64(x[i])

    rng = np.random.default_rng(7)
    x = np.concatenate([-rng.uniform(0, 110, 4000), -rng.exponential(0.3, 2000),
                        [0.0, -0.0, -1e-300, -109.999, -0.3465, -0.3467]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = run(x)
        special = run(np.array([-110.0, -110.5, -1e300, -np.inf, np.nan]))
    want = np.array([float(mpmath.exp(mpmath.mpf(float(v)))) for v in x])
    assert np.max(np.abs(got - want) / want) <= 3e-9
    assert special[:4].tolist() == [0.0, 0.0, 0.0, 0.0] and np.isnan(special[4])
