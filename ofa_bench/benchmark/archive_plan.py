"""What a benchmark's measured archive holds: its plan, its columns, and one arch's full measurement.

See :mod:`ofa_bench.benchmark.archive` for how an archive is built.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import time
from dataclasses import dataclass

import numpy as np

from ofa_bench.benchmark.measure import Measurer
from ofa_bench.errors import OfaBenchError
from ofa_bench.space import Arch, SearchSpace

__all__ = [
    "ARCHIVE_COLUMNS",
    "FULL",
    "LONG_RUN_INDEX",
    "MEASURED",
    "NOISE",
    "TRAJECTORY_OBJECTIVES",
    "ArchivePlan",
    "extreme_archs",
    "measure_full",
    "noise_seeds",
    "strategy_digest",
]

#: Columns of ``archive.csv``.
ARCHIVE_COLUMNS = (
    "arch", "source", "accuracy", "loss", "valid_half_a", "valid_half_b", "test_accuracy", "test_loss",
    "macs", "params", "r", "seconds",
)  # fmt: skip
#: What one full measurement of an arch holds (``archive.csv`` columns).
MEASURED = ("accuracy", "loss", "valid_half_a", "valid_half_b", "test_accuracy", "test_loss")
#: Kinds of rows in the cache's ``records`` table.
FULL = "archive:full"
NOISE = "archive:noise:{seed}"
#: Objectives of the trajectory searches.
TRAJECTORY_OBJECTIVES = "accuracy,macs"
#: First stream index of the long runs (ordinary trajectories use 0, 1, ... per strategy).
LONG_RUN_INDEX = 1_000_000



@dataclass(frozen=True)
class ArchivePlan:
    """What an archive holds.

    Attributes:
        random: Uniform random archs.
        strategies: Search strategies whose trajectories join the archive.
        trajectory_budget: Evaluations of each trajectory.
        trajectory_seeds: Trajectories per strategy (each its own seed).
        extremes: Whether the space's corners join the archive.
        noise_archs: Random archs (the first ones) measured again for the noise model.
        noise_repeats: Independent BN-calibration subsets each of them is measured with.
        seed: Seed of every random choice (sampling, strategy seeds, calibration subsets).
        long_runs: Strategies searched once more each for ``long_budget`` evaluations (its own seed),
            so the archive also holds where a long search ends up.
        long_budget: Evaluations of each long run.
    """

    random: int = 768
    strategies: tuple[str, ...] = ("regularized-evolution", "nsga2", "tpe", "local-search")
    trajectory_budget: int = 50
    trajectory_seeds: int = 1
    extremes: bool = True
    noise_archs: int = 100
    noise_repeats: int = 2
    seed: int = 0
    long_runs: tuple[str, ...] = ()
    long_budget: int = 0

    def __post_init__(self) -> None:
        if self.long_runs and self.long_budget < 1:
            raise OfaBenchError(f"archive long_budget must be >= 1 with long runs; got {self.long_budget}")
        for name in ("random", "trajectory_budget", "trajectory_seeds", "noise_archs", "noise_repeats", "seed",
                     "long_budget"):  # fmt: skip
            if getattr(self, name) < 0:
                raise OfaBenchError(f"archive {name} must be >= 0; got {getattr(self, name)}")
        if self.noise_archs > self.random:
            raise OfaBenchError(
                f"archive noise_archs ({self.noise_archs}) must be <= random ({self.random}): "
                "the noise model re-measures the first random archs"
            )
        for field_name in ("strategies", "long_runs"):
            names = getattr(self, field_name)
            if names:
                from ofa_bench.plugins import registry

                known = registry.names("strategy")
                for name in names:
                    if name not in known:
                        raise OfaBenchError(
                            f"archive {field_name}: unknown strategy {name!r}; known: {', '.join(known)}"
                        )


def extreme_archs(space: SearchSpace) -> list[Arch]:
    """Every combination of the smallest and largest kernel, expand and depth, at every resolution."""
    k, e, d = space.ks_choices, space.e_choices, space.d_choices
    archs = []
    for r in space.resolutions:
        for kk, ee, dd in itertools.product((min(k), max(k)), (min(e), max(e)), (min(d), max(d))):
            archs.append(
                space.from_dict(
                    {"ks": [kk] * space.n_blocks, "e": [ee] * space.n_blocks, "d": [dd] * space.n_stages, "r": r}
                )
            )
    return archs



def measure_full(measurer: Measurer, arch: Arch) -> dict[str, float]:
    """One arch's validation accuracy and loss, its two validation halves, and test accuracy and loss.

    BN is calibrated once, on the benchmark's own subset (``measurer`` has no calibration seed),
    so ``accuracy`` equals what :class:`ofa_bench.evaluate.Evaluator` measures on the validation
    split and ``test_accuracy`` what it measures on the test split (NaN for a benchmark without one).
    """
    started = time.perf_counter()
    has_test = "test" in measurer.bench.data().eval_splits
    outcome = measurer.measure(arch, ("val", "test") if has_test else ("val",))
    val = outcome["val"]
    hits = val.hits.astype(np.float64)
    out = {
        "accuracy": val.accuracy,
        "loss": val.loss,
        "valid_half_a": float(hits[0::2].mean()),
        "valid_half_b": float(hits[1::2].mean()) if hits.size > 1 else math.nan,
        "test_accuracy": outcome["test"].accuracy if has_test else math.nan,
        "test_loss": outcome["test"].loss if has_test else math.nan,
    }
    out["seconds"] = time.perf_counter() - started
    return out


def strategy_digest(name: str) -> int:
    """A stable 31-bit number for a strategy name (its stream index, whatever the list's order)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") >> 1


def noise_seeds(plan: ArchivePlan) -> list[int]:
    from ofa_bench.search.streams import stream_seed

    return [stream_seed(plan.seed, "archive_noise", i) % 2**31 for i in range(plan.noise_repeats)]


