"""Benchmarking fastact against what a user would otherwise write.

* :mod:`fastact.bench.baselines`: the one table of baselines, keyed by registry
  name: the NumPy formula of the tutorials (forward, and backward as grad times the
  derivative formula) and PyTorch's function (backward through autograd) for every
  activation.
* :mod:`fastact.bench.timing`: the measuring machinery (median over repeats, ns per
  element, the ``np.copyto`` memory roof, thread count, preallocated ``out=``) shared
  by ``fastact bench``, the asv suite in ``benchmarks/`` and the pytest-benchmark
  files.
* :mod:`fastact.bench.report`: the table, JSON document and bar chart of
  ``fastact bench``.
* :mod:`fastact.bench.system`: what ``fastact info`` reports (CPU SIMD level,
  compile flags, numba and CUDA status).

Nothing below :mod:`fastact._api` imports this package: it sits above the public API
and uses only it, the registry and :func:`fastact.available_backends`.
"""

from __future__ import annotations

__all__: list[str] = []
