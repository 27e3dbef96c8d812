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

float32 rows compute in float64 and round once on the store; their forward's sum of
exponentials is a plain (vectorised) float64 sum, whose error stays far below
float32's rounding, and its exponentials a float32-grade float64 exp. The gufuncs are built
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

import numba
import numpy as np
from numba import float64, guvectorize, njit, types
from numba.extending import overload

from fastact._kernels import numba_kernels as _k
from fastact._kernels import numba_math as _m

__all__ = [
    "SIGNATURES",
    "batched",
    "glu_backward_x",
    "glu_backward_x_blocks",
    "glu_forward",
    "glu_forward_blocks",
    "glu_partials",
    "gufunc",
]

_EXP = _k.exp_f64
_LOG1P = _k.log1p_f64
_ROW = dict(error_model="numpy", inline="always")
_LOOP = dict(error_model="numpy", nogil=True, cache=True, boundscheck=False)
_KEY_NEG_INF = _m.key64_of(-math.inf)


def _single(a):
    """Whether array ``a`` holds float32 (a compile-time constant in numba code)."""
    return a.dtype == np.float32


@overload(_single)
def _single_overload(a):
    single = isinstance(a, types.Array) and a.dtype == types.float32
    return lambda a: single


@njit(error_model="numpy", fastmath={"reassoc"})
def _plain_sum(v, skip):
    """sum(v) without v[skip], in float64, reassociated (``reassoc`` on this function
    alone: LLVM vectorises the reduction, ~0.08 ns per element against 1.0 for
    :func:`_neumaier` here), for the forward's sum of a float32 row: its terms are
    exponentials in [0, 1], so nothing cancels, and the error, at most n * 2**-53 of
    the sum (1.1e-9 at 10**7 terms), stays far below float32's half-ulp. Not for the
    backward's sums, whose terms cancel."""
    s = 0.0
    for i in range(v.shape[0]):
        s += 0.0 if i == skip else v[i]
    return s


#: Lanes of the compensated float64 sums (:func:`_neumaier`): partial results per
#: index mod _LANES, combined in lane order, as fa_rows_body.h does with 16. LLVM
#: does not vectorise these lanes (1.0 ns per element, measured): a float32 row's
#: forward takes the vectorised :func:`_plain_sum`.
_LANES = 8
#: The lane workspace of one row call: the sums and their compensations.
WORKSPACE = 2 * _LANES


@njit(**_ROW)
def _sum2(s, c, t):
    """Neumaier's step: s + t with its rounding error added to c."""
    u = s + t
    c += ((s - u) + t) if abs(s) >= abs(t) else ((t - u) + s)
    return u, c


@njit(**_ROW)
def _lanes_total(s, c):
    """The total of the lanes' compensated sums, in lane order; an infinite or NaN
    sum is that sum."""
    total = 0.0
    comp = 0.0
    for j in range(_LANES):
        total, comp = _sum2(total, comp, s[j])
        total, comp = _sum2(total, comp, c[j])
    return total + comp if total - total == 0.0 else total


@njit(**_ROW)
def _parts(x, e, sgn, ws, forward=False):
    """The row's maximum m (of sgn * x), its first index, the shifted exponentials
    e_i written to e (float64), and rest: the sum of e without the first maximum's,
    plus (e_first - 1), 0 for a finite maximum and NaN for +inf or NaN.  ws: the
    lane workspace (WORKSPACE float64). ``forward``: for the forward of a float32 row,
    the exponentials to 3e-9 relative (:func:`_exp_shifted_short`) and their plain
    sum (:func:`_plain_sum`); elsewhere (the backward from x, the Jacobian) TwoSum and
    the compensated sum, as accurate as before."""
    n = x.shape[0]
    # The row, signed, into the contiguous float64 scratch first: x may be strided
    # (any axis), and numba vectorises only loops over contiguous arrays.
    nan = False
    for i in range(n):
        v = sgn * float64(x[i])
        e[i] = v
        nan |= v != v
    m, first = _row_max(e)
    # No reduction and no branch in this loop, so that it vectorises (the exp is
    # most of the work; fused with the lane sums below it stayed scalar: 2x slower).
    fast = forward and _single(x)
    if fast:
        for i in range(n):
            e[i] = _exp_shifted_short(e[i], m)
    else:
        for i in range(n):
            e[i] = _exp_shifted(e[i], m)
    rest = _plain_sum(e, first) if fast else _neumaier(e, first, ws)
    return (math.nan if nan else rest + (e[first] - 1.0)), first, m


