"""Print the README's table of activations, generated from the registry.

    python tools/activation_table.py

``tests/test_readme.py`` checks that README.md holds exactly this table, so the README
cannot drift from the registry: after adding an activation, paste the new output.
"""

from __future__ import annotations

from fastact._registry import REQUIRED, SPECS, ActivationSpec


def _default(value: object) -> str:
    if value is REQUIRED:
        return "required"
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def _row(spec: ActivationSpec) -> str:
    name = f"`{spec.name}`" + (f" ({', '.join(spec.aliases)})" if spec.aliases else "")
    params = ", ".join(f"{p.name}={_default(p.default)}" for p in spec.params) or "-"
    y_path = {True: "yes", False: "no"}.get(spec.y_backward, "when > 0")  # type: ignore[arg-type]
    return f"| {name} | {spec.formula} | {params} | {y_path} |"


def markdown() -> str:
    lines = [
        "| activation (aliases) | forward | parameters (defaults) | backward from y |",
        "|---|---|---|---|",
        *(_row(spec) for spec in SPECS),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
