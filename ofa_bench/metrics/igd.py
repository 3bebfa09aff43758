"""Inverted generational distance to a reference front, in the suite's normalised space."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ofa_bench.metrics.normalise import Normalisation
from ofa_bench.objectives import non_dominated

__all__ = ["igd", "reference_front"]


def reference_front(frames: Iterable[pd.DataFrame], norm: Normalisation) -> np.ndarray:
    """The non-dominated feasible points of all frames together (all runs plus a random sample).

    Args:
        frames: Record tables (run logs, the reference random sample).
        norm: The suite's normalisation.

    Returns:
        ``(k, m)`` normalised points, sorted, without repeats.
    """
    parts = [norm.points(frame) for frame in frames]
    points = np.concatenate(parts) if parts else np.zeros((0, len(norm.objectives)))
    if len(points) == 0:
        return points
    return np.unique(points[non_dominated(points)], axis=0)


def igd(records: pd.DataFrame, norm: Normalisation, front: np.ndarray) -> float:
    """Mean distance from each reference-front point to the nearest point a run found.

    Args:
        records: The run's records.
        norm: The suite's normalisation.
        front: The reference front from :func:`reference_front`.

    Returns:
        pymoo's IGD of the run's non-dominated feasible points; ``inf`` when the run found no
        feasible point, NaN when the reference front is empty.
    """
    if len(front) == 0:
        return math.nan
    found = norm.front(records)
    if len(found) == 0:
        return math.inf
    from pymoo.indicators.igd import IGD

    return float(IGD(np.asarray(front, dtype=np.float64)).do(found))