@njit(**_ROW)
def _exp_shifted(v, m):
    """exp(v - m) with the rounding error of v - m (TwoSum) put back: a spread of 487
    in a float64 row cost 250 ulp without it."""
    d = v - m
    bb = d - v
    lo = (v - (d - bb)) + (-m - bb)
    ed = _EXP(d)
    return ed + ed * (lo if lo - lo == 0.0 else 0.0)


@njit(**_ROW)
def _exp_shifted_short(v, m):
    """exp(v - m) to 3e-9 relative, for a float32 row's forward: v and m are float32
    values, so the rounding of v - m in float64 (at most 110 * 2**-53 where the
    exponential is not 0) is negligible beside that and needs no TwoSum. 0.05 ulp of
    float32 added to the 0.5 of the store."""
    return _m.exp_nonpositive_short_f64(v - m)


@njit(**_ROW)
def _neumaier(v, skip, ws):
    """sum(v) without v[skip], compensated (Neumaier) in _LANES lanes: within about
    an ulp for rows of any length (a plain running sum was 2458 ulp off for 65536
    float64 terms).  ws: the lane workspace."""
    n = v.shape[0]
    s = ws[:_LANES]
    c = ws[_LANES : 2 * _LANES]
    for j in range(_LANES):
        s[j] = 0.0
        c[j] = 0.0
    whole = n - n % _LANES
    for i0 in range(0, whole, _LANES):
        for j in range(_LANES):
            s[j], c[j] = _sum2(s[j], c[j], 0.0 if i0 + j == skip else v[i0 + j])
    for i in range(whole, n):
        j = i - whole
        s[j], c[j] = _sum2(s[j], c[j], 0.0 if i == skip else v[i])
    return _lanes_total(s, c)


@njit(**_ROW)
def _softmax_into(x, y, sgn, ws):
    rest, _, _ = _parts(x, y, sgn, ws, True)
    total = 1.0 + rest
    for i in range(y.shape[0]):
        y[i] = y[i] / total


@njit(**_ROW)
def _forward_row(x, kind, out, t, ws):
    """One row of softmax (kind 0), log_softmax (1) or softmin (2) into out, with the
    float64 scratch row t.  out may be x itself: out[i] is written after x[i] is read
    (and, for log_softmax, x[i] is read again only at its own store)."""
    if kind == 1:
        rest, _, m = _parts(x, t, 1.0, ws, True)
        lse = _LOG1P(rest)
        for i in range(x.shape[0]):
            out[i] = (float64(x[i]) - m) - lse
        return
    _softmax_into(x, t, -1.0 if kind == 2 else 1.0, ws)
    for i in range(x.shape[0]):
        out[i] = t[i]


def _softmax_forward(x, kind, out):
    """kind 0 softmax, 1 log_softmax, 2 softmin; (n),()->(n)."""
    _forward_row(x, kind, out, np.empty(x.shape[0], np.float64), np.empty(WORKSPACE))


@njit(**_ROW)
def _row_max(y):
    """The largest y, NaN ignored (-inf if none is above -inf), and its first index (0
    if none is above -inf: a row of -inf, or of NaN, as the C rows). Two reductions
    that vectorise: the maximum of the integer order keys (numba_math.key64; NaN
    lanes take -inf's), then the least index holding it; 0.16 ns per element with
    the float64 copy before it, against 1.0 for 8 scalar select lanes (float32 rows of
    1000, one core). The maximum's zero sign may differ from the first maximum's
    (+0 over -0): every use (exp(x - m), x - m next to a nonzero log-sum) gives the
    same results either way."""
    n = y.shape[0]
    top = _KEY_NEG_INF
    for i in range(n):
        v = y[i]
        k = _m.key64(v) if v == v else _KEY_NEG_INF
        top = k if k > top else top
    m = _m.from_key64(top)
    if m == -math.inf:
        return m, 0
    first = n
    for i in range(n):
        at = i if y[i] == m else n
        first = at if at < first else first
    return m, first


