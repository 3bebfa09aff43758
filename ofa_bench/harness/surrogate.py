"""Deprecated name of :mod:`ofa_bench.harness.predictor_evaluate`, kept for ofa-bench 0.1.

The module was renamed for what it does, since "surrogate" also names the suite oracle
(``oracle.mode: surrogate``) and a strategy (docs/glossary.md).
"""

from ofa_bench.deprecation import warn_renamed
from ofa_bench.harness.predictor_evaluate import PredictorEvaluate

__all__ = ["PredictorEvaluate"]

warn_renamed(__name__, "ofa_bench.harness.predictor_evaluate", removed_in="0.2")
