"""The noise ceiling of a benchmark: how well independent measurements of the same archs agree.

A measured accuracy carries two kinds of chance: which images calibrate BN, and which images
the validation split happens to hold. :func:`remeasure` measures archs again with BN calibrated on
another, equally large random subset of the training split (same weights, same validation split),
recording each validation image's outcome, and :func:`noise_ceiling` reports both agreements:

* between the archive and the re-measurement (calibration noise only; the validation images are
  shared, so their chance is not seen);
* between two disjoint halves of the validation split (validation-sampling noise), turned into an
  estimate of the best Kendall tau any predictor can reach against the whole split: the
  Spearman-Brown reliability ``2 r / (1 + r)`` of the half-split Pearson ``r`` is the squared
  correlation between the measurement and the noise-free accuracy, and under a Gaussian model
  ``tau = 2 / pi * asin(corr)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ofa_bench.benchmark.measure import Measurer
from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.errors import OfaBenchError
from ofa_bench.metrics.predictors import score
from ofa_bench.nn import resolve_device
from ofa_bench.space import Arch

__all__ = ["Remeasurement", "noise_ceiling", "remeasure", "remeasure_each"]


@dataclass(frozen=True)
class Remeasurement:
    """Accuracies of archs measured again with another BN-calibration subset.

    Attributes:
        accuracy: ``(n,)`` top-1 accuracy on the whole validation split.
        halves: ``(n, 2)`` accuracy on its even- and odd-positioned images (disjoint halves).
        calibration_seed: Seed of the calibration subset; ``None`` for the benchmark's own.
    """

    accuracy: np.ndarray
    halves: np.ndarray
    calibration_seed: int | None


def remeasure(
    benchmark: Benchmark | str | Path,
    archs: Sequence[Arch],
    calibration_seed: int | None = 1,
    device: str | torch.device | None = None,
    on_arch: Callable[[], None] | None = None,
) -> Remeasurement:
    """Measure archs again, BN calibrated on another subset of the training split.

    Args:
        benchmark: The benchmark (or its directory) the archs were measured on.
        archs: Archs of its space.
        calibration_seed: Seed of the other calibration subset: as many unaugmented training
            batches as the benchmark's calibration uses, in the order the training loader gives
            for this seed. ``None`` uses the benchmark's own subset, reproducing its accuracies.
        device: Where the supernet runs (default: CUDA when present).
        on_arch: Called after each arch, e.g. to advance a progress bar.

    Returns:
        The accuracies; nothing is cached, as these are not the benchmark's numbers.
    """
    bench = benchmark if isinstance(benchmark, Benchmark) else Benchmark.load(benchmark)
    for i, arch in enumerate(archs):
        if arch.space != bench.space:
            raise OfaBenchError(f"arch {i} is of space {arch.space.name!r}; the benchmark is of {bench.space.name!r}")
    correct = []
    for _, hits in remeasure_each(bench, archs, calibration_seed, device):
        correct.append(hits)
        if on_arch is not None:
            on_arch()
    hits = np.array(correct, dtype=np.float64).reshape(len(archs), -1)
    halves = np.stack([hits[:, 0::2].mean(1), hits[:, 1::2].mean(1)], axis=1) if len(archs) else np.zeros((0, 2))
    return Remeasurement(hits.mean(1) if len(archs) else np.zeros(0), halves, calibration_seed)


def remeasure_each(
    bench: Benchmark,
    archs: Iterable[Arch],
    calibration_seed: int | None = 1,
    device: str | torch.device | None = None,
) -> Iterator[tuple[Arch, np.ndarray]]:
    """:func:`remeasure`, one arch at a time: yields each arch with its per-image outcomes (bool, validation order).

    The supernet and the data load once, when the first arch is measured; ``archs`` is consumed
    lazily, so a caller may decide what to measure next (e.g. claim it in a shared cache) between
    archs and store each result as it comes.
    """
    measurer = Measurer(bench, resolve_device(device), calibration_seed)
    for i, arch in enumerate(archs):
        if arch.space != bench.space:
            raise OfaBenchError(f"arch {i} is of space {arch.space.name!r}; the benchmark is of {bench.space.name!r}")
        yield arch, measurer.measure(arch, ["val"])["val"].hits


def noise_ceiling(measured: np.ndarray, again: Remeasurement) -> dict[str, Any]:
    """How far the benchmark's own noise lets any predictor go.

    Args:
        measured: The archive's accuracies of the archs.
        again: Their re-measurement.

    Returns:
        ``calibration``: the metrics of the re-measurement as a prediction of ``measured``;
        ``split_half``: ``kendall_tau`` and ``pearson_r`` between the two validation halves,
        the Spearman-Brown ``reliability`` of the whole split and ``tau_ceiling``, the estimated
        best Kendall tau against the whole split; ``n`` and ``calibration_seed``.
    """
    a, b = again.halves[:, 0], again.halves[:, 1]
    half_tau = score(a, b)["kendall_tau"]
    r = float(np.corrcoef(a, b)[0, 1]) if np.std(a) > 0 and np.std(b) > 0 else 0.0
    reliability = max(0.0, 2 * r / (1 + r)) if r > -1 else 0.0
    return {
        "n": int(len(measured)),
        "calibration_seed": again.calibration_seed,
        "calibration": score(measured, again.accuracy),
        "split_half": {
            "kendall_tau": half_tau,
            "pearson_r": r,
            "reliability": reliability,
            "tau_ceiling": float(2 / math.pi * math.asin(math.sqrt(reliability))),
        },
    }
