"""``fastact bench``: run a grid of cases, then the table, the JSON document, the chart.

JSON schema (``fastact bench --json FILE``), version ``fastact.bench/1``::

    {
      "schema": "fastact.bench/1",
      "fastact": "0.1.0", "numpy": "2.4.6", "torch": "2.13.0" | null,
      "python": "3.11.2", "platform": "Linux-...",
      "cpu": {"model": str, "logical_cpus": int, "usable_cpus": int,
              "simd": {"arch": str, "level": str, "features": [str], "source": str}},
      "settings": {"activations": [str], "dtypes": [str], "sizes": [int],
                   "threads": [int], "methods": [str], "implementations": [str],
                   "repeats": int, "quick": bool},
      "copy": [{"dtype": str, "elements": int, "seconds": float,
                "ns_per_element": float}],
      "results": [{
          "activation": str, "method": str, "dtype": str,
          "size": int,          # as requested
          "elements": int,      # of x (axis functions: rows x 1000 or x 100)
          "shape": [int],
          "threads": int,
          "implementation": str,   # a backend name, "numpy-formula" or "torch"
          "kind": "backend" | "baseline",
          "seconds": float | null, # median seconds per call; null: not applicable
          "ns_per_element": float | null,
          "speedup_vs_numpy": float | null,   # t(numpy-formula) / t
          "speedup_vs_torch": float | null,   # t(torch) / t
          "copy_fraction": float | null,      # TRAFFIC[method] / 2 * t(copy) / t
          "note": str                          # why null, when it is
      }]
    }

Times are medians over ``repeats`` samples (:func:`fastact.bench.timing.median_seconds`).
"""

from __future__ import annotations

import itertools
import json
import platform
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO, TypeVar

import numpy as np

import fastact as fa
from fastact._registry import lookup
from fastact.bench import timing
from fastact.bench.baselines import torch_module
from fastact.bench.system import cpu_info

__all__ = [
    "QUICK",
    "SCHEMA",
    "BenchConfig",
    "Result",
    "format_table",
    "plot",
    "run",
    "to_json",
]

SCHEMA: Final = "fastact.bench/1"

_T = TypeVar("_T")


@dataclass
class BenchConfig:
    """What ``fastact bench`` measures (the CLI's options)."""

    activations: list[str]
    dtypes: list[str] = field(default_factory=lambda: ["float32"])
    sizes: list[int] = field(default_factory=lambda: [1_000_000])
    threads: list[int] = field(default_factory=lambda: [fa.get_num_threads()])
    methods: list[str] = field(default_factory=lambda: ["forward", "backward"])
    implementations: list[str] = field(default_factory=timing.implementations)
    repeats: int = 5
    min_sample: float = 0.005
    quick: bool = False


#: ``fastact bench --quick``: a handful of activations that cover the kinds of kernel
#: (exp-based, tanh, piecewise, erf, a product, a row reduction), float32, one size
#: past the caches, 3 repeats: under 10 s here with the NumPy reference backend.
QUICK: Final[dict[str, Any]] = {
    "activations": ["sigmoid", "tanh", "relu", "gelu", "silu", "softmax"],
    "dtypes": ["float32"],
    "sizes": [1_000_000],
    "repeats": 3,
}


@dataclass
class Result:
    """One cell of the grid: an implementation's time for one case (or why none)."""

    activation: str
    method: str
    dtype: str
    size: int
    elements: int
    shape: list[int]
    threads: int
    implementation: str
    kind: str
    seconds: float | None
    ns_per_element: float | None = None
    speedup_vs_numpy: float | None = None
    speedup_vs_torch: float | None = None
    copy_fraction: float | None = None
    note: str = ""


@dataclass
class BenchResult:
    config: BenchConfig
    results: list[Result]
    #: (dtype, elements) -> seconds of np.copyto
    copy: dict[tuple[str, int], float]


def _progress(items: Sequence[_T], enabled: bool, desc: str) -> Iterator[_T]:
    """tqdm's bar on stderr when tqdm is installed (the ``bench`` extra); otherwise a
    one-line counter when stderr is a terminal, else nothing."""
    if not enabled:
        yield from items
        return
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        yield from tqdm(items, desc=desc, unit="case", file=sys.stderr, leave=False)
        return
    tty = sys.stderr.isatty()
    for i, item in enumerate(items, 1):
        if tty:
            sys.stderr.write(f"\r{desc}: {i}/{len(items)}")
            sys.stderr.flush()
        yield item
    if tty:
        sys.stderr.write("\r" + " " * (len(desc) + 24) + "\r")


