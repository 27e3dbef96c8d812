"""fastact.sklearn: scikit-learn's MLP activations through fastact.

The whole of scikit-learn's own ``test_mlp.py`` runs through the adapter in ``.ci/run``
(step ``sklearn-test-mlp``, ~30 s of CPU); here a subset of it runs in a subprocess,
with spies that prove fastact's functions ran, plus the adapter's own contract.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

import sklearn.neural_network._base as skbase
import sklearn.neural_network._multilayer_perceptron as skmlp

import fastact.sklearn as fsk

PLUGINS = Path(__file__).parent / "plugins"


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    fsk.uninstall()
    yield
    fsk.uninstall()


def _snapshot() -> dict[str, object]:
    return {
        **{f"A.{k}": v for k, v in skbase.ACTIVATIONS.items()},
        **{f"D.{k}": v for k, v in skbase.DERIVATIVES.items()},
    }


def test_install_replaces_the_dicts_the_estimator_looks_up_and_uninstall_restores() -> None:
    before = _snapshot()
    assert skmlp.ACTIVATIONS is skbase.ACTIVATIONS  # imported by name: one dict object
    fsk.install()
    assert fsk.installed()
    for key in ("identity", "tanh", "logistic", "relu", "softmax"):
        assert skmlp.ACTIVATIONS[key] is fsk.ACTIVATIONS[key]
    for key in ("identity", "tanh", "logistic", "relu"):
        assert skmlp.DERIVATIVES[key] is fsk.DERIVATIVES[key]
    fsk.install()  # idempotent
    fsk.uninstall()
    assert not fsk.installed()
    assert _snapshot() == before
    fsk.uninstall()  # idempotent
    assert _snapshot() == before


def test_patch_is_scoped_and_keeps_an_outer_install() -> None:
    before = _snapshot()
    with fsk.patch():
        assert skbase.ACTIVATIONS["relu"] is fsk.inplace_relu
    assert _snapshot() == before
    fsk.install()
    with fsk.patch():
        pass
    assert fsk.installed() and skbase.ACTIVATIONS["relu"] is fsk.inplace_relu
    with pytest.raises(KeyError), fsk.patch():
        raise KeyError("inside")
    assert fsk.installed()


def test_uninstall_leaves_an_entry_someone_else_replaced_later() -> None:
    fsk.install()
    other = lambda X: None  # noqa: E731
    skbase.ACTIVATIONS["tanh"] = other
    try:
        fsk.uninstall()
        assert skbase.ACTIVATIONS["tanh"] is other
        assert skbase.ACTIVATIONS["relu"] is not fsk.inplace_relu
    finally:
        skbase.ACTIVATIONS["tanh"] = skbase.inplace_tanh


@pytest.mark.parametrize(
    "layout, message",
    [
        ("no-dict", "_base.ACTIVATIONS to be a dict"),
        ("missing-key", "missing or not callable: ['softmax']"),
        ("no-derivatives", "_multilayer_perceptron.DERIVATIVES to be a dict"),
    ],
)
def test_refuses_a_different_layout_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, layout: str, message: str
) -> None:
    if layout == "no-dict":
        monkeypatch.delattr(skbase, "ACTIVATIONS")
    elif layout == "missing-key":
        table = {k: v for k, v in skbase.ACTIVATIONS.items() if k != "softmax"}
        monkeypatch.setattr(skbase, "ACTIVATIONS", table)
        monkeypatch.setattr(skmlp, "ACTIVATIONS", table)
    else:
        monkeypatch.delattr(skmlp, "DERIVATIVES")
    before = _snapshot() if hasattr(skbase, "ACTIVATIONS") else None
    with pytest.raises(RuntimeError, match=rf"expected .*{message.split('.')[-1][:20]}") as err:
        fsk.install()
    assert message in str(err.value)
    assert not fsk.installed()
    if before is not None:
        assert _snapshot() == before


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_replacements_agree_with_scikit_learns_functions(dtype: type) -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((64, 33)) * 4).astype(dtype)
    x[0, :3] = [0.0, -0.0, 30.0]
    delta = rng.standard_normal(x.shape).astype(dtype)
    # the bar: a few ulp of the result (both sides are within ~1 ulp of exact)
    eps = float(np.finfo(dtype).eps)
    tol = {"rtol": 8 * eps, "atol": 8 * np.finfo(dtype).tiny}
    for key in ("identity", "exp", "tanh", "logistic", "relu", "softmax"):
        if key not in skbase.ACTIVATIONS:
            continue
        ours, theirs = x.copy(), x.copy()
        fsk.ACTIVATIONS[key](ours)
        skbase.ACTIVATIONS[key](theirs)
        if key == "softmax":  # the axis bar: 8 eps times the row's largest (1), each side
            np.testing.assert_allclose(ours, theirs, rtol=tol["rtol"], atol=16 * eps, err_msg=key)
        else:
            np.testing.assert_allclose(ours, theirs, **tol, err_msg=key)
        assert ours.dtype == dtype
        if key in fsk.DERIVATIVES:
            d_ours, d_theirs = delta.copy(), delta.copy()
            fsk.DERIVATIVES[key](theirs, d_ours)
            skbase.DERIVATIVES[key](theirs, d_theirs)
            # 1 - Z**2 and Z * (1 - Z): an absolute bar of a few eps where they cancel
            np.testing.assert_allclose(
                d_ours, d_theirs, rtol=tol["rtol"], atol=8 * np.finfo(dtype).eps, err_msg=key
            )


def test_an_estimator_fits_through_fastact_on_a_chosen_backend() -> None:
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier

    import fastact as fa

    X, y = load_digits(return_X_y=True)
    X = X[:300] / 16.0
    y = y[:300]
    fits = {}
    for installed in (False, True):
        with fsk.patch() if installed else contextlib.nullcontext(), fa.use_backend("numpy"):
            clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0)
            clf.fit(X, y)
            fits[installed] = clf.predict_proba(X)
    np.testing.assert_allclose(fits[True], fits[False], rtol=1e-6, atol=1e-9)


def test_scikit_learns_own_mlp_tests_pass_through_the_adapter(tmp_path: Path) -> None:
    """A quick subset of sklearn/neural_network/tests/test_mlp.py (all of it runs in
    .ci/run): test_gradient checks every activation's derivative against finite
    differences, test_lbfgs_classification trains with each activation."""
    report = tmp_path / "spy.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PLUGINS), os.environ.get("PYTHONPATH", "")]),
        "FASTACT_SPY_REPORT": str(report),
    }
    proc = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "-p", "fastact_sklearn_plugin",
            "--pyargs", "sklearn.neural_network.tests.test_mlp",
            "-k", "test_gradient or test_lbfgs_classification",
        ],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
    calls = json.loads(report.read_text())
    for label in (
        "ACTIVATIONS[tanh]", "ACTIVATIONS[logistic]", "ACTIVATIONS[relu]",
        "ACTIVATIONS[softmax]", "ACTIVATIONS[identity]", "DERIVATIVES[tanh]",
        "DERIVATIVES[logistic]", "DERIVATIVES[relu]",
    ):  # fmt: skip
        assert calls.get(label, 0) > 0, (label, calls)
