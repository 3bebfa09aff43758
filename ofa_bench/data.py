"""Image data for training and evaluating the supernet: digits (bundled), CIFAR-10/100, image folders.

Nothing is ever downloaded: digits ships with scikit-learn, and the other datasets are read from a
local folder (``DataSpec.root``). Every split is a seeded, fixed set of indices, and
:meth:`ImageData.describe` hashes them, so the validation split and the BN-calibration subset can be
named in a benchmark fingerprint.

Training batches follow OFA: each batch has one resolution drawn from a set, images are augmented
at their native size and then resized. :meth:`ImageData.train_batches` is a pure function of
``(seed, epoch, rank, world_size)``, so distributed ranks agree on the order and the resolutions
without talking to each other, and a resumed run sees the same batches as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import math
import os
import pickle
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from ofa_bench.errors import OfaBenchError

__all__ = ["DATASETS", "DataSpec", "ImageData", "load_data"]

#: Dataset names a :class:`DataSpec` accepts.
DATASETS = ("digits", "cifar10", "cifar100", "imagefolder")

# Digits statistics of the default train split (pixels / 16), fixed once so that another split
# seed does not change the input scaling a checkpoint was trained with.
DIGITS_MEAN = (0.3056,)
DIGITS_STD = (0.3765,)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
MIN_RESOLUTION = 8
EVAL_CROP = 0.875  # OFA's evaluation: shorter side to ceil(r / 0.875), then a centre crop of r
_CACHE_BYTES = 64 * 2**20  # in-memory eval splits up to this size are kept resized per resolution
_AUGMENT_STREAM = 0x61756720  # keeps the augmentation seed apart from the (seed, epoch) order seed

_FIELD_RULES: dict[str, tuple[tuple[type, ...], str]] = {
    "dataset": ((str,), f"one of {', '.join(DATASETS)}"),
    "root": ((str, type(None)), "a folder path or null"),
    "split_seed": ((int,), "an integer in [0, 2**32)"),
    "val_fraction": ((int, float), "a number strictly between 0 and 1"),
    "calib_size": ((int,), "an integer >= 1"),
    "augment": ((bool,), "true or false"),
}


@dataclass(frozen=True)
class DataSpec:
    """Which dataset to use and how to split it; validated on construction.

    Attributes:
        dataset: ``digits``, ``cifar10``, ``cifar100`` or ``imagefolder``.
        root: Folder holding the data; required for all but digits (a path-like is turned into a str).
        split_seed: Seed of the validation split and the calibration subset.
        val_fraction: Held-out validation share for digits, and for an image folder without
            ``val/``; CIFAR validates on its test set.
        calib_size: Images drawn (seeded, stratified where labels allow) from the train split for
            BN calibration, as OFA does.
        augment: Whether training batches are augmented.
    """

    dataset: str = "digits"
    root: str | None = None
    split_seed: int = 0
    val_fraction: float = 0.2
    calib_size: int = 500
    augment: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.root, os.PathLike):
            object.__setattr__(self, "root", os.fspath(self.root))
        for name, (types, allowed) in _FIELD_RULES.items():
            value = getattr(self, name)
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                raise OfaBenchError(f"data spec field {name!r} must be {allowed}; got {type(value).__name__} {value!r}")
        if self.dataset not in DATASETS:
            known = ", ".join(DATASETS)
            raise OfaBenchError(f"unknown dataset {self.dataset!r} in data spec field 'dataset'; known: {known}")
        checks = {
            "split_seed": 0 <= self.split_seed < 2**32,
            "val_fraction": 0 < self.val_fraction < 1,
            "calib_size": self.calib_size >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                allowed = _FIELD_RULES[name][1]
                raise OfaBenchError(f"data spec field {name!r} must be {allowed}; got {getattr(self, name)!r}")
        object.__setattr__(self, "val_fraction", float(self.val_fraction))

    def to_dict(self) -> dict[str, Any]:
        """The spec as a JSON-ready dict; :meth:`from_dict` reads it back."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataSpec:
        """Build a spec from a mapping such as a config section; missing keys take their defaults.

        Raises:
            OfaBenchError: An unknown key, a value of the wrong type, or a value out of range.
        """
        names = [f.name for f in fields(cls)]
        if not isinstance(data, Mapping):
            keys = ", ".join(names)
            raise OfaBenchError(f"a data spec must be a mapping with keys {keys}; got {type(data).__name__}")
        unknown = sorted(repr(key) for key in data if key not in names)
        if unknown:
            raise OfaBenchError(f"unknown data spec key {unknown[0]}; allowed keys: {', '.join(names)}")
        return cls(**data)


