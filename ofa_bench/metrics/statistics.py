"""Comparing strategies over seeds: median and interquartile range, a rank test against a baseline,
Holm's correction and an effect size.

The test is one-sided in the direction that means "better than the baseline" (higher
hypervolume, lower IGD...) and exact: scipy's Mann-Whitney U with ``method="exact"`` when no
value repeats, else scipy's :func:`~scipy.stats.permutation_test` of the rank sum (every
relabelling enumerated), so ties never push the p-value below what the samples can show. With
``n`` and ``m`` runs the smallest p-value is ``1 / C(n + m, n)``: 0.05 for 3 seeds a side, so 3
seeds can never show p < 0.05; :func:`smallest_p` says so in every summary.

Each metric tests every strategy against the same baseline, so the p-values of one metric are
corrected together with Holm's step-down method (:func:`holm`). :func:`pairwise` tests every
strategy against every other (both directions, one-sided), Holm-corrected across all those tests of
a metric, so a table can say "A beats B" as well as "A beats random". The effect size is Vargha and
Delaney's A12 (:func:`a12`): the chance that a run of the strategy beats a run of the baseline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["ALPHA", "a12", "holm", "pairwise", "rank_test", "smallest_p", "summarise"]

#: Significance level of ``better``: applied to Holm-adjusted p-values.
ALPHA = 0.05

#: Above this many relabellings the permutation test samples them (seeded) instead of enumerating.
_EXACT_LIMIT = 200_000


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


def _oriented(values: np.ndarray, direction: str) -> np.ndarray:
    """Values where higher is better, "never reached" (NaN) the worst, infinities as finite extremes."""
    v = _finite_or_worst(np.asarray(values, dtype=np.float64), direction)
    v = -v if direction == "min" else v
    # Ranks are all the tests read: infinities become finite stand-ins beyond every real value.
    finite = v[np.isfinite(v)]
    span = (finite.max() - finite.min() + 1.0) if finite.size else 1.0
    high, low = (finite.max() + span, finite.min() - span) if finite.size else (1.0, -1.0)
    return np.nan_to_num(v, posinf=high, neginf=low)


def _rank_sum(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Sum of the mid-ranks of ``x`` in ``x`` and ``y`` together (the Wilcoxon statistic)."""
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([x, y], axis=axis), axis=axis)
    return np.take(ranks, np.arange(x.shape[axis]), axis=axis).sum(axis=axis)


def rank_test(values: np.ndarray, baseline: np.ndarray, direction: str) -> float:
    """Exact one-sided rank test p-value that ``values`` are better than ``baseline``.

    Without ties: scipy's Mann-Whitney U, ``method="exact"``. With ties (say, runs that never
    reached a target): a permutation test of the mid-rank sum, enumerating every relabelling, so
    the p-value is never below :func:`smallest_p`.

    Args:
        values: A strategy's metric, one value per seed (NaN: never reached, the worst).
        baseline: The baseline's metric, one value per seed.
        direction: ``"max"`` when higher is better, ``"min"`` when lower is.

    Returns:
        The p-value; NaN when either side is empty or every value is equal.
    """
    from scipy.stats import mannwhitneyu, permutation_test

    a = np.asarray(values, dtype=np.float64).reshape(-1)
    b = np.asarray(baseline, dtype=np.float64).reshape(-1)
    if a.size == 0 or b.size == 0:
        return math.nan
    both = _oriented(np.concatenate([a, b]), direction)
    if np.all(both == both[0]):
        return math.nan
    x, y = both[: a.size], both[a.size :]
    if np.unique(both).size == both.size:
        return float(mannwhitneyu(x, y, alternative="greater", method="exact").pvalue)
    if min(a.size, b.size) < 2:  # scipy's permutation test needs two a side: enumerate the few relabellings
        from itertools import combinations

        from scipy.stats import rankdata

        ranks = rankdata(both)
        observed = ranks[: a.size].sum()
        sums = [ranks[list(chosen)].sum() for chosen in combinations(range(both.size), a.size)]
        return float(np.mean(np.asarray(sums) >= observed - 1e-9))
    exact = math.comb(a.size + b.size, a.size) <= _EXACT_LIMIT
    result = permutation_test(
        (x, y), _rank_sum, permutation_type="independent", alternative="greater", vectorized=True,
        n_resamples=np.inf if exact else 99_999, rng=np.random.default_rng(0),
    )  # fmt: skip
    return float(max(result.pvalue, smallest_p(a.size, b.size)))


