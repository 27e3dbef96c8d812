"""Tests of the test oracle itself: its mathematics, its tables and its scoring.

An oracle that is wrong makes every accuracy test meaningless, so it is checked
against values known independently (closed forms, mpmath's own special functions,
SciPy in float64), against itself (derivative vs a numerical derivative of the
forward, h(f(x)) vs f'(x)), and the stored tables against a fresh run of their
generator.  Everything here runs in a few seconds.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import pytest
import scipy.special as sc
from mpmath import mpf

try:
    from . import oracle
    from . import reference_tables as rt
except ImportError:  # tests/ is not a package
    import oracle  # type: ignore[no-redef]
    import reference_tables as rt  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
DTYPES = ("float32", "float64")


_generator = rt.generator


def _rel(a: Any, b: Any) -> mpf:
    a, b = mpf(a), mpf(b)
    return abs(a - b) / abs(b) if b != 0 else abs(a)


def _bits(v: float) -> int:
    return int(np.float64(v).view(np.uint64))


# --------------------------------------------------------------- known values


def test_closed_forms() -> None:
    assert oracle.forward("sigmoid", 0.0) == mpf(1) / 2
    assert oracle.derivative("sigmoid", 0.0) == mpf(1) / 4
    assert oracle.derivative("tanh", 0.0) == 1
    assert oracle.forward("softsign", 1.0) == mpf(1) / 2
    with mpmath.workprec(400):
        assert _rel(oracle.forward("hardswish", 1.0), mpf(4) / 6) < 1e-90
    assert oracle.forward("squareplus", 0.0) == 1  # (0 + sqrt(4))/2
    assert oracle.forward("exponential", 0.0) == 1
    assert oracle.forward("linear", -2.5) == mpf(-2.5)
    with mpmath.workdps(40):
        golden = (1 + mpmath.sqrt(5)) / 2
        assert _rel(oracle.forward("squareplus", 1.0), golden) < 1e-38
        assert _rel(oracle.forward("squareplus", 1.0, {"b": 1.0}), (1 + mpmath.sqrt(2)) / 2) < 1e-38
        assert _rel(oracle.forward("log_sigmoid", 0.0), -mpmath.log(2)) < 1e-38


def test_gelu_and_mish_values() -> None:
    phi1 = mpf("0.841344746068542948585232545632034")  # Phi(1), tables of the normal law
    assert _rel(oracle.forward("gelu", 1.0), phi1) < 1e-30
    assert float(oracle.forward("gelu", 1.0)) == 0.8413447460685429
    with mpmath.workdps(60):
        mish1 = mpmath.tanh(mpmath.log(1 + mpmath.e))  # the definition, not the oracle's form
        assert _rel(oracle.forward("mish", 1.0), mish1) < 1e-50
        mish_m3 = -3 * mpmath.tanh(mpmath.log(1 + mpmath.exp(-3)))
        assert _rel(oracle.forward("mish", -3.0), mish_m3) < 1e-50
        for x in (-37.0, -3.5, 0.25, 6.0):
            assert _rel(oracle.forward("gelu", x), x * mpmath.ncdf(x)) < 1e-45
        u = mpmath.sqrt(2 / mpmath.pi) * (mpf(2) + mpf("0.044715") * 8)
        tanh_form = mpf("0.5") * 2 * (1 + mpmath.tanh(u))
        assert _rel(oracle.forward("gelu", 2.0, {"approximate": "tanh"}), tanh_form) < 1e-50


def test_selu_uses_the_exact_decimal_constants() -> None:
    assert oracle.SELU_ALPHA == "1.6732632423543772848170429916717"
    assert oracle.SELU_SCALE == "1.0507009873554804934193349852946"
    with mpmath.workdps(50):
        alpha, scale = mpf(oracle.SELU_ALPHA), mpf(oracle.SELU_SCALE)
        assert _rel(oracle.forward("selu", 1.0), scale) < 1e-45
        assert _rel(oracle.forward("selu", -1.0), scale * alpha * mpmath.expm1(-1)) < 1e-45
        assert _rel(oracle.derivative("selu", 0.0), scale * alpha) < 1e-45


def test_cancellation_free_tails() -> None:
    """The places where float formulas lose everything must be exact here."""
    with mpmath.workdps(60):
        x = mpf(1e-300)
        series = x**3 / 3 - 2 * x**5 / 15
        assert _rel(oracle.forward("tanhshrink", 1e-300), series) < 1e-30
        tiny = mpf(5e-324)
        assert _rel(oracle.forward("tanhshrink", 5e-324), tiny**3 / 3) < 1e-30
        assert _rel(oracle.derivative("tanh", 400.0), 4 * mpmath.exp(-800)) < 1e-300
        assert _rel(oracle.derivative("tanh", -370.0), 4 * mpmath.exp(-740)) < 1e-300
        assert _rel(oracle.forward("softplus", -1000.0), mpmath.exp(-1000)) < 1e-300
        assert _rel(oracle.forward("log_sigmoid", 800.0), -mpmath.exp(-800)) < 1e-300
        assert _rel(oracle.derivative("sigmoid", 700.0), mpmath.exp(-700)) < 1e-300
        assert _rel(oracle.derivative("sigmoid", -700.0), mpmath.exp(-700)) < 1e-300
        # 1 + erf(x/sqrt 2) at x = -26 sqrt 2: Phi(x) = erfc(26)/2.
        x = -26 * math.sqrt(2)
        assert _rel(oracle.forward("gelu", x), x * mpmath.ncdf(mpf(x))) < 1e-40
        # gelu' = Phi(x) + x phi(x) cancels mildly for x -> -inf; compare with the series.
        x = mpf(-30)
        pdf = mpmath.npdf(x)
        assert _rel(oracle.derivative("gelu", -30.0), mpmath.ncdf(x) + x * pdf) < 1e-40
        # Far tails as plain numbers (mpmath's exponent range is unbounded).
        assert oracle.derivative("tanh", 1e308) > 0
        assert oracle.forward("gelu", -1e308) < 0
        assert oracle.forward("sigmoid", -1e308) > 0


def test_limits_at_infinity() -> None:
    b = oracle.to_binary
    inf = math.inf
    assert math.copysign(1, b(oracle.forward("gelu", -inf))) == -1  # gelu(-inf) = -0.0
    assert b(oracle.forward("gelu", -inf)) == 0
    assert b(oracle.derivative("mish", inf)) == 1
    assert b(oracle.forward("softsign", inf)) == 1
    assert b(oracle.forward("sigmoid", -inf)) == 0
    assert math.copysign(1, b(oracle.forward("sigmoid", -inf))) == 1
    assert b(oracle.forward("elu", -inf)) == -1
    assert b(oracle.forward("tanh", -inf)) == -1
    assert b(oracle.forward("exponential", inf)) == inf
    assert b(oracle.forward("tanhshrink", -inf)) == -inf
    assert b(oracle.forward("threshold", -inf, {"threshold": 0.5, "value": -2.0})) == -2
    assert math.copysign(1, b(oracle.forward("log_sigmoid", inf))) == -1
    assert b(oracle.forward("log_sigmoid", -inf)) == -inf
    assert math.isnan(oracle.forward("tanh", math.nan))


def test_kink_conventions() -> None:
    d = oracle.derivative
    assert d("relu", 0.0) == 0
    assert d("relu", -0.0) == 0
    assert d("relu6", 0.0) == 0 and d("relu6", 6.0) == 0 and d("relu6", 5.0) == 1
    assert d("leaky_relu", 0.0) == mpf(0.01)
    assert d("leaky_relu", 0.0, {"negative_slope": 0.2}) == mpf(0.2)
    assert d("prelu", 0.0, {"weight": -0.5}) == mpf(-0.5)
    assert d("rrelu", 0.0, {"lower": 0.125, "upper": 0.375}) == mpf(0.25)
    assert d("elu", 0.0, {"alpha": 0.5}) == mpf(0.5)
    assert d("celu", 0.0, {"alpha": 2.0}) == 1
    hs = {"slope": 0.25, "offset": 0.5}
    assert d("hardsigmoid", -2.0, hs) == 0 and d("hardsigmoid", 2.0, hs) == 0
    assert d("hardsigmoid", 1.0, hs) == mpf(0.25)
    assert d("hardswish", -3.0) == 0 and d("hardswish", 3.0) == 1
    assert d("hardswish", 0.0) == mpf(0.5)
    with mpmath.workprec(400):
        assert _rel(d("hardswish", 2.9), mpf(2.9) / 3 + mpf(0.5)) < 1e-90
    assert d("hardtanh", -1.0) == 0 and d("hardtanh", 1.0) == 0 and d("hardtanh", 0.5) == 1
    for name in ("softshrink", "hardshrink"):
        assert d(name, 0.5) == 0 and d(name, -0.5) == 0 and d(name, 0.75) == 1
    th = {"threshold": 0.5, "value": -2.0}
    assert d("threshold", 0.5, th) == 0 and oracle.forward("threshold", 0.5, th) == -2
    assert d("squareplus", 0.0, {"b": 0.0}) == mpf(0.5)
    assert d("squareplus", -1.0, {"b": 0.0}) == 0 and d("squareplus", 1.0, {"b": 0.0}) == 1


def test_kinks_lists() -> None:
    assert oracle.KINKS("relu") == [0.0]
    assert oracle.KINKS("relu6") == [0.0, 6.0]
    assert oracle.KINKS("hardswish") == [-3.0, 3.0]
    assert oracle.KINKS("hardsigmoid", {"slope": 0.25, "offset": 0.5}) == [-2.0, 2.0]
    assert oracle.KINKS("hardtanh", {"min_val": -2.0, "max_val": 3.0}) == [-2.0, 3.0]
    assert oracle.KINKS("softshrink") == [-0.5, 0.5]
    assert oracle.KINKS("threshold", {"threshold": 0.5, "value": -2.0}) == [0.5]
    assert oracle.KINKS("softplus", {"beta": 2.0, "threshold": 20.0}) == [10.0]
    assert oracle.KINKS("squareplus", {"b": 0.0}) == [0.0]
    assert oracle.KINKS("squareplus") == []
    assert oracle.KINKS("gelu") == []
    knees = oracle.KINKS("hardsigmoid", {"slope": float(np.float32(1 / 6)), "offset": 0.5})
    assert knees[0] == pytest.approx(-3.0, rel=1e-6) and knees[0] != -3.0


def _smooth_points(name: str, params: dict[str, Any]) -> list[float]:
    kinks = oracle.KINKS(name, params)
    pts = [-7.3, -2.7, -1.1, -0.3, 0.45, 1.3, 2.2, 7.1, 25.0]
    return [x for x in pts if all(abs(x - k) > 0.05 for k in kinks)]


@pytest.mark.parametrize("case", oracle.CASES, ids=lambda c: c.id)
def test_derivative_is_the_derivative_of_forward(case: oracle.Case) -> None:
    """f' against a numerical derivative of f (mpmath.diff, its own step choice)."""
    for x in _smooth_points(case.name, case.params):
        with mpmath.workdps(40):
            num = mpmath.diff(lambda t: oracle.forward(case.name, t, case.params), mpf(x))
        exact = oracle.derivative(case.name, x, case.params)
        assert abs(num - exact) <= mpf(10) ** -25 * max(1, abs(exact)), (case.id, x)


