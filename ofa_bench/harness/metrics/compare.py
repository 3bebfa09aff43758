"""Comparing strategies over seeds: median and interquartile range, and a rank test against a baseline.

The test is scipy's Mann-Whitney U, one-sided in the direction that means "better than the
baseline" (higher hypervolume, lower IGD...). With ``n`` seeds per side the smallest p-value the
exact test can give is ``1 / C(2n, n)``: 0.05 for 3 seeds, so 3 seeds can never show p < 0.05;
:func:`smallest_p` says so in every summary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["rank_test", "smallest_p", "summarise"]


def _finite_or_worst(values: np.ndarray, direction: str) -> np.ndarray:
    # A run that never reached a target (NaN) did worse than any that did.
    worst = np.inf if direction == "min" else -np.inf
    return np.where(np.isnan(values), worst, values)


def _quartiles(values: np.ndarray) -> tuple[float, float, float]:
    """Median, first and third quartile; with an infinite value, observed values (no arithmetic on inf)."""
    if values.size == 0:
        return math.nan, math.nan, math.nan
    method = "linear" if np.isfinite(values).all() else "inverted_cdf"
    median, q1, q3 = np.percentile(values, [50, 25, 75], method=method)
    return float(median), float(q1), float(q3)


def rank_test(values: np.ndarray, baseline: np.ndarray, direction: str) -> float:
    """One-sided Mann-Whitney U p-value that ``values`` are better than ``baseline``.

    Args:
        values: A strategy's metric, one value per seed.
        baseline: The baseline's metric, one value per seed.
        direction: ``"max"`` when higher is better, ``"min"`` when lower is.

    Returns:
        The p-value; NaN when either side is empty or every value is equal.
    """
    from scipy.stats import mannwhitneyu

    a = _finite_or_worst(np.asarray(values, dtype=np.float64), direction)
    b = _finite_or_worst(np.asarray(baseline, dtype=np.float64), direction)
    if a.size == 0 or b.size == 0:
        return math.nan
    both = np.concatenate([a, b])
    if np.all(both == both[0]):
        return math.nan
    # Infinities rank as extremes; replace them by finite stand-ins beyond every real value.
    finite = both[np.isfinite(both)]
    span = (finite.max() - finite.min() + 1.0) if finite.size else 1.0
    high, low = (finite.max() + span, finite.min() - span) if finite.size else (1.0, -1.0)
    a = np.clip(np.nan_to_num(a, posinf=high, neginf=low), low, high)
    b = np.clip(np.nan_to_num(b, posinf=high, neginf=low), low, high)
    alternative = "greater" if direction == "max" else "less"
    return float(mannwhitneyu(a, b, alternative=alternative).pvalue)


def smallest_p(n: int, m: int) -> float:
    """The smallest one-sided p-value the exact Mann-Whitney U test can give for samples of ``n`` and ``m``."""
    return 1.0 / math.comb(n + m, n) if n > 0 and m > 0 else math.nan


def summarise(
    runs: pd.DataFrame, metrics: Mapping[str, str], baseline: str | None = "random", by: str = "strategy"
) -> pd.DataFrame:
    """Median, quartiles and the rank test against ``baseline`` for each strategy and metric.

    Args:
        runs: One row per run with a ``by`` column and one column per metric.
        metrics: Metric column to its direction (``"max"`` or ``"min"``).
        baseline: The strategy every other is tested against; ``None`` or absent: no test.
        by: The column naming the strategy.

    Returns:
        One row per (strategy, metric): ``strategy``, ``metric``, ``direction``, ``runs``,
        ``median``, ``q1``, ``q3``, ``p_value`` (NaN for the baseline itself) and ``better``
        (whether the median beats the baseline's).
    """
    rows = []
    groups = {key: group for key, group in runs.groupby(by, sort=False)}
    base = groups.get(baseline) if baseline is not None else None
    for key, group in groups.items():
        for metric, direction in metrics.items():
            values = group[metric].to_numpy(np.float64) if metric in group else np.zeros(0)
            ranked = _finite_or_worst(values, direction)
            median, q1, q3 = _quartiles(ranked)
            p_value, better = math.nan, False
            if base is not None and key != baseline and metric in base:
                reference = base[metric].to_numpy(np.float64)
                p_value = rank_test(values, reference, direction)
                base_median = _quartiles(_finite_or_worst(reference, direction))[0]
                better = bool(median > base_median if direction == "max" else median < base_median)
            rows.append(
                {
                    "strategy": key, "metric": metric, "direction": direction, "runs": int(values.size),
                    "median": float(median), "q1": float(q1), "q3": float(q3), "p_value": p_value, "better": better,
                }
            )  # fmt: skip
    columns = ["strategy", "metric", "direction", "runs", "median", "q1", "q3", "p_value", "better"]
    return pd.DataFrame(rows, columns=columns)
