"""Deprecated import name of :mod:`ofa_bench_hardware` (the built-in hardware), kept for ofa-bench 0.1.

``import hardware.x`` returns the module ``ofa_bench_hardware.x`` itself and warns once; the name goes away
in 0.2, since a top-level ``hardware`` can clash with another installed distribution.
"""

from ofa_bench.deprecation import alias_package

alias_package(__name__, "ofa_bench_hardware", removed_in="0.2")
