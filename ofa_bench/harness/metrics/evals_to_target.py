"""Evaluations to target: how soon a run reaches a share of the best final hypervolume of the suite."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["TARGET_FRACTION", "evals_to_target"]

#: Share of the best final hypervolume (over every run of the suite) that counts as reaching it.
TARGET_FRACTION = 0.95


def evals_to_target(curve: pd.DataFrame, best_final: float, fraction: float = TARGET_FRACTION) -> float:
    """The first evaluation count at which a run's hypervolume reaches ``fraction * best_final``.

    Args:
        curve: The run's ``n``/``hv`` curve (:func:`~ofa_bench.harness.metrics.anytime.anytime_hypervolume`).
        best_final: The best final hypervolume of any run in the suite.
        fraction: Share of ``best_final`` to reach.

    Returns:
        The evaluation count, or NaN when the run never reaches the target (or no run found
        any hypervolume, so there is no target).
    """
    if not best_final > 0 or len(curve) == 0:
        return math.nan
    reached = np.flatnonzero(curve["hv"].to_numpy() >= fraction * best_final)
    return float(curve["n"].to_numpy()[reached[0]]) if reached.size else math.nan
