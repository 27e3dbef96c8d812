"""thinc adapter: fastact's kernels as a thinc ``Ops`` (``pip install "fastact[thinc]"``).

:class:`FastactOps` is a :class:`thinc.api.NumpyOps` whose activation methods run
fastact's kernels (backend and threads as fastact is configured: ``fa.set_backend``,
``fa.use_backend``, ``fa.set_num_threads``); everything else (gemm, reductions, LSTM,
hashing, optimizers) is NumpyOps' own. It is registered in thinc's ops registry (in
code and through the ``thinc_ops`` entry point), so, as for any thinc backend::

    from thinc.api import get_ops, set_current_ops, use_ops
    set_current_ops(get_ops("fastact"))
    with use_ops("fastact"):
        ...

and :func:`install` makes it thinc's CPU ops: ``get_ops("cpu")``, hence
``thinc.api.require_cpu()`` and spaCy's ``spacy.require_cpu()``, return a FastactOps,
and a current plain NumpyOps is replaced (undo with :func:`uninstall`, or scope it
with :func:`patch`).

Methods routed to fastact, with thinc's signatures, ``inplace=`` semantics (the result
is written into the argument thinc names and that object is returned) and shape checks:
relu, backprop_relu, sigmoid, dsigmoid, backprop_sigmoid, dtanh, softmax,
backprop_softmax (``axis``, ``temperature``), clipped_linear, backprop_clipped_linear,
relu_k, hard_sigmoid, hard_tanh, swish, hard_swish, hard_swish_mobilenet, dish, gelu,
gelu_approx, mish (``threshold``), erf and their backprops. float32 and float64
arrays go to fastact; any other dtype is passed on to NumpyOps' method unchanged.

Where thinc's own method is an approximation, FastactOps computes the exact function
(within fastact's accuracy bar: 8 ulp scaled by the condition number):

* ``sigmoid`` (and ``swish``, which uses it): thinc clips x to [-20, 20] first, so its
  sigmoid(-30) is 2.1e-9 instead of 9.4e-14; fastact does not clip.
* ``gelu``, ``backprop_gelu``, ``erf``: thinc uses the Abramowitz-Stegun 7.1.26
  polynomial for erf (absolute error up to 1.5e-7, so float64 results are good to
  about 7 digits and gelu's left tail is wrong in relative terms); fastact's are exact.
* ``dish``: thinc's ``1 + x / sqrt(1 + x^2)`` cancels for negative x (dish(-1e8) is 0
  in float64 instead of -2.5e-9) and overflows for |x| > 1.3e154; fastact's is stable.
* ``backprop_gelu_approx``: thinc's derivative of the tanh form uses the constants
  rounded to 6 digits (0.0356774, 0.797885, ...); fastact differentiates the tanh form
  exactly (the forward is the same tanh approximation of gelu in both).
* ``backprop_swish(dY, X, Y)``: thinc computes ``Y + sigmoid(X) * (1 - Y)`` from its
  clipped sigmoid; fastact computes silu'(x) from X (Y is not needed).
* ``mish``/``backprop_mish`` with ``threshold``: above the threshold thinc returns x
  and passes dY through. For ``threshold >= 20`` (the default) the exact mish(x)
  rounds to x there in float32 and float64 (measured by the tests), and mish'(x) is
  1 within 2 ulp, so no mask pass is made; a smaller threshold is applied exactly
  as thinc does.
* Kinks: thinc's ``backprop_hard_swish`` gives 0.4 x + 0.5 at x = +-2.5 (1.5 and
  -0.5) and ``backprop_hard_swish_mobilenet`` gives (2 x + 3) / 6 at x = +-3; fastact
  uses the one-sided limits of the outer pieces there (1 and 0), as PyTorch does for
  hardswish.

Mirrored where a drop-in must: ``softmax`` ignores ``inplace=True`` and returns a new
array, as ``thinc.api.Ops.softmax`` does (thinc's ``MultiSoftmax`` layer relies on it:
it softmaxes slices of one array); ``backprop_sigmoid(dY, Y, inplace=True)`` writes
into ``Y`` (thinc's choice), the other backprops into ``dY``.

A fused bias (``act(X @ W + b)`` in one pass) has no hook in thinc's Ops API: layers
such as ``Relu`` and ``Gelu`` call ``ops.gemm``, add ``b`` themselves and then call
``ops.relu``/``ops.gelu``, and take the bias gradient with ``dY.sum(axis=0)`` in the
layer's backprop; the fusion would need replacement layers, not an Ops method.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import thinc.api
import thinc.backends
from thinc.api import NumpyOps, registry

import fastact as fa

__all__ = ["FastactOps", "install", "installed", "patch", "uninstall"]

_NATIVE = (np.dtype(np.float32), np.dtype(np.float64))
# At and above this threshold the exact mish(x) rounds to x in float32 and float64
# (tanh(softplus(20)) = 1 - 8.5e-18 < 1 - 2**-54; checked by tests/test_thinc.py).
_MISH_ROUNDS_TO_X = 20.0


def _native(*arrays: Any) -> bool:
    """Whether fastact takes these arrays: ndarrays of one float32 or float64 dtype."""
    first = arrays[0]
    return all(
        isinstance(a, np.ndarray) and a.dtype in _NATIVE and a.dtype == first.dtype for a in arrays
    )


def _same_shape(u: np.ndarray, v: np.ndarray) -> None:
    # thinc's message (fastact itself would broadcast a smaller gradient)
    if u.shape != v.shape:
        raise ValueError(f"arrays have incompatible shapes: {u.shape} and {v.shape}")


def _clip_params(slope: float, offset: float, min_val: float, max_val: float) -> bool:
    """Whether fastact's clipped_linear takes these (finite slope and offset, ordered
    edges); anything else goes to thinc's own method, which decides what it means."""
    try:
        return bool(
            np.isfinite(slope) and np.isfinite(offset) and min_val <= max_val
            and not np.isnan(min_val) and not np.isnan(max_val)
        )  # fmt: skip
    except TypeError:
        return False


