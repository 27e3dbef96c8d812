"""Print the worst error of every activation against the mpmath tables, per backend.

    python tools/accuracy_report.py [--backend NAME ...] [--markdown]

The error is in ulps of the exact result divided by max(1, condition number) (the
contract's measure; the bar is 8). Run it against the installed fastact.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import fastact as fa
import reference_tables as rt


def worst(case_id: str, dtype: type, backend: str) -> tuple[float, float, float, float]:
    """(worst forward error, at x; worst derivative error, at x)."""
    case = rt.case(case_id)
    table = rt.load(case_id, dtype)
    params = table.params  # cast to the dtype: what the oracle computed with
    activation = fa.activations()[case.name]
    x = table.x.astype(dtype)
    y = activation(x, backend=backend, **params)
    d = activation.derivative(x, backend=backend, **params)
    row = []
    for result, which in ((y, "f"), (d, "d")):
        errors = rt.scaled_errors(result, table, which)
        errors = np.where(np.isnan(errors), np.inf, errors)
        i = int(np.argmax(errors))
        row += [float(errors[i]), float(x[i])]
    return row[0], row[1], row[2], row[3]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", help="default: all available")
    parser.add_argument("--markdown", action="store_true", help="a Markdown table")
    args = parser.parse_args(argv)
    backends = args.backend or fa.available_backends()
    header = ["case", "backend", "f32 fwd", "f32 d", "f64 fwd", "f64 d", "f64 fwd worst at x"]
    rows = []
    failed = False
    for backend in backends:
        for case_id in rt.case_ids():
            f32 = worst(case_id, np.float32, backend)
            f64 = worst(case_id, np.float64, backend)
            values = [f32[0], f32[2], f64[0], f64[2]]
            failed |= max(values) > rt.ACCURACY_BAR
            at = f"{f64[1]:.6g}" if f64[0] > 0 else "-"  # exact everywhere: no worst point
            rows.append([case_id, backend, *(f"{v:.3g}" for v in values), at])
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(f"\nbar: {rt.ACCURACY_BAR} scaled ulp; {'EXCEEDED' if failed else 'held everywhere'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
