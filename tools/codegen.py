"""Generate the C kernels of the Cython backend from ``fastact/_formulas.py``.

Usage (from the repository root)::

    python tools/codegen.py           # rewrite fastact/_kernels/fa_formulas.h
    python tools/codegen.py --check   # exit 1 if the committed file is stale

The formulas are parsed with :mod:`ast` (never executed by the generator, so what is
translated is exactly the source), every function is emitted twice in C (``float``
and ``double``), each primitive becoming a libm call (vectorised through glibc's libmvec)
or, where :data:`_IMPL` chooses it for the dtype, a call of fastact's own version from
``fastact/_own_math.py`` (same language, emitted first), and for every activation of
:data:`fastact._formulas.KERNELS` and every method a *block function* computes
``FA_BLOCK`` elements in an ``omp simd`` loop (see ``fastact/_kernels/fa_driver.h``).
A table at the end lists the kernels; ``fastact/_kernels/_ufuncs.pyx`` turns each
entry into a NumPy ufunc.

The output is deterministic (a test regenerates it and compares with the committed
file) and stamped "generated, do not edit".
"""

from __future__ import annotations

import argparse
import ast
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FORMULAS_PATH = REPO / "fastact" / "_formulas.py"
OWN_MATH_PATH = REPO / "fastact" / "_own_math.py"
OUTPUT_PATH = REPO / "fastact" / "_kernels" / "fa_formulas.h"

#: (C type, suffix) of the two instantiations.
DTYPES = (("float", "f32"), ("double", "f64"))

#: Primitive -> C99 function (float version is the name + "f").
_LIBM = {"exp", "expm1", "log", "log1p", "tanh", "erf", "erfc", "sqrt", "hypot",
         "fabs", "copysign"}  # fmt: skip

#: Per primitive and dtype, the implementation the formulas call in C: "libm" (glibc's
#: function, vectorised through libmvec) or "own" (``own_<name>`` of
#: fastact/_own_math.py, generated into fa_formulas.h as ``fa_own_<name>_<sfx>``).
#: Primitives not listed use libm (exp, log, erf, erfc, hypot, sqrt: no own version
#: was written and measured yet). Measured with callgrind (instructions per element,
#: 1e5 elements of 3 * standard normal, one thread, the AVX2 clone and libmvec's AVX2
#: variants, which is what valgrind's CPU selects), libm -> own, and the worst error of
#: tools/accuracy_report.py (cython, scaled ulps, the bar is 8), libm -> own. The machine
#: was too loaded (load average 11 on 2 cores) for ns/element timings.
#:
#: Callgrind sees only the AVX2 clone. Timed on the AVX-512 clone (2-core Intel Xeon
#: with AVX-512, 1 thread, best of 5 x 200 calls at 1e5 and of 5 x 5 at 1e7, load
#: average ~2, ns per element, libm -> own, two runs): float32 tanh 0.44 -> 0.60 at
#: 1e5, 0.56 -> 0.72 at 1e7; elu 0.42 -> 0.58, selu 0.42 -> 0.58, tanhshrink 0.65 ->
#: 0.86, celu 0.88 -> 1.04 (libmvec's 16-lane expf/tanhf beat the own code there);
#: float64 tanh 1.54 -> 1.41 at 1e5 (1.89 -> 1.89 at 1e7: memory), elu, selu, celu
#: equal within the noise. So float32 stays on libm and float64 tanh is the own one,
#: better on both clones. (A choice per clone needs block functions compiled per
#: target and dispatched by fastact, not target_clones, which compiles one source.)
_IMPL: dict[str, dict[str, str]] = {
    # own_tanh_f32/_f64 (odd polynomial below log(3)/2, 1 - 2/(exp(2|x|) + 1) above):
    #   tanh forward f32 11.08 -> 10.33, f64 24.96 -> 22.28; tanhshrink f32 14.09 ->
    #   13.90, f64 31.78 -> 28.53; tanhshrink' f32 11.21 -> 9.96, f64 25.21 -> 21.53.
    #   Error: tanh f32 1.27 -> 0.95, f64 0.84 -> 0.81; tanhshrink' f32 1.86 -> 1.76,
    #   f64 1.89 -> 1.40.
    # Rejected: tanh on libmvec's expm1 (-t/(t + 2), t = expm1(-2|x|), as numba_math's):
    #   tanh f32 11.08 -> 24.96, f64 24.96 -> 42.78 (libmvec's AVX2 expm1f alone costs
    #   17 instructions per element here); error f32 2.77, f64 1.76.
    "tanh": {"f32": "libm", "f64": "own"},  # f32: slower on the AVX-512 clone (above)
    # own_expm1_f32 (polynomial below log 2, exp(x) - 1 above): elu f32 13.21 -> 10.60,
    #   selu 12.59 -> 10.08, celu 26.63 -> 24.79 (libmvec's AVX2 expm1f costs about 17
    #   instructions per element, its expf about 5); error elu f32 unchanged, selu
    #   1.20 -> 1.01, celu(alpha=2) 0.95 -> 1.15. f64 stays libm: no float64 fit
    #   reached 1 ulp in the time there was (5e-16, see _own_math.py).
    "expm1": {"f32": "libm", "f64": "libm"},  # f32: slower on the AVX-512 clone
    # own_log1p (log(u) - ((u - 1) - x)/u over libmvec's log):
    #   f64: log_sigmoid 33.97 -> 31.78, softplus 64.16 -> 60.91; error log_sigmoid
    #   1.22 -> 1.55, softplus 1.49 -> 1.70, softplus(beta=2, threshold=20) 1.74 -> 2.47.
    #   f32, rejected: log_sigmoid 13.71 -> 14.23, softplus 26.43 -> 27.37 (error 1.40
    #   -> 2.41 and 1.40 -> 2.84).
    #   f64 rejected too: 5-7 % fewer instructions for up to 1.4x the error is not a
    #   trade fastact makes (its promise is speed *and* accuracy); own_log1p stays
    #   written and tested for a faster log under it.
    "log1p": {"f32": "libm", "f64": "libm"},
}
#: Primitives spelled as type-generic C99 macros.
_MACROS = {"isnan": "isnan", "isinf": "isinf"}

