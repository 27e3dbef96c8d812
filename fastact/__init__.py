"""fastact: neural-network activation functions and their derivatives, fast and exact.

Every activation is an object in this namespace, built from the registry
(:mod:`fastact._registry`): calling it is the forward; ``.derivative``,
``.backward`` and ``.value_and_derivative`` are its methods::

    import numpy as np, fastact as fa
    x = np.linspace(-3, 3, 7)
    y = fa.gelu(x)
    gx = fa.gelu.backward(np.ones_like(x), x)

``fa.activations()`` lists them all, aliases included.
"""

from __future__ import annotations

# The adapters' floor (dask, xarray, DLPack, device arrays) sits above the API and
# installs itself as its router: the API does not import it.
from fastact import _interop  # noqa: F401
from fastact._api import Activation, activations, resolve_backend
from fastact._dispatch import (
    available_backends,
    register_backend,
    set_backend,
    unregister_backend,
    use_backend,
)
from fastact._threads import get_num_threads, set_num_threads

__version__ = "0.1.0"

globals().update(activations())


def __getattr__(name: str) -> Activation:
    """Only reached for names that are not activations (those are set above); it tells
    type checkers that ``fastact.gelu`` and its kin are :class:`Activation` objects."""
    raise AttributeError(f"module 'fastact' has no attribute {name!r}")

__all__ = [
    "Activation",
    "activations",
    "available_backends",
    "get_num_threads",
    "register_backend",
    "resolve_backend",
    "set_backend",
    "set_num_threads",
    "unregister_backend",
    "use_backend",
    *sorted(activations()),
]
