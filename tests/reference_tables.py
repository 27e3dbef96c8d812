"""Load the stored high-precision reference tables and score results against them.

The tables (``tests/data/reference_tables.npz``, written by
``tools/make_reference_tables.py``) hold, for every case of :data:`oracle.CASES` and
for float32 and float64, a grid of inputs ``x`` and the exact ``f(x)`` and ``f'(x)``
as double-doubles (``hi + lo``), with the condition numbers that excuse what no
floating-point algorithm can avoid.  The accuracy tests call an implementation on
``table.x`` and hand the result to :func:`scaled_errors`; the contract's bar is
``scaled_errors(...) <= ACCURACY_BAR`` everywhere.

Storage conventions (read by :func:`ulp_errors`):

* ``hi = round_to_float64(v)``, ``lo = round_to_float64(v - hi)``, so a float64
  result's error is known to ~2**-100 of its ulp (``lo = 0`` where ``|v - hi|`` is
  below ``2**-200 |hi|``: nothing can tell it there).
* Where ``|v|`` overflows float64, ``hi = +-inf`` and ``lo = v -+ max64`` (itself
  ``+-inf`` when ``|v| >= 2 max64``), so the distance to the largest float stays known.
* At ``x = +-inf`` the row holds the limits, with ``lo = 0`` and the sign of a zero
  limit set by the side ``f`` approaches it from (``gelu(-inf) = -0.0``; ``+0.0``
  where ``f`` is identically 0 near the limit), and condition numbers 1.
* ``cond_d = inf`` within 4 ulps of a kink, where the derivative is a convention
  that the kink tests check instead.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np

try:  # tests/ may or may not be a package, depending on who runs us
    from . import oracle
except ImportError:  # pragma: no cover - exercised when tests/ is not a package
    import oracle  # type: ignore[no-redef]

__all__ = [
    "ACCURACY_BAR",
    "DATA_PATH",
    "FIELDS",
    "Table",
    "case",
    "case_ids",
    "load",
    "metadata",
    "scaled_errors",
    "ulp_errors",
]

#: The contract's bar: ulp error / max(1, condition number) <= 8.
ACCURACY_BAR = 8.0
#: Where the generator writes and this module reads the tables.
DATA_PATH = Path(__file__).resolve().parent / "data" / "reference_tables.npz"
#: The arrays of one (case, dtype), stored under the key ``"<case_id>/<dtype>/<field>"``.
FIELDS = ("x", "f_hi", "f_lo", "d_hi", "d_lo", "cond_f", "cond_d")
#: The key of the JSON metadata in the npz file.
META_KEY = "__meta__"
#: How far past the largest finite value an overflow may be mistaken for it (ulps).
OVERFLOW_SLACK = 8.0

DTypeLike = Any


@dataclass(frozen=True)
class Table:
    """One case in one dtype: inputs, exact values as double-doubles, conditions."""

    case_id: str
    dtype: np.dtype[Any]
    params: dict[str, oracle.ParamValue]
    x: np.ndarray
    f_hi: np.ndarray
    f_lo: np.ndarray
    d_hi: np.ndarray
    d_lo: np.ndarray
    cond_f: np.ndarray
    cond_d: np.ndarray

    @property
    def name(self) -> str:
        """The activation's canonical name."""
        return case(self.case_id).name


def _dtype(dtype: DTypeLike) -> np.dtype[Any]:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"reference tables exist for float32 and float64, not {dt}")
    return dt


@functools.lru_cache(maxsize=1)
def _archive(path: Path = DATA_PATH) -> dict[str, np.ndarray]:
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run `python tools/make_reference_tables.py` to generate it"
        )
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def metadata() -> dict[str, Any]:
    """The generator's stamp: its version, mpmath's version, the cases and counts."""
    return json.loads(str(_archive()[META_KEY][()]))


def generator() -> ModuleType:
    """tools/make_reference_tables.py, imported by path (tools/ is not a package)."""
    name = "make_reference_tables"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parent.parent / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def case_ids() -> list[str]:
    """The ids of all cases, in :data:`oracle.CASES` order."""
    return [c.id for c in oracle.CASES]


def case(case_id: str) -> oracle.Case:
    """The :class:`oracle.Case` (activation name and nominal parameters) of an id."""
    for c in oracle.CASES:
        if c.id == case_id:
            return c
    raise KeyError(f"no reference case {case_id!r}; known: {case_ids()}")


def load(case_id: str, dtype: DTypeLike) -> Table:
    """The table of ``case_id`` in ``dtype`` (float32 or float64).

    ``table.params`` are the parameters cast to ``dtype``: pass them to the
    implementation, the exact values were computed with them.
    """
    dt = _dtype(dtype)
    c = case(case_id)
    arrays = _archive()
    prefix = f"{case_id}/{dt.name}/"
    missing = [f for f in FIELDS if prefix + f not in arrays]
    if missing:
        raise KeyError(f"the reference tables have no {prefix}{missing}: regenerate them")
    cols = {f: arrays[prefix + f] for f in FIELDS}
    return Table(case_id, dt, oracle.cast_params(c.params, dt), **cols)


