"""fastact/bench/frameworks.py runs and reports what it says (tiny sizes; no timing is
asserted: the machine is shared)."""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("thinc")

import sklearn.neural_network._base as skbase

from fastact.bench import frameworks


def test_sklearn_fits_reports_both_sides_and_restores_the_tables() -> None:
    before = dict(skbase.ACTIVATIONS), dict(skbase.DERIVATIVES)
    rows = frameworks.sklearn_fits(epochs=1, repeats=1, quick=True, hidden=(8,))
    assert (dict(skbase.ACTIVATIONS), dict(skbase.DERIVATIVES)) == before
    assert {r["activation"] for r in rows} == {"relu", "tanh", "logistic"}
    assert {r["data"] for r in rows} == {"digits", "synthetic-2000x100"}
    for r in rows:
        for side in ("sklearn", "fastact"):
            assert 0 < r[side]["activation_s"] < r[side]["fit_s"]
            assert 0 < r[side]["share"] < 1
        # the same fit either way: fastact's activations agree within rounding
        assert r["fastact"]["train_accuracy"] == pytest.approx(
            r["sklearn"]["train_accuracy"], abs=0.01
        )


def test_thinc_ops_times_every_case() -> None:
    rows = frameworks.thinc_ops(shape=(4, 8), repeats=1)
    assert [r["activation"] for r in rows] == ["gelu", "swish", "mish", "relu"]
    assert all(r["numpy_ops_ms"] > 0 and r["fastact_ops_ms"] > 0 for r in rows)


def test_fused_bias_times_every_case_and_leaves_nothing_behind(capsys) -> None:
    rows = frameworks.fused_bias(shape=(6, 5), repeats=1, names=("relu", "gelu"))
    assert [r["activation"] for r in rows] == ["relu", "gelu"]
    for r in rows:
        for key in ("copy", "fused", "two_pass", "backward_fused", "backward_three_pass"):
            assert r[f"{key}_ms"] > 0
        assert r["forward_speedup"] == r["two_pass_ms"] / r["fused_ms"]
    frameworks._print_bias(rows)
    assert "fused bias act(x + b), (6, 5) float32" in capsys.readouterr().out
