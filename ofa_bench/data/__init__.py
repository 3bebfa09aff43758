"""Image data for training and evaluating the supernet: digits (bundled), Fashion-MNIST and other
MNIST-format (IDX) folders, CIFAR-10/100, image folders.

Loading never downloads: digits ships with scikit-learn, Fashion-MNIST is found by the lookup order
of :mod:`~ofa_bench.data.idx_files` (``ofa-bench data fetch`` is the one explicit download), and
the other datasets are read from a local folder (``DataSpec.root``). Every split is a seeded, fixed set of indices, and
:meth:`ImageData.describe` hashes them, so the validation split and the BN-calibration subset can be
named in a benchmark fingerprint.

Modules: :mod:`~ofa_bench.data.spec` (:class:`DataSpec`), :mod:`~ofa_bench.data.datasets`
(:func:`load_data` and one loader per dataset), :mod:`~ofa_bench.data.image_data` (:class:`ImageData`,
the batches), :mod:`~ofa_bench.data.sources` (pixels in memory or in files),
:mod:`~ofa_bench.data.transforms` (resizing and augmentation), :mod:`~ofa_bench.data.splits` (seeded
splits), :mod:`~ofa_bench.data.cifar_files` (safe reading of CIFAR pickles),
:mod:`~ofa_bench.data.idx` (the strict IDX reader) and :mod:`~ofa_bench.data.idx_files` (where
IDX datasets live and their pinned hashes).
"""

from __future__ import annotations

from ofa_bench.data.datasets import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR100_MEAN,
    CIFAR100_STD,
    DIGITS_MEAN,
    DIGITS_STD,
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
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
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMAGE_EXTENSIONS",
    "MIN_RESOLUTION",
    "DataSpec",
    "ImageData",
    "load_data",
]
