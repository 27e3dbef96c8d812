"""Each math function of fastact/_mathlib.py against mpmath, C and numba: the README table.

Usage (from the repository root, with fastact installed)::

    python tools/math_accuracy.py            # the markdown table
    python tools/math_accuracy.py --points 3000

The C translation (fastact/_kernels/fa_math.h) is compiled here with the build's
flags (setup.py: -O3 -fno-math-errno -fno-trapping-math -ffp-contract=off) for the
machine's best ISA into a small ctypes library; the numba translation is the
generated fa_<name>_<dtype> of fastact._kernels.numba_kernels in a vectorised loop.
Points: random bit patterns over all binades, uniform in (-30, 30) and (-2, 2), and
tiny magnitudes; the error is |y - f(x)| in ulp of the result's format (mpmath, 120
bits). The last column says whether C and numba gave the same bits everywhere.
"""

from __future__ import annotations

import argparse
import ctypes
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import mpmath
import numpy as np

REPO = Path(__file__).resolve().parents[1]
KERNELS = REPO / "fastact" / "_kernels"
NAMES = ("exp", "expm1", "log", "log1p", "tanh", "erf", "erfc")
MP = {"exp": mpmath.exp, "expm1": mpmath.expm1, "log": mpmath.log, "log1p": mpmath.log1p,
      "tanh": mpmath.tanh, "erf": mpmath.erf, "erfc": mpmath.erfc}  # fmt: skip
FLAGS = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off", "-march=native"]

_C_SOURCE = "\n".join(
    f"void run_{n}_{s}(const {t} *x, {t} *y, long n) {{\n"
    f"    _Pragma(\"omp simd\") for (long i = 0; i < n; i++) y[i] = fa_{n}_{s}(x[i]);\n}}"
    for n in NAMES
    for t, s in (("float", "f32"), ("double", "f64"))
)


def c_library(tmp: Path) -> ctypes.CDLL:
    src = tmp / "math.c"
    src.write_text('#include "fa_math.h"\n' + _C_SOURCE + "\n", encoding="utf-8")
    lib = tmp / "libmath.so"
    subprocess.run(["gcc", *FLAGS, "-fopenmp-simd", "-shared", "-fPIC", f"-I{KERNELS}",
                    str(src), "-o", str(lib)], check=True)  # fmt: skip
    return ctypes.CDLL(str(lib))


def run_c(lib: ctypes.CDLL, name: str, x: np.ndarray) -> np.ndarray:
    y = np.empty_like(x)
    fn = getattr(lib, f"run_{name}_{'f32' if x.dtype == np.float32 else 'f64'}")
    fn(ctypes.c_void_p(x.ctypes.data), ctypes.c_void_p(y.ctypes.data), ctypes.c_long(x.size))
    return y


def run_numba(name: str, x: np.ndarray) -> np.ndarray:
    import numba

    from fastact._kernels import numba_kernels

    f = getattr(numba_kernels, f"fa_{name}_{'f32' if x.dtype == np.float32 else 'f64'}")

    @numba.njit(error_model="numpy")
    def loop(a: Any, out: Any) -> None:  # pragma: no cover - compiled
        for i in range(a.shape[0]):
            out[i] = f(a[i])

    y = np.empty_like(x)
    loop(x, y)
    return y


def points(dtype: type, n: int) -> np.ndarray:
    rng = np.random.default_rng(2026)
    it = np.int32 if dtype == np.float32 else np.int64
    bits = rng.integers(np.iinfo(it).min, np.iinfo(it).max, n, dtype=it).view(dtype)
    parts = [bits[np.isfinite(bits)], rng.uniform(-30, 30, n), rng.uniform(-2, 2, n),
             rng.uniform(-1, 1, n) * 10.0 ** rng.uniform(-30, 0, n)]  # fmt: skip
    return np.concatenate([np.asarray(p).astype(dtype) for p in parts])


def ulp_error(y: float, ref: Any, dtype: type) -> float:
    fi = np.finfo(dtype)
    if isinstance(ref, mpmath.mpc) or mpmath.isnan(ref):
        return 0.0 if np.isnan(y) else np.inf
    if abs(ref) > mpmath.mpf(float(fi.max)):
        return 0.0 if np.isinf(y) and (y > 0) == (ref > 0) else np.inf
    if not np.isfinite(y):
        return np.inf
    a = abs(dtype(float(ref)))
    ulp = float(np.spacing(a)) if a >= fi.smallest_normal else float(fi.smallest_subnormal)
    if np.isinf(ulp):
        ulp = float(np.spacing(fi.max))
    return float(abs(mpmath.mpf(float(y)) - ref) / ulp)


def max_error(name: str, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    worst, at = 0.0, float("nan")
    with mpmath.workprec(120):
        for xi, yi in zip(x.tolist(), y.tolist(), strict=True):
            if name == "erfc" and abs(xi) > 1e6:
                continue  # mpmath gives up; erfc(x > 28) == 0 is tested
            try:
                ref = MP[name](mpmath.mpf(xi))
            except ValueError:
                ref = mpmath.nan
            e = ulp_error(yi, ref, x.dtype.type)
            if e > worst:
                worst, at = e, xi
    return worst, at


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1500, help="per sampling region")
    args = parser.parse_args(argv)
    rows = ["| function | float32 max ulp (at x) | float64 max ulp (at x) | C == numba bits |",
            "|---|---|---|---|"]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        lib = c_library(Path(tmp))
        for name in NAMES:
            cells, same = [], True
            for dtype in (np.float32, np.float64):
                x = points(dtype, args.points)
                with np.errstate(all="ignore"):
                    yc, yn = run_c(lib, name, x), run_numba(name, x)
                same &= bool(np.array_equal(yc.view(np.uint8), yn.view(np.uint8)))
                err, at = max_error(name, x, yc)
                err_n, _ = max_error(name, x, yn)
                cells.append(f"{max(err, err_n):.2f} ({at:.4g})")
            rows.append(f"| {name} | {cells[0]} | {cells[1]} | {'yes' if same else 'NO'} |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
