"""Every performance target of ofa-bench, in one table, and the PASS/MISS verdict on a run's figures.

Benchmarks record figures with :func:`record` under a target's key; the closing summary of every
``pytest benchmarks`` run (``make bench``) prints one line per target: measure, target, figure,
PASS or MISS (or "not measured" when the benchmark did not run, e.g. a CUDA one on a CPU machine).
A figure recorded several times (one per subnet, space or strategy) is aggregated as the target
says, worst case unless stated. The references are named in each description: a ratio against
the reference ``ofa`` package names which of its efficiency models it ran with.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

__all__ = ["FIGURES", "TARGETS", "Target", "record", "verdicts"]


@dataclass(frozen=True)
class Target:
    """One performance target: what is measured, the bound, and how repeated figures combine."""

    key: str
    measure: str
    op: str  # "<=" or ">="
    bound: float
    unit: str
    aggregate: str = "worst"  # worst, median

    def figure(self, values: list[float]) -> float:
        """The figure the bound applies to."""
        if self.aggregate == "median":
            return float(np.median(values))
        return float(max(values) if self.op == "<=" else min(values))

    def met(self, figure: float) -> bool:
        """Whether ``figure`` meets the bound."""
        return {"<=": operator.le, ">=": operator.ge}[self.op](figure, self.bound)


TARGETS: tuple[Target, ...] = (
    Target("forward_ratio", "elastic / static forward, median of 4 subnets (w1.0, r=160, batch 8, same depthwise op)",
           "<=", 1.03, "x", "median"),
    Target("forward_ratio", "elastic / static forward, worst of 4 subnets (same setting)", "<=", 1.0, "x"),
    Target("train_step_ratio", "elastic / static training step, worst of 3 ofa-mini subnets (same depthwise op)",
           "<=", 1.15, "x"),
    Target("costs_rate", "analytic MACs + params, 10,000 archs as an Arch list", ">=", 50_000, "archs/s"),
    Target("backend_rate", "lut / macs / params / macs-linear query, slowest of both spaces, Arch list",
           ">=", 50_000, "archs/s"),
    Target("mlp_int8_rate", "MLP predictor (int8), 10,000-arch batch array, slowest space", ">=", 100_000, "archs/s"),
    Target("evolution_vs_ofa_own_counter", "evolution / ofa EvolutionFinder, both with our MACs counter",
           ">=", 50, "x"),
    Target("evolution_vs_ofa_flops", "evolution / ofa EvolutionFinder with ofa's own Mbv3FLOPsModel",
           ">=", 100, "x"),
    Target("strategy_overhead_ms", "strategy ask + tell per arch, worst built-in (budget 500, 2 objectives)",
           "<=", 5, "ms/arch"),
    Target("live_eval_s", "live evaluation of one arch on fmnist (BN calibration + validation split), 2 threads",
           "<=", 3, "s/arch"),
)  # fmt: skip

#: Figures recorded in this session, by target key.
FIGURES: dict[str, list[float]] = {}


def record(key: str, value: float) -> None:
    """Record one figure for the target(s) with this key."""
    if not any(t.key == key for t in TARGETS):
        raise KeyError(f"no target with key {key!r}; keys: {sorted({t.key for t in TARGETS})}")
    FIGURES.setdefault(key, []).append(float(value))


def verdicts(figures: dict[str, list[float]] | None = None) -> list[tuple[Target, float | None, str]]:
    """``(target, figure, PASS | MISS | not measured)`` for every target."""
    figures = FIGURES if figures is None else figures
    out = []
    for target in TARGETS:
        values = figures.get(target.key)
        if not values:
            out.append((target, None, "not measured"))
            continue
        figure = target.figure(values)
        out.append((target, figure, "PASS" if target.met(figure) else "MISS"))
    return out


def table(figures: dict[str, list[float]] | None = None) -> list[str]:
    """The verdicts as lines of a fixed-width table."""
    lines = [f"{'measure':92s} {'target':>14s} {'figure':>12s}  verdict"]
    for target, figure, verdict in verdicts(figures):
        bound = f"{target.op} {target.bound:,g} {target.unit}"
        shown = "-" if figure is None else f"{figure:,.{3 if figure < 100 else 0}f}"
        lines.append(f"{target.measure:92s} {bound:>14s} {shown:>12s}  {verdict}")
    return lines
