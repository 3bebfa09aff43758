"""Calibrating a surrogate's predictions onto the measurements' scale, without changing its ranking.

A regression model shrinks toward the mean: its predictions spread less than the measurements
(a squared loss pays for confident extremes), so the best archs are predicted below what they
measure and the worst above. A search scored by such a surrogate finds fronts that look worse than
they are, and worse by more the better they are, which is what a hypervolume is made of.

:func:`quantile_map` fits a monotone map from predictions to measurements by matching quantiles:
the ``q``-quantile of the (out-of-fold) predictions goes to the ``q``-quantile of the measurements.
The map is strictly increasing (and linear beyond the fitted range), so every ranking figure
(Kendall tau, top-k precision, which arch is on a front) is unchanged; only the scale moves. Fit it
on predictions the model made for archs it was not trained on (out of fold), or it learns the
training fit's spread instead of the model's.

:func:`top_residual` measures what the calibration is for: the mean of ``predicted - measured``
over the best archs.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["apply_map", "quantile_map", "top_residual"]

#: Added per knot to keep the map strictly increasing where measurements tie (a plateau would tie archs).
_RAMP = 1e-12


def quantile_map(predicted: ArrayLike, measured: ArrayLike, knots: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """Knots ``(x, y)`` of a strictly increasing map from predictions to measurements.

    Args:
        predicted: Out-of-fold predictions of archs.
        measured: The same archs' measurements.
        knots: Quantile levels, evenly spaced from 0 to 1 (at least 2).

    Returns:
        ``x`` (prediction quantiles, strictly increasing) and ``y`` (measurement quantiles, strictly
        increasing), for :func:`apply_map`.

    Raises:
        ValueError: Fewer than two values, non-finite values, unequal lengths, or predictions that
            are all equal (nothing to map).
    """
    p = np.asarray(predicted, dtype=np.float64).ravel()
    m = np.asarray(measured, dtype=np.float64).ravel()
    if p.shape != m.shape or p.size < 2 or not (np.isfinite(p).all() and np.isfinite(m).all()):
        raise ValueError(f"quantile_map needs two equally long finite sequences of >= 2 values; got {p.size}, {m.size}")
    if knots < 2:
        raise ValueError(f"quantile_map needs knots >= 2; got {knots}")
    levels = np.linspace(0.0, 1.0, knots)
    x, y = np.quantile(p, levels), np.quantile(m, levels)
    keep = np.concatenate([[True], np.diff(x) > 0])  # predictions tied at a quantile: one knot
    x, y = x[keep], y[keep]
    if x.size < 2:
        raise ValueError("quantile_map: every prediction is equal; there is no ranking to map")
    y = np.maximum.accumulate(y) + _RAMP * np.arange(y.size)
    return x, y


def apply_map(values: ArrayLike, x: ArrayLike, y: ArrayLike) -> np.ndarray:
    """``values`` through the map with knots ``(x, y)``: piecewise linear, and linear beyond both ends.

    Strictly increasing wherever ``x`` and ``y`` are (as :func:`quantile_map` makes them), so the
    order of ``values`` is kept.
    """
    v = np.asarray(values, dtype=np.float64)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    out = np.interp(v, x, y)
    low, high = v < x[0], v > x[-1]
    out[low] = y[0] + (v[low] - x[0]) * (y[1] - y[0]) / (x[1] - x[0])
    out[high] = y[-1] + (v[high] - x[-1]) * (y[-1] - y[-2]) / (x[-1] - x[-2])
    return out


def top_residual(predicted: ArrayLike, measured: ArrayLike, fraction: float = 0.1, by: str = "measured") -> float:
    """Mean of ``predicted - measured`` over the top ``fraction`` of archs (at least one).

    Args:
        predicted: Predictions.
        measured: Measurements of the same archs.
        fraction: Share of archs in the top.
        by: ``"measured"`` ranks by measurement (how the surrogate treats the truly best archs), or
            ``"predicted"`` (how the archs it calls best turn out).

    Returns:
        A negative value: the best archs are predicted below what they measure.
    """
    p = np.asarray(predicted, dtype=np.float64).ravel()
    m = np.asarray(measured, dtype=np.float64).ravel()
    if by not in ("measured", "predicted"):
        raise ValueError(f"top_residual: by must be 'measured' or 'predicted'; got {by!r}")
    k = max(1, int(round(fraction * p.size)))
    order = np.argsort(-(m if by == "measured" else p), kind="stable")[:k]
    return float(np.mean(p[order] - m[order]))
