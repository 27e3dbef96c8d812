"""fastact's asv benchmark suite (see bench_activations.py; asv.conf.json at the root).

pytest_bench/ holds the pytest-benchmark files; it has no ``__init__.py``, so asv's
discovery (which imports packages only) never imports pytest code.
"""
