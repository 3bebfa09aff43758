"""One search: the ask/tell loop a strategy runs under a budget, its run log, seed streams and engines.

:func:`run_search` runs one strategy against an evaluation function (:func:`evaluator_fn` builds one
from a benchmark's :class:`~ofa_bench.evaluate.Evaluator`, :class:`PredictorEvaluate` from a fitted
predictor), logging every evaluation in order with its cost (:class:`RunLog`, read back with
:func:`read_log`); :mod:`~ofa_bench.search.streams` spawns every random stream from one seed and
:mod:`~ofa_bench.search.engines` fans work out over joblib, Dask or Ray.
"""

from __future__ import annotations

from ofa_bench.search.loop import EvaluateFn, evaluator_fn, run_search
from ofa_bench.search.predictor_evaluate import PredictorEvaluate
from ofa_bench.search.runlog import RunLog, read_log

__all__ = ["EvaluateFn", "PredictorEvaluate", "RunLog", "evaluator_fn", "read_log", "run_search"]