class _Images(Protocol):
    """Where pixels come from: a tensor in memory, or files decoded on demand."""

    labels: np.ndarray
    in_memory: bool

    def train_view(self, index: np.ndarray, r: int, gen: torch.Generator | None) -> torch.Tensor: ...

    def eval_view(self, index: np.ndarray, r: int) -> torch.Tensor: ...

    def ids(self, index: np.ndarray) -> bytes: ...


@dataclass(eq=False)
class _TensorImages:
    """Images held in memory at native size: uint8 (0..255) or float32 (0..1), shape (n, c, h, w)."""

    images: torch.Tensor
    labels: np.ndarray
    pad: int  # random translation of up to `pad` pixels, by zero padding and cropping
    flip: bool
    in_memory: bool = True

    def _pixels(self, index: np.ndarray) -> torch.Tensor:
        x = self.images[torch.from_numpy(index)]  # advanced indexing copies, so callers may write
        return x.float().div_(255) if x.dtype == torch.uint8 else x

    def train_view(self, index: np.ndarray, r: int, gen: torch.Generator | None) -> torch.Tensor:
        x = self._pixels(index)
        if gen is not None:
            x = _shift_and_flip(x, self.pad, self.flip, gen)
        return _resize(x, r)

    def eval_view(self, index: np.ndarray, r: int) -> torch.Tensor:
        return _resize(self._pixels(index), r)

    def ids(self, index: np.ndarray) -> bytes:
        return index.astype("<i8").tobytes() + self.labels[index].astype("<i8").tobytes()