def a12(values: np.ndarray, baseline: np.ndarray, direction: str) -> float:
    """Vargha-Delaney A12: the chance that a run of ``values`` beats one of ``baseline`` (ties count half).

    0.5 means no effect; Vargha and Delaney call 0.56, 0.64 and 0.71 (and their mirror images
    below 0.5) small, medium and large. NaN values count as the worst (never reached).

    Returns:
        A12 in [0, 1], oriented by ``direction`` (above 0.5: ``values`` better); NaN when a side is empty.
    """
    a = np.asarray(values, dtype=np.float64).reshape(-1)
    b = np.asarray(baseline, dtype=np.float64).reshape(-1)
    if a.size == 0 or b.size == 0:
        return math.nan
    from scipy.stats import mannwhitneyu

    both = _oriented(np.concatenate([a, b]), direction)
    # scipy's U of the first sample counts its wins over the second, ties as one half.
    return float(mannwhitneyu(both[: a.size], both[a.size :]).statistic / (a.size * b.size))


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni step-down adjusted p-values (NaN entries are left out and stay NaN).

    The i-th smallest of ``k`` p-values is multiplied by ``k - i`` (i from 0), adjusted values
    are made non-decreasing in that order, and capped at 1. Rejecting where the adjusted value
    is below alpha controls the family-wise error rate at alpha.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, math.nan)
    tested = np.flatnonzero(~np.isnan(p))
    if tested.size == 0:
        return out
    order = tested[np.argsort(p[tested], kind="stable")]
    scaled = p[order] * (tested.size - np.arange(tested.size))
    out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return out


def smallest_p(n: int, m: int) -> float:
    """The smallest one-sided p-value an exact rank test can give for samples of ``n`` and ``m``."""
    return 1.0 / math.comb(n + m, n) if n > 0 and m > 0 else math.nan


def _beyond(median: float, base_median: float, direction: str, resolution: float) -> bool:
    """Whether ``median`` is better than ``base_median`` by more than ``resolution``."""
    gain = median - base_median if direction == "max" else base_median - median
    if math.isnan(gain):  # inf - inf: both never reached
        return False
    return bool(gain > resolution)