@pytest.mark.parametrize("case", oracle.CASES[:30:3], ids=lambda c: c.id)
def test_second_derivative(case: oracle.Case) -> None:
    for x in _smooth_points(case.name, case.params)[::2]:
        with mpmath.workdps(40):
            num = mpmath.diff(lambda t: oracle.derivative(case.name, t, case.params), mpf(x))
        got = oracle.second_derivative(case.name, x, case.params)
        assert abs(num - got) <= mpf(10) ** -20 * max(1, abs(got)), (case.id, x)


def test_second_derivative_closed_forms() -> None:
    with mpmath.workdps(50):
        for x in (0.3, -2.0, 40.0):
            want = -2 * mpmath.tanh(x) * mpmath.sech(x) ** 2  # sech^2: no 1 - t^2
            assert _rel(oracle.second_derivative("tanh", x), want) < 1e-30
        x = mpf(-20.5)  # gelu'' = phi(x) (2 - x^2)
        assert _rel(oracle.second_derivative("gelu", -20.5), mpmath.npdf(x) * (2 - x * x)) < 1e-30
        assert _rel(oracle.second_derivative("tanh", 1e300), -8 * mpmath.exp(-2e300)) < 1e-20


@pytest.mark.parametrize("name", sorted(oracle.Y_CAPABLE))
def test_derivative_from_output_matches(name: str) -> None:
    params = next(c.params for c in oracle.CASES if c.name == name)
    for x in (-3.3, -0.7, 0.4, 2.5, 5.5):
        y = oracle.forward(name, x, params)
        h = oracle.derivative_from_output(name, y, params)
        d = oracle.derivative(name, x, params)
        assert abs(h - d) <= mpf(10) ** -60 * max(1, abs(d)), (name, x)
    assert oracle.derivative_from_output("tanh", 1.0) == 0  # where y rounded to 1
    assert oracle.derivative_from_output("sigmoid", 0.5) == mpf(1) / 4


