"""Row kernels of the numba backend (hand-written): softmax, log_softmax, softmin and
glu along any axis, as numba gufuncs that NumPy calls with ``axes=`` (rows are read
in place along the axis with their strides: nothing is transposed or copied).

The algorithms are those of the Cython backend's ``fa_rows.h``:

- softmax(x)_i = e_i / total, e_i = exp(x_i - max) with the rounding error of
  x_i - max put back (TwoSum: a spread of 487 in a float64 row cost 250 ulp without
  it), total = 1 + rest, rest the sum without the first maximum, plus
  (e_first - 1): 0 for a finite maximum, NaN for +inf or NaN (the row is then NaN,
  as in NumPy);
- log_softmax = (x_i - max) - log1p(rest); softmin(x) = softmax(-x);
- Jacobians with 1 - y_i = (total - e_i)/total (rest/total at the first maximum);
- glu with the formulas' ``glu_value`` and ``glu_db``, as loops over the halves.

float32 rows compute in float64 and round once on the store. The gufuncs are built
per dtype on first use (:func:`gufunc`), and cached on disk by numba.
"""
# mypy: ignore-errors
# ruff: noqa: E741 - numba loops name their arrays A, B, O

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import float64, guvectorize, njit

from fastact._kernels import numba_kernels as _k

__all__ = ["SIGNATURES", "glu_backward_x", "glu_forward", "glu_partials", "gufunc"]

_EXP = _k.exp_f64
_LOG1P = _k.log1p_f64
_ROW = dict(error_model="numpy", inline="always")


@njit(**_ROW)
def _parts(x, e, sgn):
    """The row's maximum m (of sgn * x), its first index, the shifted exponentials
    e_i written to e (float64), and rest: the sum of e without the first maximum's,
    plus (e_first - 1), 0 for a finite maximum and NaN for +inf or NaN."""
    n = x.shape[0]
    # The row, signed, into the contiguous float64 scratch first: x may be strided
    # (any axis), and numba vectorises only loops over contiguous arrays.
    for i in range(n):
        e[i] = sgn * float64(x[i])
    m = e[0]
    first = 0
    for i in range(1, n):
        v = e[i]
        if v > m or (v != v and m == m):
            m = v
            first = i
    # No reduction and no branch in this loop, so that it vectorises (the exp is
    # most of the work); the sum follows in a plain loop of additions.
    for i in range(n):
        v = e[i]
        d = v - m
        bb = d - v
        lo = (v - (d - bb)) + (-m - bb)
        ed = _EXP(d)
        e[i] = ed + ed * (lo if lo - lo == 0.0 else 0.0)
    rest = _neumaier(e, first)
    return rest + (e[first] - 1.0), first, m


@njit(**_ROW)
def _neumaier(v, skip):
    """sum(v) without v[skip], compensated (Neumaier): within about an ulp for rows
    of any length (a plain running sum was 2458 ulp off for 65536 float64 terms)."""
    s = 0.0
    c = 0.0
    for i in range(v.shape[0]):
        t = 0.0 if i == skip else v[i]
        u = s + t
        c += ((s - u) + t) if abs(s) >= abs(t) else ((t - u) + s)
        s = u
    return s + c if s - s == 0.0 else s  # an infinite or NaN sum is that sum


@njit(**_ROW)
def _softmax_into(x, y, sgn):
    rest, _, _ = _parts(x, y, sgn)
    total = 1.0 + rest
    for i in range(y.shape[0]):
        y[i] = y[i] / total


def _softmax_forward(x, kind, out):
    """kind 0 softmax, 1 log_softmax, 2 softmin; (n),()->(n)."""
    t = np.empty(x.shape[0], np.float64)
    if kind == 1:
        rest, _, m = _parts(x, t, 1.0)
        lse = _LOG1P(rest)
        for i in range(x.shape[0]):
            out[i] = (float64(x[i]) - m) - lse
        return
    _softmax_into(x, t, -1.0 if kind == 2 else 1.0)
    for i in range(x.shape[0]):
        out[i] = t[i]


def _softmax_jacobian(x, kind, out):
    """(n),()->(n,n): J[i, j] = d y_i / d x_j."""
    n = x.shape[0]
    e = np.empty(n, np.float64)
    rest, first, _ = _parts(x, e, -1.0 if kind == 2 else 1.0)
    total = 1.0 + rest
    for i in range(n):
        yi = e[i] / total
        ci = (rest if i == first else total - e[i]) / total
        for j in range(n):
            yj = e[j] / total
            if kind == 1:
                v = ci if i == j else -yj
            else:
                v = yi * ci if i == j else -(yi * yj)
            out[i, j] = -v if kind == 2 else v


