"""examples/compare_activations.py runs end to end (one epoch, every activation)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "compare_activations.py"


def _load():
    spec = importlib.util.spec_from_file_location("compare_activations", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_one_epoch_of_every_activation(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    example = _load()
    png, results = tmp_path / "curves.png", tmp_path / "runs.json"
    runs = example.main(["--epochs", "1", "--plot", str(png), "--json", str(results)])
    printed = capsys.readouterr().out
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    assert len(json.loads(results.read_text())) == 2 * len(example.ACTIVATIONS)
    by = {(r.activation, r.variant): r for r in runs}
    for name in example.ACTIVATIONS:
        assert f"| {name} |" in printed
        fast, numpy = by[(name, "fastact")], by[(name, "numpy")]
        # Same weights, same batches: the two variants differ only by the rounding of
        # the activation (float32), so their losses agree closely.
        assert np.isfinite(fast.losses[0]) and fast.losses[0] < 2.5  # below ln(10) + 0.2
        np.testing.assert_allclose(fast.losses, numpy.losses, rtol=1e-3)
        assert 0.0 <= fast.test_accuracy <= 1.0 and fast.seconds_per_epoch > 0
        assert 0 < fast.activation_seconds_per_epoch < fast.seconds_per_epoch


def test_unknown_activation_fails_before_training() -> None:
    with pytest.raises(ValueError, match="unknown activation"):
        _load().main(["--epochs", "1", "--activations", "relu,nope", "--plot", ""])
