"""Row kernels of the CUDA backend (hand-written): softmax, log_softmax, softmin and
glu along an axis, one GPU thread per row; and rrelu's training slopes.

Arrays are C-contiguous and seen as (outer, n, inner) with the axis in the middle
(a free reshape), so row (o, k) is ``x[o, :, k]``: for the last axis (inner = 1)
a thread walks its own contiguous row; for other axes neighbouring threads read
neighbouring addresses (coalesced). The algorithms are the Cython backend's
(``fa_rows.h``): TwoSum-corrected shifted exponentials, the sum without the first
maximum, log1p for log_softmax, 1 - y_i = (total - e_i)/total in the Jacobian.
``kind``: 0 softmax, 1 log_softmax, 2 softmin. ``one`` is 1 in the arrays' dtype
(float32 code must not meet float64 constants).
"""
# mypy: ignore-errors

from __future__ import annotations

import numpy as np
from numba import cuda, float32, float64, uint64

from fastact._kernels import cuda_kernels as _k
from fastact._kernels.cuda_math import PRIMITIVES as _PRIMITIVES

__all__ = ["bias_grad_sum", "glu_backward_x", "glu_forward", "glu_jacobian", "rrelu_slopes",
           "softmax_forward", "softmax_jacobian", "softmax_vjp"]  # fmt: skip

_exp = _PRIMITIVES["float64"]["exp"]
_log1p = _PRIMITIVES["float64"]["log1p"]


@cuda.jit(device=True)
def _row_max(x, o, k, sgn):
    n = x.shape[1]
    m = sgn * x[o, 0, k]
    first = 0
    for j in range(1, n):
        v = sgn * x[o, j, k]
        if v > m or (v != v and m == m):
            m = v
            first = j
    return m, first


@cuda.jit(device=True)
def _shifted(v, m, zero):
    d = v - m
    bb = d - v
    lo = (v - (d - bb)) + (-m - bb)
    ed = _exp(d)
    return d, ed + ed * (lo if lo - lo == zero else zero)


@cuda.jit(device=True)
def _row_total(x, o, k, sgn, m, first, one):
    """1 + the sum of the shifted exponentials without the first maximum's, plus
    (e_first - 1) (NaN for a +inf or NaN maximum)."""
    zero = one - one
    rest = zero
    e_first = one
    for j in range(x.shape[1]):
        _, e = _shifted(sgn * x[o, j, k], m, zero)
        if j == first:
            e_first = e
        else:
            rest += e
    return rest + (e_first - one)


@cuda.jit
def softmax_forward(x, kind, one, y):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    outer, n, inner = x.shape
    sgn = -one if kind == 2 else one
    zero = one - one
    for r in range(start, outer * inner, stride):
        o, k = r // inner, r % inner
        m, first = _row_max(x, o, k, sgn)
        rest = _row_total(x, o, k, sgn, m, first, one)
        lse = _log1p(rest)
        total = one + rest
        for j in range(n):
            d, e = _shifted(sgn * x[o, j, k], m, zero)
            y[o, j, k] = d - lse if kind == 1 else e / total


@cuda.jit
def softmax_jacobian(x, kind, one, jac):
    """jac: (outer, n, inner, n), J[o, i, k, j] = d y[o, i, k] / d x[o, j, k]."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    outer, n, inner = x.shape
    sgn = -one if kind == 2 else one
    zero = one - one
    for r in range(start, outer * inner, stride):
        o, k = r // inner, r % inner
        m, first = _row_max(x, o, k, sgn)
        rest = _row_total(x, o, k, sgn, m, first, one)
        total = one + rest
        for i in range(n):
            _, ei = _shifted(sgn * x[o, i, k], m, zero)
            yi = ei / total
            ci = (rest if i == first else total - ei) / total
            for j in range(n):
                _, ej = _shifted(sgn * x[o, j, k], m, zero)
                yj = ej / total
                if kind == 1:
                    v = ci if i == j else -yj
                else:
                    v = yi * ci if i == j else -(yi * yj)
                jac[o, i, k, j] = -v if kind == 2 else v


@cuda.jit
def softmax_vjp(g, v, kind, one, out):
    """kind 0/1/2 from y, 3/4/5 from x. out may be g or v: every element is read
    before it is written, and the sums are taken first."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    outer, n, inner = v.shape
    base = kind % 3
    from_x = kind >= 3
    sgn = -one if base == 2 else one
    zero = one - one
    for r in range(start, outer * inner, stride):
        o, k = r // inner, r % inner
        m, first = zero, 0
        total = one
        if from_x:
            m, first = _row_max(v, o, k, sgn)
            total = one + _row_total(v, o, k, sgn, m, first, one)
        s = zero
        for j in range(n):
            if base == 1:
                s += g[o, j, k]
            else:
                yj = v[o, j, k]
                if from_x:
                    _, e = _shifted(sgn * v[o, j, k], m, zero)
                    yj = e / total
                s += g[o, j, k] * yj
        for j in range(n):
            yj = v[o, j, k]
            if from_x:
                _, e = _shifted(sgn * v[o, j, k], m, zero)
                yj = e / total
            if base == 1:
                p = yj if from_x else _exp(yj)
                out[o, j, k] = g[o, j, k] - p * s
            else:
                res = yj * (g[o, j, k] - s)
                out[o, j, k] = -res if base == 2 else res


