"""Generate the numba kernels (CPU and CUDA) from ``fastact/_formulas.py``.

Usage (from the repository root)::

    python tools/codegen_numba.py           # rewrite the two generated modules
    python tools/codegen_numba.py --check   # exit 1 if a committed file is stale

The same parse as ``tools/codegen.py`` (the C generator; its ``kernel_entries`` name
the kernels and give each output as an expression over ``in0, in1, P_<param>``),
translated twice:

``fastact/_kernels/numba_kernels.py`` (CPU)
    Each formula becomes an ``@njit(inline="always")`` function over the vectorisable
    primitives of :mod:`fastact._kernels.numba_math`; ``<``, ``<=``, ``>``, ``>=``
    become its quiet comparisons (a float compare on NaN raises *invalid* in a
    vectorised loop). float32 kernels compute in float32 (native float32 primitives,
    float32 constants), as the C kernels do. Each kernel is a plain loop over 1-D contiguous arrays,
    ``_s`` with scalar parameters and ``_a`` with one parameter value per element;
    :mod:`fastact._backends.numba_backend` feeds them chunks.
``fastact/_kernels/cuda_kernels.py`` (``numba.cuda``)
    Each formula becomes a device function over :mod:`fastact._kernels.cuda_math`
    (CUDA's libdevice on a GPU), float32 constants in float32 code; each kernel is a
    grid-stride loop over flat arrays, ``_s`` (scalar parameters) and ``_a``
    (parameters indexed through a broadcast map).

Both outputs are deterministic, stamped "generated, do not edit", and checked by a
test against a fresh generation.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CPU_PATH = REPO / "fastact" / "_kernels" / "numba_kernels.py"
CUDA_PATH = REPO / "fastact" / "_kernels" / "cuda_kernels.py"


def _load_codegen():  # type: ignore[no-untyped-def]
    """tools/codegen.py (the parser and the kernel table are shared)."""
    name = "fastact_codegen"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("codegen.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


codegen = _load_codegen()
FormulaError = codegen.FormulaError

#: Primitives of the formulas; every one exists in numba_math and cuda_math.
_PRIMITIVES = {"exp", "expm1", "log", "log1p", "tanh", "erf", "erfc", "sqrt", "hypot",
               "fabs", "copysign", "isnan", "isinf"}  # fmt: skip
_QUIET = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge"}
_PLAIN_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
              ast.NotEq: "!="}  # fmt: skip
_BINOP = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


@dataclass
class _Target:
    """How one output module spells things."""

    sfx: str  # f32 / f64
    cuda: bool
    functions: set[str]
    constants: dict[str, float]
    #: float32: literal -> global name (float32 constants: a bare 1.0 is a float64
    #: and would make the whole expression float64)
    literals: dict[str, str] = field(default_factory=dict)

    def literal(self, value: float) -> str:
        if value != value or value in (float("inf"), float("-inf")):
            raise FormulaError(f"non-finite constant {value!r}")
        text = repr(float(value))
        if self.sfx != "f32":
            return text
        if text not in self.literals:
            self.literals[text] = f"K{len(self.literals)}_f32"
        return self.literals[text]


@dataclass
class _Scope:
    target: _Target
    local: set[str]


def _ctx(scope: _Scope):  # type: ignore[no-untyped-def]
    t = scope.target
    return codegen._Context("", t.sfx, t.functions, t.constants, scope.local)


def _expr(node: ast.expr, scope: _Scope) -> str:
    t = scope.target
    folded = codegen._fold(node, _ctx(scope))
    if folded is not None:
        return t.literal(folded)
    if isinstance(node, ast.Constant):
        raise codegen._fail(node, f"constant {node.value!r}: only float literals are allowed")
    if isinstance(node, ast.Name):
        if node.id in scope.local:
            return f"v_{node.id}"
        raise codegen._fail(node, f"unknown name {node.id!r}")
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.USub):
            return f"(-{_expr(node.operand, scope)})"
        if isinstance(node.op, ast.Not):
            return f"(not {_expr(node.operand, scope)})"
        raise codegen._fail(node, "unary operator")
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOP:
            raise codegen._fail(node, f"operator {type(node.op).__name__}")
        op = _BINOP[type(node.op)]
        return f"({_expr(node.left, scope)} {op} {_expr(node.right, scope)})"
    if isinstance(node, ast.BoolOp):
        # Non-short-circuit on the CPU: both sides are pure, and `&` keeps the loop
        # free of branches for the vectoriser.
        op = (" and " if isinstance(node.op, ast.And) else " or ") if t.cuda else (
            " & " if isinstance(node.op, ast.And) else " | "
        )
        return "(" + op.join(_expr(v, scope) for v in node.values) + ")"
    if isinstance(node, ast.Compare):
        if len(node.ops) != 1 or type(node.ops[0]) not in _PLAIN_CMP:
            raise codegen._fail(node, "only single comparisons (a < b) are allowed")
        left, right = _expr(node.left, scope), _expr(node.comparators[0], scope)
        kind = type(node.ops[0])
        if not t.cuda and kind in _QUIET:
            return f"{_QUIET[kind]}_{t.sfx}({left}, {right})"
        return f"({left} {_PLAIN_CMP[kind]} {right})"
    if isinstance(node, ast.Call):
        return _call(node, scope)
    raise codegen._fail(node, f"construct {type(node).__name__}")


def _call(node: ast.Call, scope: _Scope) -> str:
    t = scope.target
    if not isinstance(node.func, ast.Name) or node.keywords:
        raise codegen._fail(node, "calls must be plain f(a, b) calls of a name")
    name = node.func.id
    if name == "by_dtype":
        if len(node.args) != 2:
            raise codegen._fail(node, "by_dtype takes (float32 value, float64 value)")
        value = codegen._fold(node.args[0 if t.sfx == "f32" else 1], _ctx(scope))
        if value is None:
            raise codegen._fail(node, "by_dtype arguments must be constants")
        return t.literal(value)
    args = [_expr(a, scope) for a in node.args]
    if name == "select":
        if len(args) != 3:
            raise codegen._fail(node, "select takes (condition, if_true, if_false)")
        return f"({args[1]} if {args[0]} else {args[2]})"
    if name in _PRIMITIVES:
        return f"{name}_{t.sfx}({', '.join(args)})"
    if name in t.functions:
        return f"fa_{name}_{t.sfx}({', '.join(args)})"
    raise codegen._fail(node, f"unknown function {name!r}")


def _function(fn: ast.FunctionDef, target: _Target) -> str:
    args = [a.arg for a in fn.args.args]
    if fn.args.vararg or fn.args.kwarg or fn.args.kwonlyargs or fn.args.defaults:
        raise codegen._fail(fn, f"{fn.name}: plain positional arguments only")
    scope = _Scope(target, set(args))
    lines = []
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    for i, stmt in enumerate(body):
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                raise codegen._fail(stmt, "assign to one plain name")
            name = stmt.targets[0].id
            if name in scope.local:
                raise codegen._fail(
                    stmt, f"{name!r} is assigned twice (names are single-assignment)"
                )
            value = _expr(stmt.value, scope)
            scope.local.add(name)
            lines.append(f"    v_{name} = {value}")
        elif isinstance(stmt, ast.Return) and i == len(body) - 1 and stmt.value is not None:
            lines.append(f"    return {_expr(stmt.value, scope)}")
        else:
            raise codegen._fail(stmt, f"{fn.name}: only assignments and a final return")
    decorator = "@cuda.jit(device=True)" if target.cuda else "@njit(**_FORMULA)"
    params = ", ".join(f"v_{a}" for a in args)
    return f"{decorator}\ndef fa_{fn.name}_{target.sfx}({params}):\n" + "\n".join(lines) + "\n"


def _float32_constants(target: _Target, ctor: str, extra: tuple[str, ...] = ()) -> list[str]:
    """The global float32 constants a float32 target's code names (``ctor``: how the
    module spells float32)."""
    lines = ["# float32 constants of the float32 code", *extra]
    lines += [f"{name} = {ctor}({text})" for text, name in target.literals.items()]
    return [*lines, ""]


def _stamp(what: str) -> str:
    return (
        f'"""GENERATED by tools/codegen_numba.py from fastact/_formulas.py: DO NOT EDIT.\n\n'
        f"{what}\n\n"
        "Edit the formulas and run ``python tools/codegen_numba.py``; a test checks that\n"
        'this file matches the generator\'s output.\n"""\n'
        "# ruff: noqa\n"
        "# mypy: ignore-errors\n"
    )