def _softmax_vjp(g, v, kind, out):
    """(n),(n),()->(n); kind 0/1/2 from y, 3/4/5 from x (softmax, log_softmax,
    softmin). From x, y = softmax(+-x) goes to a scratch row (out may be g or v).

    The dominant entry k (the first maximum of y) does not cancel (issue 15 item 15):
    its sum is formed without it, and 1 - p_k comes from the forward's sums
    (rest / total) from x, or as 1 - y_k (exact for y_k >= 1/2) / -expm1(y_k) from y:
    softmax o_k = y_k (g_k (1 - y_k) - s'), log_softmax o_k = g_k (1 - p_k) - p_k S'."""
    n = v.shape[0]
    base = kind % 3
    from_x = kind >= 3
    y = np.empty(n, np.float64)
    if from_x:
        rest, k, _ = _parts(v, y, -1.0 if base == 2 else 1.0)
        total = 1.0 + rest
        for i in range(n):
            y[i] = y[i] / total
        comp = rest / total
    else:
        for i in range(n):
            y[i] = v[i]
        k = 0
        for i in range(1, n):
            if y[i] > y[k]:
                k = i
        comp = -math.expm1(y[k]) if base == 1 else 1.0 - y[k]
    # The sums as compensated sums over a scratch row (products first), like rest.
    t = np.empty(n, np.float64)
    for i in range(n):
        t[i] = float64(g[i]) if base == 1 else float64(g[i]) * y[i]
    sp = _neumaier(t, k)
    gk = float64(g[k])
    yk = y[k]
    s = sp + t[k]
    if base == 1:
        pk = yk if from_x else _EXP(yk)
        ok = gk * comp - pk * sp
        # out[k] written in its turn (an `out` with a zero stride keeps the last).
        for i in range(n):
            p = y[i] if from_x else _EXP(y[i])
            out[i] = ok if i == k else float64(g[i]) - p * s
        return
    rk = yk * (gk * comp - sp)
    for i in range(n):
        r = rk if i == k else y[i] * (float64(g[i]) - s)
        out[i] = -r if base == 2 else r


# glu is elementwise over the two halves a, b (views of x along the axis); numba's
# gufunc signatures cannot declare its half-length output, so these are loops over
# 1-D contiguous chunks, fed like the elementwise kernels.
_LOOP = dict(error_model="numpy", nogil=True, cache=True, boundscheck=False)


@njit(**_LOOP)
def glu_forward(A, B, O):
    for i in range(O.shape[0]):
        O[i] = _k.fa_glu_value_f64(float64(A[i]), float64(B[i]))


@njit(**_LOOP)
def glu_partials(A, B, DA, DB):
    """dy/da = sigmoid(b) and dy/db = glu_db(a, b)."""
    for i in range(DA.shape[0]):
        a = float64(A[i])
        b = float64(B[i])
        da = _k.fa_sigmoid_f64(b)
        db = _k.fa_glu_db_f64(a, b)
        DA[i] = da
        DB[i] = db


@njit(**_LOOP)
def glu_backward_x(G, A, B, OA, OB):
    for i in range(OA.shape[0]):
        g = float64(G[i])
        a = float64(A[i])
        b = float64(B[i])
        da = g * _k.fa_sigmoid_f64(b)
        db = g * _k.fa_glu_db_f64(a, b)
        OA[i] = da
        OB[i] = db


_FAMILY = ("softmax", "log_softmax", "softmin")

#: kernel name -> (row function, its kind argument, gufunc layout)
SIGNATURES: dict[str, tuple[Callable[..., Any], int, str]] = {}
for _kind, _name in enumerate(_FAMILY):
    SIGNATURES[f"{_name}_forward"] = (_softmax_forward, _kind, "(n),()->(n)")
    SIGNATURES[f"{_name}_derivative"] = (_softmax_jacobian, _kind, "(n),()->(n,n)")
    SIGNATURES[f"{_name}_backward_y"] = (_softmax_vjp, _kind, "(n),(n),()->(n)")
    SIGNATURES[f"{_name}_backward_x"] = (_softmax_vjp, _kind + 3, "(n),(n),()->(n)")

_BUILT: dict[tuple[Callable[..., Any], str, str], Any] = {}
_lock = threading.Lock()


def gufunc(name: str, dtype: str) -> tuple[Any, int]:
    """The gufunc of kernel ``name`` for ``dtype`` ("float32"/"float64"), compiled on
    first use (and cached on disk by numba), with its kind argument."""
    row, kind, layout = SIGNATURES[name]
    key = (row, dtype, layout)
    with _lock:
        found = _BUILT.get(key)
        if found is None:
            cores = re.findall(r"\(([^)]*)\)", layout)
            types = [
                "int64" if not core else f"{dtype}[{', '.join(':' * (core.count(',') + 1))}]"
                for core in cores
            ]
            found = guvectorize(
                [f"void({', '.join(types)})"], layout, nopython=True, cache=True
            )(row)
            _BUILT[key] = found
    return found, kind