@cuda.jit
def glu_forward(x, one, y):
    """x: (outer, 2m, inner), y: (outer, m, inner)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    outer, m, inner = y.shape
    for r in range(start, outer * m * inner, stride):
        o, i, k = r // (m * inner), (r // inner) % m, r % inner
        y[o, i, k] = _k.fa_glu_value_f64(x[o, i, k], x[o, i + m, k])


@cuda.jit
def glu_jacobian(x, one, jac):
    """jac: (outer, m, inner, 2m)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    outer, m, inner, n = jac.shape
    zero = one - one
    for r in range(start, outer * m * inner, stride):
        o, i, k = r // (m * inner), (r // inner) % m, r % inner
        a, b = x[o, i, k], x[o, i + m, k]
        for j in range(n):
            jac[o, i, k, j] = zero
        jac[o, i, k, i] = _k.fa_sigmoid_f64(b)
        jac[o, i, k, i + m] = _k.fa_glu_db_f64(a, b)


@cuda.jit
def glu_backward_x(g, x, one, out):
    """g: (outer, m, inner); x, out: (outer, 2m, inner); out may be x."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    outer, m, inner = g.shape
    for r in range(start, outer * m * inner, stride):
        o, i, k = r // (m * inner), (r // inner) % m, r % inner
        gi, a, b = g[o, i, k], x[o, i, k], x[o, i + m, k]
        da = gi * _k.fa_sigmoid_f64(b)
        db = gi * _k.fa_glu_db_f64(a, b)
        out[o, i, k] = da
        out[o, i + m, k] = db


# rrelu in training mode: slope_i = lower + (upper - lower) * u_i with u_i the rrelu
# hash of the element's C-order index (fa_hash.h, fastact._reference.rrelu_uniform),
# written to a device array that prelu's kernels then read as their weight.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S11, _S27, _S30, _S31 = np.uint64(11), np.uint64(27), np.uint64(30), np.uint64(31)
_ONE = np.uint64(1)


@cuda.jit(device=True)
def _mix64(z):
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@cuda.jit
def rrelu_slopes(key, lower, upper, single, out):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, out.shape[0], stride):
        z = _mix64(key + (uint64(i) + _ONE) * _GOLDEN)
        u = float64(z >> _S11) * (2.0**-53)
        slope = lower + (upper - lower) * u
        # float32 kernels use the slope rounded to float32, as the CPU backends do.
        out[i] = float32(slope) if single else slope


@cuda.jit
def bias_grad_sum(g, red_shape, red_stride, par_shape, par_stride, out):
    """The bias gradient: thread k sums grad_x over the elements that bias element k
    broadcast onto (g flat C-order, out flat), in float64 with Neumaier's compensation
    (the host backends' bound), sequentially in C order (deterministic). The total is
    acc + comp where acc is finite (an infinite or NaN sum stays what it is), rounded
    once into out's dtype."""
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    count = g.shape[0] // max(out.shape[0], 1)
    for k in range(start, out.shape[0], stride):
        base = _k.fa_offset(k, par_shape, par_stride)
        acc = float64(0.0)
        comp = float64(0.0)
        for r in range(count):
            v = float64(g[base + _k.fa_offset(r, red_shape, red_stride)])
            t = acc + v
            if abs(acc) >= abs(v):
                comp += (acc - t) + v
            else:
                comp += (v - t) + acc
            acc = t
        out[k] = acc + comp if acc - acc == 0.0 else acc