def _entries():  # type: ignore[no-untyped-def]
    # Not the fused-bias kernels (``*_bias``): the numba backend serves bias= through
    # fastact/_bias.py's scratch piece (compiling 272 more numba kernels on first use
    # would add minutes to every fresh test run); the CUDA loops have their own bias
    # forms (_cuda_loop, bias=True), which compile only when called.
    return [e for e in codegen.kernel_entries() if not e.name.endswith("_bias")]


# ----------------------------------------------------------------------------- CPU


def _math_hash() -> str:
    import hashlib

    path = REPO / "fastact" / "_kernels" / "numba_math.py"
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cpu_loop(entry, sfx: str, scalar: bool) -> str:  # type: ignore[no-untyped-def]
    nin, nout = len(entry.inputs), len(entry.outputs)
    args = [f"I{i}" for i in range(nin)]
    args += [f"P_{p}" if scalar else f"A_{p}" for p in entry.params]
    args += [f"O{j}" for j in range(nout)]
    name = f"{entry.name}_{'s' if scalar else 'a'}_{sfx}"
    dtype = "float32" if sfx == "f32" else "float64"
    casts = []
    if scalar and sfx == "f32":  # parameters arrive as float64 scalars: cast once
        args = [f"{a}_in" if a.startswith("P_") else a for a in args]
        casts = [f"    P_{p} = float32(P_{p}_in)" for p in entry.params]
    lines = ["@njit(**_LOOP)", f"def {name}({', '.join(args)}):", *casts,
             "    for i in range(O0.shape[0]):"]  # fmt: skip
    # float32 data is computed in float32 arithmetic (the primitives are native
    # float32: twice the SIMD lanes of float64), as the C kernels do.
    for i in range(nin):
        lines.append(f"        in{i} = {dtype}(I{i}[i])")
    if not scalar:
        for p in entry.params:
            lines.append(f"        P_{p} = {dtype}(A_{p}[i])")
    # All outputs computed before any store: an output may be an input (in place).
    for j, expr in enumerate(entry.outputs):
        lines.append(f"        r{j} = {expr.format(sfx=sfx)}")
    for j in range(nout):
        lines.append(f"        O{j}[i] = r{j}")
    return "\n".join(lines) + "\n"