def test_derivative_from_output_refusals() -> None:
    assert "gelu" not in oracle.Y_CAPABLE and "prelu" not in oracle.Y_CAPABLE
    with pytest.raises(ValueError, match="pass x"):
        oracle.derivative_from_output("gelu", 0.5)
    with pytest.raises(ValueError, match="negative_slope"):
        oracle.derivative_from_output("leaky_relu", 0.5, {"negative_slope": -0.1})
    with pytest.raises(TypeError):
        oracle.forward("elu", 1.0, {"alpah": 1.0})
    with pytest.raises(TypeError):
        oracle.forward("prelu", 1.0)


def test_cases_cover_every_activation() -> None:
    assert {c.name for c in oracle.CASES} == set(oracle.ELEMENTWISE)
    assert len({c.id for c in oracle.CASES}) == len(oracle.CASES)
    params = {c.id: c.params for c in oracle.CASES}
    assert params["prelu"] == {"weight": 0.25}
    assert params["threshold"] == {"threshold": 0.5, "value": -2.0}
    assert params["hardsigmoid"] == {"slope": 1 / 6, "offset": 0.5}


def test_cast_params() -> None:
    p = oracle.cast_params({"negative_slope": 0.01, "approximate": "tanh", "t": None}, "float32")
    assert p == {"negative_slope": float(np.float32(0.01)), "approximate": "tanh", "t": None}


