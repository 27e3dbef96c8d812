"""scikit-learn adapter: fastact's kernels inside ``sklearn.neural_network``'s MLPs.

``pip install "fastact[sklearn]"``, then one of::

    import fastact.sklearn
    fastact.sklearn.install()          # every MLPClassifier / MLPRegressor from now on
    fastact.sklearn.uninstall()        # back to scikit-learn's own functions

    with fastact.sklearn.patch():      # only inside the block
        MLPClassifier(...).fit(X, y)

scikit-learn keeps the activations of its multi-layer perceptrons in two dicts of
``sklearn/neural_network/_base.py``, which ``_multilayer_perceptron.py`` imports by
name and looks up at every forward and backward pass:

* ``ACTIVATIONS[name](X)``: the forward, in place (identity, tanh, logistic, relu,
  softmax; scikit-learn >= 1.7 also has exp, for the Poisson loss);
* ``DERIVATIVES[name](Z, delta)``: multiply ``delta`` in place by f' computed from the
  layer's *output* ``Z``, which is fastact's backward from y
  (``fa.tanh.backward(delta, y=Z, out=delta)``).

:func:`install` replaces the entries of those dict objects (the very objects both
modules hold, so every lookup sees them) by functions that call fastact with
``out=`` the array scikit-learn passes, so nothing is allocated. Each call uses
fastact's configuration at the time of the call: the backend of ``fa.set_backend`` /
``fa.use_backend`` (``"auto"`` by default) and ``fa.set_num_threads``.

What changes numerically: fastact's tanh and logistic are within 8 ulp (scaled by the
condition number) of the exact value, like scipy's expit and NumPy's tanh; the
derivatives from Z are the same formulas (``1 - Z**2``, ``Z * (1 - Z)``, ``Z > 0``)
in one pass instead of two or three; softmax is the same max-shifted form.
``identity`` needs no work in either direction, so its replacements do nothing, as
scikit-learn's do (fastact's ``linear`` would copy the array onto itself).

A fused ``act(X @ W + b)`` is not reachable from these dicts: scikit-learn adds the
intercept in ``BaseMultilayerPerceptron._forward_pass`` / ``_forward_pass_fast``
(``activations[i + 1] += self.intercepts_[i]``) before it looks the activation up, and
takes the intercept gradient in ``_compute_loss_grad`` (``np.mean(deltas[layer], 0)``)
after the derivative has run. A fused bias would have to replace those two methods
(the bias add plus activation as one call there, and the derivative plus the
column sum in ``_backprop``), which binds to private method bodies, not to a table.

If the installed scikit-learn lays these out differently (the dicts moved, renamed,
missing an entry this adapter expects), :func:`install` raises :class:`RuntimeError`
naming what it expected and what it found, and changes nothing.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np

import fastact as fa

__all__ = ["ACTIVATIONS", "DERIVATIVES", "install", "installed", "patch", "uninstall"]

# The modules and names this adapter expects (scikit-learn 1.4 to 1.9 have them).
_BASE = "sklearn.neural_network._base"
_MLP = "sklearn.neural_network._multilayer_perceptron"
_REQUIRED_ACTIVATIONS = ("identity", "tanh", "logistic", "relu", "softmax")
_REQUIRED_DERIVATIVES = ("identity", "tanh", "logistic", "relu")


def inplace_identity(X: np.ndarray) -> None:
    """Identity forward, in place: nothing to do (f(x) = x)."""


def inplace_exp(X: np.ndarray) -> None:
    """Exponential forward in place: ``X[...] = exp(X)`` (fastact's ``exponential``)."""
    fa.exponential(X, out=X)


def inplace_tanh(X: np.ndarray) -> None:
    """Hyperbolic tangent forward in place: ``X[...] = tanh(X)``."""
    fa.tanh(X, out=X)


def inplace_logistic(X: np.ndarray) -> None:
    """Logistic sigmoid forward in place: ``X[...] = 1 / (1 + exp(-X))``."""
    fa.sigmoid(X, out=X)


def inplace_relu(X: np.ndarray) -> None:
    """Rectified linear unit forward in place: ``X[...] = max(X, 0)``."""
    fa.relu(X, out=X)


def inplace_softmax(X: np.ndarray) -> None:
    """Softmax along the features (axis 1) in place:
    ``X[i, j] = exp(X[i, j] - max_k X[i, k]) / sum_k exp(X[i, k] - max_k X[i, k])``."""
    fa.softmax(X, axis=1, out=X)


def inplace_identity_derivative(Z: np.ndarray, delta: np.ndarray) -> None:
    """Identity derivative: f' = 1, ``delta`` is left as it is."""


def inplace_tanh_derivative(Z: np.ndarray, delta: np.ndarray) -> None:
    """``delta *= 1 - Z**2``, with Z = tanh(x) the layer's output (one pass)."""
    fa.tanh.backward(delta, y=Z, out=delta)


def inplace_logistic_derivative(Z: np.ndarray, delta: np.ndarray) -> None:
    """``delta *= Z * (1 - Z)``, with Z = sigmoid(x) the layer's output (one pass)."""
    fa.sigmoid.backward(delta, y=Z, out=delta)


def inplace_relu_derivative(Z: np.ndarray, delta: np.ndarray) -> None:
    """``delta *= (Z > 0)``, with Z = relu(x) the layer's output (scikit-learn zeroes
    ``delta`` where Z == 0; Z is never negative, so the two agree)."""
    fa.relu.backward(delta, y=Z, out=delta)


#: The replacements :func:`install` puts into scikit-learn's ``ACTIVATIONS`` dict.
ACTIVATIONS: dict[str, Callable[[np.ndarray], None]] = {
    "identity": inplace_identity,
    "exp": inplace_exp,
    "tanh": inplace_tanh,
    "logistic": inplace_logistic,
    "relu": inplace_relu,
    "softmax": inplace_softmax,
}

#: The replacements :func:`install` puts into scikit-learn's ``DERIVATIVES`` dict.
DERIVATIVES: dict[str, Callable[[np.ndarray, np.ndarray], None]] = {
    "identity": inplace_identity_derivative,
    "tanh": inplace_tanh_derivative,
    "logistic": inplace_logistic_derivative,
    "relu": inplace_relu_derivative,
}

_lock = threading.Lock()
# While installed: (the dict object, its key, scikit-learn's original function, ours),
# for every entry replaced, so uninstall() puts back exactly what it took.
_saved: list[tuple[dict[str, Any], str, Any, Any]] | None = None


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise RuntimeError(
            f"fastact.sklearn expected the module {name} (scikit-learn's MLP) but cannot "
            f"import it: {exc}. Install scikit-learn (pip install 'fastact[sklearn]')."
        ) from exc


def _tables() -> list[tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]]:
    """The dicts to patch: (scikit-learn's dict, fastact's replacements, required keys),
    each dict object once. Raises RuntimeError naming what is not as expected."""
    modules = [_import(_BASE), _import(_MLP)]
    found: list[tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]] = []
    for attr, ours, required in (
        ("ACTIVATIONS", ACTIVATIONS, _REQUIRED_ACTIVATIONS),
        ("DERIVATIVES", DERIVATIVES, _REQUIRED_DERIVATIVES),
    ):
        for module in modules:
            table = getattr(module, attr, None)
            if not isinstance(table, dict):
                raise RuntimeError(
                    f"fastact.sklearn expected {module.__name__}.{attr} to be a dict of "
                    f"activation functions keyed by {list(required)}, found "
                    f"{type(table).__name__}: this scikit-learn "
                    f"({_sklearn_version()}) lays out its MLP module differently"
                )
            missing = [key for key in required if not callable(table.get(key))]
            if missing:
                raise RuntimeError(
                    f"fastact.sklearn expected {module.__name__}.{attr} to hold callables "
                    f"for {list(required)}; missing or not callable: {missing} (found keys "
                    f"{sorted(table)}; scikit-learn {_sklearn_version()})"
                )
            if not any(table is seen for seen, _, _ in found):
                found.append((table, ours, required))
    return found


