from collections.abc import Callable

import numpy as np

GUFUNCS: dict[str, np.ufunc]

def set_num_threads(n: int) -> None: ...
def kernel(activation: str, method: str) -> Callable[..., None] | None: ...
