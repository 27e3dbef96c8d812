"""rrelu in training mode for the numba backend (hand-written): prelu's formulas with
a slope per element, slope_i = lower + (upper - lower) * u_i, u_i the rrelu hash of
the element's C-order index i (the same hash as ``fa_hash.h`` and
``fastact._reference.rrelu_uniform``, so every backend draws the same slopes).

The loops take 1-D C-order arrays and the index of their first element (``start``),
so that chunks on several threads draw the slopes of their own elements.
"""
# mypy: ignore-errors
# ruff: noqa: E741 - numba loops name their arrays X, G, O, D

from __future__ import annotations

import numpy as np
from numba import float32, float64, njit, uint64

from fastact._kernels import numba_kernels as _k

__all__ = ["LOOPS", "key_of"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_LOOP = dict(error_model="numpy", nogil=True, cache=True, boundscheck=False)


@njit(error_model="numpy", inline="always")
def _mix64(z):
    z = (z ^ (z >> uint64(30))) * _MIX1
    z = (z ^ (z >> uint64(27))) * _MIX2
    return z ^ (z >> uint64(31))


def key_of(seed: int) -> np.uint64:
    """key = mix64(seed mod 2**64) (Python ints: exact)."""
    m = (1 << 64) - 1
    z = seed & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return np.uint64(z ^ (z >> 31))


@njit(error_model="numpy", inline="always")
def _slope(key, index, lower, upper, single):
    z = _mix64(key + (uint64(index) + uint64(1)) * _GOLDEN)
    u = float64(z >> uint64(11)) * (2.0**-53)
    slope = lower + (upper - lower) * u
    # float32 kernels get the slope rounded to float32, as the Cython walker does.
    return float64(float32(slope)) if single else slope


# The float64 formulas serve float32 data too: x * slope of two float32 values is
# exact in float64 (48 significant bits), so the one rounding on the store gives
# the float32 product, as the float32 formula (float32 arithmetic) would.

# L and U hold the bounds: one value each with step 0 (scalar bounds), or one per
# element with step 1 (array bounds, broadcast and cut to the chunk by the caller).


@njit(**_LOOP)
def forward(key, start, L, U, step, single, X, O):
    for i in range(O.shape[0]):
        s = _slope(key, start + i, float64(L[i * step]), float64(U[i * step]), single)
        x = float64(X[i])
        O[i] = _k.fa_prelu_f64(x, s)


@njit(**_LOOP)
def derivative(key, start, L, U, step, single, X, O):
    for i in range(O.shape[0]):
        s = _slope(key, start + i, float64(L[i * step]), float64(U[i * step]), single)
        x = float64(X[i])
        O[i] = _k.fa_prelu_derivative_f64(x, s)


@njit(**_LOOP)
def value_and_derivative(key, start, L, U, step, single, X, O, D):
    for i in range(O.shape[0]):
        s = _slope(key, start + i, float64(L[i * step]), float64(U[i * step]), single)
        x = float64(X[i])
        y = _k.fa_prelu_f64(x, s)
        d = _k.fa_prelu_derivative_f64(x, s)
        O[i] = y
        D[i] = d


@njit(**_LOOP)
def backward_x(key, start, L, U, step, single, G, X, O):
    for i in range(O.shape[0]):
        s = _slope(key, start + i, float64(L[i * step]), float64(U[i * step]), single)
        x = float64(X[i])
        d = _k.fa_prelu_derivative_f64(x, s)
        O[i] = float64(G[i]) * d


#: method -> loop(key, start, L, U, step, single, inputs..., outputs...)
LOOPS = {
    "forward": forward,
    "derivative": derivative,
    "value_and_derivative": value_and_derivative,
    "backward_x": backward_x,
}