def run(config: BenchConfig, *, progress: bool = True) -> BenchResult:
    """Measure every (threads, dtype, size, activation, method, implementation) case."""
    for name in config.activations:
        lookup(name)  # unknown names fail before any timing
    cases = list(
        itertools.product(config.threads, config.dtypes, config.sizes, config.activations)
    )
    results: list[Result] = []
    copy: dict[tuple[str, int], float] = {}
    before = fa.get_num_threads()
    torch = torch_module()
    torch_before = torch.get_num_threads() if torch is not None else None
    try:
        for threads, dtype, size, name in _progress(cases, progress, "fastact bench"):
            timing.set_threads(threads)
            spec = lookup(name)
            inputs = timing.make_inputs(spec, dtype, size)
            x = inputs[0]
            if (dtype, x.size) not in copy:
                copy[dtype, x.size] = timing.copy_seconds(
                    dtype, x.size, repeats=config.repeats, min_sample=config.min_sample
                )
            for method, impl in itertools.product(config.methods, config.implementations):
                kind = "baseline" if impl in (timing.NUMPY_FORMULA, timing.TORCH) else "backend"
                cell = Result(spec.name, method, dtype, size, x.size, list(x.shape), threads,
                              impl, kind, None)
                try:
                    prepared = timing.prepare(spec.name, impl, method, dtype, size,
                                              inputs=inputs)
                except NotImplementedError as why:
                    cell.note = str(why)
                else:
                    cell.seconds = timing.median_seconds(
                        prepared, repeats=config.repeats, min_sample=config.min_sample
                    )
                    del prepared  # frees its outputs before the next case allocates
                results.append(cell)
    finally:
        fa.set_num_threads(before)
        if torch is not None:
            torch.set_num_threads(torch_before)
    _derive(results, copy)
    return BenchResult(config, results, copy)


def _derive(results: list[Result], copy: dict[tuple[str, int], float]) -> None:
    """Fill ns/element, the speed-ups over the baselines and the copy fraction."""

    def key(r: Result) -> tuple:
        return (r.activation, r.method, r.dtype, r.size, r.threads)

    groups: dict[tuple, dict[str, Result]] = {}
    for r in results:
        groups.setdefault(key(r), {})[r.implementation] = r
    for r in results:
        if r.seconds is None or r.seconds <= 0:
            continue
        r.ns_per_element = r.seconds * 1e9 / r.elements
        group = groups[key(r)]
        for base, attr in ((timing.NUMPY_FORMULA, "speedup_vs_numpy"),
                           (timing.TORCH, "speedup_vs_torch")):
            other = group.get(base)
            if other is not None and other.seconds is not None:
                setattr(r, attr, other.seconds / r.seconds)
        roof = copy.get((r.dtype, r.elements))
        if roof is not None:
            r.copy_fraction = timing.TRAFFIC[r.method] / 2 * roof / r.seconds


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "" if value is None else f"{value:{spec}}{suffix}"


def _size_label(n: int) -> str:
    exponent = len(str(n)) - 1
    return f"1e{exponent}" if n == 10**exponent else str(n)


TABLE_COLUMNS: Final = (
    "activation", "method", "dtype", "size", "threads", "implementation",
    "ns/element", "vs NumPy", "vs torch", "% of copy",
)  # fmt: skip


def table_rows(bench: BenchResult) -> list[list[str]]:
    """The table as strings, one row per measured cell (not-applicable cells left out)."""
    rows = []
    for r in bench.results:
        if r.seconds is None:
            continue
        rows.append([
            r.activation, r.method, r.dtype, _size_label(r.size), str(r.threads),
            r.implementation,
            _fmt(r.ns_per_element, ".3g"),
            _fmt(r.speedup_vs_numpy, ".2f", "x"),
            _fmt(r.speedup_vs_torch, ".2f", "x"),
            _fmt(None if r.copy_fraction is None else 100 * r.copy_fraction, ".0f", "%"),
        ])  # fmt: skip
    return rows


