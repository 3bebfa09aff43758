"""Rank agreement between two sets of numbers: the one place ofa-bench computes Kendall's tau and Spearman's rho.

Both are scipy's (tau-b, which corrects for ties; rho on mid-ranks). Where a ranking is undefined,
because a side is constant or has fewer than two values, scipy answers NaN and a warning; here the
caller says what it means instead (``undefined``): NaN where "no figure" is the honest answer (a
latency table validated on one arch), 0 where a constant prediction should count as ranking
nothing (a predictor's score).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["kendall_tau", "kendall_tau_p", "spearman_rho"]


def _rank_statistic(statistic: Callable, a: ArrayLike, b: ArrayLike, undefined: float) -> tuple[float, float]:
    from scipy.stats import ConstantInputWarning

    x, y = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"rank agreement needs two equally long sequences; got {x.size} and {y.size} values")
    if x.size < 2:
        return undefined, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)  # answered by `undefined`
        result = statistic(x, y)
    value = float(result.statistic)
    return (value, float(result.pvalue)) if math.isfinite(value) else (undefined, math.nan)


def kendall_tau(a: ArrayLike, b: ArrayLike, *, undefined: float = math.nan) -> float:
    """Kendall's tau-b between ``a`` and ``b``; ``undefined`` when a side is constant or shorter than 2."""
    from scipy.stats import kendalltau

    return _rank_statistic(kendalltau, a, b, undefined)[0]


def kendall_tau_p(a: ArrayLike, b: ArrayLike, *, undefined: float = math.nan) -> tuple[float, float]:
    """Kendall's tau-b and its two-sided p-value (NaN with an ``undefined`` tau)."""
    from scipy.stats import kendalltau

    return _rank_statistic(kendalltau, a, b, undefined)


def spearman_rho(a: ArrayLike, b: ArrayLike, *, undefined: float = math.nan) -> float:
    """Spearman's rho between ``a`` and ``b``; ``undefined`` when a side is constant or shorter than 2."""
    from scipy.stats import spearmanr

    return _rank_statistic(spearmanr, a, b, undefined)[0]
