"""The generated math of fastact/_mathlib.py in numba: accuracy against mpmath,
special values, thresholds, monotonicity.

Every function runs inside a ``guvectorize`` loop, which LLVM vectorises, so the
code under test is the SIMD code (float32 in float32 arithmetic, 16 lanes where
numba_math prefers 512-bit vectors). The C translation of the same source is held to
the same bounds by tools/math_accuracy.py (the README table) and by the activation
tests of the cython backend.
"""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import pytest

numba = pytest.importorskip("numba")

from fastact._kernels import numba_kernels  # noqa: E402

UNARY = ("exp", "expm1", "log", "log1p", "tanh", "erf", "erfc")
MP = {"exp": mpmath.exp, "expm1": mpmath.expm1, "log": mpmath.log, "log1p": mpmath.log1p,
      "tanh": mpmath.tanh, "erf": mpmath.erf, "erfc": mpmath.erfc}  # fmt: skip
# max error in ulp measured with tools/math_accuracy.py (README), with headroom:
# no fma (the same bits as the C kernels), float32 in float32 arithmetic except erf and
# erfc (float64 inside, one rounding).
BOUND = {"float64": {"exp": 1.0, "expm1": 2.0, "log": 1.0, "log1p": 1.0, "tanh": 2.5,
                     "erf": 1.0, "erfc": 2.5},
         "float32": {"exp": 1.0, "expm1": 1.5, "log": 1.0, "log1p": 1.0, "tanh": 2.2,
                     "erf": 0.51, "erfc": 0.51}}  # fmt: skip
_CACHE: dict[tuple[str, str], Any] = {}


def kernel(name: str, dtype: str) -> Any:
    key = (name, dtype)
    if key not in _CACHE:
        f = getattr(numba_kernels, f"fa_{name}_{'f32' if dtype == 'float32' else 'f64'}")
        nt = getattr(numba, dtype)

        @numba.guvectorize([(nt[:], nt[:])], "(n)->(n)", cache=True)
        def run(x: Any, out: Any) -> None:  # pragma: no cover - compiled
            for i in range(x.shape[0]):
                out[i] = f(x[i])

        _CACHE[key] = run
    return _CACHE[key]


def call(name: str, x: np.ndarray) -> np.ndarray:
    # the vector code computes every branch (flags of unselected lanes); the numba
    # backend's njit loops are never flag-checked by NumPy (test_conventions)
    with np.errstate(all="ignore"):
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
@pytest.mark.parametrize("name", ["exp", "expm1", "log", "log1p", "tanh", "erf"])
def test_monotone(name: str, dtype: str) -> None:
    x = np.linspace(-40 if name != "log" else 1e-6, 40, 20001, dtype=dtype)
    x = np.concatenate([x, np.nextafter(x, np.inf, dtype=dtype)])
    x.sort()
    y = call(name, x)
    ok = ~np.isnan(y)
    assert np.all(np.diff(y[ok]) >= 0)
    assert np.all(np.diff(call("erfc", x)) <= 0)
