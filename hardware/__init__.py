"""Built-in hardware backends, declared under the ``ofa_bench.hardware`` entry-point group.

Reach them through :mod:`ofa_bench.registry` (``create("hardware", "macs")``), not by import.
"""
