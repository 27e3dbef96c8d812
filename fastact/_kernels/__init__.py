"""fastact's compiled (Cython + OpenMP) kernels.

Each ``*.pyx`` file in this folder is built into an extension module by
setup.py (which holds all compiler flags); each has a ``.pyi`` stub next to it
for mypy.  ``_runtime`` reports how the modules were built
(``openmp_enabled()``, ``compile_info()``) and holds helpers shared by all
backends (``rrelu_uniform``).

This package imports nothing at import time: import the submodules directly,
e.g. ``from fastact._kernels import _runtime``.
"""
