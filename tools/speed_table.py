"""Summarise `fastact bench --json` output as the README's speed table.

    fastact bench --activations all --sizes 1e3,1e5,1e7 --dtypes float32,float64 \\
        --threads 1,2 --backends cython --methods forward,backward --json bench.json
    python tools/speed_table.py bench.json [--backend numba] [--threads 2] [--relative-to cython]

One row per activation and method: at 1e7 elements, ns per element and the speed-up
over the NumPy formula and PyTorch, and the fraction of the memory-copy roof reached
(k/2 * t_copy / t, k arrays moved; the issue's target is >= 0.8); at 1e5 the speed-ups;
at 1e3 the time of one call; with --relative-to, the speed against another backend.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json_file")
    parser.add_argument("--backend", default="cython")
    parser.add_argument("--threads", type=int, default=None, help="default: the largest")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--relative-to", default=None, metavar="BACKEND",
                        help="add the speed relative to this backend at 1e7 and 1e5 "
                        "(its time over the backend's: > 1 is faster)")
    args = parser.parse_args(argv)
    data = json.load(open(args.json_file, encoding="utf-8"))
    rows = [r for r in data["results"] if r["dtype"] == args.dtype]
    threads = args.threads or max(r["threads"] for r in rows)
    by_key: dict[tuple, dict] = defaultdict(dict)
    for r in rows:
        if r["threads"] == threads:
            by_key[(r["activation"], r["method"], r["size"])][r["implementation"]] = r
    order = list(dict.fromkeys(r["activation"] for r in rows))
    print(f"{args.dtype}, {threads} thread(s), backend {args.backend}:\n")
    rel = args.relative_to
    extra = f" vs {rel} 1e7 | vs {rel} 1e5 |" if rel else ""
    print(
        "| activation | method | ns/el 1e7 | vs NumPy 1e7 | vs torch 1e7 | roof 1e7 "
        "| vs NumPy 1e5 | vs torch 1e5 | us/call 1e3 |" + extra
    )
    print("|---|---|---|---|---|---|---|---|---|" + ("---|---|" if rel else ""))
    for name in order:
        for method in ("forward", "backward"):
            big = by_key.get((name, method, 10**7), {}).get(args.backend)
            mid = by_key.get((name, method, 10**5), {}).get(args.backend)
            small = by_key.get((name, method, 10**3), {}).get(args.backend)
            if big is None:
                continue
            print(
                f"| {name} | {method} | {big['ns_per_element']:.2f} "
                f"| {_fmt(big['speedup_vs_numpy'], '.1f')}x "
                f"| {_fmt(big['speedup_vs_torch'], '.1f')}x "
                f"| {_fmt(big['copy_fraction'], '.2f')} "
                f"| {_fmt(mid and mid['speedup_vs_numpy'], '.1f')}x "
                f"| {_fmt(mid and mid['speedup_vs_torch'], '.1f')}x "
                f"| {_fmt(small and small['seconds'] * 1e6, '.2f')} |"
                + (_relative(by_key, name, method, args.backend, rel) if rel else "")
            )


def _relative(by_key: dict, name: str, method: str, backend: str, other: str) -> str:
    cells = []
    for size in (10**7, 10**5):
        row = by_key.get((name, method, size), {})
        mine, theirs = row.get(backend), row.get(other)
        ratio = theirs["ns_per_element"] / mine["ns_per_element"] if mine and theirs else None
        cells.append(f" {_fmt(ratio, '.2f')}x |")
    return "".join(cells)


if __name__ == "__main__":
    main()
