"""How well predictions rank and fit held-out measurements."""

from __future__ import annotations

import numpy as np

from ofa_bench.metrics.ranking import kendall_tau, spearman_rho

__all__ = ["METRICS", "score", "top_precision"]

#: Metric names :func:`score` returns, in report order.
METRICS: tuple[str, ...] = ("kendall_tau", "spearman_rho", "rmse", "mae", "top_precision")


def top_precision(
    y_true: np.ndarray, y_pred: np.ndarray, fraction: float = 0.1, higher_is_better: bool = True
) -> float:
    """Share of the predicted top ``fraction`` that is truly in the top ``fraction``.

    The predicted top is the ``k = max(1, round(fraction * n))`` archs with the best predictions;
    the true top is every arch at least as good as the ``k``-th best measurement, so ties at the
    boundary (common for accuracies on a small validation set) do not count against a predictor.

    Args:
        y_true: Measured values.
        y_pred: Predicted values.
        fraction: Size of the top set as a share of the archs.
        higher_is_better: Whether larger values are better (accuracy) or smaller (loss, latency).

    Returns:
        Precision in ``[0, 1]``.
    """
    sign = 1.0 if higher_is_better else -1.0
    truth, pred = sign * np.asarray(y_true, dtype=np.float64), sign * np.asarray(y_pred, dtype=np.float64)
    k = max(1, int(round(fraction * len(truth))))
    threshold = np.sort(truth)[-k]
    picked = np.argsort(-pred, kind="stable")[:k]
    return float(np.mean(truth[picked] >= threshold))


def score(y_true: np.ndarray, y_pred: np.ndarray, higher_is_better: bool = True) -> dict[str, float]:
    """Kendall tau, Spearman rho, RMSE, MAE and top-10% precision of predictions.

    Constant predictions rank nothing: their tau and rho are 0 rather than undefined.
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    error = y_pred - y_true
    return {
        "kendall_tau": kendall_tau(y_true, y_pred, undefined=0.0),
        "spearman_rho": spearman_rho(y_true, y_pred, undefined=0.0),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "top_precision": top_precision(y_true, y_pred, 0.1, higher_is_better),
    }
