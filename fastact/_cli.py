"""The ``fastact`` command: ``bench``, ``plot`` and ``info``.

Installed as a console script (``fastact ...``) and runnable as ``python -m fastact``.
It sits above the public API: the activations, backends and baselines it knows come
from the registry, :func:`fastact.available_backends` and
:mod:`fastact.bench.baselines`; nothing here lists them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

import fastact as fa
from fastact._registry import SPECS, ActivationSpec, lookup

__all__ = ["main"]


# ------------------------------------------------------------------------ parsing


def _words(text: str) -> list[str]:
    return [w for w in (p.strip() for p in text.replace(",", " ").split()) if w]


def _size(text: str) -> int:
    """``1e6``, ``1000000`` or ``1_000_000`` -> 1000000."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}") from None
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(f"a size is a whole number >= 1, got {text!r}")
    return int(value)


def _list(kind: Any) -> Any:
    def parse(text: str) -> list:
        try:
            return [kind(w) for w in _words(text)]
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parse.__name__ = getattr(kind, "__name__", "list")
    return parse


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"expected an integer >= 1, got {text!r}")
    return value


def _value(text: str) -> Any:
    """A ``--param`` value: None, a bool, an int, a float, else the string."""
    low = text.strip().lower()
    if low == "none":
        return None
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _param(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"--param takes NAME=VALUE, got {text!r}")
    return name.strip(), _value(value)


def _canonical(names: Sequence[str], parser: argparse.ArgumentParser) -> list[str]:
    if list(names) == ["all"]:
        return [s.name for s in SPECS]
    out: list[str] = []
    for name in names:
        try:
            canonical = lookup(name).name
        except ValueError as error:
            parser.error(str(error))
        if canonical not in out:
            out.append(canonical)
    return out


# -------------------------------------------------------------------------- bench


