"""Type stub of the compiled module fastact._kernels._runtime (see _runtime.pyx)."""

from collections.abc import Callable
from typing import SupportsIndex, TypedDict

import numpy as np
import numpy.typing as npt

class CompileInfo(TypedDict):
    openmp: bool
    openmp_version: int
    openmp_disabled_by_env: bool
    extra_compile_args: str
    extra_link_args: str
    compiler: str
    cython_version: str

def openmp_enabled() -> bool: ...
def omp_num_procs() -> int: ...
def compile_info() -> CompileInfo: ...
def rrelu_uniform(
    seed: SupportsIndex,
    start: SupportsIndex,
    out: npt.NDArray[np.float64],
    num_threads: int = 1,
) -> None: ...

class PoolInfo(TypedDict):
    workers: int
    calls: int
    serial_busy: int
    worker_chunks: int
    wakeups: int
    caller_sleeps: int
    bad_calls: int
    adaptive_serial: int
    wait_us: int

MAX_THREADS: int

def pool_info() -> PoolInfo: ...
def run_chunks(n_chunks: int, threads: int, fn: Callable[[int], object]) -> None: ...
def _set_pool_worker_delay(microseconds: int) -> None: ...