def _c_entry(entry, sfx: str) -> str:  # type: ignore[no-untyped-def]
    """``<name>_c_<sfx>(args, n, params)``: the scalar-parameter loop over raw pointers
    (``args``: inputs then outputs, ``n`` elements each; ``params``: float64 values), a
    plain function that fastact's numba backend compiles as a ``cfunc`` on first use,
    so that the compiled fast path calls it with no argument unboxing."""
    nin, nout = len(entry.inputs), len(entry.outputs)
    dtype = "float32" if sfx == "f32" else "float64"
    views = [f"carray(args[{i}], (n,), {dtype})" for i in range(nin)]
    views += [f"params[{k}]" for k in range(len(entry.params))]
    views += [f"carray(args[{nin + j}], (n,), {dtype})" for j in range(nout)]
    return (
        f"def {entry.name}_c_{sfx}(args, n, params):\n"
        f"    {entry.name}_s_{sfx}({', '.join(views)})\n"
    )


def generate_cpu() -> str:
    functions, constants = codegen._parse()
    names = {fn.name for fn in functions}
    out = [
        _stamp(
            "numba CPU kernels: every formula as an inlined njit function over the\n"
            "vectorisable primitives of numba_math, and every kernel of\n"
            "tools/codegen.kernel_entries() as loops over 1-D contiguous arrays:\n"
            "``<name>_s_<dtype>(inputs..., scalar params..., outputs...)`` and\n"
            "``<name>_a_<dtype>(inputs..., param arrays..., outputs...)``, and\n"
            "``<name>_c_<dtype>(args, n, params)``, the first over raw pointers (compiled\n"
            "as a cfunc on first use by fastact._backends.numba_backend.c_entry)."
        ),
        "from numba import carray, float32, float64, njit",
        "",
        "from fastact._kernels.numba_math import PRIMITIVES as _PRIMITIVES",
        "",
        "# numba's disk cache checks only this file's timestamp and size, not the modules",
        "# it calls: the hash of numba_math.py makes this file change when the math does.",
        f'NUMBA_MATH_SHA256 = "{_math_hash()}"',
        "",
        "# Formulas are IR-inlined into the loops: a loop vectorises only when no call",
        "# is left in it (gelu: 6 ns/element inlined, 25 ns as a @vectorize ufunc that",
        "# calls erfc). No fast-math flags: NaN, inf and signed zeros keep their meaning.",
        '_FORMULA = dict(error_model="numpy", inline="always")',
        "# nogil: the backend runs chunks of one call on several threads.",
        "# cache: compiled code is kept on disk (NUMBA_CACHE_DIR, or __pycache__ next to",
        "# this file, or ~/.cache/numba when the package directory is read-only).",
        '_LOOP = dict(error_model="numpy", nogil=True, cache=True, boundscheck=False)',
        "",
    ]
    for sfx, dtype in (("f32", "float32"), ("f64", "float64")):
        out.append(f"# ---- primitives, {dtype} ----")
        for p in sorted(_PRIMITIVES | {"lt", "le", "gt", "ge"}):
            out.append(f'{p}_{sfx} = _PRIMITIVES["{dtype}"]["{p}"]')
        out.append("")
    f32_target = _Target("f32", False, names, constants)
    formulas = []
    for sfx in ("f32", "f64"):
        arithmetic = "float32" if sfx == "f32" else "float64"
        formulas.append(f"# ---- formulas, {sfx} ({arithmetic} arithmetic) ----\n")
        target = f32_target if sfx == "f32" else _Target(sfx, False, names, constants)
        for fn in functions:
            formulas.append(_function(fn, target) + "\n")
    out += _float32_constants(f32_target, "float32")
    out.extend(formulas)
    entries = _entries()
    for sfx in ("f32", "f64"):
        out.append(f"# ---- kernels, {sfx} ----\n")
        for entry in entries:
            out.append(_cpu_loop(entry, sfx, True) + "\n")
            out.append(_c_entry(entry, sfx) + "\n")
            if entry.params:
                out.append(_cpu_loop(entry, sfx, False) + "\n")
    out.append("#: kernel name -> (inputs, real parameters, outputs)")
    out.append("KERNELS = {")
    for e in entries:
        out.append(f"    {e.name!r}: ({len(e.inputs)}, {e.params!r}, {len(e.outputs)}),")
    out.append("}")
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- CUDA