def summarise(
    runs: pd.DataFrame,
    metrics: Mapping[str, str],
    baseline: str | None = "random",
    by: str = "strategy",
    *,
    resolution: Mapping[str, float] | None = None,
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """Median, quartiles, the rank test against ``baseline``, Holm's correction and A12 per strategy and metric.

    Args:
        runs: One row per run with a ``by`` column and one column per metric.
        metrics: Metric column to its direction (``"max"`` or ``"min"``).
        baseline: The strategy every other is tested against; ``None`` or absent: no test.
        by: The column naming the strategy.
        resolution: Per metric, the smallest difference of medians that is more than measurement
            noise (default 0: any difference).
        alpha: Significance level for ``better``, applied to the adjusted p-values.

    Returns:
        One row per (strategy, metric): ``strategy``, ``metric``, ``direction``, ``runs``,
        ``median``, ``q1``, ``q3``, ``p_value`` (the exact test; NaN for the baseline itself),
        ``p_adjusted`` (Holm across the strategies of that metric), ``effect_size`` (A12 against
        the baseline) and ``better``: ``p_adjusted < alpha`` and the median beats the baseline's
        by more than the metric's resolution.
    """
    rows = []
    resolution = dict(resolution or {})
    groups = {key: group for key, group in runs.groupby(by, sort=False)}
    base = groups.get(baseline) if baseline is not None else None
    for key, group in groups.items():
        for metric, direction in metrics.items():
            values = group[metric].to_numpy(np.float64) if metric in group else np.zeros(0)
            median, q1, q3 = _quartiles(_finite_or_worst(values, direction))
            p_value, effect, ahead = math.nan, math.nan, False
            if base is not None and key != baseline and metric in base:
                reference = base[metric].to_numpy(np.float64)
                p_value = rank_test(values, reference, direction)
                effect = a12(values, reference, direction)
                base_median = _quartiles(_finite_or_worst(reference, direction))[0]
                ahead = _beyond(median, base_median, direction, float(resolution.get(metric, 0.0)))
            rows.append(
                {
                    "strategy": key, "metric": metric, "direction": direction, "runs": int(values.size),
                    "median": float(median), "q1": float(q1), "q3": float(q3), "p_value": p_value,
                    "p_adjusted": math.nan, "effect_size": effect, "better": ahead,
                }
            )  # fmt: skip
    columns = ["strategy", "metric", "direction", "runs", "median", "q1", "q3", "p_value", "p_adjusted",
               "effect_size", "better"]  # fmt: skip
    table = pd.DataFrame(rows, columns=columns)
    for _, index in table.groupby("metric", sort=False).groups.items():
        table.loc[index, "p_adjusted"] = holm(table.loc[index, "p_value"].to_numpy(np.float64))
    table["better"] = table["better"].astype(bool) & (table["p_adjusted"] < alpha)
    return table


def pairwise(
    runs: pd.DataFrame,
    metrics: Mapping[str, str],
    by: str = "strategy",
    *,
    resolution: Mapping[str, float] | None = None,
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """Every strategy against every other: the one-sided exact rank test, Holm across all pairs, A12.

    For ``k`` strategies each metric makes ``k (k - 1)`` one-sided tests ("A better than B" and "B
    better than A" are two), corrected together with Holm's method: a family-wise error rate of
    ``alpha`` over every claim of the table.

    Args:
        runs: One row per run with a ``by`` column and one column per metric.
        metrics: Metric column to its direction (``"max"`` or ``"min"``).
        by: The column naming the strategy.
        resolution: Per metric, the smallest difference of medians that counts (default 0).
        alpha: Significance level for ``better``, applied to the adjusted p-values.

    Returns:
        One row per (strategy, other, metric): ``strategy``, ``other``, ``metric``, ``direction``,
        ``p_value`` (strategy better than other), ``p_adjusted``, ``effect_size`` (A12 of strategy
        against other) and ``better``: ``p_adjusted < alpha`` and a median gain beyond the resolution.
    """
    resolution = dict(resolution or {})
    groups = {key: group for key, group in runs.groupby(by, sort=False)}
    rows = []
    for metric, direction in metrics.items():
        for key, group in groups.items():
            for other, rival in groups.items():
                if other == key or metric not in group or metric not in rival:
                    continue
                a, b = group[metric].to_numpy(np.float64), rival[metric].to_numpy(np.float64)
                median = _quartiles(_finite_or_worst(a, direction))[0]
                rival_median = _quartiles(_finite_or_worst(b, direction))[0]
                rows.append({
                    "strategy": key, "other": other, "metric": metric, "direction": direction,
                    "p_value": rank_test(a, b, direction), "p_adjusted": math.nan,
                    "effect_size": a12(a, b, direction),
                    "better": _beyond(median, rival_median, direction, float(resolution.get(metric, 0.0))),
                })  # fmt: skip
    columns = ["strategy", "other", "metric", "direction", "p_value", "p_adjusted", "effect_size", "better"]
    table = pd.DataFrame(rows, columns=columns)
    for _, index in table.groupby("metric", sort=False).groups.items():
        table.loc[index, "p_adjusted"] = holm(table.loc[index, "p_value"].to_numpy(np.float64))
    table["better"] = table["better"].astype(bool) & (table["p_adjusted"] < alpha)
    return table
