"""The primitives of the formulas for ``numba.cuda`` kernels, float32 and float64.

On a GPU they are CUDA's libdevice functions (``math.exp`` on a float32 is
``__nv_expf``): vectorised hardware math, IEEE NaN/inf semantics, no flags to worry
about. Under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, no GPU), device code
runs as plain Python, where ``math.exp(1000.0)`` raises OverflowError and
``math.sqrt(-1.0)`` ValueError; there the primitives are NumPy's (erf and
erfc: the math module's) on NumPy scalars, which return inf/NaN like the GPU and keep
float32 in float32.

``PRIMITIVES[dtype_name][name]`` binds the names that ``fastact._formulas`` uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import config

__all__ = ["PRIMITIVES", "SIMULATED"]

_NAMES = ("exp", "expm1", "log", "log1p", "tanh", "erf", "erfc", "sqrt", "hypot",
          "fabs", "copysign", "isnan", "isinf")  # fmt: skip

#: Whether numba's CUDA simulator is on (then device code is Python).
SIMULATED: bool = bool(getattr(config, "ENABLE_CUDASIM", 0))


def _simulated() -> dict[str, Callable[..., Any]]:
    def typed(fn: Callable[[float], float]) -> Callable[..., Any]:
        # C99's erf/erfc through the math module (they never raise, and erfc keeps its
        # accuracy in the subnormal range, where SciPy's cephes erfc returns 0 from
        # x = 26.6 on), rounded back to the argument's NumPy type.
        def primitive(x: Any) -> Any:
            r = fn(float(x))
            return type(x)(r) if isinstance(x, np.floating) else r

        primitive.__name__ = fn.__name__
        return primitive

    def quiet(fn: Callable[..., Any]) -> Callable[..., Any]:
        def primitive(*args: Any) -> Any:
            with np.errstate(all="ignore"):
                return fn(*args)

        primitive.__name__ = getattr(fn, "__name__", "primitive")
        return primitive

    numpy_fns: dict[str, Callable[..., Any]] = {
        "exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p,
        "tanh": np.tanh, "erf": typed(math.erf), "erfc": typed(math.erfc),
        "sqrt": np.sqrt, "hypot": np.hypot, "fabs": np.fabs, "copysign": np.copysign,
        "isnan": np.isnan, "isinf": np.isinf,
    }  # fmt: skip
    return {
        name: fn if name in ("erf", "erfc") else quiet(fn) for name, fn in numpy_fns.items()
    }


def _device() -> dict[str, Callable[..., Any]]:
    # numba.cuda resolves these globals to libdevice: float32 arguments get the
    # float32 functions (expf, erfcf, ...), float64 the double ones.
    return {name: getattr(math, name) for name in _NAMES}


_BOUND = _simulated() if SIMULATED else _device()

PRIMITIVES: dict[str, dict[str, Callable[..., Any]]] = {
    "float32": dict(_BOUND),
    "float64": dict(_BOUND),
}
"""dtype name -> primitive name -> function usable in numba.cuda device code."""