def _has_bias_form(entry) -> bool:  # type: ignore[no-untyped-def]
    """Whether the kernel computes at x (its last input), so that a fused bias form
    ``f(x + bias)`` exists: not the backward from y, not a parameter's factor."""
    return not entry.name.endswith("_backward_y") and "_param_factor_" not in entry.name


def _map_index(k: str, div: str, mod: str, mul: str) -> list[str]:
    """Lines computing ``k``: the element that a broadcast map's array puts on x's
    flat index i, sum_d ((i // div[d]) % mod[d]) * mul[d]."""
    return [f"        {k} = 0",
            f"        for d in range({div}.shape[0]):",
            f"            {k} += ((i // {div}[d]) % {mod}[d]) * {mul}[d]"]  # fmt: skip


def _cuda_loop(entry, sfx: str, scalar: bool, bias: bool = False) -> str:  # type: ignore[no-untyped-def]
    nin, nout = len(entry.inputs), len(entry.outputs)
    args = [f"I{i}" for i in range(nin)]
    if scalar:
        args += [f"P_{p}" for p in entry.params]
    else:
        # A parameter array is read at sum_d ((i // div[d]) % mod[d]) * mul[d]: the
        # element of the (small) parameter that broadcasts onto x's flat index i.
        for p in entry.params:
            args += [f"A_{p}", f"div_{p}", f"mod_{p}", f"mul_{p}"]
    if bias:  # the bias, read through its broadcast map as a parameter array is (its
        # names start with "bias_": parameters' names are prefixes plus the name)
        args += ["bias_array", "bias_div", "bias_mod", "bias_mul"]
    args += [f"O{j}" for j in range(nout)]
    name = f"{entry.name}_{'s' if scalar else 'a'}{'b' if bias else ''}_{sfx}"
    lines = ["@cuda.jit", f"def {name}({', '.join(args)}):",
             "    start = cuda.grid(1)", "    stride = cuda.gridsize(1)",
             "    for i in range(start, O0.shape[0], stride):"]  # fmt: skip
    for i in range(nin):
        lines.append(f"        in{i} = I{i}[i]")
    if bias:  # x + bias rounded in the arrays' dtype, as the host backends round it
        lines += _map_index("bias_k", "bias_div", "bias_mod", "bias_mul")
        lines.append(f"        in{nin - 1} = in{nin - 1} + bias_array[bias_k]")
    if not scalar:
        for p in entry.params:
            lines += _map_index(f"k_{p}", f"div_{p}", f"mod_{p}", f"mul_{p}")
            lines.append(f"        P_{p} = A_{p}[k_{p}]")
    for j, expr in enumerate(entry.outputs):
        lines.append(f"        r{j} = {expr.format(sfx=sfx)}")
    for j in range(nout):
        lines.append(f"        O{j}[i] = r{j}")
    return "\n".join(lines) + "\n"


