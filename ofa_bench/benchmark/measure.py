"""The one measure loop of a benchmark: re-calibrate BN for an arch, then evaluate it on data splits.

Every live accuracy in ofa-bench comes from here: the :class:`~ofa_bench.evaluate.Evaluator`'s, the
measured archive's (:mod:`ofa_bench.benchmark.archive`) and the noise model's re-measurements
(:mod:`ofa_bench.benchmark.noise`). What varies between them is only which splits are evaluated
and which training images BN is calibrated on: the benchmark's own calibration subset (named in
its fingerprint), or, for a re-measurement, another subset of the same size drawn with a seed.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.errors import OfaBenchError
from ofa_bench.space import Arch
from ofa_bench.train.calibrate import calibrate_bn

__all__ = ["LIVE", "Measurer", "SplitOutcome"]

#: The oracle label of live measurements (accuracy from the supernet itself).
LIVE = "live"


@dataclass(frozen=True)
class SplitOutcome:
    """An arch on one split: which images it classified right, and its mean cross-entropy.

    Attributes:
        hits: Boolean per image, in the split's order.
        loss: Mean cross-entropy in nats.
    """

    hits: np.ndarray
    loss: float

    @property
    def accuracy(self) -> float:
        """Top-1 accuracy: the share of images classified right."""
        return float(self.hits.mean())


class Measurer:
    """Measures archs of one benchmark on one device; the supernet and the data load on first use.

    Args:
        bench: The benchmark.
        device: Where to run (``cpu`` or ``cuda``).
        calibration_seed: ``None`` re-calibrates BN on the benchmark's own calibration subset (what
            its fingerprint names); a seed draws another subset of the same size from the training
            split, without augmentation (a re-measurement for the noise model).
    """

    def __init__(self, bench: Benchmark, device: torch.device | str = "cpu", calibration_seed: int | None = None):
        self.bench = bench
        self.device = torch.device(device)
        self.calibration_seed = calibration_seed
        self._net: torch.nn.Module | None = None
        self._plain = None

    @property
    def net(self) -> torch.nn.Module:
        """The benchmark's supernet on the device, in channels-last memory format (loaded once)."""
        if self._net is None:
            # channels_last: oneDNN's depthwise convolutions run several times faster in it.
            self._net = self.bench.supernet(self.device).to(memory_format=torch.channels_last)
        return self._net

    def calibration_batches(self, r: int) -> Iterator[torch.Tensor]:
        """The batches BN is re-calibrated on for an arch at resolution ``r``."""
        bench, size = self.bench, self.bench.calibration_batch_size
        if self.calibration_seed is None:
            batches = bench.data().eval_batches("calib", r, size)
        else:
            if self._plain is None:
                from ofa_bench.data import load_data

                self._plain = load_data(dataclasses.replace(bench.data_spec, augment=False))
            n_batches = math.ceil(bench.data_spec.calib_size / size)
            batches = itertools.islice(self._plain.train_batches(size, [r], seed=self.calibration_seed, epoch=0), n_batches)
        return (torch.as_tensor(x).contiguous(memory_format=torch.channels_last) for x, _ in batches)

    def measure(self, arch: Arch, splits: Sequence[str] = ("val",)) -> dict[str, SplitOutcome]:
        """Re-calibrate BN for ``arch``, then evaluate it on each of ``splits``.

        Args:
            arch: The arch, of the benchmark's space.
            splits: Data splits: ``"val"`` (what search and predictors see) and ``"test"``.

        Returns:
            One :class:`SplitOutcome` per split.

        Raises:
            OfaBenchError: An arch of another space, or an empty split.
        """
        bench, net, device = self.bench, self.net, self.device
        if arch.space != bench.space:
            raise OfaBenchError(f"arch of space {arch.space.name!r}; the benchmark is of {bench.space.name!r}")
        calibrate_bn(net, arch, self.calibration_batches(arch.r))
        data = bench.data()
        out = {}
        with torch.inference_mode():
            for split in splits:
                hits, loss = [], torch.zeros((), dtype=torch.float64, device=device)
                for x, y in data.eval_batches(split, arch.r, bench.eval_batch_size):
                    x = torch.as_tensor(x).to(device, non_blocking=True, memory_format=torch.channels_last)
                    y = torch.as_tensor(y).to(device, non_blocking=True)
                    logits = net(x)
                    loss += F.cross_entropy(logits, y, reduction="sum").double()
                    hits.append((logits.argmax(1) == y).cpu().numpy())
                if not hits:
                    raise OfaBenchError(f"benchmark {str(bench.directory)!r}: the {split} split is empty")
                outcome = np.concatenate(hits)
                out[split] = SplitOutcome(outcome, loss.item() / outcome.size)
        return out
