"""multiprocessing after threaded kernels: fork and spawn pools finish with right results.

A child forked after its parent ran an OpenMP parallel region hangs in libgomp when it
starts one itself (measured here: every kernel above 2**15 elements). fastact's fork
handler (fastact._threads) makes such a child run serially. Each pool runs in a
subprocess with a timeout, so that a hang fails the test instead of blocking CI.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# A few seconds suffice (measured: ~1.5 s for fork, ~4 s for spawn); the rest is
# margin for a loaded machine. A hang is what the timeout catches.
TIMEOUT = 120

SCRIPT = textwrap.dedent(
    """
    import multiprocessing as mp
    import sys
    import warnings

    import numpy as np

    import fastact as fa

    BACKEND, METHOD = sys.argv[1], sys.argv[2]
    # 2**17 elements: above the compiled backends' thread threshold (2**15).
    X = np.linspace(-6, 6, 1 << 17).astype(np.float32)
    ROWS = X.reshape(256, 512)


    def results():
        with fa.use_backend(BACKEND):
            return [
                fa.gelu(X),
                fa.sigmoid.backward(X, X),
                fa.rrelu(X, training=True, seed=7),
                fa.prelu.backward(X, X, weight=np.float32(0.25))[1],
                fa.softmax(ROWS, axis=-1),
                fa.log_softmax(ROWS, axis=0),
                fa.softmax.backward(ROWS, ROWS, axis=-1),
            ]


    def child(_):
        before = fa.get_num_threads()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fa.set_num_threads(2)
        after = fa.get_num_threads()
        return before, after, [str(w.message) for w in caught], results()


    if __name__ == "__main__":
        fa.set_num_threads(2)
        expected = results()  # the parent runs threaded kernels first
        if "cython" in fa.available_backends():  # libgomp's pool, whatever BACKEND is
            fa.gelu(X, backend="cython")
        with mp.get_context(METHOD).Pool(2) as pool:
            answers = pool.map(child, range(4))
        for before, after, messages, got in answers:
            if METHOD == "fork":
                assert before == 1 and after == 1, (before, after)
                assert any("fork" in m and "spawn" in m for m in messages), messages
            else:
                assert after == 2 and not messages, (after, messages)
            for g, e in zip(got, expected, strict=True):
                np.testing.assert_allclose(g, e, rtol=2e-6, atol=1e-30)
        print("OK", len(answers))
    """
)


def _run(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run a Python script in its own process group; on a hang, kill the whole group
    (a hung pool's workers too) and fail."""
    process = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=cwd, start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"{args[0]} {args[1:]} hung: killed after {TIMEOUT} s")
    return process.returncode, stdout, stderr


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pool_after_threaded_kernels(method, backend, tmp_path: Path) -> None:
    script = tmp_path / "pool.py"
    script.write_text(SCRIPT)
    returncode, stdout, stderr = _run([str(script), backend, method], tmp_path)
    assert returncode == 0, stderr
    assert stdout.split() == ["OK", "4"], stdout


def test_forked_child_of_an_unthreaded_parent_is_serial_too(tmp_path: Path) -> None:
    """The rule does not depend on what the parent ran: every forked child is serial."""
    script = tmp_path / "bare_fork.py"
    script.write_text(
        textwrap.dedent(
            """
            import os
            import fastact as fa
            fa.set_num_threads(2)
            pid = os.fork()
            if pid == 0:
                os._exit(0 if fa.get_num_threads() == 1 else 3)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0, status
            assert fa.get_num_threads() == 2  # the parent keeps its threads
            print("OK")
            """
        )
    )
    returncode, stdout, stderr = _run([str(script)], tmp_path)
    assert returncode == 0, stderr
    assert stdout.strip() == "OK"