def _ones(like: np.ndarray) -> np.ndarray:
    # a read-only view with zero strides: the gradient of a plain derivative, no memory
    return np.broadcast_to(np.ones((), like.dtype), like.shape)


@registry.ops("FastactOps")
class FastactOps(NumpyOps):
    """thinc's NumpyOps with its activations computed by fastact (see the module
    docstring for what differs from NumpyOps and why)."""

    name = "fastact"

    # The methods' parameters are unannotated on purpose: thinc's test_ops_consistency
    # requires an Ops subclass's annotations to equal Ops' own (FloatsXdT, ...) where
    # both have one; unannotated parameters keep thinc's.

    # -- relu family ------------------------------------------------------------------

    def relu(self, X, inplace=False) -> Any:
        """``max(X, 0)``."""
        if not _native(X):
            return super().relu(X, inplace=inplace)
        return fa.relu(X, out=X if inplace else None)

    def backprop_relu(self, dY, Y, inplace=False) -> Any:
        """``dY * (Y > 0)``, from the output Y."""
        _same_shape(dY, Y)
        if not _native(dY, Y):
            return super().backprop_relu(dY, Y, inplace=inplace)
        return fa.relu.backward(dY, y=Y, out=dY if inplace else None)

    def relu_k(self, X, n=6.0, inplace=False) -> Any:
        """``clip(X, 0, n)`` (fastact's hardtanh with min_val=0, max_val=n)."""
        if not _native(X) or not n >= 0:
            return super().relu_k(X, n=n, inplace=inplace)
        return fa.hardtanh(X, min_val=0.0, max_val=n, out=X if inplace else None)

    def backprop_relu_k(self, dY, X, n=6.0, inplace=False) -> Any:
        """``dY`` where 0 < X < n, else 0."""
        _same_shape(dY, X)
        if not _native(dY, X) or not n >= 0:
            return super().backprop_relu_k(dY, X, n=n, inplace=inplace)
        return fa.hardtanh.backward(dY, X, min_val=0.0, max_val=n, out=dY if inplace else None)

    # -- sigmoid and tanh ---------------------------------------------------------------

    def sigmoid(self, X, *, inplace=False) -> Any:
        """``1 / (1 + exp(-X))``, exact (thinc's NumpyOps clips X to [-20, 20] first)."""
        if not _native(X):
            return super().sigmoid(X, inplace=inplace)
        return fa.sigmoid(X, out=X if inplace else None)

    def dsigmoid(self, Y, *, inplace=False) -> Any:
        """``Y * (1 - Y)``: the sigmoid's derivative from its output Y."""
        if not _native(Y):
            return super().dsigmoid(Y, inplace=inplace)
        return fa.sigmoid.backward(_ones(Y), y=Y, out=Y if inplace else None)

    def backprop_sigmoid(self, dY, Y, *, inplace=False) -> Any:
        """``dY * Y * (1 - Y)``; with ``inplace=True`` written into Y (as thinc does)."""
        _same_shape(dY, Y)
        if not _native(dY, Y):
            return super().backprop_sigmoid(dY, Y, inplace=inplace)
        return fa.sigmoid.backward(dY, y=Y, out=Y if inplace else None)

    def dtanh(self, Y, *, inplace=False) -> Any:
        """``1 - Y**2``: tanh's derivative from its output Y."""
        if not _native(Y):
            return super().dtanh(Y, inplace=inplace)
        return fa.tanh.backward(_ones(Y), y=Y, out=Y if inplace else None)

    # -- softmax --------------------------------------------------------------------------

    def softmax(self, x, *, inplace=False, axis=-1, temperature=1.0) -> Any:
        """``exp(x / T - max) / sum(exp(x / T - max))`` along ``axis``.

        Always returns a new array: ``inplace`` is ignored, as in thinc's Ops.softmax
        (thinc's MultiSoftmax layer relies on it).
        """
        if not _native(x):
            return super().softmax(x, inplace=inplace, axis=axis, temperature=temperature)
        if temperature != 1.0:
            scaled = x / temperature
            return fa.softmax(scaled, axis=axis, out=scaled)
        return fa.softmax(x, axis=axis)

    def backprop_softmax(self, Y, dY, *, axis=-1, temperature=1.0) -> Any:
        """``(Y * dY - Y * sum(Y * dY, axis)) / T``: the vector-Jacobian product from Y."""
        _same_shape(dY, Y)
        if not _native(Y, dY):
            return super().backprop_softmax(Y, dY, axis=axis, temperature=temperature)
        dX = fa.softmax.backward(dY, y=Y, axis=axis)
        if temperature != 1.0:
            dX /= temperature
        return dX

    # -- clipped linear family -------------------------------------------------------------

    def hard_sigmoid(self, X, inplace=False) -> Any:
        """``clip(0.2 X + 0.5, 0, 1)`` (fastact's hardsigmoid with slope 0.2)."""
        if not _native(X):
            return super().hard_sigmoid(X, inplace=inplace)
        return fa.hardsigmoid(X, slope=0.2, offset=0.5, out=X if inplace else None)

    def backprop_hard_sigmoid(self, dY, X, inplace=False) -> Any:
        """``0.2 dY`` where -2.5 < X < 2.5, else 0 (thinc ignores ``inplace`` here; it
        is honoured)."""
        _same_shape(dY, X)
        if not _native(dY, X):
            return super().backprop_hard_sigmoid(dY, X, inplace=inplace)
        return fa.hardsigmoid.backward(dY, X, slope=0.2, offset=0.5, out=dY if inplace else None)

    def clipped_linear(
        self, X, slope=1.0, offset=0.0, min_val=0.0, max_val=1.0, inplace=False
    ) -> Any:
        """``clip(slope X + offset, min_val, max_val)`` (fastact's clipped_linear)."""
        if not _native(X) or not _clip_params(slope, offset, min_val, max_val):
            return super().clipped_linear(X, slope, offset, min_val, max_val, inplace=inplace)
        return fa.clipped_linear(
            X, slope=slope, offset=offset, min_val=min_val, max_val=max_val,
            out=X if inplace else None,
        )  # fmt: skip

    def backprop_clipped_linear(
        self, dY, X, slope=1.0, offset=0.0, min_val=0.0, max_val=1.0, inplace=False
    ) -> Any:
        """``slope dY`` where min_val < slope X + offset < max_val, else 0 (for a negative
        slope thinc's interval test gives 0 everywhere; this is the exact derivative)."""
        _same_shape(dY, X)
        if not _native(dY, X) or not _clip_params(slope, offset, min_val, max_val):
            return super().backprop_clipped_linear(
                dY, X, slope, offset, min_val, max_val, inplace=inplace
            )
        return fa.clipped_linear.backward(
            dY, X, slope=slope, offset=offset, min_val=min_val, max_val=max_val,
            out=dY if inplace else None,
        )  # fmt: skip

    def hard_tanh(self, X, inplace=False) -> Any:
        """``clip(X, -1, 1)``."""
        if not _native(X):
            return super().hard_tanh(X, inplace=inplace)
        return fa.hardtanh(X, out=X if inplace else None)

    def backprop_hard_tanh(self, dY, X, inplace=False) -> Any:
        """``dY`` where -1 < X < 1, else 0 (``inplace`` honoured; thinc ignores it)."""
        _same_shape(dY, X)
        if not _native(dY, X):
            return super().backprop_hard_tanh(dY, X, inplace=inplace)
        return fa.hardtanh.backward(dY, X, out=dY if inplace else None)

    # -- swish family ---------------------------------------------------------------------

    def swish(self, X, inplace=False) -> Any:
        """``X * sigmoid(X)`` (silu), exact (thinc clips the sigmoid's argument)."""
        if not _native(X):
            return super().swish(X, inplace=inplace)
        return fa.silu(X, out=X if inplace else None)

    def backprop_swish(self, dY, X, Y, inplace=False) -> Any:
        """``dY * silu'(X)``, silu'(x) = s + x s (1 - s) with s = sigmoid(x), from X."""
        _same_shape(dY, X)
        _same_shape(dY, Y)
        if not _native(dY, X):
            return super().backprop_swish(dY, X, Y, inplace=inplace)
        return fa.silu.backward(dY, X, out=dY if inplace else None)

    def hard_swish(self, X, inplace=False) -> Any:
        """``X * clip(0.2 X + 0.5, 0, 1)`` (fastact's thinc_hard_swish)."""
        if not _native(X):
            return super().hard_swish(X, inplace=inplace)
        return fa.thinc_hard_swish(X, out=X if inplace else None)

    def backprop_hard_swish(self, dY, X, inplace=False) -> Any:
        """``dY * (0.4 X + 0.5)`` for -2.5 < X < 2.5, dY above, 0 below (at X = -2.5: 0,
        at 2.5: 1; thinc gives -1/2 and 3/2 there)."""
        _same_shape(dY, X)
        if not _native(dY, X):
            return super().backprop_hard_swish(dY, X, inplace=inplace)
        return fa.thinc_hard_swish.backward(dY, X, out=dY if inplace else None)

    def hard_swish_mobilenet(self, X, inplace=False) -> Any:
        """``X * relu6(X + 3) / 6`` (fastact's hardswish, MobileNetV3's and torch's)."""
        if not _native(X):
            return super().hard_swish_mobilenet(X, inplace=inplace)
        return fa.hardswish(X, out=X if inplace else None)

    def backprop_hard_swish_mobilenet(self, dY, X, inplace=False) -> Any:
        """``dY * ((2 X + 3) / 6)`` for -3 < X < 3, dY above, 0 below (at X = -3: 0, at
        X = 3: 1; thinc gives -1/2 and 3/2 there)."""
        _same_shape(dY, X)
        if not _native(dY, X):
            return super().backprop_hard_swish_mobilenet(dY, X, inplace=inplace)
        return fa.hardswish.backward(dY, X, out=dY if inplace else None)

    # -- gelu and mish -------------------------------------------------------------------

    def gelu(self, X, inplace=False) -> Any:
        """``X * Phi(X)``, Phi the standard normal CDF, exact (thinc's NumpyOps uses the
        Abramowitz-Stegun erf approximation, absolute error up to 1.5e-7)."""
        if not _native(X):
            return super().gelu(X, inplace=inplace)
        return fa.gelu(X, out=X if inplace else None)

    def backprop_gelu(self, dY, X, inplace=False) -> Any:
        """``dY * (Phi(X) + X phi(X))``, exact."""
        _same_shape(dY, X)
        if not _native(dY, X):
            return super().backprop_gelu(dY, X, inplace=inplace)
        return fa.gelu.backward(dY, X, out=dY if inplace else None)

    def gelu_approx(self, X, inplace=False) -> Any:
        """``X (1 + tanh(sqrt(2/pi) (X + 0.044715 X^3))) / 2`` (gelu's tanh form)."""
        if not _native(X):
            return super().gelu_approx(X, inplace=inplace)
        return fa.gelu(X, approximate="tanh", out=X if inplace else None)

    def backprop_gelu_approx(self, dY, X, inplace=False) -> Any:
        """``dY`` times the exact derivative of the tanh form (thinc's rounds its
        constants to 6 digits)."""
        _same_shape(dY, X)
        if not _native(dY, X):
            return super().backprop_gelu_approx(dY, X, inplace=inplace)
        return fa.gelu.backward(dY, X, approximate="tanh", out=dY if inplace else None)

    def mish(self, X, threshold=20.0, inplace=False) -> Any:
        """``X tanh(softplus(X))`` where X < threshold, X elsewhere (as thinc)."""
        if not _native(X):
            return super().mish(X, threshold=threshold, inplace=inplace)
        above, kept = self._above(X, X, threshold)
        Y = fa.mish(X, out=X if inplace else None)
        if above is not None:
            Y[above] = kept
        return Y

    def backprop_mish(self, dY, X, threshold=20.0, inplace=False) -> Any:
        """``dY mish'(X)`` where X < threshold, dY elsewhere (as thinc)."""
        _same_shape(dY, X)
        if not _native(dY, X):
            return super().backprop_mish(dY, X, threshold=threshold, inplace=inplace)
        above, kept = self._above(X, dY, threshold)
        dX = fa.mish.backward(dY, X, out=dY if inplace else None)
        if above is not None:
            dX[above] = kept
        return dX

    def dish(self, X, inplace=False) -> Any:
        """``X (1 + X / sqrt(1 + X^2)) / 2``, accurate for large negative X (where thinc's
        ``1 + X / sqrt(1 + X^2)`` cancels: 0 for X < -1e8 in float64)."""
        if not _native(X):
            return super().dish(X, inplace=inplace)
        return fa.dish(X, out=X if inplace else None)

    def backprop_dish(self, dY, X, inplace=False) -> Any:
        """``dY (1/2 + X/s - X^3 / (2 s^3))``, s = sqrt(1 + X^2)."""
        _same_shape(dY, X)
        if not _native(dY, X):
            return super().backprop_dish(dY, X, inplace=inplace)
        return fa.dish.backward(dY, X, out=dY if inplace else None)

    def erf(self, X) -> Any:
        """The error function, exact (thinc's Ops.erf is the Abramowitz-Stegun 7.1.26
        polynomial, absolute error up to 1.5e-7)."""
        if not _native(X):
            return super().erf(X)
        return fa.erf(X)

    @staticmethod
    def _above(X: np.ndarray, source: np.ndarray, threshold: float) -> tuple[Any, Any]:
        """Where X >= threshold and source's values there, for a threshold below which
        the exact mish differs from x (None, None when no mask pass is needed)."""
        if threshold >= _MISH_ROUNDS_TO_X:
            return None, None
        above = X >= threshold
        return above, source[above]