@dataclass(eq=False)
class _FolderImages:
    """Image files listed once and decoded with PIL per batch (RGB)."""

    root: Path
    paths: list[str]  # relative to root, so the fingerprint does not depend on where data lives
    labels: np.ndarray
    in_memory: bool = False

    def _open(self, i: int) -> Any:
        from PIL import Image

        path = self.root / self.paths[i]
        try:
            with Image.open(path) as img:
                return img.convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise OfaBenchError(f"cannot read image {str(path)!r}: {_one_line(exc)}") from None

    def train_view(self, index: np.ndarray, r: int, gen: torch.Generator | None) -> torch.Tensor:
        from PIL import Image

        if gen is None:
            return self.eval_view(index, r)
        out = torch.empty(len(index), 3, r, r)
        for k, i in enumerate(index):
            img = self._open(int(i))
            # PIL's bilinear resize antialiases when shrinking, as torchvision's RandomResizedCrop does.
            img = img.resize((r, r), Image.Resampling.BILINEAR, box=_random_resized_box(img.width, img.height, gen))
            if torch.rand(1, generator=gen).item() < 0.5:
                img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            out[k] = _to_tensor(img)
        return out

    def eval_view(self, index: np.ndarray, r: int) -> torch.Tensor:
        from PIL import Image

        out = torch.empty(len(index), 3, r, r)
        for k, i in enumerate(index):
            img = self._open(int(i))
            s = math.ceil(r / EVAL_CROP)
            w, h = img.size
            w, h = (s, max(s, int(s * h / w))) if w <= h else (max(s, int(s * w / h)), s)
            img = img.resize((w, h), Image.Resampling.BILINEAR)
            left, top = int(round((w - r) / 2)), int(round((h - r) / 2))
            out[k] = _to_tensor(img.crop((left, top, left + r, top + r)))
        return out

    def ids(self, index: np.ndarray) -> bytes:
        names = "\n".join(self.paths[i] for i in index).encode()
        return names + self.labels[index].astype("<i8").tobytes()


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
        train_index: Sorted int64 indices of the training images in the train source.
        val_index: Sorted int64 indices of the validation images in the validation source.
        calib_index: Sorted int64 indices of the calibration images in the train source.
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
    ) -> None:
        self.spec = spec
        self.n_classes = n_classes
        self.in_channels = len(mean)
        self._train, self._val = train, val
        self.train_index = np.asarray(train_index, dtype=np.int64)
        self.val_index = np.asarray(val_index, dtype=np.int64)
        self.n_train, self.n_val = len(self.train_index), len(self.val_index)
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
        return f"ImageData({self.spec.dataset!r}, train={self.n_train}, val={self.n_val}, calib={self.n_calib})"

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
            split: ``"val"`` (validation) or ``"calib"`` (the BN-calibration subset of train).
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
        else:
            raise OfaBenchError(f"unknown split {split!r}; allowed splits: val, calib")
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
        different split or different data gives a different hash.
        """
        return {
            **self.spec.to_dict(),
            "n_classes": self.n_classes,
            "in_channels": self.in_channels,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "n_calib": self.n_calib,
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
        return {key: hashlib.sha256(blob).hexdigest()[:16] for key, blob in parts.items()}

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        return x.sub_(self._mean_t).div_(self._std_t)


def load_data(spec: DataSpec | str) -> ImageData:
    """Load a dataset and split it as ``spec`` says.

    Args:
        spec: A :class:`DataSpec`, or a dataset name to take the defaults.

    Raises:
        OfaBenchError: A missing root or files, corrupt files, or splits that cannot be made.
    """
    if isinstance(spec, str):
        spec = DataSpec(dataset=spec)
    if not isinstance(spec, DataSpec):
        raise OfaBenchError(f"load_data takes a DataSpec or a dataset name; got {type(spec).__name__}")
    if spec.dataset == "digits":
        return _load_digits(spec)
    if spec.dataset == "imagefolder":
        return _load_imagefolder(spec)
    return _load_cifar(spec)


# ----- datasets ------------------------------------------------------------------------------------


def _load_digits(spec: DataSpec) -> ImageData:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise OfaBenchError("the digits dataset needs scikit-learn: pip install scikit-learn") from None
    raw = load_digits()
    images = torch.as_tensor(raw.images, dtype=torch.float32).div_(16.0).unsqueeze(1)  # pixels are 0..16
    labels = raw.target.astype(np.int64)
    val = _stratified_pick(labels, _n_held_out(spec, len(labels), "digits"), spec.split_seed)
    train = np.setdiff1d(np.arange(len(labels)), val)
    source = _TensorImages(images, labels, pad=1, flip=False)  # a mirrored digit is another glyph
    return ImageData(spec, source, source, train, val, 10, DIGITS_MEAN, DIGITS_STD)


@dataclass(frozen=True)
class _CifarLayout:
    """Where a CIFAR variant keeps its files, what its labels are called, and its statistics."""

    folder: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    label_key: str
    n_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


_CIFAR = {
    "cifar10": _CifarLayout(
        "cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",), "labels", 10,
        CIFAR10_MEAN, CIFAR10_STD,
    ),
    "cifar100": _CifarLayout(
        "cifar-100-python", ("train",), ("test",), "fine_labels", 100, CIFAR100_MEAN, CIFAR100_STD
    ),
}  # fmt: skip


def _load_cifar(spec: DataSpec) -> ImageData:
    layout = _CIFAR[spec.dataset]
    root = _existing_root(spec, f"the folder holding {layout.folder}")
    files = layout.train_files + layout.test_files
    base = root if (root / files[0]).is_file() else root / layout.folder  # root may be the folder itself
    missing = [name for name in files if not (base / name).is_file()]
    if missing:
        more = f" ({len(missing) - 1} more missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""
        raise OfaBenchError(
            f"{spec.dataset} data not found under {str(root)!r}: expected {layout.folder}/{missing[0]}{more} "
            "(no downloads: place the extracted python version there)"
        )
    sources = []
    for names in (layout.train_files, layout.test_files):
        parts = [_read_cifar_file(base / name, layout.label_key, layout.n_classes) for name in names]
        x = np.concatenate([p[0] for p in parts]).reshape(-1, 3, 32, 32)  # copies: pickled arrays may be read-only
        y = np.concatenate([p[1] for p in parts])
        sources.append(_TensorImages(torch.from_numpy(x), y, pad=4, flip=True))
    train, test = sources
    train_index, val_index = np.arange(len(train.labels)), np.arange(len(test.labels))
    return ImageData(spec, train, test, train_index, val_index, layout.n_classes, layout.mean, layout.std)


def _load_imagefolder(spec: DataSpec) -> ImageData:
    root = _existing_root(spec, "the folder holding train/<class>/<image> (and optionally val/<class>/<image>)")
    train_dir, val_dir = root / "train", root / "val"
    if not train_dir.is_dir():
        raise OfaBenchError(
            f"imagefolder data not found under {str(root)!r}: expected train/<class>/<image>.png|.jpg|.jpeg "
            "(and optionally val/<class>/<image>)"
        )
    classes = _subfolders(train_dir)
    if not classes:
        raise OfaBenchError(f"no class folders under {str(train_dir)!r}: expected train/<class>/<image>.png|.jpg|.jpeg")
    train = _list_images(root, "train", classes, every_class=True)
    if not val_dir.is_dir():
        n_val = _n_held_out(spec, len(train.labels), "imagefolder train")
        val_pick = _stratified_pick(train.labels, n_val, spec.split_seed)
        train_pick = np.setdiff1d(np.arange(len(train.labels)), val_pick)
        return ImageData(spec, train, train, train_pick, val_pick, len(classes), IMAGENET_MEAN, IMAGENET_STD)
    strays = [name for name in _subfolders(val_dir) if name not in classes]
    if strays:
        raise OfaBenchError(
            f"val class folder {str(val_dir / strays[0])!r} has no train class of that name; "
            f"train classes: {', '.join(classes)}"
        )
    val = _list_images(root, "val", classes, every_class=False)
    train_pick, val_pick = np.arange(len(train.labels)), np.arange(len(val.labels))
    return ImageData(spec, train, val, train_pick, val_pick, len(classes), IMAGENET_MEAN, IMAGENET_STD)


def _subfolders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _list_images(root: Path, split: str, classes: list[str], every_class: bool) -> _FolderImages:
    found = {}
    for name in classes:
        folder = root / split / name
        files = folder.iterdir() if folder.is_dir() else ()
        found[name] = sorted(p.name for p in files if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not any(found.values()):
        raise OfaBenchError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) under {str(root / split)!r}/<class>/")
    empty = [name for name, files in found.items() if not files]
    if every_class and empty:  # a class never seen in training would skew the label space silently
        folder = str(root / split / empty[0])
        raise OfaBenchError(f"class folder {folder!r} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    paths = [f"{split}/{name}/{file}" for name, files in found.items() for file in files]
    labels = [label for label, files in enumerate(found.values()) for _ in files]
    return _FolderImages(root, paths, np.asarray(labels, dtype=np.int64))


# ----- CIFAR pickles -------------------------------------------------------------------------------


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # Python 3 writes bytes into protocol-2 pickles as _codecs.encode(text, "latin1"); only that is allowed.
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return text.encode("latin1")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    # Taken from numpy's own reduce values rather than imported by name: numpy 2 moved numpy.core to
    # numpy._core, and old files name the first while new ones name the second.
    reconstruct = np.ndarray((0,)).__reduce__()[0]
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]
    scalar = np.int64(0).__reduce__()[0]
    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = frombuffer
    allowed[("_codecs", "encode")] = _latin1_encode
    return allowed


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles only numpy arrays and plain containers, so a crafted file cannot run code."""

    _allowed = _allowed_globals()

    def __init__(self, file: BinaryIO, path: Path) -> None:
        super().__init__(file, encoding="bytes")  # the files were written by Python 2
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise OfaBenchError(
                f"refusing to load {str(self._path)!r}: it asks for {module}.{name}, which a CIFAR file never "
                "needs (only numpy arrays are allowed)"
            ) from None


