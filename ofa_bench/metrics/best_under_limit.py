"""Best under limit: the best value of the target objective among archs under each level of a cost."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ofa_bench.plugins.interfaces import Constraint, Objective

__all__ = ["best_under_limit"]


def best_under_limit(
    records: pd.DataFrame,
    column: str,
    limits: Sequence[float],
    target: Objective = Objective("accuracy", "max"),
    constraints: Sequence[Constraint] = (),
) -> np.ndarray:
    """The best ``target`` value a run found with ``column <= limit``, for each limit.

    Args:
        records: The run's records.
        column: The limited column, e.g. ``"latency:lut"``.
        limits: Levels of the limit.
        target: The objective to take the best of (default: the highest accuracy).
        constraints: The suite's constraints, which every counted record must meet too.

    Returns:
        One value per limit; NaN where no record is under it.
    """
    if len(records) == 0 or column not in records or target.column not in records:
        return np.full(len(limits), np.nan)
    value = pd.to_numeric(records[target.column], errors="coerce").to_numpy(np.float64)
    cost = pd.to_numeric(records[column], errors="coerce").to_numpy(np.float64)
    ok = np.isfinite(value) & np.isfinite(cost)
    for c in constraints:
        if c.column not in records:
            ok[:] = False  # an unmeasured constrained column cannot be shown to meet its limit
            continue
        limited = pd.to_numeric(records[c.column], errors="coerce").to_numpy(np.float64)
        ok &= np.nan_to_num(limited, nan=np.inf) <= c.upper
    under = ok[None, :] & (cost[None, :] <= np.asarray(limits, dtype=np.float64)[:, None])
    sign = 1.0 if target.direction == "max" else -1.0
    scores = np.where(under, sign * value[None, :], -np.inf)
    best = sign * scores.max(axis=1, initial=-np.inf)
    return np.where(under.any(axis=1), best, np.nan)
