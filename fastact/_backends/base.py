"""What a backend is: the protocol between dispatch and the kernels.

A backend serves any subset of (activation, method, compute dtype). Dispatch asks it
for a kernel; ``None`` means "not served here", and only ``backend="auto"`` then
falls back to the next backend. Kernels receive validated, converted arrays and write
their results into the arrays they are given; they never allocate the result, never
validate user input and may assume the outputs do not alias each other (an output may
be the input itself: the in-place case).

Kernel signatures, by method (``params`` are the activation's validated parameters,
real ones already cast to the compute dtype: Python floats or arrays that broadcast
to x):

=========================  ====================================================
``forward``                ``kernel(x, out, **params)``
``derivative``             ``kernel(x, out, **params)`` (the Jacobian for axis functions)
``value_and_derivative``   ``kernel(x, out_y, out_d, **params)``
``backward_x``             ``kernel(grad, x, out, **params)``
``backward_y``             ``kernel(grad, y, out, **params)``
``param_grad:NAME``        ``kernel(grad, x, out, **params)``, out of NAME's shape
=========================  ====================================================

``grad`` may be a broadcast view (zero strides). Axis functions get ``axis`` as a
non-negative int among ``params``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["METHODS", "Backend", "Kernel"]

Kernel = Callable[..., None]

METHODS = ("forward", "derivative", "value_and_derivative", "backward_x", "backward_y")


@runtime_checkable
class Backend(Protocol):
    """A set of kernels that dispatch can choose from."""

    #: The name users pass as ``backend=``.
    name: str
    #: ``"auto"`` tries backends in decreasing priority.
    priority: int

    def available(self) -> bool:
        """Whether the backend works on this machine (its imports, its device)."""
        ...

    def kernel(self, activation: str, method: str, dtype: np.dtype) -> Kernel | None:
        """The kernel for a canonical activation name, a method and a compute dtype
        (float32 or float64), or None when this backend does not serve it."""
        ...
