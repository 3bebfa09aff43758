"""Image data for training and evaluating the supernet: digits (bundled), CIFAR-10/100, image folders.

Nothing is ever downloaded: digits ships with scikit-learn, and the other datasets are read from a
local folder (``DataSpec.root``). Every split is a seeded, fixed set of indices, and
:meth:`ImageData.describe` hashes them, so the validation split and the BN-calibration subset can be
named in a benchmark fingerprint.

Modules: :mod:`~ofa_bench.data.spec` (:class:`DataSpec`), :mod:`~ofa_bench.data.datasets`
(:func:`load_data` and one loader per dataset), :mod:`~ofa_bench.data.image_data` (:class:`ImageData`,
the batches), :mod:`~ofa_bench.data.sources` (pixels in memory or in files),
:mod:`~ofa_bench.data.transforms` (resizing and augmentation), :mod:`~ofa_bench.data.splits` (seeded
splits) and :mod:`~ofa_bench.data.cifar_files` (safe reading of CIFAR pickles).
"""

from __future__ import annotations

from ofa_bench.data.datasets import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR100_MEAN,
    CIFAR100_STD,
    DIGITS_MEAN,
    DIGITS_STD,
    IMAGE_EXTENSIONS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    load_data,
)
from ofa_bench.data.image_data import MIN_RESOLUTION, ImageData
from ofa_bench.data.sources import EVAL_CROP
from ofa_bench.data.spec import DATASETS, DataSpec

__all__ = [
    "CIFAR100_MEAN",
    "CIFAR100_STD",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "DATASETS",
    "DIGITS_MEAN",
    "DIGITS_STD",
    "EVAL_CROP",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMAGE_EXTENSIONS",
    "MIN_RESOLUTION",
    "DataSpec",
    "ImageData",
    "load_data",
]
