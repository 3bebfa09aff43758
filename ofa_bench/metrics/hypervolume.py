"""Hypervolume: the normalised objective space a set of points dominates, up to a fixed reference point."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ofa_bench.metrics.normalise import Normalisation

__all__ = ["hypervolume", "run_hypervolume"]


def hypervolume(points: np.ndarray, reference: np.ndarray | float) -> float:
    """The hypervolume of normalised points (minimised) bounded by ``reference``.

    Points that do not dominate the reference point add nothing; no points give 0. Coordinates
    below 0 (beyond the best bound) count as 0, so the result is at most ``prod(reference)``.

    Args:
        points: ``(n, m)`` normalised points.
        reference: Reference point, ``(m,)`` or one value for every axis.

    Returns:
        The dominated volume (pymoo's exact hypervolume).
    """
    points = np.asarray(points, dtype=np.float64)
    m = points.shape[1] if points.ndim == 2 else np.size(reference)
    ref = np.broadcast_to(np.asarray(reference, dtype=np.float64), (m,)).copy()
    points = points.reshape(-1, m)
    inside = points[np.isfinite(points).all(axis=1) & (points < ref).all(axis=1)]
    # A point beyond the best bound counts as on it, so the volume never exceeds the box.
    inside = np.maximum(inside, 0.0)
    if len(inside) == 0:
        return 0.0
    from pymoo.indicators.hv import HV

    return float(HV(ref_point=ref).do(inside))


def run_hypervolume(records: pd.DataFrame, norm: Normalisation) -> float:
    """The hypervolume of a run's feasible evaluations under the suite's normalisation."""
    return hypervolume(norm.points(records), norm.reference_point)
