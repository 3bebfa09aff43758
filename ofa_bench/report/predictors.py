"""Writing a predictor evaluation to a directory: per-run CSV, summary CSV, JSON, tau plot (PNG)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ofa_bench.errors import OfaBenchError
from ofa_bench.io.atomic import atomic_path, write_text_atomic

__all__ = ["FILES", "plot_tau", "write_results"]

#: What :func:`write_results` writes, by role.
FILES: dict[str, str] = {
    "runs": "runs.csv",
    "summary": "summary.csv",
    "json": "summary.json",
    "plot": "tau_vs_train_size.png",
}


def write_results(
    directory: str | Path,
    runs: pd.DataFrame,
    summary: pd.DataFrame,
    report: dict[str, Any],
    ceilings: dict[str, float] | None = None,
) -> dict[str, str]:
    """Write the evaluation to ``directory`` (created if missing), each file atomically.

    Args:
        directory: Output directory.
        runs: One row per run (:func:`~ofa_bench.predictor_eval.harness.evaluate_predictors`).
        summary: Median and IQR per predictor and size.
        report: The JSON summary to write as ``summary.json``.
        ceilings: Noise-ceiling taus to draw on the plot, by label, if measured.

    Returns:
        Role to written path.
    """
    out = Path(directory)
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = {role: str(out / name) for role, name in FILES.items()}
        write_text_atomic(paths["runs"], runs.to_csv(index=False))
        write_text_atomic(paths["summary"], summary.to_csv(index=False))
        write_text_atomic(paths["json"], json.dumps({**report, "files": paths}, indent=1) + "\n")
        plot_tau(runs, paths["plot"], title=report.get("title", ""), ceilings=ceilings)
    except OSError as exc:
        raise OfaBenchError(f"cannot write results to {str(out)!r}: {exc.strerror or exc}") from exc
    return paths


def plot_tau(
    runs: pd.DataFrame, path: str | Path, title: str = "", ceilings: dict[str, float] | None = None
) -> Path:
    """Kendall tau against train size: median line and interquartile band per predictor.

    Args:
        runs: One row per run with ``predictor``, ``train_size`` and ``kendall_tau``.
        path: PNG file to write atomically.
        title: Plot title.
        ceilings: Noise-ceiling taus by label, drawn as grey horizontal lines.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window; works without a display
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for name, group in runs.groupby("predictor", sort=False):
        stats = group.groupby("train_size")["kendall_tau"].quantile([0.25, 0.5, 0.75]).unstack()
        sizes = stats.index.to_numpy(dtype=np.float64)
        (line,) = ax.plot(sizes, stats[0.5], marker="o", label=str(name))
        ax.fill_between(sizes, stats[0.25], stats[0.75], color=line.get_color(), alpha=0.2, linewidth=0)
    for (label, value), style in zip((ceilings or {}).items(), ("--", ":", "-.")):
        ax.axhline(value, color="0.3", linestyle=style, linewidth=1, label=f"{label} ({value:.3f})")
    ax.set_xscale("log")
    sizes = sorted(runs["train_size"].unique())
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training archs")
    ax.set_ylabel("Kendall τ on the held-out archs")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
