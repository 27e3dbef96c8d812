"""The primitives the activation formulas are written over.

:mod:`fastact._formulas` writes each activation's math once, as scalar Python over
these names. Every compiled backend binds them to its own implementation:

* the Cython backend's generator (``tools/codegen.py``) maps each name, per dtype, to a
  C99 libm function (``exp`` -> ``expf``/``exp``), which gcc vectorises through glibc's
  libmvec, or to fastact's own version in :mod:`fastact._own_math` (written in the same
  formula language and translated into C with the formulas: float64 tanh; the
  float32 tanh and expm1 and float64 log1p there are written and tested but measured
  slower or less accurate), as the table ``_IMPL`` there says, with the measurements that chose;
* the numba backend binds them to vectorisable numba functions.

The definitions here give the names their meaning in plain Python (float64, through
NumPy scalars, so that 1/0, overflow and NaN behave as in C): the formula tests run
the formulas directly with them, so a wrong formula is caught before any code is
generated from it.

``select(cond, a, b)`` is C's ``cond ? a : b``, with both arms evaluated (compiled
kernels compute both and blend, which is what lets them vectorise; so an arm may
overflow or produce NaN where it is not selected, but must not have other effects).
Comparisons with NaN are false. Write min/max as selects: C's fmin is a library
call that does not vectorise. ``by_dtype(a32, a64)`` is a constant that differs between float32
and float64 kernels (a threshold, the low half of a split constant).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "PRIMITIVES",
    "by_dtype",
    "copysign",
    "erf",
    "erfc",
    "exp",
    "expm1",
    "fabs",
    "hypot",
    "isinf",
    "isnan",
    "log",
    "log1p",
    "select",
    "sqrt",
    "tanh",
]

_f64 = np.float64


def _quiet(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: float) -> Any:
        with np.errstate(all="ignore"):
            return fn(*(_f64(a) for a in args))

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@_quiet
def exp(x: float) -> float:
    return np.exp(x)


@_quiet
def expm1(x: float) -> float:
    return np.expm1(x)


@_quiet
def log(x: float) -> float:
    return np.log(x)


@_quiet
def log1p(x: float) -> float:
    return np.log1p(x)


@_quiet
def tanh(x: float) -> float:
    return np.tanh(x)


@_quiet
def erf(x: float) -> float:
    from scipy import special

    return special.erf(x)


@_quiet
def erfc(x: float) -> float:
    from scipy import special

    return special.erfc(x)


@_quiet
def sqrt(x: float) -> float:
    return np.sqrt(x)


@_quiet
def hypot(x: float, y: float) -> float:
    return np.hypot(x, y)


@_quiet
def fabs(x: float) -> float:
    return np.abs(x)


@_quiet
def copysign(x: float, y: float) -> float:
    return np.copysign(x, y)


def isnan(x: float) -> bool:
    return bool(np.isnan(x))


def isinf(x: float) -> bool:
    return bool(np.isinf(x))


def select(cond: bool, a: float, b: float) -> float:
    return a if cond else b


def by_dtype(for_float32: float, for_float64: float) -> float:
    """A constant that depends on the kernel's dtype; plain Python is float64."""
    return for_float64


#: name -> number of arguments, for the generators.
PRIMITIVES: dict[str, int] = {
    "exp": 1,
    "expm1": 1,
    "log": 1,
    "log1p": 1,
    "tanh": 1,
    "erf": 1,
    "erfc": 1,
    "sqrt": 1,
    "hypot": 2,
    "fabs": 1,
    "copysign": 2,
    "isnan": 1,
    "isinf": 1,
    "select": 3,
    "by_dtype": 2,
}
