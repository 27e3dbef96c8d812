from typing import Any

import numpy as np

UFUNCS: dict[str, np.ufunc]
BLOCK: int
FA_PARALLEL_MIN_DEFAULT: int

def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def set_parallel_min(n: int) -> None: ...
def get_parallel_min() -> int: ...
def rrelu_training(
    method: str, seed: int, lower: float, upper: float, *arrays: np.ndarray[Any, Any]
) -> None: ...
def run_periodic(
    name: str,
    inputs: tuple[np.ndarray[Any, Any], ...],
    bias_arg: int,
    period: int,
    values: tuple[float, ...],
    outputs: tuple[np.ndarray[Any, Any], ...],
    bias_grad: np.ndarray[Any, Any] | None = None,
) -> None: ...