# ------------------------------------------------------------ exact rounding


def test_to_binary_is_correct_rounding() -> None:
    rng = random.Random(1)
    with mpmath.workprec(200):
        for _ in range(3000):
            e = rng.randint(-1130, 1030)
            man = rng.getrandbits(70) | 1
            if rng.random() < 0.2:  # exact ties of binary64, normal and subnormal
                man = (rng.getrandbits(53) << 1 | 1) << 10
            v = mpmath.ldexp(mpf(man), e) * rng.choice((1, -1))
            q = Fraction(man) * (Fraction(2) ** e) * (1 if v > 0 else -1)
            try:
                want = float(q)  # CPython rounds int/int correctly, subnormals too
            except OverflowError:
                want = math.copysign(math.inf, v)
            got = oracle.to_binary(v)
            assert _bits(got) == _bits(want) or (got == want == 0), (v, got, want)
        for _ in range(2000):
            x = rng.uniform(-1, 1) * 2.0 ** rng.randint(-160, 130)
            got = oracle.to_binary(mpf(x), 24, -126, 127)
            with np.errstate(over="ignore"):
                want = float(np.float32(x))
            assert _bits(got) == _bits(want), x
    assert math.copysign(1, oracle.to_binary(mpf("-1e-400"))) == -1
    assert oracle.to_binary(-mpmath.exp(mpf(-1e30))) == 0


# ------------------------------------------------------------------- axis


def test_softmax_family() -> None:
    s = oracle.softmax_row([0.0, 0.0, math.log(2)])
    assert [float(v) for v in s] == [0.25, 0.25, 0.5]
    s = oracle.softmax_row([1e308, -1e308, -math.inf])
    assert s[0] == 1 and s[2] == 0  # 1 - exp(-2e308) is 1 to any working precision
    with mpmath.workdps(30):
        assert _rel(s[1], mpmath.exp(mpf(-2e308))) < 1e-25
    assert all(math.isnan(v) for v in oracle.softmax_row([1.0, math.inf]))
    assert all(math.isnan(v) for v in oracle.softmax_row([-math.inf, -math.inf]))
    assert all(math.isnan(v) for v in oracle.softmax_row([1.0, math.nan]))
    ls = oracle.log_softmax_row([0.0, -1000.0, -math.inf])
    with mpmath.workdps(50):
        assert _rel(-ls[0], mpmath.exp(-1000)) < 1e-40  # no cancellation to 0
        assert _rel(ls[1], -1000 - mpmath.exp(-1000)) < 1e-40
    assert ls[2] == mpf("-inf")
    with mpmath.workdps(90):
        assert _rel(oracle.log_softmax_row([5.0, 5.0])[0], -mpmath.log(2)) < 1e-85
    sm = oracle.softmin_row([1.0, 2.0])
    assert sm == oracle.softmax_row([-1.0, -2.0])
    assert all(math.isnan(v) for v in oracle.softmin_row([-math.inf, 0.0]))