def _read_cifar_file(path: Path, label_key: str, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, 3072)`` uint8 and labels ``(n,)`` int64 of one CIFAR batch file."""
    try:
        with open(path, "rb") as fh:
            batch = _CifarUnpickler(fh, path).load()
    except OfaBenchError:
        raise
    except Exception as exc:  # a truncated or garbled pickle fails in many different ways
        raise OfaBenchError(f"corrupt CIFAR file {str(path)!r}: {_one_line(exc)}") from None
    corrupt = f"corrupt CIFAR file {str(path)!r}: expected a dict with 'data' (N x 3072 uint8) and {label_key!r}"
    if not isinstance(batch, dict):
        raise OfaBenchError(f"{corrupt}; got {type(batch).__name__}")
    batch = {key.decode("latin1") if isinstance(key, bytes) else key: value for key, value in batch.items()}
    data = batch.get("data")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise OfaBenchError(f"{corrupt}; 'data' is {_describe_value(data)}")
    try:
        labels = np.asarray(batch.get(label_key), dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        labels = np.empty(0)
    if labels.shape != (len(data),) or (len(labels) and not 0 <= labels.min() <= labels.max() < n_classes):
        raise OfaBenchError(f"{corrupt}; {label_key!r} must be {len(data)} integers in [0, {n_classes})")
    return data, labels


def _describe_value(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    return "missing" if value is None else f"a {type(value).__name__}"


# ----- helpers -------------------------------------------------------------------------------------


def _existing_root(spec: DataSpec, what: str) -> Path:
    if spec.root is None:
        raise OfaBenchError(f"{spec.dataset} needs --data-root: {what}")
    root = Path(spec.root).expanduser()
    if not root.is_dir():
        state = "is not a folder" if root.exists() else "does not exist"
        raise OfaBenchError(f"{spec.dataset} data root {str(root)!r} {state}; it should be {what}")
    return root


def _n_held_out(spec: DataSpec, n: int, what: str) -> int:
    n_val = math.ceil(spec.val_fraction * n)
    if not 0 < n_val < n:
        raise OfaBenchError(
            f"val_fraction {spec.val_fraction} of the {n} {what} images leaves no train or no validation images"
        )
    return n_val


def _stratified_pick(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted positions of ``size`` of ``labels``, drawn seeded and stratified where the labels allow."""
    n = len(labels)
    if size >= n:
        return np.arange(n)
    from sklearn.model_selection import train_test_split

    try:
        picked, _ = train_test_split(np.arange(n), train_size=size, stratify=labels, random_state=seed)
    except ValueError:  # a class with one image, or fewer picks than classes: stratifying is impossible
        picked = np.random.default_rng(seed).choice(n, size, replace=False)
    return np.sort(picked)