# ------------------------------------------------------------------------ scoring


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """s + e == a + b exactly (Knuth), for finite a, b whose sum does not overflow."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


def ulp_errors(result: Any, hi: Any, lo: Any, dtype: DTypeLike) -> np.ndarray:
    """|result - exact| in units of the last place of the exact value in ``dtype``.

    ``exact = hi + lo`` (the table's double-double).  The ulp is that of the exact
    value's binade in ``dtype`` (the smallest subnormal below the normal range, so
    a zero or subnormal exact value is measured in subnormal steps).  Overflow: if
    the exact value rounds to +-inf in ``dtype``, the result must be that infinity;
    a finite result there, or an infinite one where the exact value is finite,
    is an infinite error unless the exact value lies within 8 ulps of the largest
    finite value (then infinity counts as the next power of two, as IEEE rounding
    treats it).  NaN against non-NaN is infinite; NaN against NaN is 0.  The sign
    of a zero is not scored here (see ``scaled_errors(zero_sign=True)``).
    Float64 errors are exact to ~1e-15 ulp thanks to the double-double subtraction.
    """
    dt = _dtype(dtype)
    info = np.finfo(dt)
    p = int(info.nmant) + 1
    emin = int(info.minexp)
    maxv = float(info.max)
    ulp_max = float(np.ldexp(1.0, int(info.maxexp) - p))
    tiny = float(info.smallest_normal)
    r, h, lo_ = np.broadcast_arrays(
        np.asarray(result, dtype=np.float64),
        np.asarray(hi, dtype=np.float64),
        np.asarray(lo, dtype=np.float64),
    )
    out = np.zeros(r.shape, dtype=np.float64)
    with np.errstate(all="ignore"):
        r_nan, e_nan = np.isnan(r), np.isnan(h) | np.isnan(lo_)
        out[r_nan != e_nan] = np.inf
        ok = ~(r_nan | e_nan)

        sign = np.where(h != 0, np.sign(h), np.sign(lo_))
        ah = np.abs(h)
        slo = sign * lo_  # lo measured along the exact value's sign
        h_inf = np.isinf(h)
        # excess = |exact| - maxv (exact where it matters: |exact| near maxv).
        excess = np.where(h_inf, np.abs(lo_), (ah - maxv) + slo)
        if dt == np.float64:
            rounds_inf = h_inf
        else:
            thr = maxv + ulp_max / 2  # representable in float64; ties go to inf
            rounds_inf = h_inf | (ah > thr) | ((ah == thr) & (slo >= 0))
        r_inf = np.isinf(r)
        same_sign = np.sign(r) == sign

        # (1) exact overflows: inf of the same sign is exact; a finite result near
        # maxv is scored against maxv + excess; anything else is infinitely wrong.
        m = ok & rounds_inf
        near_max = excess <= OVERFLOW_SLACK * ulp_max
        fin = m & ~r_inf & same_sign & near_max
        out[m & r_inf & same_sign] = 0.0
        out[m & ~(r_inf & same_sign)] = np.inf
        out[fin] = ((maxv - np.abs(r[fin])) + excess[fin]) / ulp_max

        # (2) exact is finite in dtype but the result is infinite.
        m = ok & ~rounds_inf & r_inf
        near = m & same_sign & (excess >= -OVERFLOW_SLACK * ulp_max)
        out[m] = np.inf
        out[near] = (ulp_max - excess[near]) / ulp_max

        # (3) both finite: the double-double distance over the exact value's ulp.
        m = ok & ~rounds_inf & ~r_inf
        s, e = _two_sum(r[m], -h[m])
        diff = np.abs(s + (e - lo_[m]))
        diff[np.isnan(diff)] = np.inf  # r - hi overflowed: far apart anyway
        mant, ex = np.frexp(ah[m])
        binade = ex.astype(np.int64) - 1
        below = (mant == 0.5) & (slo[m] < 0)  # hi a power of 2, exact just under it
        binade = binade - below
        binade = np.where((ah[m] < tiny) | ((ah[m] == tiny) & below), emin - 1, binade)
        ulp = np.ldexp(1.0, np.maximum(binade, emin) - (p - 1))
        out[m] = diff / ulp
    return out


def scaled_errors(
    result: Any, table: Table, which: Literal["f", "d"], *, zero_sign: bool = False
) -> np.ndarray:
    """ulp_errors / max(1, cond): the number the contract holds to ACCURACY_BAR.

    ``which`` is ``"f"`` (forward) or ``"d"`` (derivative).  A NaN result, an
    overflow mismatch or any other infinite ulp error stays infinite even where the
    condition number is (an infinite condition excuses inaccuracy, not garbage).
    With ``zero_sign=True`` the rows at ``x = +-inf`` whose limit is zero must also
    carry the stored sign (``gelu(-inf) = -0.0``); elsewhere zeros of either sign
    are equal, since the contract fixes signed zeros only for the limits.
    """
    if which == "f":
        hi, lo, cond = table.f_hi, table.f_lo, table.cond_f
    elif which == "d":
        hi, lo, cond = table.d_hi, table.d_lo, table.cond_d
    else:
        raise ValueError(f"which must be 'f' or 'd', not {which!r}")
    res = np.asarray(result, dtype=np.float64)
    err = ulp_errors(res, hi, lo, table.dtype)
    with np.errstate(all="ignore"):
        # inf / inf would be NaN: an infinite error stays infinite whatever the cond.
        scaled = np.where(np.isinf(err), np.inf, err / np.maximum(1.0, cond))
        if zero_sign:
            lim = np.isinf(table.x) & (hi == 0)
            bad = lim & ((res != 0) | (np.signbit(res) != np.signbit(hi)))
            scaled = np.where(bad, np.inf, scaled)
    return scaled