def format_table(bench: BenchResult) -> str:
    """A fixed-width text table; repeated leading keys are blanked for readability."""
    rows = table_rows(bench)
    widths = [len(c) for c in TABLE_COLUMNS]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    numeric = set(range(6, len(TABLE_COLUMNS)))

    def line(cells: Iterable[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [line(TABLE_COLUMNS), line("-" * w for w in widths)]
    previous: list[str] = []
    for row in rows:
        shown = list(row)
        for i in range(5):  # blank the keys shared with the row above
            if previous[: i + 1] == row[: i + 1]:
                shown[i] = ""
        out.append(line(shown))
        previous = row
    lines = "\n".join(out)
    roofs = ", ".join(
        f"{dtype} {_size_label(n)}: {t * 1e9 / n:.3g} ns/element"
        for (dtype, n), t in sorted(bench.copy.items())
    )
    c = bench.config
    torch = torch_module()
    header = (
        f"fastact {fa.__version__} bench: median of {c.repeats}; backends "
        f"{', '.join(fa.available_backends())}; torch "
        f"{'not installed' if torch is None else torch.__version__}\n"
        f"memory roof (np.copyto): {roofs}\n"
        "vs NumPy / vs torch: speed-up over the NumPy formula / PyTorch (higher is "
        "faster); % of copy: bandwidth reached relative to np.copyto\n"
    )
    return header + "\n" + lines


def to_json(bench: BenchResult) -> dict[str, Any]:
    """The JSON document described in this module's docstring."""
    torch = torch_module()
    c = bench.config
    return {
        "schema": SCHEMA,
        "fastact": fa.__version__,
        "numpy": np.__version__,
        "torch": None if torch is None else str(torch.__version__),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu_info(),
        "settings": {
            "activations": list(c.activations),
            "dtypes": list(c.dtypes),
            "sizes": list(c.sizes),
            "threads": list(c.threads),
            "methods": list(c.methods),
            "implementations": list(c.implementations),
            "repeats": c.repeats,
            "quick": c.quick,
        },
        "copy": [
            {"dtype": d, "elements": n, "seconds": t, "ns_per_element": t * 1e9 / n}
            for (d, n), t in sorted(bench.copy.items())
        ],
        "results": [asdict(r) for r in bench.results],
    }


def write_json(bench: BenchResult, stream: TextIO) -> None:
    json.dump(to_json(bench), stream, indent=1)
    stream.write("\n")


def plot(bench: BenchResult, path: str | Path) -> Path:
    """A bar chart of ns per element (log scale) per activation and implementation, one
    panel per (method, dtype, size, threads), with the copy roof as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [r for r in bench.results if r.ns_per_element is not None]
    # Panels in the order of the options (forward before backward, as asked).
    panels = list(dict.fromkeys((r.method, r.dtype, r.size, r.threads) for r in measured))
    impls = [i for i in bench.config.implementations if any(r.implementation == i
                                                           for r in measured)]
    names = list(dict.fromkeys(r.activation for r in measured))
    width_in = max(6.0, 0.9 * len(names) * max(1, len(impls)) / 3) + 2.0  # + legend
    fig, axes = plt.subplots(
        max(1, len(panels)), 1, figsize=(width_in, 3.2 * max(1, len(panels))), squeeze=False
    )
    width = 0.8 / max(1, len(impls))
    for ax, (method, dtype, size, threads) in zip(axes[:, 0], panels, strict=False):
        cells = {(r.activation, r.implementation): r.ns_per_element for r in measured
                 if (r.method, r.dtype, r.size, r.threads) == (method, dtype, size, threads)}
        for k, impl in enumerate(impls):
            xs = [i + (k - (len(impls) - 1) / 2) * width for i in range(len(names))]
            ys = [cells.get((n, impl), np.nan) for n in names]
            ax.bar(xs, ys, width, label=impl)
        roof = [t * 1e9 / n for (d, n), t in bench.copy.items() if d == dtype]
        if roof:
            ax.axhline(min(roof) * timing.TRAFFIC[method] / 2, color="k", ls="--", lw=1,
                       label="np.copyto roof")
        ax.set_yscale("log")
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set_ylabel("ns per element")
        ax.set_title(f"{method}, {dtype}, {_size_label(size)} elements, {threads} thread(s)")
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if not panels:
        axes[0, 0].text(0.5, 0.5, "nothing measured", ha="center", va="center")
    fig.suptitle(f"fastact {fa.__version__}: lower is faster")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

