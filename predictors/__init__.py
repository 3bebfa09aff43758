"""Deprecated import name of :mod:`ofa_bench_predictors` (the built-in predictors), kept for ofa-bench 0.1.

``import predictors.x`` returns the module ``ofa_bench_predictors.x`` itself and warns once; the name goes away
in 0.2, since a top-level ``predictors`` can clash with another installed distribution.
"""

from ofa_bench.deprecation import alias_package

alias_package(__name__, "ofa_bench_predictors", removed_in="0.2")
