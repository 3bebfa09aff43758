"""Validating a latency table on a device: measure archs with a runner, write the rows, draw the scatter."""

from __future__ import annotations

from typing import Any

import numpy as np

from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins.guard import plugin_code

__all__ = ["measure_latencies", "scatter_plot", "write_validation_csv"]


def measure_latencies(runner: Any, archs: list) -> tuple[np.ndarray, np.ndarray]:
    """Measured latency per arch and its interquartile range (NaN where the runner gives none).

    A runner with ``measure`` (the built-in ones) gives each arch's summary, read with the
    statistic the runner reports; any other backend is asked for its latencies.
    """
    if not callable(getattr(runner, "measure", None)):  # any backend can be compared with a table
        with plugin_code():
            return np.asarray(runner.latency(archs), dtype=np.float64), np.full(len(archs), np.nan)
    with plugin_code():
        stats = runner.measure(archs)
    statistic = getattr(runner, "statistic", "median")
    return np.array([s.value(statistic) for s in stats]), np.array([s.iqr_ms for s in stats])


def write_validation_csv(path: str, archs: list, predicted: np.ndarray, measured: np.ndarray, spread: np.ndarray) -> None:
    """One row per arch: its JSON, predicted and measured latency, and the measurement's IQR (atomic)."""
    import pandas as pd

    from ofa_bench.io.jsonl import write_text

    frame = pd.DataFrame({
        "arch": [a.to_json() for a in archs],
        "predicted_ms": predicted,
        "measured_ms": measured,
        "measured_iqr_ms": spread,
    })  # fmt: skip
    write_text(path, frame.to_csv(index=False), "validation")


def scatter_plot(path: str, predicted: np.ndarray, measured: np.ndarray, metrics: dict[str, float], title: str) -> None:
    """Predicted-vs-measured scatter with the identity line and the +-10% band, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ofa_bench.io.atomic import atomic_path

    fig, ax = plt.subplots(figsize=(5, 5))
    low, high = 0.9 * min(predicted.min(), measured.min()), 1.1 * max(predicted.max(), measured.max())
    line = np.array([low, high])
    ax.fill_between(line, 0.9 * line, 1.1 * line, color="tab:green", alpha=0.15, label="within ±10%")
    ax.plot(line, line, color="tab:green", lw=1)
    ax.scatter(measured, predicted, s=14, color="tab:blue")
    ax.set(xlim=(low, high), ylim=(low, high), xlabel="measured latency (ms)", ylabel="predicted latency (ms)")
    ax.set_title(
        f"{title}\nKendall τ={metrics['kendall_tau']:.3f}, ±10%: {100 * metrics['within_10pct']:.0f}%, "
        f"RMSE={metrics['rmse_ms']:.3g} ms", fontsize=9,
    )  # fmt: skip
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=120)
    except OSError as exc:
        raise OfaBenchError(f"cannot write plot {path!r}: {exc.strerror}") from exc
    finally:
        plt.close(fig)
