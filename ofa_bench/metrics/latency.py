"""How well a latency model (a lookup table, a proxy) predicts latencies measured on a device."""

from __future__ import annotations

import numpy as np

from ofa_bench.metrics.ranking import kendall_tau_p

__all__ = ["validation_metrics"]


def validation_metrics(predicted: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    """How well predicted latencies match measured ones.

    Args:
        predicted: Predicted latency per arch (ms).
        measured: Measured latency per arch (ms), same order.

    Returns:
        ``n``; ``rmse_ms``; ``mean_abs_rel_error``; ``within_10pct``, the share of archs predicted
        within +-10% of the measurement (nn-Meter's figure of merit); ``kendall_tau`` of the two
        rankings and its ``kendall_p`` value (NaN for fewer than two archs or a constant side).
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    measured = np.asarray(measured, dtype=np.float64)
    relative = np.abs(predicted - measured) / measured
    tau, p_value = kendall_tau_p(predicted, measured)
    return {
        "n": int(predicted.size),
        "rmse_ms": float(np.sqrt(np.mean((predicted - measured) ** 2))),
        "mean_abs_rel_error": float(relative.mean()),
        "within_10pct": float(np.mean(relative <= 0.10)),
        "kendall_tau": tau,
        "kendall_p": p_value,
    }
