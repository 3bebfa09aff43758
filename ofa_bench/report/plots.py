"""The report's figures: median-attainment Pareto fronts and hypervolume-vs-evaluations curves (PNG).

matplotlib runs on its Agg backend (no display needed); every figure is written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ofa_bench.io.atomic import atomic_path
from ofa_bench.metrics import Normalisation, attainment_front, curve_at
from ofa_bench.suite.results import SuiteResults

__all__ = ["hypervolume_figure", "pareto_figure"]


def _pyplot():  # noqa: ANN202 - matplotlib's module
    import matplotlib

    matplotlib.use("Agg")  # files only: works without a display and in worker processes
    import matplotlib.pyplot as plt

    return plt


def _finish(fig: object, ax: object, title: str, path: Path) -> Path:
    """Title, grid and legend on ``ax``; ``fig`` written atomically to ``path`` as a PNG and closed."""
    ax.set_title(title)  # type: ignore[attr-defined]
    ax.grid(alpha=0.3)  # type: ignore[attr-defined]
    ax.legend(fontsize=8)  # type: ignore[attr-defined]
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
    finally:
        _pyplot().close(fig)
    return path


def _axes(norm: Normalisation) -> tuple[int, int]:
    """Which objectives go on x and y: a maximised one (accuracy) up, a minimised one (cost) across."""
    first, second = norm.objectives[0], norm.objectives[1]
    return (1, 0) if first.direction == "max" and second.direction == "min" else (0, 1)


def pareto_figure(results: SuiteResults, path: Path) -> Path | None:
    """Plot each strategy's median attainment front over seeds and the reference front.

    Uses the first two objectives (fronts are recomputed in those two). Returns ``None`` for a
    single-objective suite.
    """
    norm = results.norm
    if len(norm.objectives) < 2:
        return None
    plt = _pyplot()
    pair = Normalisation(norm.objectives[:2], (), {o.column: norm.bounds[o.column] for o in norm.objectives[:2]})
    x, y = _axes(norm)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    ref = results.reference_front
    if len(ref):
        raw = pair.raw(ref[:, :2])
        ax.scatter(raw[:, x], raw[:, y], s=10, color="0.75", label="reference front", zorder=1)
    for i, label in enumerate(results.strategies):
        keys = [u["key"] for u in results.state["units"] if u["label"] == label and u["key"] in results.fronts]
        fronts = [results.fronts[k][:, :2] for k in keys]
        corners = attainment_front(fronts) if fronts else np.zeros((0, 2))
        if len(corners) == 0:
            continue
        raw = pair.raw(corners)
        order = np.argsort(raw[:, x])
        ax.step(raw[order, x], raw[order, y], where="post", marker="o", ms=3, color=f"C{i}",
                label=f"{label} ({len(fronts)} seeds)")  # fmt: skip
    for axis, o in ((ax.set_xlabel, norm.objectives[x]), (ax.set_ylabel, norm.objectives[y])):
        axis(f"{o.column} ({'higher' if o.direction == 'max' else 'lower'} is better)")
    return _finish(fig, ax, "Median attainment front per strategy", path)


def hypervolume_figure(results: SuiteResults, path: Path, points: int = 200) -> Path | None:
    """Plot the median hypervolume over seeds against evaluations, with the interquartile band."""
    curves = results.anytime
    if len(curves) == 0:
        return None
    plt = _pyplot()
    budget = int(curves["n"].max())
    grid = np.unique(np.linspace(1, budget, min(points, budget)).round().astype(np.int64))
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, label in enumerate(results.strategies):
        mine = curves[curves["strategy"] == label]
        if len(mine) == 0:
            continue
        values = np.stack([curve_at(group, grid) for _, group in mine.groupby("seed")])
        q1, median, q3 = np.percentile(values, [25, 50, 75], axis=0)
        ax.plot(grid, median, color=f"C{i}", label=f"{label} ({len(values)} seeds)")
        ax.fill_between(grid, q1, q3, color=f"C{i}", alpha=0.15, linewidth=0)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("hypervolume (normalised)")
    return _finish(fig, ax, "Hypervolume vs evaluations (median, IQR band)", path)