def _cuda_reduce(entry, sfx: str) -> str:  # type: ignore[no-untyped-def]
    """A parameter gradient: thread k sums grad * df/dp over the elements of x that
    parameter element k broadcasts onto (sequentially: deterministic)."""
    (p,) = entry.params if len(entry.params) == 1 else (None,)
    if p is None:
        raise FormulaError(f"{entry.name}: parameter gradients need exactly one parameter")
    name = f"{entry.name}_reduce_{sfx}"
    expr = entry.outputs[0].format(sfx=sfx)
    zero = "K_ZERO_f32" if sfx == "f32" else "0.0"
    return "\n".join([
        "@cuda.jit",
        f"def {name}(I0, I1, A_{p}, red_shape, red_stride, par_shape, par_stride, O0):",
        "    start = cuda.grid(1)",
        "    stride = cuda.gridsize(1)",
        "    count = I1.shape[0] // max(O0.shape[0], 1)",
        "    for k in range(start, O0.shape[0], stride):",
        "        base = fa_offset(k, par_shape, par_stride)",
        f"        P_{p} = A_{p}[k]",
        f"        acc = {zero}",
        "        for r in range(count):",
        "            i = base + fa_offset(r, red_shape, red_stride)",
        "            in0 = I0[i]",
        "            in1 = I1[i]",
        f"            acc += {expr}",
        "        O0[k] = acc",
    ]) + "\n"  # fmt: skip


