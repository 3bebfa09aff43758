"""Quality indicators of search runs, one per module, all in one suite-fixed normalised space.

=====================  ==========================================================================
module                 indicator
=====================  ==========================================================================
``normalise``          :class:`Normalisation`: fixed bounds, directions, constraints -> points
``hypervolume``        :func:`hypervolume` (pymoo) up to a fixed reference point
``igd``                :func:`igd` (pymoo) against :func:`reference_front`
``best_under_limit``   :func:`best_under_limit`: best accuracy under each cost level
``anytime``            :func:`anytime_hypervolume`: hypervolume after each evaluation
``evals_to_target``    :func:`evals_to_target`: evaluations to 95% of the suite's best final HV
``cost``               :func:`search_cost`: evaluations, wall and CPU seconds
``attainment``         :func:`attainment_front`: the median attainment surface of several runs
``compare``            :func:`summarise`: median, IQR, exact rank test, Holm, A12 against a baseline;
                       :func:`pairwise`: every strategy against every other, Holm across all pairs
=====================  ==========================================================================
"""

from __future__ import annotations

from ofa_bench.metrics.anytime import anytime_hypervolume, curve_at
from ofa_bench.metrics.attainment import attainment_front
from ofa_bench.metrics.best_under_limit import best_under_limit
from ofa_bench.metrics.cost import search_cost
from ofa_bench.metrics.evals_to_target import TARGET_FRACTION, evals_to_target
from ofa_bench.metrics.hypervolume import hypervolume, run_hypervolume
from ofa_bench.metrics.igd import igd, reference_front
from ofa_bench.metrics.normalise import Normalisation
from ofa_bench.metrics.statistics import ALPHA, a12, holm, pairwise, rank_test, smallest_p, summarise

__all__ = [
    "ALPHA",
    "TARGET_FRACTION",
    "Normalisation",
    "a12",
    "anytime_hypervolume",
    "attainment_front",
    "best_under_limit",
    "curve_at",
    "evals_to_target",
    "holm",
    "hypervolume",
    "igd",
    "rank_test",
    "reference_front",
    "run_hypervolume",
    "search_cost",
    "smallest_p",
    "pairwise",
    "summarise",
]
