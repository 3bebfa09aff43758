"""Attainment surfaces: the front that at least k of n runs reached (the median one for plots)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["attainment_front"]


def attainment_front(fronts: Sequence[np.ndarray], level: int | None = None) -> np.ndarray:
    """The ``level``-attainment surface of two-objective fronts (both minimised), as its corners.

    A point is attained by a run when some point of the run is at least as good in both
    objectives; the surface bounds the region attained by at least ``level`` runs. Read at every
    first-objective value any run has, it is exact.

    Args:
        fronts: One ``(k, 2)`` array of points per run (non-dominated or not).
        level: Runs that must attain a point; default ``ceil(n / 2)``, the median surface.

    Returns:
        ``(j, 2)`` corner points sorted by the first objective; empty when fewer than
        ``level`` runs found any point.
    """
    fronts = [np.asarray(f, dtype=np.float64).reshape(-1, 2) for f in fronts]
    fronts = [f[np.isfinite(f).all(axis=1)] for f in fronts]
    if not fronts:
        return np.zeros((0, 2))
    level = math.ceil(len(fronts) / 2) if level is None else level
    if not 1 <= level <= len(fronts):
        raise ValueError(f"level must be in 1..{len(fronts)}; got {level}")
    xs = np.unique(np.concatenate([f[:, 0] for f in fronts]))
    if xs.size == 0:
        return np.zeros((0, 2))
    best = np.full((len(fronts), xs.size), np.inf)
    for i, f in enumerate(fronts):
        if len(f) == 0:
            continue
        order = np.argsort(f[:, 0], kind="stable")
        x, y = f[order, 0], np.minimum.accumulate(f[order, 1])
        idx = np.searchsorted(x, xs, side="right") - 1
        best[i] = np.where(idx >= 0, y[np.clip(idx, 0, None)], np.inf)
    ys = np.sort(best, axis=0)[level - 1]
    keep = np.isfinite(ys)
    xs, ys = xs[keep], ys[keep]
    # Corners only: where the surface steps down.
    step = np.concatenate([[True], ys[1:] < ys[:-1]]) if ys.size else np.zeros(0, bool)
    return np.column_stack([xs[step], ys[step]])
