"""Train a scikit-learn MLPClassifier and a thinc model with and without fastact.

    python examples/frameworks.py [--epochs N] [--threads N]

Prints test accuracy and time per epoch for each. With fastact the activations run
through fastact's kernels (``fastact.sklearn.patch()``, ``thinc.api.use_ops("fastact")``)
and everything else (matrix products, optimizer) is unchanged, so the accuracies agree
to within rounding and the time difference is the activations' share of an epoch.
Needs ``pip install "fastact[sklearn,thinc]"``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

import fastact as fa
import fastact.sklearn


def sklearn_run(X_train, X_test, y_train, y_test, *, use_fastact: bool, epochs: int) -> tuple:
    clf = MLPClassifier(hidden_layer_sizes=(256, 256), max_iter=epochs, tol=0.0,
                        n_iter_no_change=epochs + 1, random_state=0)  # fmt: skip
    patch = fastact.sklearn.patch() if use_fastact else contextlib.nullcontext()
    with patch, warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        clf.fit(X_train, y_train)
        elapsed = time.perf_counter() - t0
    return clf.score(X_test, y_test), elapsed / clf.n_iter_


def thinc_run(X_train, X_test, y_train, y_test, *, ops: str, epochs: int) -> tuple:
    from thinc.api import Adam, Gelu, Softmax, chain, fix_random_seed, use_ops

    Y_train = np.eye(10, dtype="float32")[y_train]
    X_train, X_test = X_train.astype("float32"), X_test.astype("float32")
    fix_random_seed(0)
    with use_ops(ops):
        model = chain(Gelu(256), Gelu(256), Softmax(10))
        model.initialize(X=X_train[:5], Y=Y_train[:5])
        optimizer = Adam(0.001)
        t0 = time.perf_counter()
        for _ in range(epochs):
            for start in range(0, len(X_train), 128):
                Xb, Yb = X_train[start : start + 128], Y_train[start : start + 128]
                Yh, backprop = model.begin_update(Xb)
                backprop((Yh - Yb) / len(Yb))
                model.finish_update(optimizer)
        elapsed = time.perf_counter() - t0
        accuracy = float((model.predict(X_test).argmax(1) == y_test).mean())
    return accuracy, elapsed / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="fastact's threads")
    args = parser.parse_args()
    if args.threads:
        fa.set_num_threads(args.threads)
    X, y = load_digits(return_X_y=True)
    split = train_test_split(X / 16.0, y, test_size=0.25, random_state=0)
    print(f"digits, {len(split[0])} training samples; load average {os.getloadavg()[0]:.2f}; "
          f"fastact threads {fa.get_num_threads()}")  # fmt: skip
    print(f"{'model':<42} {'test accuracy':>13} {'s / epoch':>10}")
    for use_fastact in (False, True):
        acc, per_epoch = sklearn_run(*split, use_fastact=use_fastact, epochs=args.epochs)
        label = "MLPClassifier(256, 256) relu" + (" + fastact" if use_fastact else "")
        print(f"{label:<42} {acc:>13.4f} {per_epoch:>10.4f}")
    try:
        import thinc  # noqa: F401
    except ImportError:
        print("thinc is not installed: pip install 'fastact[thinc]'")
        return
    for ops in ("numpy", "fastact"):
        acc, per_epoch = thinc_run(*split, ops=ops, epochs=args.epochs)
        label = f"thinc Gelu(256) x2 + Softmax, {ops} ops"
        print(f"{label:<42} {acc:>13.4f} {per_epoch:>10.4f}")


if __name__ == "__main__":
    main()
