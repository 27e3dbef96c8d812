"""What the compiled backends share about the formulas' kernels: which parameters a
kernel takes, their values for a call, and the name of the generated kernel that
serves an activation's method (gelu picks a variant by its ``approximate``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Container, Mapping
from typing import Any

from fastact import _formulas
from fastact._registry import lookup

__all__ = ["kernel_name", "param_values", "real_params"]


def real_params(activation: str) -> tuple[str, ...]:
    """The real parameters of ``activation``, in registry order: the arguments the
    generated kernels take after their inputs."""
    spec = lookup(activation)
    return tuple(p.name for p in spec.params if p.kind in ("real", "real_or_none"))


def param_values(names: tuple[str, ...], params: Mapping[str, Any]) -> list[Any]:
    """The values of ``names`` for a call; softplus's threshold=None means "exact
    everywhere", which the kernels get as inf (z > inf is never true)."""
    return [math.inf if params[n] is None else params[n] for n in names]


def kernel_name(
    activation: str, method: str, known: Container[str]
) -> Callable[[Mapping[str, Any]], str] | None:
    """A function of the call's parameters giving the generated kernel's name
    (``{activation}[_{variant}]_{method}``), or None when ``known`` lacks one."""
    variant_param = _formulas.VARIANT_PARAMS.get(activation)
    if variant_param is None:
        name = f"{activation}_{method}"
        return (lambda params: name) if name in known else None
    variants = [k[1] for k in _formulas.KERNELS if isinstance(k, tuple) and k[0] == activation]
    if not all(f"{activation}_{v}_{method}" in known for v in variants):
        return None
    return lambda params: f"{activation}_{params[variant_param]}_{method}"