_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_BINOP = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


class FormulaError(ValueError):
    """A construct of the formulas that the generator does not translate."""


def _fail(node: ast.AST, message: str) -> FormulaError:
    return FormulaError(f"{FORMULAS_PATH.name}:{getattr(node, 'lineno', '?')}: {message}")


def _c_float(value: float, ctype: str) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        raise FormulaError(f"non-finite constant {value!r}")
    text = repr(float(value))
    return f"(({ctype}){text})"


@dataclass
class _Context:
    ctype: str
    sfx: str
    functions: set[str]
    constants: dict[str, float]
    local: set[str]
    #: True inside fastact/_own_math.py: primitives always go to libm there.
    own_math: bool = False


def _fold(node: ast.expr, ctx: _Context) -> float | None:
    """The value of a constant expression (literals, module constants, + - * / **)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, float):
        return node.value
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(
        node.value, bool
    ):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id in ctx.constants and node.id not in ctx.local:
        return ctx.constants[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _fold(node.operand, ctx)
        return None if inner is None else -inner
    if isinstance(node, ast.BinOp) and type(node.op) in (*_BINOP, ast.Pow):
        left, right = _fold(node.left, ctx), _fold(node.right, ctx)
        if left is None or right is None:
            return None
        ops: dict[type, Callable[[float, float], float]] = {
            ast.Add: float.__add__,
            ast.Sub: float.__sub__,
            ast.Mult: float.__mul__,
            ast.Div: float.__truediv__,
            ast.Pow: float.__pow__,
        }
        return ops[type(node.op)](left, right)
    return None


def _expr(node: ast.expr, ctx: _Context) -> str:
    folded = _fold(node, ctx)
    if folded is not None:
        return _c_float(folded, ctx.ctype)
    if isinstance(node, ast.Constant):
        raise _fail(node, f"constant {node.value!r}: only float literals are allowed")
    if isinstance(node, ast.Name):
        if node.id in ctx.local:
            return f"v_{node.id}"
        raise _fail(node, f"unknown name {node.id!r}")
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.USub):
            return f"(-{_expr(node.operand, ctx)})"
        if isinstance(node.op, ast.Not):
            return f"(!{_expr(node.operand, ctx)})"
        raise _fail(node, "unary operator")
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOP:
            raise _fail(node, f"operator {type(node.op).__name__}")
        op = _BINOP[type(node.op)]
        return f"({_expr(node.left, ctx)} {op} {_expr(node.right, ctx)})"
    if isinstance(node, ast.BoolOp):
        op = " && " if isinstance(node.op, ast.And) else " || "
        return "(" + op.join(_expr(v, ctx) for v in node.values) + ")"
    if isinstance(node, ast.Compare):
        if len(node.ops) != 1 or type(node.ops[0]) not in _CMP:
            raise _fail(node, "only single comparisons (a < b) are allowed")
        left, right = _expr(node.left, ctx), _expr(node.comparators[0], ctx)
        return f"({left} {_CMP[type(node.ops[0])]} {right})"
    if isinstance(node, ast.Call):
        return _call(node, ctx)
    raise _fail(node, f"construct {type(node).__name__}")


def _call(node: ast.Call, ctx: _Context) -> str:
    if not isinstance(node.func, ast.Name) or node.keywords:
        raise _fail(node, "calls must be plain f(a, b) calls of a name")
    name = node.func.id
    if name == "by_dtype":
        if len(node.args) != 2:
            raise _fail(node, "by_dtype takes (float32 value, float64 value)")
        value = _fold(node.args[0 if ctx.sfx == "f32" else 1], ctx)
        if value is None:
            raise _fail(node, "by_dtype arguments must be constants")
        return _c_float(value, ctx.ctype)
    args = [_expr(a, ctx) for a in node.args]
    if name == "select":
        if len(args) != 3:
            raise _fail(node, "select takes (condition, if_true, if_false)")
        return f"({args[0]} ? {args[1]} : {args[2]})"
    if name in _MACROS:
        return f"{_MACROS[name]}({', '.join(args)})"
    if name in _LIBM:
        if not ctx.own_math and _IMPL.get(name, {}).get(ctx.sfx, "libm") == "own":
            return f"fa_own_{name}_{ctx.sfx}({', '.join(args)})"
        cname = name + ("f" if ctx.sfx == "f32" else "")
        return f"{cname}({', '.join(args)})"
    if name in ctx.functions:
        return f"fa_{name}_{ctx.sfx}({', '.join(args)})"
    raise _fail(node, f"unknown function {name!r}")


def _function(fn: ast.FunctionDef, ctype: str, sfx: str, functions: set[str],
              constants: dict[str, float], own_math: bool = False) -> str:  # fmt: skip
    args = [a.arg for a in fn.args.args]
    if fn.args.vararg or fn.args.kwarg or fn.args.kwonlyargs or fn.args.defaults:
        raise _fail(fn, f"{fn.name}: plain positional arguments only")
    ctx = _Context(ctype, sfx, functions, constants, set(args), own_math)
    lines = []
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    for i, stmt in enumerate(body):
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                raise _fail(stmt, "assign to one plain name")
            target = stmt.targets[0].id
            if target in ctx.local:
                raise _fail(stmt, f"{target!r} is assigned twice (names are single-assignment)")
            value = _expr(stmt.value, ctx)
            ctx.local.add(target)
            lines.append(f"    const {ctype} v_{target} = {value};")
        elif isinstance(stmt, ast.Return) and i == len(body) - 1 and stmt.value is not None:
            lines.append(f"    return ({ctype})({_expr(stmt.value, ctx)});")
        else:
            raise _fail(stmt, f"{fn.name}: only assignments and a final return")
    params = ", ".join(f"{ctype} v_{a}" for a in args) or "void"
    head = f"static inline {ctype} fa_{fn.name}_{sfx}({params})"
    return head + " {\n" + "\n".join(lines) + "\n}\n"


def _parse(path: Path = FORMULAS_PATH) -> tuple[list[ast.FunctionDef], dict[str, float]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions, constants = [], {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            functions.append(node)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            value = node.value
            if (
                isinstance(target, ast.Name)
                and isinstance(value, ast.Constant)
                and isinstance(value.value, float)
            ):
                constants[target.id] = value.value
    return functions, constants


# ----------------------------------------------------------------------------- kernels


@dataclass(frozen=True)
class KernelEntry:
    """One ufunc: ``name`` = ``{activation}[_{variant}]_{method}``."""

    name: str
    inputs: tuple[str, ...]  # "x", "grad", "y"
    params: tuple[str, ...]  # the activation's real parameters, registry order
    outputs: tuple[str, ...]  # per output, a C expression over in0.. ({sfx}: the dtype)
    doc: str
    #: for value_and_derivative: the two one-output kernels whose block functions it
    #: calls, so that its results are bit-identical to theirs.
    parts: tuple[str, str] | None = None


def _source_package() -> None:
    """Make ``import fastact._formulas`` read this source tree without running
    ``fastact/__init__.py`` (which needs the compiled modules the generator's output
    is compiled into). A fastact that is already imported (the tests) is used."""
    if "fastact" not in sys.modules:
        package = types.ModuleType("fastact")
        package.__path__ = [str(REPO / "fastact")]
        sys.modules["fastact"] = package


def _real_params(activation: str) -> tuple[str, ...]:
    _source_package()
    from fastact._registry import lookup

    spec = lookup(activation)
    return tuple(p.name for p in spec.params if p.kind in ("real", "real_or_none"))


def _formula_args(fn: Callable[..., float], params: tuple[str, ...]) -> list[str]:
    """The parameter names a formula takes after its first argument (checked)."""
    code = fn.__code__
    names = list(code.co_varnames[1 : code.co_argcount])
    unknown = [n for n in names if n not in params]
    if unknown:
        raise FormulaError(f"{fn.__name__} takes {unknown}, not parameters of its activation")
    return names


def kernel_entries() -> list[KernelEntry]:
    """Every ufunc of the Cython backend, from :data:`fastact._formulas.KERNELS`."""
    _source_package()
    from fastact import _formulas

    entries = []
    for key, kernels in _formulas.KERNELS.items():
        activation, variant = (key, None) if isinstance(key, str) else key
        prefix = activation if variant is None else f"{activation}_{variant}"
        params = _real_params(activation)

        def call(fn: Callable[..., float], arg: str, params: tuple[str, ...] = params) -> str:
            names = _formula_args(fn, params)
            return f"fa_{fn.__name__}_{{sfx}}({', '.join([arg, *('P_' + n for n in names)])})"

        fwd, der = call(kernels.forward, "in0"), call(kernels.derivative, "in0")
        title = f"{prefix} ({', '.join(params) or 'no parameters'})"
        entries += [
            KernelEntry(f"{prefix}_forward", ("x",), params, (fwd,), f"{title}: f(x)"),
            KernelEntry(f"{prefix}_derivative", ("x",), params, (der,), f"{title}: f'(x)"),
            # Not one loop over both formulas: gcc may then pick another vector width
            # (another libmvec variant) and give other bits than the separate calls.
            KernelEntry(
                f"{prefix}_value_and_derivative", ("x",), params, (fwd, der),
                f"{title}: (f(x), f'(x))", (f"{prefix}_forward", f"{prefix}_derivative"),
            ),
            KernelEntry(
                f"{prefix}_backward_x", ("grad", "x"), params,
                (f"in0 * {call(kernels.derivative, 'in1')}",), f"{title}: grad * f'(x)",
            ),
        ]
        # Fused bias (fastact/_bias.py): the same formulas at in0 + in1, the sum
        # rounded in the dtype as the two-pass form would, so the results are those of
        # the plain kernels at z = x + bias bit for bit.
        fwd_b, der_b = call(kernels.forward, "(in0 + in1)"), call(kernels.derivative, "(in0 + in1)")
        entries += [
            KernelEntry(f"{prefix}_forward_bias", ("x", "bias"), params, (fwd_b,),
                        f"{title}: f(x + bias)"),
            KernelEntry(f"{prefix}_derivative_bias", ("x", "bias"), params, (der_b,),
                        f"{title}: f'(x + bias)"),
            KernelEntry(
                f"{prefix}_value_and_derivative_bias", ("x", "bias"), params, (fwd_b, der_b),
                f"{title}: (f(x + bias), f'(x + bias))",
                (f"{prefix}_forward_bias", f"{prefix}_derivative_bias"),
            ),
            KernelEntry(
                f"{prefix}_backward_x_bias", ("grad", "x", "bias"), params,
                (f"in0 * {call(kernels.derivative, '(in1 + in2)')}",),
                f"{title}: grad * f'(x + bias)",
            ),
        ]  # fmt: skip
        if kernels.from_output is not None:
            entries.append(
                KernelEntry(
                    f"{prefix}_backward_y", ("grad", "y"), params,
                    (f"in0 * {call(kernels.from_output, 'in1')}",), f"{title}: grad * h(y)",
                )
            )
        for pname, factor in kernels.param_factors.items():
            entries.append(
                KernelEntry(
                    f"{prefix}_param_factor_{pname}", ("grad", "x"), params,
                    (f"in0 * {call(factor, 'in1')}",), f"{title}: grad * df/d{pname}",
                )
            )
    return entries


def _composite_block(entry: KernelEntry, ctype: str, sfx: str, scalar: bool) -> str:
    """(f, f') by calling the forward and derivative block functions: the derivative
    first into a stack buffer, since either output may be the input itself."""
    assert entry.parts is not None
    variant = "s" if scalar else "a"
    forward, derivative = (f"fa_blk_{variant}_{part}_{sfx}" for part in entry.parts)
    nfirst = len(entry.inputs) + (0 if scalar else len(entry.params))
    first = ", ".join(f"a[{i}]" for i in range(nfirst))
    return "\n".join([
        f"FA_KERNEL void fa_blk_{variant}_{entry.name}_{sfx}"
        "(char *const *a, const void *pv, int n) {",
        f"    _Alignas(64) {ctype} d[FA_BLOCK];",
        f"    char *const for_derivative[] = {{{first}, (char *)d}};",
        f"    char *const for_forward[] = {{{first}, a[{nfirst}]}};",
        f"    {derivative}(for_derivative, pv, n);",
        f"    {forward}(for_forward, pv, n);",
        f"    memcpy(a[{nfirst + 1}], d, (size_t)n * sizeof d[0]);",
        "}",
    ]) + "\n"  # fmt: skip


def _block(entry: KernelEntry, ctype: str, sfx: str, scalar: bool) -> str:
    if entry.parts is not None:
        return _composite_block(entry, ctype, sfx, scalar)
    nin, npar = len(entry.inputs), len(entry.params)
    variant = "s" if scalar else "a"
    head = f"FA_KERNEL void fa_blk_{variant}_{entry.name}_{sfx}"
    lines = [head + "(char *const *a, const void *pv, int n) {"]
    for i in range(nin):
        lines.append(f"    const {ctype} *src{i} = (const {ctype} *)a[{i}];")
    for k, p in enumerate(entry.params):
        if scalar:
            lines.append(f"    const {ctype} P_{p} = ((const {ctype} *)pv)[{k}];")
        else:
            lines.append(f"    const {ctype} *A_{p} = (const {ctype} *)a[{nin + k}];")
    first_out = nin if scalar else nin + npar
    for j in range(len(entry.outputs)):
        lines.append(f"    {ctype} *out{j} = ({ctype} *)a[{first_out + j}];")
    if scalar and not entry.params:
        lines.append("    (void)pv;")
    lines.append("    FA_SIMD_LOOP")
    lines.append("    for (int j = 0; j < n; j++) {")
    for i in range(nin):
        lines.append(f"        const {ctype} in{i} = src{i}[j];")
    if not scalar:
        for p in entry.params:
            lines.append(f"        const {ctype} P_{p} = A_{p}[j];")
    for j, expr in enumerate(entry.outputs):
        lines.append(f"        out{j}[j] = {expr.format(sfx=sfx)};")
    lines.append("    }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _stamp() -> str:
    return (
        "/* GENERATED by tools/codegen.py from fastact/_formulas.py and\n"
        " * fastact/_own_math.py: DO NOT EDIT.\n"
        " * Edit the formulas and run `python tools/codegen.py`; a test checks that this\n"
        " * file matches the generator's output. */\n"
    )


def _own_serves(function: str, sfx: str) -> bool:
    """Whether ``function`` of _own_math.py is the C code of a primitive for ``sfx``:
    ``own_<name>`` serves both dtypes, ``own_<name>_<sfx>`` one (emitted under the C
    name ``fa_own_<name>_<sfx>`` all the same)."""
    name = function.removeprefix("own_")
    for _, other in DTYPES:
        if name.endswith("_" + other):
            if other != sfx:
                return False
            name = name.removesuffix("_" + other)
    return _IMPL.get(name, {}).get(sfx) == "own"


def generate() -> str:
    """The text of ``fa_formulas.h``."""
    functions, constants = _parse()
    names = {fn.name for fn in functions}
    out = [_stamp(), "#ifndef FA_FORMULAS_H", "#define FA_FORMULAS_H", "",
           '#include "fa_driver.h"', ""]  # fmt: skip
    own_functions, own_constants = _parse(OWN_MATH_PATH)
    own_names = {fn.name for fn in own_functions}
    for ctype, sfx in DTYPES:
        used = [fn for fn in own_functions if _own_serves(fn.name, sfx)]
        if used:
            out.append(f"/* ---- fastact's own primitives (_own_math.py), {ctype} ---- */\n")
        for fn in used:
            text = _function(fn, ctype, sfx, own_names, own_constants, own_math=True)
            c_name = f"fa_{fn.name.removesuffix('_' + sfx)}_{sfx}("
            out.append(text.replace(f"fa_{fn.name}_{sfx}(", c_name))
    for ctype, sfx in DTYPES:
        out.append(f"/* ---- formulas, {ctype} ---- */\n")
        for fn in functions:
            out.append(_function(fn, ctype, sfx, names, constants))
    entries = kernel_entries()
    for ctype, sfx in DTYPES:
        out.append(f"/* ---- block functions, {ctype} ---- */\n")
        for entry in entries:
            out.append(_block(entry, ctype, sfx, scalar=True))
            if entry.params:
                out.append(_block(entry, ctype, sfx, scalar=False))
    out.append("/* ---- the kernel table ---- */\n")
    out.append("typedef struct {")
    out.append("    const char *name, *doc;")
    out.append("    int nin, nparams, nout;")
    out.append("    fa_block_fn f32_scalar, f32_array, f64_scalar, f64_array;")
    out.append("} fa_kernel_entry;\n")
    out.append(f"#define FA_KERNEL_COUNT {len(entries)}")
    out.append("static const fa_kernel_entry fa_kernel_table[FA_KERNEL_COUNT] = {")
    for e in entries:
        fns = []
        for _, sfx in DTYPES:
            s = f"fa_blk_s_{e.name}_{sfx}"
            fns += [s, f"fa_blk_a_{e.name}_{sfx}" if e.params else s]
        out.append(
            f'    {{"{e.name}", "{e.doc}", {len(e.inputs)}, {len(e.params)}, '
            f"{len(e.outputs)}, {', '.join(fns)}}},"
        )
    out.append("};\n")
    out.append("#endif /* FA_FORMULAS_H */")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        current = OUTPUT_PATH.read_text(encoding="utf-8") if OUTPUT_PATH.exists() else ""
        if current != text:
            print(f"{OUTPUT_PATH} is stale: run python tools/codegen.py", file=sys.stderr)
            return 1
        print(f"{OUTPUT_PATH} is up to date")
        return 0
    OUTPUT_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT_PATH} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
