"""Loading each dataset from where it lives and splitting it: :func:`load_data`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ofa_bench.data.cifar_files import _read_cifar_file
from ofa_bench.data.image_data import ImageData
from ofa_bench.data.sources import _FolderImages, _TensorImages
from ofa_bench.data.spec import DataSpec
from ofa_bench.data.splits import _n_held_out, _stratified_pick
from ofa_bench.errors import OfaBenchError

__all__ = [
    "CIFAR100_MEAN",
    "CIFAR100_STD",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "DIGITS_MEAN",
    "DIGITS_STD",
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMAGE_EXTENSIONS",
    "load_data",
]

# Digits statistics of the default train split (pixels / 16), fixed once so that another split
# seed does not change the input scaling a checkpoint was trained with.
DIGITS_MEAN = (0.3056,)
DIGITS_STD = (0.3765,)
# Fashion-MNIST statistics over all 60,000 training images (split-independent, like digits').
FASHION_MNIST_MEAN = (0.2860,)
FASHION_MNIST_STD = (0.3530,)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


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
    if spec.dataset in ("fashion-mnist", "idx"):
        return _load_idx(spec)
    return _load_cifar(spec)


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


def _load_idx(spec: DataSpec) -> ImageData:
    from ofa_bench.data.idx_files import ANY_IDX, FASHION_MNIST, read_splits

    if spec.dataset == "idx":
        _existing_root(spec, "the folder of train-images-idx3-ubyte[.gz] and the three other MNIST-format files")
    dataset = FASHION_MNIST if spec.dataset == "fashion-mnist" else ANY_IDX
    files = read_splits(dataset, spec.root)
    labels = files.train_labels
    val = _stratified_pick(labels, _n_held_out(spec, len(labels), spec.dataset), spec.split_seed)
    train = np.setdiff1d(np.arange(len(labels)), val)
    # Clothes mirror into clothes; MNIST-style glyphs (digits, kana) do not.
    flip = spec.dataset == "fashion-mnist"
    pixels = torch.from_numpy(np.array(files.train_images)).unsqueeze(1)  # copy: the file buffer is read-only
    source = _TensorImages(pixels, labels, pad=1, flip=flip)  # short schedules: a light shift
    test_pixels = torch.from_numpy(np.array(files.test_images)).unsqueeze(1)
    test = _TensorImages(test_pixels, files.test_labels, pad=0, flip=False)
    if spec.dataset == "fashion-mnist":
        mean, std, n_classes = FASHION_MNIST_MEAN, FASHION_MNIST_STD, 10
    else:
        scaled = files.train_images.astype(np.float64) / 255
        mean, std = (round(float(scaled.mean()), 4),), (round(float(scaled.std()), 4),)
        n_classes = int(labels.max()) + 1
    return ImageData(
        spec, source, source, train, val, n_classes, mean, std, test=test, files_sha256=files.sha256
    )


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


def _existing_root(spec: DataSpec, what: str) -> Path:
    if spec.root is None:
        raise OfaBenchError(f"{spec.dataset} needs --data-root: {what}")
    root = Path(spec.root).expanduser()
    if not root.is_dir():
        state = "is not a folder" if root.exists() else "does not exist"
        raise OfaBenchError(f"{spec.dataset} data root {str(root)!r} {state}; it should be {what}")
    return root
