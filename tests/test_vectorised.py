"""Proof that the kernels vectorise, from the machine code (not from timings).

numba: the compiled loop of a few transcendental kernels holds packed instructions
of the data's own precision at the CPU's full width (zmm where numba_math switched
LLVM's 256-bit preference off, else ymm) and no call: the math of fastact/_mathlib.py
is inlined and vectorised.

C: the AVX-512 and AVX2 clones of the same block functions in the built extension
(objdump) hold zmm/ymm packed instructions and call nothing (no libm, no libmvec).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

KERNELS = ("sigmoid", "gelu_none", "silu", "softplus", "log_sigmoid", "tanh")
_ARGS = {"silu": (1.0,), "softplus": (1.0, float("inf"))}
_PACKED = {"f32": re.compile(r"\sv\w+ps\s"), "f64": re.compile(r"\sv\w+pd\s")}


def _function_body(asm: str, name: str) -> str:
    """The assembly of the one function whose (mangled) label holds ``name`` and that
    is not one of numba's wrappers."""
    blocks = re.split(r"\n(?=[^.\s]\S*:\n)", asm)  # function labels (not .L labels)
    found = [
        b for b in blocks
        if name in b.split(":", 1)[0] and "cpython" not in b.split(":", 1)[0]
        and "cfunc" not in b.split(":", 1)[0]
    ]  # fmt: skip
    assert found, f"no function {name} in the assembly"
    return "\n".join(found)


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("kernel", KERNELS)
def test_numba_loops_are_packed_and_call_free(kernel: str, dtype: str) -> None:
    pytest.importorskip("numba")
    from fastact._kernels import numba_kernels, numba_math

    name = f"{kernel}_forward_s_{dtype}"
    # a fresh, uncached compilation (numba cannot show the assembly of cached code),
    # with the generated loop's own options
    import numba

    loop = numba.njit(error_model="numpy", nogil=True, boundscheck=False)(
        getattr(numba_kernels, name).py_func
    )
    x = np.linspace(-5, 5, 100, dtype=np.float32 if dtype == "f32" else np.float64)
    loop(x, *_ARGS.get(kernel, ()), np.empty_like(x))
    body = _function_body(loop.inspect_asm(loop.signatures[0]), name)
    assert "call" not in body, f"{name}: a call left in the loop"
    register = "zmm" if numba_math.PREFERS_512_BIT else "ymm"
    packed = [line for line in body.splitlines() if _PACKED[dtype].search(line)]
    wide = [line for line in packed if register in line]
    assert len(wide) >= 20, f"{name}: {len(wide)} packed {dtype} {register} instructions"
    if dtype == "f32" and kernel != "gelu_none":  # gelu's erfc is float64 inside
        packed64 = [line for line in body.splitlines() if _PACKED["f64"].search(line)]
        assert not packed64, f"{name}: float64 arithmetic in a float32 kernel"


def _disassembly() -> str:
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip("objdump not installed")
    from fastact._kernels import _ufuncs

    path = Path(_ufuncs.__file__)
    out = subprocess.run(
        [objdump, "-d", "--no-show-raw-insn", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return out


_C_CLONES = {"arch_x86_64_v4": "zmm", "arch_x86_64_v3": "ymm"}


# gcc 12 does not vectorise a loop holding nested selects on a loop-invariant value
# next to the math ("relevant stmt not supported: _ifc = _124 ? 7.0 : b" with an
# external mask): the scalar-parameter variants of softplus and celu, whose formulas
# take log(|beta|) and log(|alpha|) of the parameter, are generated as their
# array-parameter variant over copies of the parameters (tools/codegen.py
# _broadcast_block): they call that variant, which is checked here.
_BROADCAST = {"softplus", "celu"}


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize(
    ("kernel", "variant"),
    [("sigmoid", "s"), ("gelu_none", "s"), ("silu", "s"), ("silu", "a"), ("log_sigmoid", "s"),
     ("tanh", "s"), ("softplus", "a"), ("softplus", "s"), ("celu", "a"), ("celu", "s")],
)  # fmt: skip
def test_c_clones_are_packed_and_call_free(kernel: str, variant: str, dtype: str) -> None:
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("target_clones are built on x86-64 only")
    text = _disassembly()
    for clone, register in _C_CLONES.items():
        if True:
            label = f"<fa_blk_{variant}_{kernel}_forward_{dtype}.{clone}>:"
            start = text.find(label)
            assert start >= 0, f"{label} not in the extension"
            end = text.find("\n\n", start)
            body = text[start:end]
            if variant == "s" and kernel in _BROADCAST:
                target = f"fa_blk_a_{kernel}_forward_{dtype}"
                assert re.search(rf"(call|jmp)\s.*<{target}", body), f"{label}: no {target}"
                continue
            assert "call" not in body, f"{label} calls a function"
            packed = [
                ln for ln in body.splitlines() if _PACKED[dtype].search(ln) and register in ln
            ]
            assert len(packed) >= 20, f"{label}: {len(packed)} packed {register} instructions"