def _num_jacobian(fn: Any, xs: list[float]) -> list[list[mpf]]:
    cols = []
    for j in range(len(xs)):

        def g(t: mpf, j: int = j) -> list[mpf]:
            return fn([t if k == j else mpf(v) for k, v in enumerate(xs)])

        with mpmath.workdps(40):
            h = mpf(10) ** -15
            up, dn = g(mpf(xs[j]) + h), g(mpf(xs[j]) - h)
            cols.append([(a - b) / (2 * h) for a, b in zip(up, dn, strict=True)])
    return [list(r) for r in zip(*cols, strict=True)]


@pytest.mark.parametrize(
    ("fn", "jac"),
    [
        (oracle.softmax_row, oracle.softmax_jacobian_row),
        (oracle.log_softmax_row, oracle.log_softmax_jacobian_row),
        (oracle.softmin_row, oracle.softmin_jacobian_row),
        (oracle.glu_row, oracle.glu_jacobian_row),
    ],
)
def test_axis_jacobians(fn: Any, jac: Any) -> None:
    xs = [0.3, -1.2, 2.5, 0.0, -0.7, 1.1]
    want = _num_jacobian(fn, xs)
    got = jac(xs)
    assert len(got) == len(want) and len(got[0]) == len(xs)
    for rg, rw in zip(got, want, strict=True):
        for a, b in zip(rg, rw, strict=True):
            assert abs(a - b) < 1e-20


def test_axis_special_rows() -> None:
    j = oracle.softmax_jacobian_row([0.0, -800.0])
    with mpmath.workdps(40):
        assert _rel(j[0][0], mpmath.exp(-800)) < 1e-30  # s0 (1 - s0) without cancellation
    assert all(math.isnan(v) for r in oracle.softmax_jacobian_row([math.inf, 0.0]) for v in r)
    g = oracle.glu_row([2.0, math.inf, 0.0, -math.inf])
    assert g[0] == 1 and math.isnan(g[1])  # 2 sigmoid(0), inf * sigmoid(-inf) = inf * 0
    with pytest.raises(ValueError, match="even"):
        oracle.glu_row([1.0, 2.0, 3.0])


# ------------------------------------------------------------------ scoring


F64 = np.float64
MAX64 = float(np.finfo(F64).max)
MAX32 = float(np.finfo(np.float32).max)
ULP32_MAX = 2.0**104


def _u(result: Any, hi: Any, lo: Any = 0.0, dtype: Any = F64) -> float:
    return float(rt.ulp_errors(np.array([result]), np.array([hi]), np.array([lo]), dtype)[0])


def test_ulp_errors_basic() -> None:
    assert _u(1.0, 1.0) == 0
    assert _u(np.nextafter(1.0, 2), 1.0) == 1
    assert _u(np.nextafter(1.0, 0), 1.0) == 0.5  # the ulp of 1 is the one above it
    assert _u(1.0, 1.0, -(2.0**-60)) == pytest.approx(2.0**-7, abs=1e-12)  # binade below 1
    assert _u(np.nextafter(1.0, 2), 1.0, 0.3 * 2.0**-52) == pytest.approx(0.7, abs=1e-9)
    assert _u(float(np.nextafter(np.float32(1), np.float32(2))), 1.0, 0.0, np.float32) == 1
    assert _u(-1.0, 1.0) == 2 * 2.0**52  # wrong sign: the whole distance
    assert _u(-0.0, 0.0) == 0 and _u(0.0, -0.0) == 0


def test_ulp_errors_subnormal() -> None:
    sub64, sub32 = 5e-324, float(np.finfo(np.float32).smallest_subnormal)
    assert _u(sub64, 0.0) == 1
    assert _u(3 * sub64, 2 * sub64) == 1
    assert _u(3 * sub32, 3.3 * sub32, 0.0, np.float32) == pytest.approx(0.3)
    assert _u(0.0, 1e-50, 0.0, np.float32) == pytest.approx(1e-50 / sub32)
    tiny32 = float(np.finfo(np.float32).smallest_normal)
    assert _u(tiny32, tiny32, -1e-60, np.float32) < 1e-10  # just below: subnormal ulp