# -- the opt-in: FastactOps as thinc's CPU ops ----------------------------------------------

_lock = threading.Lock()
_saved: dict[str, Any] | None = None


def install() -> None:
    """Make :class:`FastactOps` thinc's CPU ops.

    ``thinc.api.get_ops("cpu")`` (what ``thinc.api.require_cpu()`` and spaCy's
    ``require_cpu()`` call) returns a FastactOps from now on, and if the current ops
    are a plain NumpyOps they are replaced by a FastactOps. Other names
    (``get_ops("numpy")``, ``"cupy"``) are unchanged. On macOS, where thinc's "cpu" is
    AppleOps (NumpyOps with Accelerate's gemm), this trades that gemm for fastact's
    activations. Idempotent; undo with :func:`uninstall`.
    """
    global _saved
    with _lock:
        if _saved is not None:
            return
        original: Callable[..., Any] = thinc.backends.get_ops

        def get_ops(name: str, **kwargs: Any) -> Any:
            if name == "cpu":
                return FastactOps(**kwargs)
            return original(name, **kwargs)

        get_ops.__doc__ = original.__doc__
        get_ops.__wrapped__ = original  # type: ignore[attr-defined]
        current = thinc.backends.context_ops.get()
        saved = {
            "backends.get_ops": original,
            "api.get_ops": thinc.api.get_ops,
            "ops": current,
            "ours": None,
        }
        thinc.backends.get_ops = get_ops
        thinc.api.get_ops = get_ops
        if current is None or type(current) is NumpyOps:
            ours = FastactOps()
            thinc.backends.set_current_ops(ours)
            saved["ours"] = ours
        _saved = saved


def uninstall() -> None:
    """Undo :func:`install`: thinc's own ``get_ops`` again, and the ops that were current
    before (if the FastactOps that install() set is still current)."""
    global _saved
    with _lock:
        if _saved is None:
            return
        saved, _saved = _saved, None
        thinc.backends.get_ops = saved["backends.get_ops"]
        thinc.api.get_ops = saved["api.get_ops"]
        if saved["ours"] is not None and thinc.backends.context_ops.get() is saved["ours"]:
            if saved["ops"] is None:
                thinc.backends.require_cpu()
            else:
                thinc.backends.set_current_ops(saved["ops"])


def installed() -> bool:
    """Whether :func:`install` is in effect."""
    return _saved is not None


@contextlib.contextmanager
def patch() -> Iterator[None]:
    """Context manager: :func:`install` for the block only (an outer install stays)."""
    was_installed = installed()
    install()
    try:
        yield
    finally:
        if not was_installed:
            uninstall()