def _shift_and_flip(x: torch.Tensor, pad: int, flip: bool, gen: torch.Generator) -> torch.Tensor:
    """Per-image random crop of the zero-padded batch (a shift of up to ``pad``) and optional mirror."""
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = torch.randint(0, 2 * pad + 1, (n, 1), generator=gen) + torch.arange(h)
    cols = torch.randint(0, 2 * pad + 1, (n, 1), generator=gen) + torch.arange(w)
    if flip:  # reading the crop's columns backwards mirrors it
        mirror = torch.rand(n, 1, generator=gen) < 0.5
        cols = torch.where(mirror, cols.flip(-1), cols)
    batch, channel = torch.arange(n).view(n, 1, 1, 1), torch.arange(c).view(1, c, 1, 1)
    return padded[batch, channel, rows.view(n, 1, h, 1), cols.view(n, 1, 1, w)]


def _resize(x: torch.Tensor, r: int) -> torch.Tensor:
    if x.shape[-2:] == (r, r):
        return x
    return F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False, antialias=False)


def _random_resized_box(
    w: int,
    h: int,
    gen: torch.Generator,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> tuple[int, int, int, int]:
    """A crop box ``(left, top, right, bottom)`` as torchvision's RandomResizedCrop draws it, from ``gen``."""
    area = w * h
    lo, hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        u = torch.rand(4, generator=gen).tolist()
        target = area * (scale[0] + u[0] * (scale[1] - scale[0]))
        aspect = math.exp(lo + u[1] * (hi - lo))
        cw, ch = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            left, top = min(int(u[2] * (w - cw + 1)), w - cw), min(int(u[3] * (h - ch + 1)), h - ch)
            return left, top, left + cw, top + ch
    # Fallback after 10 misses, as torchvision: the central crop with the aspect ratio clamped.
    cw, ch = w, h
    if w / h < ratio[0]:
        ch = int(round(w / ratio[0]))
    elif w / h > ratio[1]:
        cw = int(round(h * ratio[1]))
    left, top = (w - cw) // 2, (h - ch) // 2
    return left, top, left + cw, top + ch


def _to_tensor(img: Any) -> torch.Tensor:
    return torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1).float().div_(255)


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


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no detail"
    return f"{type(exc).__name__}: {text}"
