"""multiprocessing after threaded kernels: fork, spawn and forkserver children use threads.

fastact's pool (fastact/_kernels/fa_pool.h) gives a forked child a fresh pool
(pthread_atfork): the child's threaded calls start new workers, where GNU OpenMP's
pool hung (every kernel above 2**15 elements, measured). The child's workers are
checked through ``_runtime.pool_info()``. Each run is a subprocess with a timeout, so
that a hang fails the test instead of blocking CI.
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
    from fastact._kernels import _runtime

    BACKEND, METHOD = sys.argv[1], sys.argv[2]
    # Twice the larger of the two backends' thread thresholds (read, not assumed).
    from fastact._kernels import _ufuncs

    from fastact._backends import numba_backend

    n = 2 * max(_ufuncs.get_parallel_min(), numba_backend.PARALLEL_MIN)
    X = np.linspace(-6, 6, n).astype(np.float32)
    ROWS = X.reshape(256, -1)


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
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fa.set_num_threads(2)
        after = fa.get_num_threads()
        got = results()
        with fa.use_backend(BACKEND):  # above every backend's thread threshold
            fa.gelu(np.zeros(1 << 20, np.float32))
        return after, [str(w.message) for w in caught], got, _runtime.pool_info()


    if __name__ == "__main__":
        fa.set_num_threads(2)
        expected = results()  # the parent runs threaded kernels first
        if "cython" in fa.available_backends():  # libgomp's pool, whatever BACKEND is
            fa.gelu(X, backend="cython")
        with mp.get_context(METHOD).Pool(2) as pool:
            answers = pool.map(child, range(4))
        for after, messages, got, info in answers:
            assert after == 2 and not messages, (after, messages)
            # The child's own pool ran its threaded calls (a fresh one after fork).
            if BACKEND in ("cython", "numba"):
                assert info["workers"] >= 1 and info["calls"] >= 1, info
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


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_pool_after_threaded_kernels(method, backend, tmp_path: Path) -> None:
    script = tmp_path / "pool.py"
    script.write_text(SCRIPT)
    returncode, stdout, stderr = _run([str(script), backend, method], tmp_path)
    assert returncode == 0, stderr
    assert stdout.split() == ["OK", "4"], stdout


def test_forked_child_gets_a_fresh_pool(tmp_path: Path) -> None:
    """os.fork() after the parent's pool ran (and while its workers sleep): the child
    starts its own workers, gets the parent's bits, and the parent keeps its pool."""
    script = tmp_path / "bare_fork.py"
    script.write_text(
        textwrap.dedent(
            """
            import os
            import numpy as np
            import fastact as fa
            from fastact._kernels import _runtime
            fa.set_num_threads(2)
            x = np.linspace(-6, 6, 1 << 18).astype(np.float32)
            want = fa.gelu(x, backend="cython")
            assert _runtime.pool_info()["workers"] == 1
            pid = os.fork()
            if pid == 0:
                ok = fa.get_num_threads() == 2 and _runtime.pool_info()["workers"] == 0
                ok = ok and all(
                    np.array_equal(fa.gelu(x, backend="cython"), want) for _ in range(20)
                )
                ok = ok and _runtime.pool_info()["workers"] == 1
                os._exit(0 if ok else 3)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0, status
            assert fa.get_num_threads() == 2  # the parent keeps its threads
            assert np.array_equal(fa.gelu(x, backend="cython"), want)
            print("OK")
            """
        )
    )
    returncode, stdout, stderr = _run([str(script)], tmp_path)
    assert returncode == 0, stderr
    assert stdout.strip() == "OK"
