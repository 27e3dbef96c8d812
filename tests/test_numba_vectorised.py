"""The numba kernels vectorise: proof from the compiled code, not from timings.

For a few transcendental kernels, the optimised LLVM IR of the loop function holds
packed operations of the data's own precision (``<N x float>`` for float32, no
``<N x double>``, no ``<N x i64>`` integer emulation), at least the host's vector
width (8 float32 lanes with AVX2), and calls nothing but LLVM intrinsics (a libm
call would keep the loop scalar).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

numba = pytest.importorskip("numba")
llvm = pytest.importorskip("llvmlite.binding")

from fastact._kernels import numba_kernels as K  # noqa: E402

KERNELS = ["sigmoid_forward", "sigmoid_backward_x", "gelu_none_forward", "gelu_none_backward_x",
           "silu_forward", "silu_backward_x", "softplus_forward", "log_sigmoid_forward",
           "tanh_forward", "mish_forward", "elu_forward", "erf_forward", "dish_forward",
           "squareplus_forward"]  # fmt: skip


def _loop_ir(name: str, sfx: str) -> str:
    """Optimised IR of the kernel's own function, compiled afresh (a dispatcher
    loaded from numba's disk cache has no IR to show)."""
    cached = getattr(K, f"{name}_s_{sfx}")
    fresh = numba.njit(error_model="numpy", nogil=True, boundscheck=False)(cached.py_func)
    nin, params, nout = K.KERNELS[name]
    dtype = np.float32 if sfx == "f32" else np.float64
    x = np.linspace(-3, 3, 64).astype(dtype)
    fresh(*([x] * nin), *([1.0] * len(params)), *[np.empty_like(x) for _ in range(nout)])
    module = next(iter(fresh.inspect_llvm().values()))
    functions = module.split("\ndefine ")[1:]  # [0]: the module's header
    blocks = [b for b in functions if f"{name}_s_{sfx}" in b.split("\n", 1)[0]]
    own = [b for b in blocks if "cpython" not in b.split("\n", 1)[0]]
    assert own, f"no function for {name}_s_{sfx} in the IR"
    return own[0]


def _host_float_lanes() -> int:
    features = llvm.get_host_cpu_features()
    return 8 if features.get("avx2", False) or features.get("avx512f", False) else 4


@pytest.mark.parametrize("sfx", ["f32", "f64"])
@pytest.mark.parametrize("name", KERNELS)
def test_loop_is_packed_in_its_own_precision(name: str, sfx: str) -> None:
    ir = _loop_ir(name, sfx)
    elem = "float" if sfx == "f32" else "double"
    widths = [int(n) for n in re.findall(rf"<(\d+) x {elem}>", ir)]
    lanes = _host_float_lanes() // (1 if sfx == "f32" else 2)
    assert widths and max(widths) >= lanes, f"{name} {sfx}: packed {elem} widths {set(widths)}"
    calls: list[Any] = re.findall(r"\bcall [^@]*@([\w.$]+)", ir)
    foreign = sorted({c for c in calls if not c.startswith("llvm.")})
    assert not foreign, f"{name} {sfx}: calls {foreign} in the loop function"
    if sfx == "f32":
        assert not re.search(r"<\d+ x double>", ir), f"{name}: float64 vector work in float32"
        assert not re.search(r"<\d+ x i64>", ir), f"{name}: int64 vector work in float32"
