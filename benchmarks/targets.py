"""Every performance target of ofa-bench, in one table, and the PASS/MISS verdict on a run's figures.

Benchmarks record figures with :func:`record` under a target's key; the closing summary of every
``pytest benchmarks`` run (``make bench``) prints one line per target: measure, target, figure,
PASS or MISS (or "not measured" when the benchmark did not run, e.g. a CUDA one on a CPU machine).
A figure recorded several times (one per subnet, space or strategy) is aggregated as the target
says, worst case unless stated. The references are named in each description: a ratio against
the reference ``ofa`` package names which of its efficiency models it ran with.

Every figure depends on the CPU it was measured on, and the table says which one (model name,
logical cores, the one thread the benchmarks run on). Absolute rates scale with the CPU's speed; the
ratios measured side by side in one run (elastic / static, ours / ``ofa``'s) should not, but do
between CPU families: elastic / static forward was 0.97-1.04 on an Intel Xeon and 1.20 on an AMD EPYC
with the same code. So a MISS on one CPU is information for the closing note of a change, not a
failed build: the build is gated by ``benchmarks/gate.py`` (large regressions) and the tests.
"""

from __future__ import annotations

import operator
import os
import platform
from dataclasses import dataclass

import numpy as np

__all__ = ["CEILINGS", "FIGURES", "TARGETS", "Target", "record", "record_ceiling", "verdicts"]


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
    Target("forward_ratio", "elastic / static forward, median of 4 subnets (w1.0, r=160, batch 8, channels-last)",
           "<=", 1.0, "x", "median"),
    Target("forward_ratio", "elastic / static forward, worst of 4 subnets (same setting)", "<=", 1.0, "x"),
    Target("forward_vs_ofa", "elastic forward / ofa's elastic OFAMobileNetV3 forward, same weights, median of 5 "
           "subnets (w1.0, r=160, batch 8, channels-last)", "<=", 0.8, "x", "median"),
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
#: The best figure each target could reach on this machine, when a benchmark measured one (by key).
CEILINGS: dict[str, float] = {}


def record(key: str, value: float) -> None:
    """Record one figure for the target(s) with this key."""
    if not any(t.key == key for t in TARGETS):
        raise KeyError(f"no target with key {key!r}; keys: {sorted({t.key for t in TARGETS})}")
    FIGURES.setdefault(key, []).append(float(value))


def record_ceiling(key: str, value: float) -> None:
    """Record the best figure a target could reach here, measured in the same run (e.g. the oracle alone).

    The table then says, beside a MISS, whether the bound is within reach on this machine at all.
    """
    if not any(t.key == key for t in TARGETS):
        raise KeyError(f"no target with key {key!r}; keys: {sorted({t.key for t in TARGETS})}")
    CEILINGS[key] = float(value)


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


def cpu_model() -> str:
    """This machine's CPU model name (``/proc/cpuinfo``, else :func:`platform.processor`)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_line(threads: int) -> str:
    """Which CPU the figures describe, and on how many threads (torch, BLAS, OpenMP) they were measured."""
    return (f"measured on: {cpu_model()}, {os.cpu_count()} logical cores, {threads} thread(s) per runtime; "
            "figures depend on the CPU (a MISS here is not a failed build)")  # fmt: skip


def table(figures: dict[str, list[float]] | None = None, ceilings: dict[str, float] | None = None) -> list[str]:
    """The verdicts as lines of a fixed-width table (:func:`machine_line` says on which CPU).

    A MISS whose target has a recorded ceiling (:func:`record_ceiling`) says it: ``MISS (ceiling
    28.0 here: out of reach)`` when even the ceiling misses the bound, else ``MISS (ceiling 208)``.
    """
    ceilings = CEILINGS if ceilings is None else ceilings
    lines = [f"{'measure':92s} {'target':>14s} {'figure':>12s}  verdict"]
    for target, figure, verdict in verdicts(figures):
        bound = f"{target.op} {target.bound:,g} {target.unit}"
        shown = "-" if figure is None else f"{figure:,.{3 if figure < 100 else 0}f}"
        ceiling = ceilings.get(target.key)
        if verdict == "MISS" and ceiling is not None:
            reach = "" if target.met(ceiling) else " here: out of reach"
            verdict += f" (ceiling {ceiling:,.{1 if ceiling < 100 else 0}f}{reach})"
        lines.append(f"{target.measure:92s} {bound:>14s} {shown:>12s}  {verdict}")
    return lines