def _sklearn_version() -> str:
    try:
        import sklearn

        return str(sklearn.__version__)
    except ImportError:  # pragma: no cover - _import() raised before
        return "not installed"


def install() -> None:
    """Route scikit-learn's MLP activations and derivatives through fastact.

    Replaces, in the ``ACTIVATIONS`` and ``DERIVATIVES`` dicts that
    ``sklearn.neural_network._multilayer_perceptron`` looks up, every entry fastact
    serves (identity, tanh, logistic, relu, softmax, and exp where present; the
    derivatives of identity, tanh, logistic, relu); entries it does not know are left
    alone. Idempotent: a second call does nothing. Undo with :func:`uninstall`.

    Raises
    ------
    RuntimeError
        If scikit-learn is not installed, or its ``_base`` / ``_multilayer_perceptron``
        modules do not hold these dicts with these keys; nothing is changed then.
    """
    global _saved
    with _lock:
        if _saved is not None:
            return
        tables = _tables()  # checks everything before changing anything
        saved: list[tuple[dict[str, Any], str, Any, Any]] = []
        for table, ours, _required in tables:
            for key, function in ours.items():
                if key in table:
                    saved.append((table, key, table[key], function))
                    table[key] = function
        _saved = saved


def uninstall() -> None:
    """Put back scikit-learn's own functions (those :func:`install` replaced).

    An entry that someone else replaced after :func:`install` is left as they set it.
    Does nothing if the adapter is not installed.
    """
    global _saved
    with _lock:
        if _saved is None:
            return
        for table, key, original, ours in _saved:
            if table.get(key) is ours:
                table[key] = original
        _saved = None


def installed() -> bool:
    """Whether :func:`install` is in effect."""
    return _saved is not None


@contextmanager
def patch() -> Iterator[None]:
    """Context manager: fastact's functions inside the block, scikit-learn's after it.

    If the adapter was already installed when the block began, it stays installed
    after the block.

    Examples
    --------
    >>> import fastact.sklearn
    >>> from sklearn.neural_network import MLPClassifier
    >>> with fastact.sklearn.patch():
    ...     clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5)  # doctest: +SKIP
    """
    was_installed = installed()
    install()
    try:
        yield
    finally:
        if not was_installed:
            uninstall()