def test_ulp_errors_overflow() -> None:
    inf = math.inf
    f32 = np.float32
    assert _u(inf, 4e38, 0.0, f32) == 0
    assert _u(MAX32, 4e38, 0.0, f32) == inf
    assert _u(-inf, 4e38, 0.0, f32) == inf
    assert _u(MAX32, MAX32 + 3 * ULP32_MAX, 0.0, f32) == 3  # rounds to inf, but near max
    assert _u(MAX32, MAX32 + 20 * ULP32_MAX, 0.0, f32) == inf
    assert _u(inf, MAX32 - 2 * ULP32_MAX, 0.0, f32) == 3  # inf counts as max + 1 ulp
    assert _u(inf, 1e30, 0.0, f32) == inf
    assert _u(MAX32, MAX32 + 0.4 * ULP32_MAX, 0.0, f32) == pytest.approx(0.4)  # rounds to max
    ulp64 = 2.0**971
    assert _u(MAX64, inf, 2 * ulp64) == 2  # float64 overflow: lo is the excess over max
    assert _u(inf, inf, 2 * ulp64) == 0
    assert _u(MAX64, inf, inf) == inf
    assert _u(-inf, -inf, -inf) == 0 and _u(inf, -inf, -inf) == inf
    assert _u(inf, MAX64, 0.0) == 1


def test_ulp_errors_nan() -> None:
    assert _u(math.nan, 1.0) == math.inf
    assert _u(1.0, math.nan) == math.inf
    assert _u(math.nan, math.nan) == 0


def _table(x: list[float], hi: list[float], cond: list[float]) -> rt.Table:
    a = np.array
    z = a([0.0] * len(x))
    return rt.Table("gelu", np.dtype(F64), {}, a(x), a(hi), z, a(hi), z, a(cond), a(cond))


def test_scaled_errors() -> None:
    t = _table([1.0, 2.0, 3.0, -math.inf], [1.0, 1.0, 1.0, -0.0], [100.0, math.inf, 0.5, 1.0])
    one_up = float(np.nextafter(1.0, 2))
    res = np.array([1.0 + 50 * 2.0**-52, one_up, math.nan, 0.0])
    err = rt.scaled_errors(res, t, "f")
    assert list(err) == [0.5, 0.0, math.inf, 0.0]
    res = np.array([1.0, math.inf, 1.0, 0.0])
    assert rt.scaled_errors(res, t, "d")[1] == math.inf  # inf error survives inf cond
    assert rt.scaled_errors(res, t, "f", zero_sign=True)[3] == math.inf  # +0 for -0 limit
    res[3] = -0.0
    assert rt.scaled_errors(res, t, "f", zero_sign=True)[3] == 0
    with pytest.raises(ValueError):
        rt.scaled_errors(res, t, "g")  # type: ignore[arg-type]


# ------------------------------------------------------------------ the tables


def test_tables_cover_all_cases_and_are_stamped() -> None:
    meta = rt.metadata()
    gen = _generator()
    assert meta["stamp"] == gen.STAMP
    assert meta["generator_version"] == gen.GENERATOR_VERSION
    assert meta["mpmath_version"]
    assert [c["id"] for c in meta["cases"]] == rt.case_ids()
    for cid in rt.case_ids():
        for dt in DTYPES:
            t = rt.load(cid, dt)
            assert t.x.dtype == np.dtype(dt)
            assert all(getattr(t, f).shape == t.x.shape for f in rt.FIELDS)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tables_are_consistent(dtype: str) -> None:
    gen = _generator()
    fmt = gen._Format(dtype)
    base = {fmt.key(x) for x in gen.base_grid(dtype)}
    for cid in rt.case_ids():
        t = rt.load(cid, dtype)
        keys = [fmt.key(float(x)) for x in t.x]
        assert keys == sorted(set(keys)), cid  # ordered, no duplicates, -0 before +0
        assert base <= set(keys), cid  # the shared grid regenerates identically
        assert 900 <= t.x.size <= 1700, (cid, t.x.size)
        for hi, lo in ((t.f_hi, t.f_lo), (t.d_hi, t.d_lo)):
            assert not np.isnan(hi).any() and not np.isnan(lo).any(), cid
            fin = np.isfinite(hi) & (hi != 0) & (np.abs(hi) < MAX64)
            with np.errstate(under="ignore"):
                half_ulp = np.spacing(np.abs(hi[fin])) / 2
            assert (np.abs(lo[fin]) <= half_ulp).all(), cid
        assert (t.cond_f >= 0).all() and (t.cond_d >= 0).all(), cid
        lim = np.isinf(t.x)
        assert lim.sum() == 2 and (t.cond_f[lim] == 1).all() and (t.cond_d[lim] == 1).all()


