"""Evaluating accuracy predictors on an archive of measured archs (``ofa-bench predictors evaluate``).

Read an archive (:func:`read_archive`), fit each predictor on nested training samples of several
sizes and seeds and score it on one fixed held-out set (:func:`evaluate_predictors`, scores from
:func:`ofa_bench.metrics.predictors.score`), and summarise as median and IQR over seeds
(:func:`summarise`). :func:`ofa_bench.report.predictors.write_results` writes the tables and the
tau plot; :func:`ofa_bench.benchmark.noise.remeasure` and :func:`~ofa_bench.benchmark.noise.noise_ceiling`
measure how far the benchmark's own noise lets a predictor go.
"""

from __future__ import annotations

from ofa_bench.predictor_eval.archive import Archive, read_archive
from ofa_bench.predictor_eval.harness import Split, check_predictors, evaluate_predictors, split, summarise

__all__ = ["Archive", "Split", "check_predictors", "evaluate_predictors", "read_archive", "split", "summarise"]