def generate_cuda() -> str:
    functions, constants = codegen._parse()
    names = {fn.name for fn in functions}
    body: list[str] = []
    targets = {sfx: _Target(sfx, True, names, constants) for sfx in ("f32", "f64")}
    for sfx in ("f32", "f64"):
        body.append(f"# ---- formulas, {sfx} ----\n")
        for fn in functions:
            body.append(_function(fn, targets[sfx]) + "\n")
    entries = _entries()
    for sfx in ("f32", "f64"):
        body.append(f"# ---- kernels, {sfx} ----\n")
        for entry in entries:
            for bias in (False, True) if _has_bias_form(entry) else (False,):
                body.append(_cuda_loop(entry, sfx, True, bias) + "\n")
                if entry.params:
                    body.append(_cuda_loop(entry, sfx, False, bias) + "\n")
            if "_param_factor_" in entry.name:
                body.append(_cuda_reduce(entry, sfx) + "\n")
    head = [
        _stamp(
            "numba.cuda kernels: every formula as a device function over cuda_math, and\n"
            "every kernel of tools/codegen.kernel_entries() as grid-stride loops over\n"
            "flat arrays: ``<name>_s_<dtype>`` (scalar parameters) and ``<name>_a_<dtype>``\n"
            "(parameter arrays with their broadcast maps), and their fused-bias forms\n"
            "``<name>_sb_<dtype>``/``<name>_ab_<dtype>`` (at x + bias, the bias read\n"
            "through its broadcast map); parameter gradients as\n"
            "``<name>_reduce_<dtype>``. float32 code uses float32 constants (a bare 1.0\n"
            "would make float64 instructions)."
        ),
        "import numpy as np",
        "from numba import cuda",
        "",
        "from fastact._kernels.cuda_math import PRIMITIVES as _PRIMITIVES",
        "",
    ]
    for sfx, dtype in (("f32", "float32"), ("f64", "float64")):
        for p in sorted(_PRIMITIVES):
            head.append(f'{p}_{sfx} = _PRIMITIVES["{dtype}"]["{p}"]')
        head.append("")
    head += _float32_constants(targets["f32"], "np.float32", ("K_ZERO_f32 = np.float32(0.0)",))
    head += [
        "",
        "",
        "@cuda.jit(device=True)",
        "def fa_offset(index, shape, stride):",
        '    """The offset of the index-th element (C order) of a block of ``shape``',
        '    whose axes step by ``stride``: the reductions\' walk (the parameter',
        '    gradients here, the bias gradient in cuda_rows)."""',
        "    offset = 0",
        "    rest = index",
        "    for d in range(shape.shape[0] - 1, -1, -1):",
        "        offset += (rest % shape[d]) * stride[d]",
        "        rest //= shape[d]",
        "    return offset",
        "",
        "",
    ]
    tail = ["#: kernel name -> (inputs, real parameters, outputs)", "KERNELS = {"]
    for e in entries:
        tail.append(f"    {e.name!r}: ({len(e.inputs)}, {e.params!r}, {len(e.outputs)}),")
    tail.append("}")
    return "\n".join(head) + "\n" + "\n".join(body) + "\n".join(tail) + "\n"


OUTPUTS: dict[Path, Callable[[], str]] = {CPU_PATH: generate_cpu, CUDA_PATH: generate_cuda}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is stale")
    args = parser.parse_args(argv)
    status = 0
    for path, generate in OUTPUTS.items():
        text = generate()
        if args.check:
            current = path.read_text(encoding="utf-8") if path.exists() else ""
            if current != text:
                print(f"{path} is stale: run python tools/codegen_numba.py", file=sys.stderr)
                status = 1
            else:
                print(f"{path} is up to date")
            continue
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path} ({len(text.splitlines())} lines)")
    return status


if __name__ == "__main__":
    sys.exit(main())
