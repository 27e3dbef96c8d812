"""Tests of the compiled module fastact._kernels._runtime (the installed package).

The reference below is an independent pure-Python big-int implementation of
the rrelu hash, written from its definition (not from the C code).
"""

from __future__ import annotations

import importlib.machinery

import numpy as np
import pytest

from fastact._kernels import _runtime

M = 2**64
GOLDEN = 0x9E3779B97F4A7C15

SEEDS = [0, 1, 2**63, 2**64 - 1]
STARTS = [0, 12345, 2**40]


def _mix64(z: int) -> int:
    z %= M
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % M
    return z ^ (z >> 31)


def _reference_u(seed: int, i: int) -> float:
    key = _mix64(seed % M)
    z = _mix64((key + (i + 1) * GOLDEN) % M)
    return (z >> 11) * 2.0**-53


def _reference(seed: int, start: int, n: int) -> np.ndarray:
    return np.array([_reference_u(seed, start + k) for k in range(n)], dtype=np.float64)


def _uniform(seed: int, start: int, n: int, num_threads: int = 1) -> np.ndarray:
    out = np.full(n, np.nan)
    _runtime.rrelu_uniform(seed, start, out, num_threads)
    return out


def test_module_is_compiled() -> None:
    assert _runtime.__file__ is not None
    assert _runtime.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def test_reference_matches_splitmix64_known_answer() -> None:
    # seed 0 -> key = mix64(0) = 0, so z_0 is SplitMix64's first output from state 0.
    assert _mix64(0) == 0
    assert _mix64(GOLDEN) == 0xE220A8397B1DCDAF
    assert _reference_u(0, 0) == (0xE220A8397B1DCDAF >> 11) * 2.0**-53


@pytest.mark.parametrize("start", STARTS)
@pytest.mark.parametrize("seed", SEEDS)
def test_rrelu_uniform_matches_bigint_reference(seed: int, start: int) -> None:
    n = 2000
    np.testing.assert_array_equal(_uniform(seed, start, n), _reference(seed, start, n))


@pytest.mark.parametrize("seed", SEEDS)
def test_rrelu_uniform_numpy_integer_seed(seed: int) -> None:
    n = 100
    expected = _reference(seed, 7, n)
    np.testing.assert_array_equal(_uniform(np.uint64(seed), np.int64(7), n), expected)


def test_rrelu_uniform_index_wraps_modulo_2_64() -> None:
    n = 16
    start = M - 5  # indices cross 2**64 (and i + 1 reaches 2**64 at k = 4)
    np.testing.assert_array_equal(_uniform(3, start, n), _reference(3, start, n))
    np.testing.assert_array_equal(_uniform(3, M + 11, n), _uniform(3, 11, n))


@pytest.mark.parametrize("num_threads", [2, 3])
@pytest.mark.parametrize("seed", [0, 2**64 - 1])
def test_rrelu_uniform_independent_of_thread_count(seed: int, num_threads: int) -> None:
    n = 100_003
    np.testing.assert_array_equal(
        _uniform(seed, 12345, n, num_threads=num_threads), _uniform(seed, 12345, n)
    )


@pytest.mark.parametrize("num_threads", [1, 2])
def test_rrelu_uniform_depends_only_on_index(num_threads: int) -> None:
    full = _uniform(42, 1000, 500, num_threads)
    out = np.full(600, -1.0)
    _runtime.rrelu_uniform(42, 1100, out[100:500], num_threads)
    np.testing.assert_array_equal(out[100:500], full[100:])
    assert (out[:100] == -1.0).all()
    assert (out[500:] == -1.0).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_rrelu_uniform_values_in_unit_interval(seed: int) -> None:
    u = _uniform(seed, 2**40, 200_000, num_threads=2)
    assert u.min() >= 0.0
    assert u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.01
    assert len(np.unique(u)) > 199_000


def test_rrelu_uniform_different_seeds_differ() -> None:
    a, b = _uniform(0, 0, 1000), _uniform(1, 0, 1000)
    assert not np.any(a == b)


def test_rrelu_uniform_empty_out() -> None:
    out = np.empty(0)
    _runtime.rrelu_uniform(1, 0, out, 2)
    assert out.shape == (0,)


@pytest.mark.parametrize("seed", [-1, 2**64, 2**100, 1.5, 1.0, "1", None, True])
def test_rrelu_uniform_bad_seed(seed: object) -> None:
    with pytest.raises(ValueError, match="seed"):
        _runtime.rrelu_uniform(seed, 0, np.empty(4))  # type: ignore[arg-type]


@pytest.mark.parametrize("start", [-1, -(2**70), 2.0, "0", None])
def test_rrelu_uniform_bad_start(start: object) -> None:
    with pytest.raises(ValueError, match="start"):
        _runtime.rrelu_uniform(0, start, np.empty(4))  # type: ignore[arg-type]


@pytest.mark.parametrize("num_threads", [0, -1])
def test_rrelu_uniform_bad_num_threads(num_threads: int) -> None:
    with pytest.raises(ValueError, match="num_threads"):
        _runtime.rrelu_uniform(0, 0, np.empty(4), num_threads)


@pytest.mark.parametrize(
    "out",
    [
        np.empty(4, dtype=np.float32),  # wrong dtype
        np.empty(8)[::2],  # not contiguous
        np.empty((2, 2)),  # not 1-d
    ],
)
def test_rrelu_uniform_bad_out(out: np.ndarray) -> None:
    with pytest.raises(ValueError):
        _runtime.rrelu_uniform(0, 0, out)


def test_rrelu_uniform_read_only_out() -> None:
    out = np.zeros(4)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _runtime.rrelu_uniform(0, 0, out)
    assert (out == 0).all()


def test_rrelu_uniform_out_none() -> None:
    with pytest.raises(TypeError):
        _runtime.rrelu_uniform(0, 0, None)  # type: ignore[arg-type]


def test_compile_info() -> None:
    info = _runtime.compile_info()
    assert set(info) >= {
        "openmp",
        "openmp_version",
        "openmp_disabled_by_env",
        "extra_compile_args",
        "extra_link_args",
        "compiler",
        "cython_version",
    }
    assert info["openmp"] is _runtime.openmp_enabled()
    flags = info["extra_compile_args"].split()
    assert "-ffast-math" not in flags
    assert not any(f.startswith("-march") for f in flags)
    if info["compiler"] != "unknown" and not info["compiler"].endswith("cl.exe"):
        assert "-O3" in flags
        assert "-fno-math-errno" in flags
    if info["openmp"]:
        assert info["openmp_version"] > 0
        assert not info["openmp_disabled_by_env"]
    else:
        assert info["openmp_version"] == 0
    assert _runtime.compile_info() is not info  # a fresh dict each call


def test_openmp_enabled() -> None:
    # gcc on the project's machines has OpenMP: a build without it is a bug
    # in setup.py's detection, unless FASTACT_DISABLE_OPENMP=1 asked for it.
    if _runtime.compile_info()["openmp_disabled_by_env"]:
        assert _runtime.openmp_enabled() is False
        pytest.skip("built with FASTACT_DISABLE_OPENMP set")
    assert _runtime.openmp_enabled() is True
    assert "-fopenmp" in _runtime.compile_info()["extra_compile_args"].split()


def test_omp_num_procs() -> None:
    n = _runtime.omp_num_procs()
    assert isinstance(n, int)
    assert n >= 1