@pytest.mark.parametrize("case_id", ["gelu", "tanhshrink", "hardsigmoid", "softplus-b2-t20"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_generator_reproduces_stored_points(case_id: str, dtype: str) -> None:
    """A fresh computation of random stored points gives the same bits."""
    gen = _generator()
    t = rt.load(case_id, dtype)
    rng = random.Random(f"{case_id}/{dtype}")
    picks = [*rng.sample(range(t.x.size), 5), 0, t.x.size // 2]
    case = gen.reference_tables.case(case_id)
    for i in picks:
        x = float(t.x[i])
        row = gen.compute_point(case, dtype, x)
        stored = [t.f_hi[i], t.f_lo[i], t.d_hi[i], t.d_lo[i], t.cond_f[i], t.cond_d[i]]
        assert [_bits(v) for v in row] == [_bits(v) for v in stored], (case_id, dtype, x)


@pytest.mark.parametrize("case_id", ["gelu", "gelu-tanh", "tanhshrink", "mish", "log_sigmoid"])
def test_tables_do_not_depend_on_the_working_precision(case_id: str) -> None:
    """Doubling the oracle's precision changes no stored bit: the precision is enough."""
    gen = _generator()
    t = rt.load(case_id, "float64")
    c = rt.case(case_id)
    rng = random.Random(case_id)
    for i in rng.sample(range(1, t.x.size - 1), 4):
        x = float(t.x[i])
        with mpmath.workprec(2 * oracle.working_precision(x) + 256):
            f = oracle.forward(c.name, x, t.params)
            d = oracle.derivative(c.name, x, t.params)
        assert gen._dd(f) == (t.f_hi[i], t.f_lo[i]), x
        assert gen._dd(d) == (t.d_hi[i], t.d_lo[i]), x


def test_tables_limits() -> None:
    t = rt.load("gelu", "float64")
    assert t.x[0] == -math.inf and t.f_hi[0] == 0 and np.signbit(t.f_hi[0])
    assert t.x[-1] == math.inf and t.f_hi[-1] == math.inf and t.d_hi[-1] == 1
    t = rt.load("hardswish", "float32")
    assert t.f_hi[0] == 0 and not np.signbit(t.f_hi[0])  # identically 0 below -3: +0.0


_SCIPY: dict[str, tuple[Any, Any]] = {
    "sigmoid": (sc.expit, lambda x: sc.expit(x) * sc.expit(-x)),
    "log_sigmoid": (sc.log_expit, lambda x: sc.expit(-x)),
    "tanh": (np.tanh, lambda x: 1 / np.cosh(x) ** 2),
    "gelu": (lambda x: x * sc.ndtr(x), None),
    "exponential": (np.exp, np.exp),
    "softsign": (lambda x: x / (1 + np.abs(x)), lambda x: 1 / (1 + np.abs(x)) ** 2),
    "elu": (lambda x: np.where(x > 0, x, np.expm1(x)), lambda x: np.where(x > 0, 1, np.exp(x))),
}


@pytest.mark.parametrize("case_id", sorted(_SCIPY))
def test_float32_tables_agree_with_scipy_in_float64(case_id: str) -> None:
    """An independent library, computed in float64 and rounded, is within 1/2 ulp.

    In float32 the double-precision SciPy/NumPy functions are exact enough that
    their rounding to float32 is the correctly rounded value (up to ties): any
    disagreement above 0.5 ulp would be an error of the tables.
    """
    t = rt.load(case_id, "float32")
    fin = np.isfinite(t.x)
    x = t.x[fin].astype(np.float64)
    f, d = _SCIPY[case_id]
    with np.errstate(all="ignore"):
        for which, fn in (("f", f), ("d", d)):
            if fn is None:
                continue
            res = np.asarray(fn(x), dtype=np.float64).astype(np.float32)
            hi = (t.f_hi if which == "f" else t.d_hi)[fin]
            lo = (t.f_lo if which == "f" else t.d_lo)[fin]
            err = rt.ulp_errors(res, hi, lo, np.float32)
            assert err.max() <= 0.5 + 1e-6, (which, x[np.argmax(err)], err.max())
