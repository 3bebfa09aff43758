"""Search cost: what a run spent, in evaluations, wall-clock and CPU seconds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["search_cost"]


def search_cost(records: pd.DataFrame) -> dict[str, float | int]:
    """The cost of a run from its log.

    Args:
        records: The run log (:func:`~ofa_bench.search.runlog.read_log`).

    Returns:
        ``evaluations``; ``wall_s`` and ``cpu_s``, the run's elapsed wall-clock and process CPU
        seconds at its last evaluation; ``eval_s`` and ``strategy_s``, the seconds spent
        measuring and in the strategy's ask and tell.
    """

    def last(column: str) -> float:
        values = records[column].to_numpy(np.float64) if column in records else np.zeros(0)
        values = values[np.isfinite(values)]
        return float(values.max()) if values.size else math.nan

    def total(column: str) -> float:
        return float(np.nansum(records[column].to_numpy(np.float64))) if column in records else math.nan

    evaluations = int(records["n"].max()) if len(records) and "n" in records else len(records)
    return {
        "evaluations": int(evaluations),
        "wall_s": last("elapsed_s"),
        "cpu_s": last("cpu_s"),
        "eval_s": total("eval_s"),
        "strategy_s": total("strategy_s"),
    }