def _softmax_jacobian(x, kind, out):
    """(n),()->(n,n): J[i, j] = d y_i / d x_j."""
    n = x.shape[0]
    e = np.empty(n, np.float64)
    rest, first, _ = _parts(x, e, -1.0 if kind == 2 else 1.0, np.empty(WORKSPACE))
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
    softmin)."""
    n = v.shape[0]
    y = np.empty(n, np.float64)
    _vjp_row(g, v, kind, out, y, np.empty(n, np.float64), np.empty(WORKSPACE))


@njit(**_ROW)
def _vjp_row(g, v, kind, out, y, t, ws):
    """One row of the vector-Jacobian product, with the float64 scratch rows y and t.
    From x, y = softmax(+-x) goes to the scratch row (out may be g or v: out[i] is
    written after g[i] and v[i] were last read).

    The dominant entry k (the first maximum of y) does not cancel (issue 15 item 15):
    its sum is formed without it, and 1 - p_k comes from the forward's sums
    (rest / total) from x, or as 1 - y_k (exact for y_k >= 1/2) / -expm1(y_k) from y:
    softmax o_k = y_k (g_k (1 - y_k) - s'), log_softmax o_k = g_k (1 - p_k) - p_k S'."""
    n = v.shape[0]
    base = kind % 3
    from_x = kind >= 3
    if from_x:
        rest, k, _ = _parts(v, y, -1.0 if base == 2 else 1.0, ws)
        total = 1.0 + rest
        for i in range(n):
            y[i] = y[i] / total
        comp = rest / total
    else:
        for i in range(n):
            y[i] = v[i]
        _, k = _row_max(y)
        comp = -math.expm1(y[k]) if base == 1 else 1.0 - y[k]
    # The sums as compensated sums over a scratch row (products first), like rest.
    for i in range(n):
        t[i] = float64(g[i]) if base == 1 else float64(g[i]) * y[i]
    # Compensated for every dtype: g_i - sum(g y) cancels (to about 0 for equal
    # grads), and a plain or blocked float64 sum moved such results by up to ~1e-17
    # of the grads (measured): within the bar, but not the accuracy of before.
    sp = _neumaier(t, k, ws)
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


# ---------------------------------------------------------------- batched rows
# One compiled call for a whole batch of rows (the gufuncs above cost a dispatch and
# two scratch allocations per row: a (100000, 10) float32 softmax took 65-77 ns per
# element that way, against 12 for the Cython backend, at load ~2-4).  The rows are
# 2-D views (rows, n) with the axis last (any strides), the columns 3-D views
# (outer, n, inner) with the axis in the middle; both take in-place calls whose out
# is the very same view as an input, since every output element is written after
# the last read of the inputs it depends on.


def _rows_forward(X, kind, O):
    """_forward_row over the rows of X (rows, n); one scratch row for the batch."""
    t = np.empty(X.shape[1], np.float64)
    ws = np.empty(WORKSPACE)
    for r in range(X.shape[0]):
        _forward_row(X[r], kind, O[r], t, ws)


def _rows_vjp(G, V, kind, O):
    """_vjp_row over the rows of V (rows, n); two scratch rows for the batch."""
    n = V.shape[1]
    y = np.empty(n, np.float64)
    t = np.empty(n, np.float64)
    ws = np.empty(WORKSPACE)
    for r in range(V.shape[0]):
        _vjp_row(G[r], V[r], kind, O[r], y, t, ws)


#: Elements per batch of _short_forward: its three float64 scratch rows (24 KiB) stay
#: in L1, as the C backend's FA_SHORT_BATCH.
SHORT_BATCH = 1024


def _short_forward(x, kind, out, n):
    """softmax / log_softmax / softmin of the rows of n elements of x, C-contiguous and
    flat (rows * n elements), into out (same layout; may be x): batches of whole rows,
    each row's maximum, first index and sums in scalar loops, the loads, the
    exponentials and the stores one vector loop over the batch (1-D views indexed from
    0, so that LLVM vectorises them), as the C backend's fa_softmax_short. The same
    math as _forward_row: a float32 row's exponentials to 3e-9 and their plain float64
    sum, a float64 row's TwoSum-corrected and compensated (Neumaier). Passes: x read
    once from memory, out written once (a batch stays in L1); the columns kernel on
    the transposed rows cost ~0.75 us for (10, 10) float32 and 4.2 ns per element at
    (1000, 10), its 3-D strided loads unvectorised."""
    rows = x.shape[0] // n
    per = max(1, SHORT_BATCH // n)
    cap = min(per, rows) * n
    v = np.empty(cap, np.float64)  # the signed values, then their exponentials
    mb = np.empty(cap, np.float64)  # each element's row maximum
    tb = np.empty(cap, np.float64)  # each element's row total (softmax) or lse
    sgn = -1.0 if kind == 2 else 1.0
    fast = _single(x)
    for r0 in range(0, rows, per):
        nb = min(per, rows - r0)
        size = nb * n
        xb = x[r0 * n : r0 * n + size]
        ob = out[r0 * n : r0 * n + size]
        vb = v[:size]
        mv = mb[:size]
        tv = tb[:size]
        for k in range(size):
            vb[k] = sgn * float64(xb[k])
        for r in range(nb):
            # the row's maximum (NaN ignored; a row of -inf or NaN keeps -inf and index
            # 0, as _row_max), its first index and whether a NaN occurs
            b = r * n
            m = -math.inf
            first = 0
            nan = False
            for i in range(n):
                t = vb[b + i]
                if t > m:
                    m = t
                    first = i
                nan |= t != t
            for i in range(n):
                mv[b + i] = m
            tv[b] = first + 0.5 if not nan else -1.0  # first index and NaN, until the sums
        if fast:
            for k in range(size):
                vb[k] = _exp_shifted_short(vb[k], mv[k])
        else:
            for k in range(size):
                vb[k] = _exp_shifted(vb[k], mv[k])
        for r in range(nb):
            b = r * n
            nan = tv[b] < 0.0
            first = 0 if nan else int(tv[b])
            s = 0.0
            c = 0.0
            for i in range(n):
                t = 0.0 if i == first else vb[b + i]
                if fast:
                    s += t
                else:
                    s, c = _sum2(s, c, t)
            rest = math.nan if nan else (s + c) + (vb[b + first] - 1.0)
            total = _LOG1P(rest) if kind == 1 else 1.0 + rest
            for i in range(n):
                tv[b + i] = total
        if kind == 1:
            for k in range(size):
                ob[k] = (float64(xb[k]) - mv[k]) - tv[k]
        else:
            for k in range(size):
                ob[k] = vb[k] / tv[k]


def _short_vjp(g, v, kind, out, n):
    """The backward (kind 0, 1, 2 from y; 3, 4, 5 from x) of the rows of n elements of g
    and v (y or x), C-contiguous and flat, into out (may be g or v), batched as
    _short_forward: each row's dominant entry k and compensated sum without it in scalar
    loops, the loads, the exponentials and the stores one vector loop over the batch.
    The same math as _vjp_row: from x, p = e / total by _parts' accurate exponentials
    and compensated sum, k the first maximum and comp = rest / total; from y, k the first
    maximum of y and comp = 1 - y_k (-expm1(y_k) for log-probabilities); softmax
    o_k = y_k (g_k comp - s'), log_softmax o_k = g_k comp - p_k S'."""
    rows = v.shape[0] // n
    per = max(1, SHORT_BATCH // n)
    cap = min(per, rows) * n
    y = np.empty(cap, np.float64)  # y (float64): from x the probabilities
    sv = np.empty(cap, np.float64)  # each element's row sum (from x: first its maximum)
    ok = np.empty(min(per, rows), np.float64)  # each row's dominant output
    ks = np.empty(min(per, rows), np.int64)
    comps = np.empty(min(per, rows), np.float64)
    base = kind % 3
    from_x = kind >= 3
    sgn = -1.0 if base == 2 else 1.0
    for r0 in range(0, rows, per):
        nb = min(per, rows - r0)
        size = nb * n
        gb = g[r0 * n : r0 * n + size]
        vb = v[r0 * n : r0 * n + size]
        ob = out[r0 * n : r0 * n + size]
        yb = y[:size]
        sb = sv[:size]
        if from_x:
            for q in range(size):
                yb[q] = sgn * float64(vb[q])
        else:
            for q in range(size):
                yb[q] = float64(vb[q])
        for r in range(nb):
            b = r * n
            m = -math.inf
            k = 0
            nan = False
            for i in range(n):  # the first maximum, NaN ignored (as _row_max)
                t = yb[b + i]
                if t > m:
                    m = t
                    k = i
                nan |= t != t
            ks[r] = k
            if from_x:
                for i in range(n):
                    sb[b + i] = m
                comps[r] = math.nan if nan else 0.0
            else:
                comps[r] = -math.expm1(yb[b + k]) if base == 1 else 1.0 - yb[b + k]
        if from_x:
            for q in range(size):
                yb[q] = _exp_shifted(yb[q], sb[q])
            for r in range(nb):
                b = r * n
                k = ks[r]
                s = 0.0
                c = 0.0
                for i in range(n):
                    s, c = _sum2(s, c, 0.0 if i == k else yb[b + i])
                rest = comps[r] + ((s + c) + (yb[b + k] - 1.0))  # NaN for a NaN row
                total = 1.0 + rest
                comps[r] = rest / total
                for i in range(n):
                    sb[b + i] = total
            for q in range(size):
                yb[q] = yb[q] / sb[q]
        for r in range(nb):
            b = r * n
            k = ks[r]
            yk = yb[b + k]
            gk = float64(gb[b + k])
            s = 0.0
            c = 0.0
            for i in range(n):
                t = float64(gb[b + i]) if base == 1 else float64(gb[b + i]) * yb[b + i]
                s, c = _sum2(s, c, 0.0 if i == k else t)
            sp = s + c
            total = sp + (gk if base == 1 else gk * yk)
            for i in range(n):
                sb[b + i] = total
            if base == 1:
                ok[r] = gk * comps[r] - (yk if from_x else _EXP(yk)) * sp
            else:
                rk = yk * (gk * comps[r] - sp)
                ok[r] = -rk if base == 2 else rk
        if base == 1:
            if not from_x:
                for q in range(size):
                    yb[q] = _EXP(yb[q])
            for q in range(size):
                ob[q] = float64(gb[q]) - yb[q] * sb[q]
        else:
            for q in range(size):
                ob[q] = sgn * (yb[q] * (float64(gb[q]) - sb[q]))
        for r in range(nb):
            ob[r * n + ks[r]] = ok[r]


@njit(**_ROW)
def _cols_parts(X, o, j0, w, sgn, e, m, first, s, c):
    """_parts for the w columns j0.. of X[o] (n, inner), SIMD across the columns:
    e[:, :w] the shifted exponentials (TwoSum-corrected), m the maxima, first their
    first rows, s the rest sums (without the first maximum, plus e_first - 1)."""
    n = X.shape[1]
    for i in range(n):
        for j in range(w):
            e[i, j] = sgn * float64(X[o, i, j0 + j])
    for j in range(w):
        m[j] = e[0, j]
        first[j] = 0
    for i in range(1, n):
        for j in range(w):  # selects, no branch: the loop vectorises
            v = e[i, j]
            mj = m[j]
            take = v > mj or (v != v and mj == mj)
            m[j] = v if take else mj
            first[j] = i if take else first[j]
    for i in range(n):
        for j in range(w):
            v = e[i, j]
            mj = m[j]
            d = v - mj
            bb = d - v
            lo = (v - (d - bb)) + (-mj - bb)
            ed = _EXP(d)
            e[i, j] = ed + ed * (lo if lo - lo == 0.0 else 0.0)
    for j in range(w):
        s[j] = 0.0
        c[j] = 0.0
    for i in range(n):  # Neumaier, per column, in row order (as _neumaier)
        for j in range(w):
            tv = 0.0 if i == first[j] else e[i, j]
            sj = s[j]
            u = sj + tv
            c[j] += ((sj - u) + tv) if abs(sj) >= abs(tv) else ((tv - u) + sj)
            s[j] = u
    for j in range(w):
        sj = s[j]
        total = sj + c[j] if sj - sj == 0.0 else sj
        s[j] = total + (e[first[j], j] - 1.0)


def _tile(n):
    """Columns per tile: the scratch (n, tile) float64 arrays stay near 128 KiB."""
    return max(1, min(256, (1 << 14) // max(n, 1)))


def _cols_forward(X, kind, O, tile):
    """softmax / log_softmax / softmin along axis 1 of X (outer, n, inner)."""
    outer, n, inner = X.shape
    tile = max(1, min(tile, inner))  # a (10, 10) softmax allocates 10 columns, not 256
    e = np.empty((n, tile), np.float64)
    m = np.empty(tile, np.float64)
    first = np.empty(tile, np.int64)
    s = np.empty(tile, np.float64)
    c = np.empty(tile, np.float64)
    sgn = -1.0 if kind == 2 else 1.0
    for o in range(outer):
        for j0 in range(0, inner, tile):
            w = min(tile, inner - j0)
            _cols_parts(X, o, j0, w, sgn, e, m, first, s, c)
            if kind == 1:
                for j in range(w):
                    c[j] = _LOG1P(s[j])
                for i in range(n):
                    for j in range(w):
                        O[o, i, j0 + j] = (float64(X[o, i, j0 + j]) - m[j]) - c[j]
            else:
                for i in range(n):
                    for j in range(w):
                        # e / total as _softmax_into does (a division, not e * (1/total)).
                        O[o, i, j0 + j] = e[i, j] / (1.0 + s[j])


def _cols_vjp(G, V, kind, O, tile):
    """_vjp_row along axis 1 of V (outer, n, inner), SIMD across the columns."""
    outer, n, inner = V.shape
    tile = max(1, min(tile, inner))  # scratch for the columns there are, not a full tile
    base = kind % 3
    from_x = kind >= 3
    y = np.empty((n, tile), np.float64)
    t = np.empty((n, tile), np.float64)
    m = np.empty(tile, np.float64)
    k = np.empty(tile, np.int64)
    comp = np.empty(tile, np.float64)
    sp = np.empty(tile, np.float64)
    c = np.empty(tile, np.float64)
    at_k = np.empty(tile, np.float64)
    for o in range(outer):
        for j0 in range(0, inner, tile):
            w = min(tile, inner - j0)
            if from_x:
                _cols_parts(V, o, j0, w, -1.0 if base == 2 else 1.0, y, m, k, comp, c)
                for j in range(w):
                    total = 1.0 + comp[j]
                    comp[j] = comp[j] / total
                    m[j] = total
                for i in range(n):
                    for j in range(w):
                        y[i, j] = y[i, j] / m[j]
            else:
                for i in range(n):
                    for j in range(w):
                        y[i, j] = float64(V[o, i, j0 + j])
                for j in range(w):
                    k[j] = 0
                for i in range(1, n):
                    for j in range(w):
                        k[j] = i if y[i, j] > y[k[j], j] else k[j]
                for j in range(w):
                    yk = y[k[j], j]
                    comp[j] = -math.expm1(yk) if base == 1 else 1.0 - yk
            for i in range(n):
                for j in range(w):
                    gv = float64(G[o, i, j0 + j])
                    t[i, j] = gv if base == 1 else gv * y[i, j]
            for j in range(w):
                sp[j] = 0.0
                c[j] = 0.0
            for i in range(n):  # Neumaier without the dominant entry k
                for j in range(w):
                    tv = 0.0 if i == k[j] else t[i, j]
                    sj = sp[j]
                    u = sj + tv
                    c[j] += ((sj - u) + tv) if abs(sj) >= abs(tv) else ((tv - u) + sj)
                    sp[j] = u
            for j in range(w):
                sj = sp[j]
                sp[j] = sj + c[j] if sj - sj == 0.0 else sj
                kj = k[j]
                gk = float64(G[o, kj, j0 + j])
                yk = y[kj, j]
                s_all = sp[j] + t[kj, j]
                if base == 1:
                    pk = yk if from_x else _EXP(yk)
                    at_k[j] = gk * comp[j] - pk * sp[j]
                else:
                    at_k[j] = yk * (gk * comp[j] - sp[j])
                c[j] = s_all
            for i in range(n):
                for j in range(w):
                    gv = float64(G[o, i, j0 + j])
                    if base == 1:
                        p = y[i, j] if from_x else _EXP(y[i, j])
                        r = gv - p * c[j]
                    else:
                        r = y[i, j] * (gv - c[j])
                        r = -r if base == 2 else r
                    if i == k[j]:
                        r = at_k[j] if base != 2 else -at_k[j]
                    O[o, i, j0 + j] = r


# glu is elementwise over the two halves a, b (views of x along the axis); numba's
# gufunc signatures cannot declare its half-length output, so these are loops over
# 1-D contiguous chunks, fed like the elementwise kernels.


# float32 halves compute in float32 (the formulas' float32 forms, twice the lanes:
# the elementwise float32 kernels' own accuracy), float64 in float64.


def _glu_value(a, b):
    """glu's value at the halves' elements a, b (numba code only)."""
    raise NotImplementedError


def _glu_partials(a, b):
    """(sigmoid(b), glu_db(a, b)) (numba code only)."""
    raise NotImplementedError


@overload(_glu_value, inline="always")
def _glu_value_overload(a, b):
    if a == types.float32:
        return lambda a, b: _k.fa_glu_value_f32(a, b)
    return lambda a, b: _k.fa_glu_value_f64(float64(a), float64(b))


@overload(_glu_partials, inline="always")
def _glu_partials_overload(a, b):
    if a == types.float32:
        return lambda a, b: (_k.fa_sigmoid_f32(b), _k.fa_glu_db_f32(a, b))
    return lambda a, b: (_k.fa_sigmoid_f64(float64(b)), _k.fa_glu_db_f64(float64(a), float64(b)))


@njit(**_LOOP)
def glu_forward(A, B, O):
    for i in range(O.shape[0]):
        O[i] = _glu_value(A[i], B[i])


@njit(**_LOOP)
def glu_partials(A, B, DA, DB):
    """dy/da = sigmoid(b) and dy/db = glu_db(a, b)."""
    for i in range(DA.shape[0]):
        da, db = _glu_partials(A[i], B[i])
        DA[i] = da
        DB[i] = db


@njit(**_LOOP)
def glu_backward_x(G, A, B, OA, OB):
    for i in range(OA.shape[0]):
        g = G[i]
        da, db = _glu_partials(A[i], B[i])
        OA[i] = g * da
        OB[i] = g * db


# The same on C-contiguous arrays seen as blocks: x as (outer, 2, L), its halves
# X[o, 0] and X[o, 1] (L = m * inner contiguous elements each), the result and grad
# as (outer, L); one call walks the flat range [a, b) of (outer, L) row piece by row
# piece, each a unit-stride loop that LLVM vectorises (the loops above, fed one row
# of the halves at a time by nditer, paid a dispatch per row: 2.0 ns per element on
# (10000, 2000) float32 against 0.6 for the loop itself).


@njit(**_LOOP)
def glu_forward_blocks(X, O, a, b):
    L = O.shape[1]
    o, i = a // L, a % L
    while a < b:
        stop = min(b - a, L - i)
        # Row pieces as 1-D views, run by the 1-D loop (indexed from 0: numba adds no
        # wraparound select for a range(n) index, so it vectorises; X[o, 0, i + j]
        # did not).
        glu_forward(X[o, 0, i : i + stop], X[o, 1, i : i + stop], O[o, i : i + stop])
        a += stop
        o += 1
        i = 0


@njit(**_LOOP)
def glu_backward_x_blocks(G, X, OX, a, b):
    """OX may be X itself: element j of both halves is written after it was read."""
    L = G.shape[1]
    o, i = a // L, a % L
    while a < b:
        stop = min(b - a, L - i)
        piece = slice(i, i + stop)
        glu_backward_x(G[o, piece], X[o, 0, piece], X[o, 1, piece], OX[o, 0, piece],
                       OX[o, 1, piece])  # fmt: skip
        a += stop
        o += 1
        i = 0


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
            found = guvectorize([f"void({', '.join(types)})"], layout, nopython=True, cache=True)(
                row
            )
            _BUILT[key] = found
    return found, kind


#: batched kernel -> (its Python body, the dimensions of its arrays, array count,
#: whether it takes a tile width)
_BATCHED: dict[str, tuple[Callable[..., Any], int, int, bool]] = {
    "rows_forward": (_rows_forward, 2, 2, False),
    "rows_vjp": (_rows_vjp, 2, 3, False),
    "cols_forward": (_cols_forward, 3, 2, True),
    "cols_vjp": (_cols_vjp, 3, 3, True),
    "short_forward": (_short_forward, 1, 2, True),  # the extra int64: the row length
    "short_vjp": (_short_vjp, 1, 3, True),
}
#: Kernels whose arrays are C-contiguous ("C" layout: their flat loops vectorise);
#: the others take any strides ("A").
_CONTIGUOUS = {"short_forward", "short_vjp"}


def batched(name: str, dtype: str) -> Any:
    """The batched row kernel ``name`` for ``dtype``, compiled on first use (cached on
    disk) for one signature: every array of layout "A" (any strides), the inputs typed
    read-only (numba passes a writable array to a read-only parameter as it is, so
    the general path's read-only broadcast views and the caller's arrays share it;
    a writable-only signature sent read-only grads to the gufunc, whose copy of an
    input that out overlaps was 0.53x the input, test_memory).  With
    numba's default of one specialisation per layout and read-only flag, the C, F
    and strided views of one test run compiled some 60 versions (10 minutes under
    load); C-contiguous arrays are accepted by the "A" version as they are.  The
    loads go through the contiguous scratch rows anyway, where the math vectorises."""
    body, ndim, arrays, tiled = _BATCHED[name]
    layout = "C" if name in _CONTIGUOUS else "A"
    key = (body, dtype, "batched")
    with _lock:
        found = _BUILT.get(key)
        if found is None:
            element = getattr(numba.types, dtype)
            read = numba.types.Array(element, ndim, layout, readonly=True)
            write = numba.types.Array(element, ndim, layout)
            args = [read] * (arrays - 1) + [numba.types.int64, write]
            args += [numba.types.int64] if tiled else []
            found = njit([numba.types.void(*args)], **_LOOP)(body)
            _BUILT[key] = found
    return found


# ----------------------------------------------------------------------------- raw entries
# The compiled fast path (fastact._kernels._fastcall) calls the batched kernels through
# these cfunc entries, by address: raw pointers to the C-contiguous inputs and output,
# the views made here (rows (outer, n); short rows flat (outer * n); columns (outer, n,
# inner)). Through the dispatchers' entry points the views made in Python and the
# unboxing of each array cost ~1.9 of a (10, 10) softmax's 2.4 us. The entries call
# dispatchers of the batched bodies holding both dtypes' signatures (the same
# signatures as batched(), so numba loads them from the same disk cache entries
# instead of compiling the bodies again).

MODE_ROWS, MODE_SHORT, MODE_COLUMNS = 0, 1, 2


def _both(name: str) -> Any:
    """Batched kernel ``name`` with the float32 and the float64 signature."""
    body, ndim, arrays, tiled = _BATCHED[name]
    layout = "C" if name in _CONTIGUOUS else "A"
    key = (body, "both", "batched")
    with _lock:
        found = _BUILT.get(key)
        if found is None:
            signatures = []
            for element in (numba.types.float32, numba.types.float64):
                read = numba.types.Array(element, ndim, layout, readonly=True)
                write = numba.types.Array(element, ndim, layout)
                args = [read] * (arrays - 1) + [numba.types.int64, write]
                args += [numba.types.int64] if tiled else []
                signatures.append(numba.types.void(*args))
            found = njit(signatures, **_LOOP)(body)
            _BUILT[key] = found
    return found


def _forward_entry(args, outer, n, inner, kind, mode, tile):
    if mode == MODE_COLUMNS:
        xc = numba.carray(args[0], (outer, n, inner))
        oc = numba.carray(args[1], (outer, n, inner))
        _COLS_FORWARD(xc, kind, oc, tile)
    else:
        x = numba.carray(args[0], (outer, n))
        o = numba.carray(args[1], (outer, n))
        if mode == MODE_SHORT:
            _SHORT_FORWARD(x.reshape(outer * n), kind, o.reshape(outer * n), n)
        else:
            _ROWS_FORWARD(x, kind, o)


def _vjp_entry(args, outer, n, inner, kind, mode, tile):
    if mode == MODE_COLUMNS:
        gc = numba.carray(args[0], (outer, n, inner))
        vc = numba.carray(args[1], (outer, n, inner))
        oc = numba.carray(args[2], (outer, n, inner))
        _COLS_VJP(gc, vc, kind, oc, tile)
    else:
        g = numba.carray(args[0], (outer, n))
        v = numba.carray(args[1], (outer, n))
        o = numba.carray(args[2], (outer, n))
        if mode == MODE_SHORT:
            size = outer * n
            _SHORT_VJP(g.reshape(size), v.reshape(size), kind, o.reshape(size), n)
        else:
            _ROWS_VJP(g, v, kind, o)


_ENTRIES: dict[tuple[str, str], Any] = {}


def raw_entry(family: str, dtype: str) -> Any:
    """The cfunc ``void(dtype **args, int64 outer, int64 n, int64 inner, int64 kind,
    int64 mode, int64 tile)`` of family "forward" (args: x, out) or "vjp" (grad, x or
    y, out), compiled on first use and cached on disk."""
    key = (family, dtype)
    found = _ENTRIES.get(key)
    if found is not None:
        return found
    global _ROWS_FORWARD, _COLS_FORWARD, _SHORT_FORWARD, _ROWS_VJP, _COLS_VJP, _SHORT_VJP
    # The globals the entries call must be bound before they compile.
    if family == "forward":
        _ROWS_FORWARD, _COLS_FORWARD = _both("rows_forward"), _both("cols_forward")
        _SHORT_FORWARD = _both("short_forward")
        function = _forward_entry
    else:
        _ROWS_VJP, _COLS_VJP = _both("rows_vjp"), _both("cols_vjp")
        _SHORT_VJP = _both("short_vjp")
        function = _vjp_entry
    element = getattr(numba.types, dtype)
    i64 = numba.types.int64
    signature = numba.types.void(
        numba.types.CPointer(numba.types.CPointer(element)), i64, i64, i64, i64, i64, i64
    )
    with _lock:
        found = _ENTRIES.get(key)
        if found is None:
            found = numba.cfunc(signature, cache=True)(function)
            _ENTRIES[key] = found
    return found


_ROWS_FORWARD = _COLS_FORWARD = _SHORT_FORWARD = _ROWS_VJP = _COLS_VJP = _SHORT_VJP = None
