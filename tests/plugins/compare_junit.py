"""Compare two pytest junit-xml reports: fail if the second has a failure the first lacks.

    python tests/plugins/compare_junit.py UNPATCHED.xml PATCHED.xml [--spy SPY.json]

Used by .ci/run for a framework's own test file whose unpatched run already fails
somewhere (thinc 9.1's test_compare_activations_to_torch calls float() on a 1-element
array, a TypeError since numpy 2.4): "no failure that the unpatched run does not
have". ``--spy`` also requires the spy report of tests/plugins/fastact_*_plugin.py to
show that fastact ran.
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET


def outcomes(path: str) -> tuple[set[str], int]:
    root = ET.parse(path).getroot()
    failed, total = set(), 0
    for case in root.iter("testcase"):
        total += 1
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        if case.find("failure") is not None or case.find("error") is not None:
            failed.add(name)
    return failed, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("unpatched")
    parser.add_argument("patched")
    parser.add_argument("--spy", help="spy report (JSON) that must show fastact calls")
    args = parser.parse_args(argv)
    base, base_total = outcomes(args.unpatched)
    new, new_total = outcomes(args.patched)
    print(f"unpatched: {len(base)} of {base_total} failed; patched: {len(new)} of {new_total}")
    ok = new_total == base_total and new_total > 0
    if not ok:
        print(f"the runs collected different tests ({base_total} vs {new_total})")
    extra = sorted(new - base)
    for name in extra:
        print(f"new failure: {name}")
    fixed = sorted(base - new)
    if fixed:
        print(f"{len(fixed)} failing unpatched pass patched, e.g. {fixed[:3]}")
    if args.spy:
        calls = json.load(open(args.spy))
        print(f"spy: {calls}")
        if not calls.get("fastact"):
            print("the patched run never reached fastact")
            ok = False
    return 0 if ok and not extra else 1


if __name__ == "__main__":
    sys.exit(main())
