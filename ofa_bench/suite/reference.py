"""What a suite fixes before its first run: the reference sample, the normalisation, the reference
front and target, the measurement resolution and the limits.

Fixed once and stored in the suite's ``suite.json``, so no run's numbers depend on which other
runs exist or finished: IGD is measured against the reference sample's front, and
"evaluations to target" against a share of that front's hypervolume.

The normalisation's best bound dominates every feasible arch: accuracy's is 1 (nothing scores
more), a minimised cost's is the smallest value of the reference sample, which holds the space's
smallest arch (analytic costs and lookup tables grow with every choice). The hypervolume
reference point follows Ishibuchi et al. (2018, "How to specify a reference point in hypervolume
calculation"): ``1 + 1/H`` on every normalised axis, with ``H`` the largest integer for which a
simplex lattice of ``H`` divisions in ``m`` objectives has at most ``N`` points,
``C(H + m - 1, m - 1) <= N``; ``N`` is the size of the reference front, so a well-spread front of
that size weighs its extreme points like its inner ones. ``hv.reference`` overrides it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.errors import OfaBenchError
from ofa_bench.io.atomic import write_text_atomic
from ofa_bench.metrics.hypervolume import hypervolume
from ofa_bench.metrics.igd import reference_front
from ofa_bench.metrics.normalise import Normalisation
from ofa_bench.plugins import registry
from ofa_bench.plugins.interfaces import Predictor
from ofa_bench.search.streams import stream_rng
from ofa_bench.suite.config import Suite
from ofa_bench.suite.oracle import Progress

__all__ = [
    "REFERENCE_FILE",
    "default_limits",
    "fixed_normalisation",
    "fixed_references",
    "ishibuchi_reference",
    "reference_sample",
]

#: Columns with a natural best bound that no arch can pass.
_BEST_BOUND = {"accuracy": 1.0}

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
    archs = space.sample(suite.reference.random_sample, stream_rng(suite.seed, "reference_sample", suite.reference.seed))
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
    """Fixed bounds: the suite's own, else the range of the reference sample and extremes.

    A maximised column with a natural ceiling (accuracy: 1) takes it as its best bound, so no
    arch can lie beyond the box. The reference point is ``hv.reference`` when given, else the
    Ishibuchi point (:func:`ishibuchi_reference`) of the reference sample's front.
    """
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
            if objective.direction == "max" and objective.column in _BEST_BOUND:
                high = max(high, _BEST_BOUND[objective.column])
        if not high > low:  # one value everywhere: any positive span keeps the axis usable
            high = low + max(abs(low) * 0.1, 1e-9)
        bounds[objective.column] = (float(low), float(high))
    norm = Normalisation(suite.objective_list, suite.constraint_list, bounds)
    if suite.hv.reference is not None:
        point = float(suite.hv.reference)
    else:
        point = ishibuchi_reference(len(reference_front([reference], norm)), len(norm.objectives))
    return Normalisation(suite.objective_list, suite.constraint_list, bounds, point)


def ishibuchi_reference(n_points: int, n_objectives: int) -> float:
    """``1 + 1/H``: ``H`` the most divisions whose simplex lattice in ``n_objectives`` has at most ``n_points`` points."""
    m = max(1, int(n_objectives))
    if m == 1:
        return 1.0 + 1.0 / max(1, int(n_points))
    h = 1
    while math.comb(h + 1 + m - 1, m - 1) <= n_points:
        h += 1
    return 1.0 + 1.0 / h


def fixed_references(
    suite: Suite,
    reference: pd.DataFrame,
    norm: Normalisation,
    n_val: int | None,
    fraction: float,
    default_noise: float | None = None,
) -> dict[str, Any]:
    """What ``suite.json`` fixes besides the normalisation: reference front, target and resolution.

    Args:
        suite: The suite.
        reference: The evaluated reference sample (:func:`reference_sample`).
        norm: The fixed normalisation (:func:`fixed_normalisation`).
        n_val: Images in the benchmark's evaluation split (one image is accuracy's resolution).
        fraction: Share of the reference front's hypervolume that "evaluations to target" counts.
        default_noise: The oracle's own noise when the suite states none (a shipped surrogate's
            ``noise.sd``: its answers are no finer than one live measurement).

    Returns:
        ``reference_front`` (normalised points), ``reference_hv``, ``target_hv`` and ``resolution``
        (per record column, the smallest difference that is more than measurement granularity).
    """
    front = reference_front([reference], norm)
    front_hv = hypervolume(front, norm.reference_point) if len(front) else 0.0
    resolution = {"accuracy": 1.0 / n_val} if n_val else {}
    noise = None
    if suite.oracle.mode in ("surrogate", "shipped"):
        noise = suite.oracle.noise if suite.oracle.noise is not None else default_noise
    if noise:
        resolution["accuracy"] = max(resolution.get("accuracy", 0.0), float(noise))
    return {
        "reference_front": [[float(v) for v in point] for point in front],
        "reference_hv": float(front_hv),
        "target_hv": float(fraction * front_hv),
        "resolution": resolution,
    }


def default_limits(
    suite: Suite, norm: Normalisation, front: np.ndarray | None = None
) -> dict[str, list[float]]:
    """Levels of "best accuracy under limit": the suite's, else its constraints' and quartiles of each cost.

    A minimised objective's levels are the quartiles of its values along the reference front
    (``front``, normalised points from :func:`reference_front`): where the front trades that cost
    for accuracy, so every level cuts into the range where strategies' fronts differ. Quartiles of
    the whole bounds put levels above where every front ends (the best archs are far from the
    costliest), and all columns then showed the same figure. Without a front of at least two
    points, the quartiles of the bounds are used.
    """
    if suite.hv.limits:
        return {k: [float(v) for v in values] for k, values in suite.hv.limits.items()}
    limits: dict[str, list[float]] = {}
    for c in suite.constraint_list:
        limits.setdefault(c.column, []).append(float(c.upper))
    raw = norm.raw(front) if front is not None and len(front) >= 2 else None
    for j, o in enumerate(norm.objectives):
        if o.direction != "min":
            continue
        if raw is not None:
            quartiles = np.quantile(raw[:, j], (0.25, 0.5, 0.75))
        else:
            low, high = norm.bounds[o.column]
            quartiles = [low + q * (high - low) for q in (0.25, 0.5, 0.75)]
        limits.setdefault(o.column, []).extend(float(f"{v:.4g}") for v in quartiles)
    return {k: sorted(set(v)) for k, v in limits.items()}
