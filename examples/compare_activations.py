"""The tutorials' experiment: one small MLP per activation, fastact against NumPy formulas.

A 64-128-128-10 multilayer perceptron in plain NumPy is trained on scikit-learn's
digits (1797 8x8 images, shipped inside scikit-learn: nothing is downloaded) with
minibatch SGD and momentum, once per activation and twice: with fastact's forward and
fused backward, and with the NumPy formulas of the tutorials
(:data:`fastact.bench.baselines.BASELINES`). Both variants start from the same
weights and see the same batches, so their losses differ only by the activation's
arithmetic. It prints test accuracy and time per epoch for both, and plots the loss
curves::

    python examples/compare_activations.py --epochs 30 --plot loss_curves.png
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

import fastact as fa
from fastact.bench.baselines import BASELINES, bench_params

ACTIVATIONS = (
    "relu", "leaky_relu", "elu", "selu", "gelu", "silu", "mish", "tanh", "sigmoid", "softplus",
)
HIDDEN = (128, 128)


@dataclass
class Run:
    """The outcome of one training run."""

    activation: str
    variant: str  # "fastact" or "numpy"
    losses: list[float] = field(default_factory=list)
    test_accuracy: float = 0.0
    #: Median over the epochs (robust to other work on a shared machine) of the whole
    #: epoch, and of the part spent in the activation's forward and backward.
    seconds_per_epoch: float = 0.0
    activation_seconds_per_epoch: float = 0.0


def load_digits(seed: int) -> tuple[np.ndarray, ...]:
    """Digits scaled to [0, 1], split 80/20 (stratified), labels as integers."""
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    data = sk_load_digits()
    x = (data.data / 16.0).astype(np.float32)
    return tuple(
        train_test_split(x, data.target, test_size=0.2, random_state=seed, stratify=data.target)
    )


def _activation_fns(name: str, variant: str, clock: list[float]) -> tuple[Callable, Callable]:
    """(forward(x), backward(grad, x)) of one activation in one variant; the time they
    take is added to ``clock[0]``."""
    params = bench_params(fa._registry.lookup(name))
    if variant == "fastact":
        activation = fa.activations()[name]

        def forward(x: np.ndarray) -> np.ndarray:
            return activation(x, **params)

        def backward(g: np.ndarray, x: np.ndarray) -> np.ndarray:
            return activation.backward(g, x, out=g, **params)  # fused, in place
    else:
        baseline = BASELINES[name]

        def forward(x: np.ndarray) -> np.ndarray:
            return baseline.numpy_forward(x, **params)

        def backward(g: np.ndarray, x: np.ndarray) -> np.ndarray:
            return baseline.numpy_backward(g, x, **params)

    def timed(function: Callable) -> Callable:
        def call(*args: np.ndarray) -> np.ndarray:
            start = time.perf_counter()
            result = function(*args)
            clock[0] += time.perf_counter() - start
            return result

        return call

    return timed(forward), timed(backward)


def _init(sizes: Sequence[int], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = []
    for n_in, n_out in itertools.pairwise(sizes):
        # He initialisation; the biases follow as a row of zeros.
        weights.append(rng.standard_normal((n_in, n_out)).astype(np.float32)
                       * np.float32(np.sqrt(2.0 / n_in)))
        weights.append(np.zeros(n_out, np.float32))
    return weights


def _logits(params: list[np.ndarray], x: np.ndarray, forward: Callable) -> tuple:
    inputs, pre = [x], []
    h = x
    for i in range(0, len(params) - 2, 2):
        z = h @ params[i] + params[i + 1]
        pre.append(z)
        h = forward(z)
        inputs.append(h)
    return h @ params[-2] + params[-1], inputs, pre


def train(
    name: str, variant: str, data: tuple[np.ndarray, ...], *, epochs: int, seed: int,
    batch: int = 64, hidden: Sequence[int] = HIDDEN, lr: float = 0.05, momentum: float = 0.9,
) -> Run:
    """Train the MLP with one activation; the same weights and batches for every variant."""
    x_train, x_test, y_train, y_test = data
    clock = [0.0]
    forward, backward = _activation_fns(name, variant, clock)
    params = _init((x_train.shape[1], *hidden, 10), seed)
    velocity = [np.zeros_like(p) for p in params]
    order_rng = np.random.default_rng(seed + 1)
    # Warm up (first-call costs: kernel selection, parameter validation) before timing.
    warm = np.ones((2, hidden[0]), np.float32)
    backward(forward(warm), warm)
    run = Run(name, variant)
    epoch_times, activation_times = [], []
    for _ in range(epochs):
        order = order_rng.permutation(len(x_train))
        clock[0] = 0.0
        start = time.perf_counter()
        total = 0.0
        for s in range(0, len(order), batch):
            idx = order[s : s + batch]
            logits, inputs, pre = _logits(params, x_train[idx], forward)
            # Softmax cross-entropy through fastact for both variants: only the
            # hidden activation differs.
            logp = fa.log_softmax(logits, axis=1)
            total += -float(logp[np.arange(len(idx)), y_train[idx]].sum())
            g = np.exp(logp)
            g[np.arange(len(idx)), y_train[idx]] -= 1
            g /= len(idx)
            grads: list[np.ndarray] = [np.empty(0)] * len(params)
            for layer in range(len(params) // 2 - 1, -1, -1):
                grads[2 * layer] = inputs[layer].T @ g
                grads[2 * layer + 1] = g.sum(axis=0)
                if layer:
                    g = backward(g @ params[2 * layer].T, pre[layer - 1])
            for p, v, d in zip(params, velocity, grads, strict=True):
                v *= momentum
                v -= lr * d
                p += v
        epoch_times.append(time.perf_counter() - start)
        activation_times.append(clock[0])
        run.losses.append(total / len(x_train))
    logits, _, _ = _logits(params, x_test, forward)
    run.test_accuracy = float((logits.argmax(axis=1) == y_test).mean())
    run.seconds_per_epoch = float(np.median(epoch_times)) if epochs else 0.0
    run.activation_seconds_per_epoch = float(np.median(activation_times)) if epochs else 0.0
    return run


def table(runs: Sequence[Run]) -> str:
    """The results as a Markdown table, one row per activation."""
    by = {(r.activation, r.variant): r for r in runs}
    lines = [
        "| activation | test acc. fastact | test acc. NumPy | final loss fastact "
        "| final loss NumPy | ms/epoch fastact | ms/epoch NumPy "
        "| activation ms/epoch fastact | activation ms/epoch NumPy | activation speed-up |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(r.activation for r in runs):
        f, n = by[(name, "fastact")], by[(name, "numpy")]
        speedup = n.activation_seconds_per_epoch / max(f.activation_seconds_per_epoch, 1e-12)
        lines.append(
            f"| {name} | {f.test_accuracy:.4f} | {n.test_accuracy:.4f} | {f.losses[-1]:.4g} "
            f"| {n.losses[-1]:.4g} | {1e3 * f.seconds_per_epoch:.1f} "
            f"| {1e3 * n.seconds_per_epoch:.1f} | {1e3 * f.activation_seconds_per_epoch:.2f} "
            f"| {1e3 * n.activation_seconds_per_epoch:.2f} | {speedup:.1f}x |"
        )
    return "\n".join(lines)


def plot(runs: Sequence[Run], path: str) -> None:
    """Loss curves, one panel per activation, both variants."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r.activation for r in runs))
    cols = 5
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False,
                             sharey=True)
    for ax, name in zip(axes.flat, names, strict=False):
        for run in runs:
            if run.activation == name:
                style = "-" if run.variant == "fastact" else "--"
                ax.plot(range(1, len(run.losses) + 1), run.losses, style, label=run.variant)
        ax.set_title(name)
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    axes[0][0].set_ylabel("training loss")
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> list[Run]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--activations", default=",".join(ACTIVATIONS),
                        help="comma-separated registry names (default: the ten of the tutorials)")
    parser.add_argument("--plot", default="loss_curves.png", help="PNG of the loss curves")
    parser.add_argument("--json", default=None, help="write every run's numbers here")
    parser.add_argument("--batch", type=int, default=64, help="minibatch size")
    parser.add_argument("--hidden", default="128,128", help="hidden layer widths")
    parser.add_argument("--threads", type=int, default=None,
                        help="fastact's threads (default: FASTACT_NUM_THREADS or all cores)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        fa.set_num_threads(args.threads)

    data = load_digits(args.seed)
    hidden = tuple(int(width) for width in args.hidden.split(","))
    runs: list[Run] = []
    for name in args.activations.split(","):
        fa._registry.lookup(name)  # an unknown name fails before any training
        for variant in ("fastact", "numpy"):
            runs.append(train(name, variant, data, epochs=args.epochs, seed=args.seed,
                              batch=args.batch, hidden=hidden))
    print(table(runs))
    if args.plot:
        plot(runs, args.plot)
        print(f"loss curves: {args.plot}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(r) for r in runs], f, indent=1)
    return runs


if __name__ == "__main__":
    main()
