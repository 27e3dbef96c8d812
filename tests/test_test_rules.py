"""Rules the tests themselves follow (the developers' brief), checked on their source.

No test compares fastact's results bit for bit with another library's transcendental
functions: NumPy's, SciPy's, torch's and libm's tanh, exp, erf... are faithful, not
correctly rounded, and differ from fastact (and from each other) by an ulp here and
there, on other machines more than here (``test_xarray_out`` compared float64 tanh
with ``np.tanh`` bit for bit and failed on a fresh machine: 29 of 60 elements 1 ulp
apart, both within the contract). Compare with the reference tables, mpmath, or
fastact's own result, within the bar.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).parent

#: Calls and operators that demand bit-identical values.
EXACT = {"assert_array_equal", "array_equal", "assert_equal", "array_equiv", "equal"}
#: Libraries whose functions are meant (as the root name of an attribute chain).
LIBRARIES = {"np", "numpy", "scipy", "sc", "special", "torch", "F", "math", "nn", "functional"}
#: Functions that are not correctly rounded in those libraries (+ - * / sqrt are).
TRANSCENDENTAL = {
    "tanh", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "erf", "erfc", "sinh",
    "cosh", "power", "pow", "expit", "log_expit", "ndtr", "logsumexp", "sigmoid", "softmax",
    "log_softmax", "softmin", "gelu", "silu", "mish", "softplus", "elu", "selu", "celu",
    "logsigmoid", "tanhshrink", "hardswish", "hardsigmoid", "softsign", "cbrt",
}


def _root(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _library_transcendental(node: ast.AST) -> bool:
    """Does ``node`` contain a call such as ``np.tanh(...)`` or ``torch.nn.functional.elu``?"""
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr in TRANSCENDENTAL
            and _root(sub.func) in LIBRARIES
        ):
            return True
    return False


def bit_compares(source: str) -> list[int]:
    """Line numbers of exact comparisons with a library's transcendental function."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else (
                node.func.id if isinstance(node.func, ast.Name) else None
            )
            if name in EXACT and any(_library_transcendental(a) for a in node.args):
                lines.append(node.lineno)
        elif isinstance(node, ast.Compare) and any(
            isinstance(op, ast.Eq | ast.Is) for op in node.ops
        ):
            if any(_library_transcendental(side) for side in [node.left, *node.comparators]):
                lines.append(node.lineno)
    return lines


def test_the_checker_finds_what_it_should() -> None:
    assert bit_compares("np.testing.assert_array_equal(out.values, np.tanh(x))") == [1]
    assert bit_compares("assert torch.equal(y, torch.nn.functional.elu(x))") == [1]
    assert bit_compares("assert y == math.exp(2.0)") == [1]
    assert bit_compares("assert np.array_equal(y, sc.special.expit(x))") == [1]
    assert bit_compares("np.testing.assert_allclose(y, np.tanh(x), rtol=1e-6)") == []
    assert bit_compares("np.testing.assert_array_equal(y, fa.tanh(x))") == []
    assert bit_compares("assert y.dtype == np.tanh(x).dtype") == [1]  # flagged: see below


@pytest.mark.parametrize("path", sorted(TESTS.glob("test_*.py")), ids=lambda p: p.name)
def test_no_bit_compare_with_another_librarys_transcendentals(path: Path) -> None:
    source = path.read_text()
    # Comparing dtypes or shapes is not comparing values.
    found = [
        n for n in bit_compares(source)
        if not any(k in source.splitlines()[n - 1] for k in (").dtype", ").shape"))
    ]
    assert not found, f"{path.name}, lines {found}: compare within the bar instead"


def test_readme_claims_double_double_only_where_the_code_does_it() -> None:
    """Only the NumPy reference forms the cancelling sums near the zeros of gelu',
    silu' and mish' in double-double; the README said so of fastact as a whole
    (issue 15, item 16). Every sentence claiming double-double names the reference, and
    the compiled kernels' raw error there and hardsigmoid's near +-3 are stated."""
    text = (TESTS.parent / "README.md").read_text()
    sentences = [s for s in " ".join(text.split()).split(". ") if "double-double" in s]
    assert sentences
    for sentence in sentences:
        assert "reference" in sentence or "working precision" in sentence, sentence
    assert "hardsigmoid near x = +-3" in " ".join(text.split())
