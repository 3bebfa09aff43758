"""What a suite fixes before its first run: the reference sample, the normalisation and the limits.

Fixed once and stored with the suite's output, so no run's numbers depend on which other runs
exist or finished.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ofa_bench import registry
from ofa_bench.atomic import write_text_atomic
from ofa_bench.benchmark import Benchmark
from ofa_bench.errors import OfaBenchError
from ofa_bench.harness.metrics.normalise import Normalisation
from ofa_bench.harness.oracle import Progress
from ofa_bench.harness.suite import Suite
from ofa_bench.interfaces import Predictor

__all__ = ["REFERENCE_FILE", "default_limits", "fixed_normalisation", "reference_sample"]

#: The reference random sample inside a suite's output directory.
REFERENCE_FILE = "reference.csv"


def reference_sample(
    suite: Suite, bench: Benchmark, oracle: Predictor | None, out: Path, progress: Progress | None = None
) -> pd.DataFrame:
    """The random reference sample plus the space's extreme archs, evaluated with the suite's oracle.

    Read back from ``out/reference.csv`` when a previous (interrupted) run of the suite wrote it.
    """
    from ofa_bench.evaluate import Evaluator

    path = out / REFERENCE_FILE
    if path.exists():
        return pd.read_csv(path)
    space = bench.space
    archs = space.sample(suite.reference.random_sample, suite.reference.seed)
    extremes = [space.smallest(r=min(space.resolutions)), space.largest()]
    backends = [registry.create("hardware", b.name, **b.params) for b in suite.backend_list]
    everything = [*extremes, *archs]
    chunk = 250 if oracle is not None else 10  # live measurements are slow: report progress often
    parts = []
    with Evaluator(bench, device=suite.benchmark.device, oracle=oracle) as evaluator:
        for lo in range(0, len(everything), chunk):
            parts.append(evaluator.evaluate(everything[lo : lo + chunk], backends))
            if progress is not None:
                progress("reference", min(lo + chunk, len(everything)), len(everything))
    df = pd.concat(parts, ignore_index=True)
    df.insert(0, "source", ["extreme"] * len(extremes) + ["random"] * len(archs))
    df = df.drop(columns=[c for c in ("cached", "wall_time", "fingerprint", "oracle") if c in df])
    write_text_atomic(path, df.to_csv(index=False))
    return df


def fixed_normalisation(suite: Suite, reference: pd.DataFrame) -> Normalisation:
    """Fixed bounds: the suite's own, else the range of the reference sample and extremes."""
    bounds: dict[str, tuple[float, float]] = {}
    for objective in suite.objective_list:
        if objective.column in suite.hv.bounds:
            low, high = suite.hv.bounds[objective.column]
        else:
            values = pd.to_numeric(reference.get(objective.column), errors="coerce")
            values = np.asarray(values, dtype=np.float64) if values is not None else np.zeros(0)
            values = values[np.isfinite(values)]
            if values.size == 0:
                raise OfaBenchError(
                    f"hv.bounds: no measured {objective.column} in the reference sample to fix its bounds; "
                    f"give hv.bounds.{objective.column}: [low, high]"
                )
            low, high = float(values.min()), float(values.max())
        if not high > low:  # one value everywhere: any positive span keeps the axis usable
            high = low + max(abs(low) * 0.1, 1e-9)
        bounds[objective.column] = (float(low), float(high))
    return Normalisation(suite.objective_list, suite.constraint_list, bounds, suite.hv.reference)


def default_limits(suite: Suite, norm: Normalisation) -> dict[str, list[float]]:
    """Levels of "best accuracy under limit": the suite's, else its constraints' and quartiles of each cost."""
    if suite.hv.limits:
        return {k: [float(v) for v in values] for k, values in suite.hv.limits.items()}
    limits: dict[str, list[float]] = {}
    for c in suite.constraint_list:
        limits.setdefault(c.column, []).append(float(c.upper))
    for o in suite.objective_list:
        if o.direction == "min":
            low, high = norm.bounds[o.column]
            levels = limits.setdefault(o.column, [])
            levels.extend(float(f"{low + q * (high - low):.4g}") for q in (0.25, 0.5, 0.75))
    return {k: sorted(set(v)) for k, v in limits.items()}