def _bench(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.pool:
        from fastact.bench import pool

        return pool.main(args.pool, repeats=args.repeats)
    if args.callcost:  # the small-call cost table (fastact.bench.callcost; issue 14)
        from fastact.bench import callcost

        return callcost.main([] if args.repeats is None else ["--repeats", str(args.repeats)])
    if args.frameworks:
        from fastact.bench import frameworks

        return frameworks.main(quick=args.quick, json_path=args.json, threads=args.threads)
    from fastact.bench import report, timing

    quick = report.QUICK if args.quick else {}
    activations = args.activations or quick.get("activations") or ["all"]
    available = timing.implementations()
    backends = fa.available_backends()
    wanted_backends = backends if args.backends is None else args.backends
    for name in wanted_backends:
        if name not in backends:
            parser.error(f"backend {name!r} is not available here; available: "
                         f"{', '.join(backends)}")
    baselines = [b for b in available if b not in backends]
    wanted_baselines = baselines if args.baselines is None else [
        b for b in args.baselines if b != "none"
    ]
    for name in wanted_baselines:
        if name not in baselines:
            parser.error(f"baseline {name!r} is not available here; available: "
                         f"{', '.join(baselines) or 'none'}")
    for method in args.methods or []:
        if method not in timing.METHODS:
            parser.error(f"unknown method {method!r}; choose from {', '.join(timing.METHODS)}")
    for dtype in args.dtypes or []:
        if dtype not in ("float32", "float64"):
            parser.error(f"dtype must be float32 or float64, got {dtype!r}")
    config = report.BenchConfig(
        activations=_canonical(activations, parser),
        implementations=[*wanted_backends, *wanted_baselines],
        quick=args.quick,
    )
    if args.dtypes or "dtypes" in quick:
        config.dtypes = args.dtypes or list(quick["dtypes"])
    if args.sizes or "sizes" in quick:
        config.sizes = args.sizes or list(quick["sizes"])
    if args.threads:
        config.threads = args.threads
    if args.methods:
        config.methods = args.methods
    if args.repeats or "repeats" in quick:
        config.repeats = args.repeats or int(quick["repeats"])

    result = report.run(config, progress=not args.no_progress)
    if args.json == "-":
        report.write_json(result, sys.stdout)
    else:
        print(report.format_table(result))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as stream:
                report.write_json(result, stream)
            print(f"\nJSON written to {args.json}")
    if args.plot:
        path = report.plot(result, args.plot)
        print(f"chart written to {path}", file=sys.stderr if args.json == "-" else sys.stdout)
    return 0


# --------------------------------------------------------------------------- plot


def _plot_curves(
    spec: ActivationSpec, x: np.ndarray, params: dict[str, Any], backend: str
) -> tuple[np.ndarray, np.ndarray, str]:
    """``(f, f', label)`` on the grid x. An axis function is evaluated on the rows
    ``[x, 0]`` along its axis: its first output and d(first output)/dx."""
    act = fa.activations()[spec.name]
    if spec.kind == "elementwise":
        return act(x, backend=backend, **params), act.derivative(x, backend=backend, **params), \
            f"{spec.name}(x)"
    rows = np.stack([x, np.zeros_like(x)], axis=-1)
    params = params | {"axis": -1}
    y = act(rows, backend=backend, **params)[..., 0]
    jac = act.derivative(rows, backend=backend, **params)[..., 0, 0]
    return y, jac, f"{spec.name}([x, 0])[0]"


def _plot(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fastact.bench.baselines import bench_params

    names = _canonical(args.names, parser)
    specs = [lookup(n) for n in names]
    given = dict(args.param or [])
    for key in given:
        if not any(key in {p.name for p in s.params} for s in specs):
            parser.error(f"no activation among {', '.join(names)} has a parameter {key!r}")
    lo, hi = args.range
    if not lo < hi:
        parser.error(f"--range needs LO < HI, got {lo} {hi}")
    x = np.linspace(lo, hi, args.points)
    ncols = min(3, len(specs))
    nrows = -(-len(specs) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.3 * nrows), squeeze=False)
    for ax, spec in zip(axes.flat, specs, strict=False):
        names_here = {p.name for p in spec.params}
        params = bench_params(spec) | {k: v for k, v in given.items() if k in names_here}
        try:
            y, d, label = _plot_curves(spec, x, params, args.backend)
        except (ValueError, TypeError, NotImplementedError) as error:
            parser.error(f"{spec.name}: {error}")
        ax.plot(x, y, label=label, lw=2)
        ax.plot(x, d, label="derivative", lw=1.5, ls="--")
        ax.axhline(0, color="0.6", lw=0.6)
        ax.axvline(0, color="0.6", lw=0.6)
        shown = {k: v for k, v in params.items() if k != "axis"}
        ax.set_title(spec.name + (f" ({', '.join(f'{k}={v}' for k, v in shown.items())})"
                                  if shown else ""), fontsize="medium")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for ax in list(axes.flat)[len(specs):]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(args.output, dpi=args.dpi)
    plt.close(fig)
    print(f"wrote {args.output}")
    return 0


# --------------------------------------------------------------------------- info


def _info_lines(data: dict[str, Any]) -> list[str]:
    cpu, simd, comp = data["cpu"], data["cpu"]["simd"], data["compile"]
    threads, numba, cuda = data["threads"], data["numba"], data["cuda"]
    unavailable = "; ".join(f"{k}: {v}" for k, v in data["unavailable_backends"].items())
    numba_line = (
        f"{numba['version']} (threading layer {numba.get('threading_layer')}, "
        f"{numba.get('num_threads')} threads)"
        if "error" not in numba
        else f"unavailable ({numba['error']})"
    )
    cuda_line = (
        f"available: {', '.join(cuda.get('devices', [])) or 'yes'}"
        if cuda["available"]
        else "no GPU" + (" (simulator on)" if cuda["simulator"] else "")
    )
    return [
        f"fastact {data['fastact']} ({data['location']})",
        f"python {data['python']}, numpy {data['numpy']}, scipy {data['scipy']}, "
        f"torch {data['torch'] or 'not installed'}",
        f"platform: {data['platform']}",
        f"cpu: {cpu['model']}; {cpu['usable_cpus']} of {cpu['logical_cpus']} logical CPUs usable",
        f"simd: {simd['level']} [{', '.join(simd['features']) or '-'}] "
        f"(arch {simd['arch']}, from {simd['source']})",
        f"backends: {', '.join(data['backends'])}"
        + (f" (unavailable: {unavailable})" if unavailable else ""),
        f"threads: {threads['fastact']} (FASTACT_NUM_THREADS="
        f"{threads['FASTACT_NUM_THREADS'] or 'unset'}, OpenMP sees {threads['openmp_procs']})",
        f"compiled: {comp['compiler']}, Cython {comp['cython_version']}, OpenMP "
        + (f"{comp['openmp_version']}" if comp["openmp"] else "off")
        + (" (disabled by FASTACT_DISABLE_OPENMP)" if comp["openmp_disabled_by_env"] else ""),
        f"compile flags: {comp['extra_compile_args']}",
        f"link flags: {comp['extra_link_args']}",
        f"numba: {numba_line}",
        f"numba-cuda: {cuda['numba_cuda'] or 'not installed'}; cuda: {cuda_line}",
    ]


def _info(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from fastact.bench.system import info

    data = info()
    if args.json:
        json.dump(data, sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
    else:
        print("\n".join(_info_lines(data)))
    return 0


# --------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastact",
        description="fastact: benchmark, plot and describe the activation functions.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    bench = sub.add_parser(
        "bench",
        help="time every backend against the NumPy formula, PyTorch and a memory copy",
        description=(
            "Time fastact's backends against the NumPy formulas of the tutorials, "
            "PyTorch (when installed) and np.copyto (the memory roof). Prints ns per "
            "element, the speed-up over NumPy and over PyTorch, and the percentage of "
            "memory-copy bandwidth reached. Lists are comma- or space-separated."
        ),
        epilog="JSON schema: see the docstring of fastact.bench.report (schema "
        "'fastact.bench/1').",
    )
    bench.add_argument("--activations", type=_words, metavar="LIST",
                       help="names or aliases, or 'all' (default: all; --quick: a handful)")
    bench.add_argument("--dtypes", type=_words, metavar="LIST",
                       help="float32 and/or float64 (default: float32)")
    bench.add_argument("--sizes", type=_list(_size), metavar="LIST",
                       help="elements per array, e.g. 1e5,1e7 (default: 1e6)")
    bench.add_argument("--threads", type=_list(_positive_int), metavar="LIST",
                       help="thread counts (default: fastact's current one)")
    bench.add_argument("--backends", type=_words, metavar="LIST",
                       help="fastact backends (default: all available)")
    bench.add_argument("--baselines", type=_words, metavar="LIST",
                       help="numpy-formula and/or torch, or none (default: those available)")
    bench.add_argument("--methods", type=_words, metavar="LIST",
                       help="forward, forward_new, forward_inplace, derivative, backward, "
                       "backward_y, value_and_derivative (default: forward,backward)")
    bench.add_argument("--repeats", type=_positive_int, metavar="N",
                       help="samples per median (default: 5; --quick: 3)")
    bench.add_argument("--quick", action="store_true",
                       help="a small, fast subset (a few seconds)")
    bench.add_argument("--json", metavar="FILE", help="write the results as JSON ('-': stdout)")
    bench.add_argument("--plot", metavar="FILE.png", help="write a bar chart")
    bench.add_argument("--no-progress", action="store_true", help="no progress bar")
    bench.add_argument("--pool", choices=["busy", "idle", "mlp", "sklearn"],
                       help="thread-pool study instead (fastact.bench.pool)")
    bench.add_argument("--callcost", action="store_true",
                       help="the cost of small calls against np.tanh(x, out=o) instead")
    bench.add_argument("--frameworks", action="store_true",
                       help="scikit-learn's MLP and thinc's Ops with and without fastact "
                       "(fastact/bench/frameworks.py; takes --quick, --threads, --json)")
    bench.set_defaults(run=_bench, subparser=bench)

    plot = sub.add_parser(
        "plot",
        help="plot activations and their derivatives",
        description="Plot each activation and its derivative on one figure.",
    )
    plot.add_argument("names", nargs="+", metavar="NAME", help="activation names or aliases")
    plot.add_argument("-o", "--output", required=True, metavar="FILE.png")
    plot.add_argument("--param", action="append", type=_param, metavar="NAME=VALUE",
                      help="a parameter for every named activation that has it, e.g. "
                      "negative_slope=0.2 (repeatable)")
    plot.add_argument("--range", nargs=2, type=float, default=(-5.0, 5.0),
                      metavar=("LO", "HI"), help="x range (default: -5 5)")
    plot.add_argument("--points", type=_positive_int, default=1001, help="grid points")
    plot.add_argument("--backend", default="auto", help="backend to evaluate with")
    plot.add_argument("--dpi", type=_positive_int, default=100)
    plot.set_defaults(run=_plot, subparser=plot)

    info = sub.add_parser(
        "info",
        help="version, backends, threads, CPU SIMD level, compile flags, numba and CUDA",
        description="Describe this installation of fastact and the machine.",
    )
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(run=_info, subparser=info)
    sub.add_parser("bench-rows", help="time softmax, log_softmax, softmin, glu by shape "
                   "(fastact.bench.rows; its own options: fastact bench-rows --help)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fastact`` command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench-rows"]:
        from fastact.bench import rows

        return rows.main(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    status: int = args.run(args, args.subparser)
    return status


if __name__ == "__main__":
    sys.exit(main())
