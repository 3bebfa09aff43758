"""A split dataset served as batches: :class:`ImageData`.

Training batches follow OFA: each batch has one resolution drawn from a set, images are augmented
at their native size and then resized. :meth:`ImageData.train_batches` is a pure function of
``(seed, epoch, rank, world_size)``, so distributed ranks agree on the order and the resolutions
without talking to each other, and a resumed run sees the same batches as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import torch

from ofa_bench.data.sources import _Images
from ofa_bench.data.spec import DataSpec
from ofa_bench.data.splits import _stratified_pick
from ofa_bench.errors import OfaBenchError

__all__ = ["MIN_RESOLUTION", "ImageData"]

MIN_RESOLUTION = 8
_CACHE_BYTES = 64 * 2**20  # in-memory eval splits up to this size are kept resized per resolution
_AUGMENT_STREAM = 0x61756720  # keeps the augmentation seed apart from the (seed, epoch) order seed


class ImageData:
    """A dataset split into train, validation and calibration sets, served as batches of tensors.

    Built by :func:`load_data`. Images come out normalised, float32 ``(n, c, r, r)``, with int64
    labels. The validation source is the train source for digits and for an image folder without
    ``val/``, CIFAR's test set, or the folder's ``val/``.

    Attributes:
        spec: The spec it was built from.
        n_classes: Number of classes.
        in_channels: Image channels (1 for digits, 3 otherwise).
        n_train: Training images.
        n_val: Validation images.
        n_calib: BN-calibration images (a subset of the training images).
        n_test: Test images (0 when the dataset has no separate test split, as digits).
        train_index: Sorted int64 indices of the training images in the train source.
        val_index: Sorted int64 indices of the validation images in the validation source.
        calib_index: Sorted int64 indices of the calibration images in the train source.
        test_index: All indices of the test source, or ``None`` without a test split.
    """

    def __init__(
        self,
        spec: DataSpec,
        train: _Images,
        val: _Images,
        train_index: np.ndarray,
        val_index: np.ndarray,
        n_classes: int,
        mean: Sequence[float],
        std: Sequence[float],
        *,
        test: _Images | None = None,
        files_sha256: dict[str, str] | None = None,
    ) -> None:
        self.spec = spec
        self.n_classes = n_classes
        self.in_channels = len(mean)
        self._train, self._val = train, val
        self.train_index = np.asarray(train_index, dtype=np.int64)
        self.val_index = np.asarray(val_index, dtype=np.int64)
        self.n_train, self.n_val = len(self.train_index), len(self.val_index)
        self._test = test
        self.test_index = np.arange(len(test.labels), dtype=np.int64) if test is not None else None
        self.n_test = len(test.labels) if test is not None else 0
        self._files_sha256 = dict(files_sha256) if files_sha256 else None
        if spec.calib_size > self.n_train:
            raise OfaBenchError(
                f"calib_size {spec.calib_size} is larger than the {self.n_train}-image train split of "
                f"{spec.dataset}; use at most {self.n_train}"
            )
        pick = _stratified_pick(train.labels[self.train_index], spec.calib_size, spec.split_seed)
        self.calib_index = self.train_index[pick]
        self.n_calib = len(self.calib_index)
        self._mean, self._std = tuple(mean), tuple(std)
        self._mean_t = torch.tensor(self._mean).view(1, -1, 1, 1)
        self._std_t = torch.tensor(self._std).view(1, -1, 1, 1)
        self._cache: dict[tuple[str, int], torch.Tensor] = {}

    def __repr__(self) -> str:
        test = f", test={self.n_test}" if self._test is not None else ""
        return f"ImageData({self.spec.dataset!r}, train={self.n_train}, val={self.n_val}, calib={self.n_calib}{test})"

    @property
    def eval_splits(self) -> tuple[str, ...]:
        """The splits :meth:`eval_batches` serves: ``val``, ``calib`` and, where the dataset has one, ``test``."""
        return ("val", "calib", "test") if self._test is not None else ("val", "calib")

    def steps_per_epoch(self, batch_size: int, world_size: int = 1) -> int:
        """Full batches each rank gets per epoch (the remainder is dropped, equally on every rank); may be 0."""
        _check_positive("batch_size", batch_size)
        _check_positive("world_size", world_size)
        return self.n_train // world_size // batch_size

    def train_batches(
        self,
        batch_size: int,
        resolutions: Sequence[int],
        seed: int,
        epoch: int,
        rank: int = 0,
        world_size: int = 1,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of shuffled, augmented training batches for one rank.

        The order is ``np.random.default_rng([seed, epoch]).permutation(n_train)``, the same on
        every rank, and rank ``k`` takes ``perm[k::world_size]`` cut to ``steps_per_epoch`` full
        batches. Each batch has one resolution drawn uniformly from ``resolutions`` by the same
        generator after the permutation, so all ranks use the same resolution at each step.
        Augmentation draws from a torch generator seeded by ``(seed, epoch, rank)``.

        Args:
            batch_size: Images per batch on this rank.
            resolutions: Image sizes to draw from (each >= 8).
            seed: Run seed.
            epoch: Epoch number (a new order each epoch).
            rank: This process's rank.
            world_size: Number of ranks.

        Yields:
            ``(images, labels)``: float32 ``(batch_size, c, r, r)`` and int64 ``(batch_size,)``.
        """
        sizes = _check_resolutions(resolutions)
        steps = self.steps_per_epoch(batch_size, world_size)
        if steps == 0:  # an epoch without a single batch would make training silently do nothing
            per_rank = self.n_train // world_size
            raise OfaBenchError(
                f"batch_size {batch_size} is larger than the {per_rank} {self.spec.dataset} training images "
                f"each of {world_size} rank(s) gets; use at most {per_rank}"
            )
        for name, value in (("seed", seed), ("epoch", epoch)):
            if not _is_int(value) or value < 0:
                raise OfaBenchError(f"{name} must be an integer >= 0; got {value!r}")
        if not _is_int(rank) or not 0 <= rank < world_size:
            raise OfaBenchError(f"rank must be an integer in [0, {world_size}) (the world_size); got {rank!r}")
        rng = np.random.default_rng([seed, epoch])
        perm = rng.permutation(self.n_train)
        drawn = np.asarray(sizes)[rng.integers(len(sizes), size=steps)]
        shard = perm[rank::world_size][: steps * batch_size]
        gen = None
        if self.spec.augment:
            state = np.random.SeedSequence([seed, epoch, rank, _AUGMENT_STREAM]).generate_state(1, np.uint64)[0]
            gen = torch.Generator().manual_seed(int(state))
        return self._train_iter(shard, drawn, batch_size, gen)

    def _train_iter(
        self, shard: np.ndarray, drawn: np.ndarray, batch_size: int, gen: torch.Generator | None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for step, r in enumerate(drawn):
            index = self.train_index[shard[step * batch_size : (step + 1) * batch_size]]
            x = self._train.train_view(index, int(r), gen)
            yield self._normalise(x), torch.from_numpy(self._train.labels[index])

    def eval_batches(
        self, split: str, resolution: int, batch_size: int = 256
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches of a fixed split in a fixed order, without augmentation.

        Args:
            split: ``"val"`` (validation), ``"calib"`` (the BN-calibration subset of train) or
                ``"test"`` (the official test split, for reporting only; see :attr:`eval_splits`).
            resolution: Image size (>= 8); image folders are resized to ``ceil(r / 0.875)`` on the
                shorter side and centre-cropped, in-memory data is resized directly.
            batch_size: Images per batch (the last batch may be smaller).

        Yields:
            ``(images, labels)``: float32 ``(n, c, r, r)`` and int64 ``(n,)``.
        """
        (r,) = _check_resolutions([resolution])
        _check_positive("batch_size", batch_size)
        if split == "val":
            source, index = self._val, self.val_index
        elif split == "calib":
            source, index = self._train, self.calib_index
        elif split == "test" and self._test is not None:
            source, index = self._test, self.test_index
        else:
            raise OfaBenchError(
                f"unknown split {split!r} for {self.spec.dataset}; allowed splits: {', '.join(self.eval_splits)}"
            )
        whole = self._cache.get((split, r))
        if whole is None and source.in_memory and len(index) * self.in_channels * r * r * 4 <= _CACHE_BYTES:
            whole = self._cache[(split, r)] = self._normalise(source.eval_view(index, r))
        return self._eval_iter(source, index, r, batch_size, whole)

    def _eval_iter(
        self, source: _Images, index: np.ndarray, r: int, batch_size: int, whole: torch.Tensor | None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        labels = torch.from_numpy(source.labels[index])
        for start in range(0, len(index), batch_size):
            stop = start + batch_size
            # Cached tensors are copied out so a caller writing into a batch cannot spoil the cache.
            if whole is not None:
                x = whole[start:stop].clone()
            else:
                x = self._normalise(source.eval_view(index[start:stop], r))
            yield x, labels[start:stop]

    def describe(self) -> dict[str, Any]:
        """The spec, split sizes, normalisation and a sha256 (16 hex) of each split, for fingerprints.

        A split's hash covers its indices and their labels (and file paths for image folders), so a
        different split or different data gives a different hash. Datasets with a test split add
        ``n_test`` and ``test_sha256``; datasets read from pinned files add ``files_sha256`` (the
        decompressed files), so pixels are named too.
        """
        extra: dict[str, Any] = {}
        if self._test is not None:
            extra["n_test"] = self.n_test
        if self._files_sha256 is not None:
            extra["files_sha256"] = dict(self._files_sha256)
        return {
            **self.spec.to_dict(),
            "n_classes": self.n_classes,
            "in_channels": self.in_channels,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "n_calib": self.n_calib,
            **extra,
            "mean": list(self._mean),
            "std": list(self._std),
            **self._digests,
        }

    @cached_property
    def _digests(self) -> dict[str, str]:
        parts = {
            "train_sha256": self._train.ids(self.train_index),
            "val_sha256": self._val.ids(self.val_index),
            "calib_sha256": self._train.ids(self.calib_index),
        }
        if self._test is not None:
            parts["test_sha256"] = self._test.ids(self.test_index)
        return {key: hashlib.sha256(blob).hexdigest()[:16] for key, blob in parts.items()}

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        return x.sub_(self._mean_t).div_(self._std_t)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_positive(name: str, value: Any) -> None:
    if not _is_int(value) or value < 1:
        raise OfaBenchError(f"{name} must be an integer >= 1; got {value!r}")


def _check_resolutions(resolutions: Sequence[int]) -> list[int]:
    sizes = list(resolutions) if not isinstance(resolutions, (str, bytes)) and hasattr(resolutions, "__iter__") else []
    if not sizes:
        allowed = f"a non-empty list of integers >= {MIN_RESOLUTION}"
        raise OfaBenchError(f"resolutions must be {allowed}; got {resolutions!r}")
    for r in sizes:
        if not _is_int(r) or r < MIN_RESOLUTION:
            raise OfaBenchError(f"resolution {r!r} is not allowed: resolutions must be integers >= {MIN_RESOLUTION}")
    return [int(r) for r in sizes]
