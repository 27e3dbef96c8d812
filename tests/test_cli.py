"""The ``fastact`` command line (bench, plot, info) and the benchmark cases behind it.

Tiny sizes and one repeat keep this fast; nothing here asserts a time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastact as fa
from fastact._cli import main
from fastact._registry import SPECS
from fastact.bench import report, timing
from fastact.bench.baselines import torch_module

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NAMES = [s.name for s in SPECS]


def _bench_json(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    path = tmp_path / "bench.json"
    status = main(["bench", "--sizes", "1000", "--repeats", "1", "--no-progress",
                   "--json", str(path), *extra])
    assert status == 0
    return json.loads(path.read_text())


def _check_schema(doc: dict) -> None:
    assert doc["schema"] == report.SCHEMA
    for key in ("fastact", "numpy", "python", "platform"):
        assert isinstance(doc[key], str)
    assert doc["torch"] is None or isinstance(doc["torch"], str)
    assert set(doc["cpu"]) >= {"model", "logical_cpus", "usable_cpus", "simd"}
    settings = doc["settings"]
    assert set(settings) == {"activations", "dtypes", "sizes", "threads", "methods",
                             "implementations", "repeats", "quick"}
    for c in doc["copy"]:
        assert set(c) == {"dtype", "elements", "seconds", "ns_per_element"}
        assert c["seconds"] > 0
    fields = {"activation", "method", "dtype", "size", "elements", "shape", "threads",
              "implementation", "kind", "seconds", "ns_per_element", "speedup_vs_numpy",
              "speedup_vs_torch", "copy_fraction", "note"}
    for r in doc["results"]:
        assert set(r) == fields
        assert r["kind"] in ("backend", "baseline")
        assert r["elements"] == int(np.prod(r["shape"]))
        if r["seconds"] is None:
            assert r["note"], "a cell without a time says why"
            assert r["ns_per_element"] is None
        else:
            assert r["seconds"] > 0
            assert r["ns_per_element"] == pytest.approx(r["seconds"] * 1e9 / r["elements"])
            assert r["copy_fraction"] > 0
            if r["method"] in timing.BASELINE_METHODS:
                assert r["speedup_vs_numpy"] > 0
                assert (r["speedup_vs_torch"] is None) == (doc["torch"] is None)
            else:  # no baseline to compare with
                assert r["speedup_vs_numpy"] is None and r["speedup_vs_torch"] is None


def test_bench_json_schema_and_grid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _bench_json(tmp_path, capsys, "--activations", "sigmoid,softmax,expit",
                      "--methods", "forward,backward,backward_y", "--dtypes", "float32,float64")
    _check_schema(doc)
    impls = timing.implementations()
    assert doc["settings"]["activations"] == ["sigmoid", "softmax"]  # expit is sigmoid
    assert doc["settings"]["implementations"] == impls
    # Every (activation, method, dtype, implementation) has exactly one cell.
    cells = {(r["activation"], r["method"], r["dtype"], r["implementation"])
             for r in doc["results"]}
    assert len(cells) == len(doc["results"]) == 2 * 3 * 2 * len(impls)
    by = {(r["activation"], r["method"], r["dtype"], r["implementation"]): r
          for r in doc["results"]}
    # The baselines have no y-backward; every backend serves sigmoid's.
    assert by["sigmoid", "backward_y", "float32", timing.NUMPY_FORMULA]["seconds"] is None
    for backend in fa.available_backends():
        assert by["sigmoid", "backward_y", "float64", backend]["seconds"] is not None
    assert by["softmax", "forward", "float32", "numpy"]["shape"] == [10, 100]
    numpy_formula = by["sigmoid", "forward", "float32", timing.NUMPY_FORMULA]
    assert numpy_formula["speedup_vs_numpy"] == pytest.approx(1.0)


def test_bench_table_shape(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["bench", "--activations", "relu,tanh", "--sizes", "1e3",
                   "--repeats", "1", "--no-progress", "--baselines", "numpy-formula"])
    assert status == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("activation"))
    assert lines[head].split() == ["activation", "method", "dtype", "size", "threads",
                                   "implementation", "ns/element", "vs", "NumPy", "vs",
                                   "torch", "%", "of", "copy"]
    rows = lines[head + 2:]
    backends = fa.available_backends()
    # 2 activations x 2 methods x (backends + the NumPy formula), torch left out.
    assert len(rows) == 2 * 2 * (len(backends) + 1)
    assert "memory roof (np.copyto)" in out
    for row in rows:
        assert row.rstrip().endswith("%"), row  # every measured row has its copy fraction
    shown = [next(w for w in row.split() if w in {*backends, timing.NUMPY_FORMULA, "torch"})
             for row in rows]
    assert shown == [*backends, timing.NUMPY_FORMULA] * 4


def test_bench_quick_with_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "bench.png"
    doc = _bench_json(tmp_path, capsys, "--quick", "--plot", str(png))
    _check_schema(doc)
    assert doc["settings"]["quick"] is True
    assert doc["settings"]["activations"] == report.QUICK["activations"]
    assert doc["settings"]["sizes"] == [1000]  # an explicit option beats --quick's
    assert png.stat().st_size > 1000
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_bench_json_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--activations", "relu", "--sizes", "100", "--repeats", "1",
                 "--methods", "forward", "--no-progress", "--json", "-"]) == 0
    doc = json.loads(capsys.readouterr().out)
    _check_schema(doc)


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "--activations", "nosuch"],
        ["bench", "--backends", "nosuch"],
        ["bench", "--baselines", "nosuch"],
        ["bench", "--methods", "sideways"],
        ["bench", "--dtypes", "int8"],
        ["bench", "--sizes", "0"],
        ["bench", "--threads", "0"],
        ["plot", "relu", "-o", "x.png", "--param", "negative_slope=0.2"],
        ["plot", "relu", "-o", "x.png", "--range", "1", "-1"],
        ["plot", "leaky_relu", "-o", "x.png", "--param", "negative_slope"],
        ["plot", "softplus", "-o", "x.png", "--param", "beta=0"],
        [],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code == 2
    assert "error" in capsys.readouterr().err


def test_plot_writes_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "plot.png"
    status = main(["plot", "gelu", "leaky_relu", "softmax", "prelu", "-o", str(png),
                   "--param", "negative_slope=0.2", "--param", "approximate=tanh",
                   "--points", "201"])
    assert status == 0
    assert png.stat().st_size > 5000
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert str(png) in capsys.readouterr().out


def test_python_m_fastact_info(tmp_path: Path) -> None:
    # A subprocess from a directory outside the repository: the installed package,
    # through __main__.py, as a user runs it.
    done = subprocess.run([sys.executable, "-m", "fastact", "info"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith(f"fastact {fa.__version__} ")
    for label in ("python ", "cpu: ", "simd: ", "backends: ", "threads: ", "compiled: ",
                  "compile flags: ", "numba: ", "numba-cuda: "):
        assert any(line.startswith(label) for line in out.splitlines()), label
    backends_line = next(line for line in out.splitlines() if line.startswith("backends: "))
    for backend in fa.available_backends():
        assert backend in backends_line


def test_info_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["fastact"] == fa.__version__
    assert data["backends"] == fa.available_backends()
    assert data["threads"]["fastact"] == fa.get_num_threads()
    assert isinstance(data["compile"]["openmp"], bool)
    assert data["cpu"]["simd"]["level"]
    assert isinstance(data["cuda"]["available"], bool)
    assert (data["torch"] is None) == (torch_module() is None)


def test_simd_level_reads_cpuinfo_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastact.bench import system

    v3 = "fpu sse2 cx16 lahf_lm popcnt sse4_1 sse4_2 ssse3 avx avx2 bmi1 bmi2 f16c fma abm "
    v3 += "movbe xsave"
    monkeypatch.setattr(system, "_cpuinfo", lambda: {"flags": v3})
    assert system.simd_level()["level"] == "x86-64-v3"
    monkeypatch.setattr(system, "_cpuinfo", lambda: {"flags": v3 + " avx512f avx512bw "
                                                     "avx512cd avx512dq avx512vl"})
    level = system.simd_level()
    assert level["level"] == "x86-64-v4" and "avx512f" in level["features"]
    monkeypatch.setattr(system, "_cpuinfo", lambda: {"features": "fp asimd sve"})
    assert system.simd_level()["level"] == "SVE"
    monkeypatch.setattr(system, "_cpuinfo", dict)  # no /proc/cpuinfo: NumPy's view
    assert system.simd_level()["source"] in ("numpy", "none")


@pytest.mark.parametrize("name", NAMES)
def test_every_case_prepares_and_runs(name: str) -> None:
    """The whole asv matrix at a tiny size: each case runs, or says why it cannot."""
    spec = fa._registry.lookup(name)
    jacobians = ("derivative", "value_and_derivative")
    for impl in timing.implementations():
        for method in timing.METHODS:
            try:
                prepared = timing.prepare(name, impl, method, np.float32, 64)
            except NotImplementedError as why:
                assert str(why)
                if impl == "numpy":  # the reference serves everything that exists
                    assert (
                        (method == "backward_y" and spec.y_backward_refusal({}) is not None)
                        or (spec.kind == "axis" and method in jacobians)
                        or (method == "forward_inplace" and spec.halves_axis)
                    ), (method, why)
                elif impl in (timing.NUMPY_FORMULA, timing.TORCH):
                    assert method not in timing.BASELINE_METHODS or (
                        spec.kind == "axis" and method in jacobians
                    ), (impl, method, why)
                continue
            if prepared.reset is not None:
                prepared.reset()
            prepared.call()
            assert prepared.elements == int(np.prod(timing.input_shape(spec, 64)))


def test_median_seconds_counts_calls() -> None:
    calls = []
    prepared = timing.Prepared(lambda: calls.append(1), None, 1)
    assert timing.median_seconds(prepared, repeats=3, min_sample=0.0) >= 0
    assert len(calls) == 1 + 3  # the warm-up, then one call per sample at min_sample=0
    with pytest.raises(ValueError, match="repeats"):
        timing.median_seconds(prepared, repeats=0)


def test_set_threads_reaches_fastact_and_restores() -> None:
    before = fa.get_num_threads()
    try:
        timing.set_threads(1)
        assert fa.get_num_threads() == 1
        torch = torch_module()
        if torch is not None:
            assert torch.get_num_threads() == 1
    finally:
        timing.set_threads(before)


def test_bench_without_tqdm(monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    # tqdm comes with the bench extra; without it the run goes on, bar-less.
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` raise ImportError
    assert main(["bench", "--activations", "relu", "--sizes", "100", "--repeats", "1",
                 "--methods", "forward", "--baselines", "none"]) == 0
    out = capsys.readouterr().out
    assert len([line for line in out.splitlines() if " relu " in f" {line} "]) == 1
