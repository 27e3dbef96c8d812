"""pytest plugin: run thinc's own tests with fastact's ``FastactOps`` as thinc's NumPy ops.

Load it with ``-p fastact_thinc_plugin`` (this directory on ``PYTHONPATH``)::

    PYTHONPATH=tests/plugins pytest -p fastact_thinc_plugin \\
        --pyargs thinc.tests.backends.test_ops

Before the test modules are imported, ``thinc.api.NumpyOps`` (the name thinc's tests
import and instantiate: ``NUMPY_OPS = NumpyOps()``), the registry's "NumpyOps" entry
(``get_ops("numpy")``, ``get_ops("cpu")``, ``use_ops("numpy")``) and the current ops
become a subclass of FastactOps that differs from it only in answering to thinc's
name "numpy" (the tests check ``ops.name == "numpy"``). So every test that runs on
NumpyOps runs FastactOps' activation methods. Spies count the calls of FastactOps'
methods and of those that reached fastact (float32/float64 arrays); with
``FASTACT_SPY_REQUIRE=1`` the session fails if none reached fastact, and
``FASTACT_SPY_REPORT`` names a JSON file for the counts.
"""

from __future__ import annotations

import functools
import json
import os
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import thinc.api
import thinc.backends

import fastact.thinc as fth

CALLS: Counter[str] = Counter()
_SAVED: dict[str, Any] = {}


def _spy(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def spy(*args: Any, **kwargs: Any) -> Any:
        CALLS[name] += 1
        return method(*args, **kwargs)

    return spy


class FastactOpsAsNumpy(fth.FastactOps):
    """FastactOps under thinc's NumpyOps name (for thinc's own tests only)."""

    name = "numpy"


def _native_spy(*arrays: Any) -> bool:
    result = _SAVED["_native"](*arrays)
    CALLS["fastact" if result else "passed-on"] += 1
    return result


def pytest_configure(config: pytest.Config) -> None:
    for attr, value in vars(fth.FastactOps).items():
        if callable(value) and not attr.startswith("_"):
            setattr(FastactOpsAsNumpy, attr, _spy(attr, value))
    _SAVED["_native"] = fth._native
    fth._native = _native_spy
    _SAVED["api.NumpyOps"] = thinc.api.NumpyOps
    _SAVED["backends.NumpyOps"] = thinc.backends.NumpyOps
    _SAVED["registry"] = thinc.api.registry.ops.get("NumpyOps")
    thinc.api.NumpyOps = FastactOpsAsNumpy
    thinc.backends.NumpyOps = FastactOpsAsNumpy
    thinc.api.registry.ops.register("NumpyOps", func=FastactOpsAsNumpy)
    thinc.api.set_current_ops(FastactOpsAsNumpy())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("FASTACT_SPY_REQUIRE") == "1" and CALLS["fastact"] == 0:
        print("\nfastact_thinc_plugin: no FastactOps method reached fastact")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    if not _SAVED:
        return
    fth._native = _SAVED["_native"]
    thinc.api.NumpyOps = _SAVED["api.NumpyOps"]
    thinc.backends.NumpyOps = _SAVED["backends.NumpyOps"]
    thinc.api.registry.ops.register("NumpyOps", func=_SAVED["registry"])
    report = os.environ.get("FASTACT_SPY_REPORT")
    if report:
        with open(report, "w") as f:
            json.dump(dict(CALLS), f)


def pytest_report_header(config: pytest.Config) -> str:
    return "fastact_thinc_plugin: thinc's NumpyOps is fastact.thinc.FastactOps"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(f"FastactOps calls: {dict(sorted(CALLS.items()))}")
