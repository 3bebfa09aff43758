"""Evaluating accuracy predictors on an archive of measured archs (``ofa-bench predictors evaluate``).

Read an archive (:func:`read_archive`), fit each predictor on nested training samples of several
sizes and seeds and score it on one fixed held-out set (:func:`evaluate_predictors`), summarise as
median and IQR over seeds (:func:`summarise`), write CSV, JSON and a tau plot
(:func:`write_results`), and measure the benchmark's noise ceiling (:func:`remeasure`,
:func:`noise_ceiling`).
"""

from __future__ import annotations

from ofa_bench.predictor_eval.archive import Archive, read_archive
from ofa_bench.predictor_eval.harness import Split, check_predictors, evaluate_predictors, split, summarise
from ofa_bench.predictor_eval.metrics import METRICS, score, top_precision
from ofa_bench.predictor_eval.noise import Remeasurement, noise_ceiling, remeasure
from ofa_bench.predictor_eval.report import FILES, plot_tau, write_results

__all__ = [
    "FILES",
    "METRICS",
    "Archive",
    "Remeasurement",
    "Split",
    "check_predictors",
    "evaluate_predictors",
    "noise_ceiling",
    "plot_tau",
    "read_archive",
    "remeasure",
    "score",
    "split",
    "summarise",
    "top_precision",
    "write_results",
]
