"""Evaluations to target: how soon a run reaches a share of the hypervolume of the suite's fixed reference front.

The target is fixed in ``suite.json`` before any run (from the reference sample), so a run's
figure does not depend on which other runs exist.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["TARGET_FRACTION", "evals_to_target"]

#: Share of the reference front's hypervolume that counts as reaching the target.
TARGET_FRACTION = 0.95


def evals_to_target(curve: pd.DataFrame, best_final: float, fraction: float = TARGET_FRACTION) -> float:
    """The first evaluation count at which a run's hypervolume reaches ``fraction * best_final``.

    Args:
        curve: The run's ``n``/``hv`` curve (:func:`~ofa_bench.metrics.anytime.anytime_hypervolume`).
        best_final: The hypervolume the target is a share of: the suite's fixed reference front's.
        fraction: Share of ``best_final`` to reach.

    Returns:
        The evaluation count, or NaN when the run never reaches the target (or the reference
        has no hypervolume, so there is no target).
    """
    if not best_final > 0 or len(curve) == 0:
        return math.nan
    reached = np.flatnonzero(curve["hv"].to_numpy() >= fraction * best_final)
    return float(curve["n"].to_numpy()[reached[0]]) if reached.size else math.nan
