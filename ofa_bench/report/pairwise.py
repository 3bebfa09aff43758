"""The report's all-pairs table: which strategy beats which on the verdict's metric.

Comparing each strategy with random says only "A beats random"; two strategies that both do can
still differ. This table tests every ordered pair (``A`` better than ``B``) with the same exact
one-sided rank test as the summary, Holm-adjusted across all ordered pairs of the metric
(:func:`ofa_bench.metrics.pairwise`), so the claims it marks hold together at the stated level.
"""

from __future__ import annotations

import math

from ofa_bench.metrics import ALPHA, smallest_p
from ofa_bench.report.render import Block
from ofa_bench.suite.results import SuiteResults

__all__ = ["pairwise_blocks"]


def _cell(p_adjusted: float, effect: float, better: bool) -> str:
    if math.isnan(p_adjusted):
        return "–"
    return f"{p_adjusted:.2g} / {effect:.2f}" + (" ✓" if better else "")


def pairwise_blocks(results: SuiteResults) -> list[Block]:
    """A matrix of ``p adj. / A12`` for "row beats column" on the verdict's metric, and its claims in words."""
    table = results.pairwise
    metric = results.verdict_metric
    if table.empty or len(results.strategies) < 2:
        return []
    rows_of = table[table["metric"] == metric]
    if rows_of.empty:
        return []
    labels = results.strategies
    cells = {(r["strategy"], r["other"]): r for r in rows_of.to_dict("records")}
    rows = []
    for label in labels:
        row = [label]
        for other in labels:
            r = cells.get((label, other))
            row.append("" if other == label else ("–" if r is None else _cell(
                float(r["p_adjusted"]), float(r["effect_size"]), bool(r["better"]))))
        rows.append(row)
    k = len(labels)
    seeds = len(results.state["suite"]["seeds"])
    floor = smallest_p(seeds, seeds)
    caption = (
        f"Row beats column on {metric}: Holm-adjusted p of the exact one-sided rank test / A12 (the chance "
        f"that a run of the row beats a run of the column), corrected across all {k * (k - 1)} ordered pairs; "
        f"✓ where p adj. < {ALPHA:g} and the median gain exceeds the resolution. With {seeds} seeds per "
        f"strategy the smallest unadjusted p is {floor:.2g}; Holm's first step needs p below "
        f"{ALPHA:g}/{k * (k - 1)} = {ALPHA / (k * (k - 1)):.2g}"
    )
    caption += "." if floor < ALPHA / (k * (k - 1)) else ", so no pair can be told apart: use more seeds."
    beats = results.beats(metric)
    if beats:
        claims = "; ".join(f"{a} beats {b}" for a, b in beats)
        text = f"Claims that hold across all pairs: {claims}."
    else:
        text = "No strategy beats another at this level across all pairs."
    return [("h2", "Strategy against strategy"), ("table", (["", *labels], rows)), ("p", caption), ("p", text)]
