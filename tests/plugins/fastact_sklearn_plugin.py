"""pytest plugin: run scikit-learn's own MLP tests with ``fastact.sklearn`` installed.

Load it with ``-p fastact_sklearn_plugin`` (this directory on ``PYTHONPATH``)::

    PYTHONPATH=tests/plugins pytest -p fastact_sklearn_plugin \\
        --pyargs sklearn.neural_network.tests.test_mlp

Every replacement function of ``fastact.sklearn`` is wrapped in a counting spy before
the adapter is installed; at the end of the session the counts are printed and, if
``FASTACT_SPY_REPORT`` names a file, written there as JSON, so a test can check that
fastact's functions (not scikit-learn's) really ran. With ``FASTACT_SPY_REQUIRE=1``
the session fails unless every replaced forward and derivative ran at least once (the
whole test_mlp.py exercises all of them; exp only where scikit-learn has it).
"""

from __future__ import annotations

import functools
import json
import os
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

import fastact.sklearn as fsk

CALLS: Counter[str] = Counter()


def _spy(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def spy(*args: Any) -> Any:
        CALLS[label] += 1
        return function(*args)

    return spy


def pytest_configure(config: pytest.Config) -> None:
    for key, function in fsk.ACTIVATIONS.items():
        fsk.ACTIVATIONS[key] = _spy(f"ACTIVATIONS[{key}]", function)
    for key, function in fsk.DERIVATIVES.items():
        fsk.DERIVATIVES[key] = _spy(f"DERIVATIVES[{key}]", function)
    fsk.install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("FASTACT_SPY_REQUIRE") != "1":
        return
    required = [f"ACTIVATIONS[{k}]" for k in fsk.ACTIVATIONS if k != "exp"]
    required += [f"DERIVATIVES[{k}]" for k in fsk.DERIVATIVES]
    missing = [label for label in required if CALLS[label] == 0]
    if missing:
        print(f"\nfastact_sklearn_plugin: never called: {missing}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    fsk.uninstall()
    report = os.environ.get("FASTACT_SPY_REPORT")
    if report:
        with open(report, "w") as f:
            json.dump(dict(CALLS), f)


def pytest_report_header(config: pytest.Config) -> str:
    return "fastact.sklearn installed: scikit-learn's MLP activations run through fastact"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(f"fastact.sklearn calls: {dict(sorted(CALLS.items()))}")
