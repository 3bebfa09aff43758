"""Built-in search strategies, declared under the ``ofa_bench.strategies`` entry-point group.

Reach them through :mod:`ofa_bench.plugins.registry` (``create("strategy", "random")``), not by import.
"""
