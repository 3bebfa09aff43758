"""Anytime hypervolume: the hypervolume of everything found so far, after each evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ofa_bench.metrics.hypervolume import hypervolume
from ofa_bench.metrics.normalise import Normalisation

__all__ = ["anytime_hypervolume", "curve_at"]


def anytime_hypervolume(records: pd.DataFrame, norm: Normalisation) -> pd.DataFrame:
    """The hypervolume curve of a run as a step function of evaluations.

    The front is kept incrementally and the hypervolume recomputed only when it changes, so
    the curve has one row per improvement, plus the first and the last evaluation.

    Args:
        records: The run's records in evaluation order, with the log's ``n`` column.
        norm: The suite's normalisation.

    Returns:
        Columns ``n`` (cumulative evaluations) and ``hv``; empty for an empty run.
    """
    if len(records) == 0:
        return pd.DataFrame({"n": np.zeros(0, np.int64), "hv": np.zeros(0)})
    n = records["n"].to_numpy(np.int64) if "n" in records else np.arange(1, len(records) + 1)
    points = norm.points(records, feasible_only=False)
    usable = norm.feasible_mask(records) & (points < norm.reference_point).all(axis=1)
    front = np.zeros((0, points.shape[1]))
    steps_n, steps_hv = [int(n[0])], [0.0]
    for i in np.flatnonzero(usable):
        p = points[i]
        if len(front) and (front <= p).all(axis=1).any():
            continue  # dominated by (or equal to) what was found before: the front is unchanged
        front = np.vstack([front[~(p <= front).all(axis=1)], p])
        value = hypervolume(front, norm.reference_point)
        if int(n[i]) == steps_n[-1]:
            steps_hv[-1] = value
        else:
            steps_n.append(int(n[i]))
            steps_hv.append(value)
    if steps_n[-1] != int(n[-1]):
        steps_n.append(int(n[-1]))
        steps_hv.append(steps_hv[-1])
    return pd.DataFrame({"n": np.array(steps_n, np.int64), "hv": np.array(steps_hv)})


def curve_at(curve: pd.DataFrame, evaluations: np.ndarray) -> np.ndarray:
    """Values of a step curve at the given evaluation counts (0 before its first step).

    Args:
        curve: ``n``/``hv`` table from :func:`anytime_hypervolume`.
        evaluations: Evaluation counts to read the curve at.

    Returns:
        One hypervolume per count; past the run's last evaluation, its final value.
    """
    evaluations = np.asarray(evaluations)
    if len(curve) == 0:
        return np.zeros(evaluations.shape)
    idx = np.searchsorted(curve["n"].to_numpy(), evaluations, side="right") - 1
    values = curve["hv"].to_numpy()
    return np.where(idx >= 0, values[np.clip(idx, 0, None)], 0.0)
