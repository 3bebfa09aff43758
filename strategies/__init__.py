"""Deprecated import name of :mod:`ofa_bench_strategies` (the built-in strategies), kept for ofa-bench 0.1.

``import strategies.x`` returns the module ``ofa_bench_strategies.x`` itself and warns once; the name goes away
in 0.2, since a top-level ``strategies`` can clash with another installed distribution.
"""

from ofa_bench.deprecation import alias_package

alias_package(__name__, "ofa_bench_strategies", removed_in="0.2")
