"""Inputs that are not NumPy arrays: where a call goes before :mod:`fastact._api`
converts anything.

:func:`intercept` is asked first by every call that leaves the ndarray fast path. It
returns ``NotImplemented`` for ordinary inputs (ndarrays, scalars, lists), which
``_api`` then converts with ``np.asarray``; device arrays go to
:mod:`fastact._device`, which runs them on the GPU without a host round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fastact import _device

__all__ = ["intercept"]

#: Types that never need routing (checked by identity first: the common case).
_PLAIN = (np.ndarray, np.generic, int, float, bool, list, tuple, type(None))


def _values(arrays: Mapping[str, Any], out: Any) -> list[Any]:
    values = list(arrays.values())
    if isinstance(out, tuple | list):
        values.extend(out)
    else:
        values.append(out)
    return values


def intercept(
    activation: Any,
    method: str,
    arrays: Mapping[str, Any],
    args: tuple[Any, ...],
    params: Mapping[str, Any],
    out: Any,
    backend: str | None,
) -> Any:
    """The result of a call whose inputs need another path, or NotImplemented.

    ``activation`` is the public :class:`fastact._api.Activation`; the other
    arguments are those of its ``_run``: ``method``, the named input arrays (``x``,
    or ``grad`` with ``x``/``y``), extra positional parameters, keyword parameters,
    ``out`` and ``backend``, all as the user passed them.
    """
    values = _values(arrays, out)
    if all(isinstance(v, _PLAIN) for v in values):
        return NotImplemented
    if any(_device.is_device_array(v) for v in values):
        return _device.call(activation, method, arrays, args, params, out, backend)
    return NotImplemented
