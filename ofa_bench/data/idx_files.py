"""Where MNIST-format datasets live, which files they hold and whether those are the pinned ones.

Fashion-MNIST is looked for, in order, in ``--data-root`` (:attr:`DataSpec.root`), the folder the
``OFA_BENCH_DATA`` environment variable names, Debian's ``/usr/share/datasets/fashion-mnist``
(package ``dataset-fashion-mnist``) and the user cache directory that ``ofa-bench data fetch``
fills. A folder counts when it holds the four files, plain or gzipped, directly or in a
``fashion-mnist/`` subfolder. The pinned hashes are of the *decompressed* bytes, because Debian
recompresses the upstream ``.gz`` files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ofa_bench.data.idx import read_idx, read_idx_bytes, sha256_of
from ofa_bench.errors import OfaBenchError

__all__ = [
    "DATA_ENV",
    "DEBIAN_FASHION_MNIST",
    "FASHION_MNIST",
    "IdxDataset",
    "IdxSplits",
    "find_root",
    "read_splits",
    "user_cache_dir",
]

#: Environment variable naming a folder of datasets (or the dataset folder itself).
DATA_ENV = "OFA_BENCH_DATA"
#: Where Debian's ``dataset-fashion-mnist`` package installs the upstream files.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

_PARTS = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class IdxDataset:
    """An MNIST-format dataset: its four file names and, when pinned, their decompressed SHA-256."""

    name: str
    files: dict[str, str]  # part -> file name without .gz
    sha256: dict[str, str] | None = None
    sizes: dict[str, int] | None = None
    url: str | None = None  # where `data fetch` downloads <file>.gz from
    debian_dir: Path | None = None
    n_classes: int | None = None


_MNIST_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

#: Fashion-MNIST (Zalando Research, MIT licence); hashes measured on the decompressed upstream files.
FASHION_MNIST = IdxDataset(
    name="fashion-mnist",
    files=_MNIST_NAMES,
    sha256={
        "train_images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train_labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "test_images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "test_labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    sizes={"train_images": 47040016, "train_labels": 60008, "test_images": 7840016, "test_labels": 10008},
    url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    debian_dir=DEBIAN_FASHION_MNIST,
    n_classes=10,
)

#: Any folder of the four MNIST-format files (MNIST, KMNIST, ...): read strictly, nothing pinned.
ANY_IDX = IdxDataset(name="idx", files=_MNIST_NAMES)


@dataclass(frozen=True)
class IdxSplits:
    """The arrays of one dataset read from ``root``, and what was checked."""

    root: Path
    train_images: np.ndarray  # uint8 (n, h, w)
    train_labels: np.ndarray  # int64 (n,)
    test_images: np.ndarray
    test_labels: np.ndarray
    sha256: dict[str, str]  # part -> hex digest of the decompressed file
    verified: bool | None  # None: nothing pinned to compare with


def user_cache_dir() -> Path:
    """The user's cache folder for ofa-bench data (``$XDG_CACHE_HOME/ofa-bench``, default ``~/.cache``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "ofa-bench"


def _file_in(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _dataset_folder(folder: Path, dataset: IdxDataset) -> Path | None:
    """``folder`` or its ``<name>/`` subfolder, whichever holds the dataset's first file."""
    for candidate in (folder, folder / dataset.name):
        if _file_in(candidate, dataset.files["train_images"]) is not None:
            return candidate
    return None


def _how_to_get(dataset: IdxDataset, root_option: str) -> str:
    if dataset.name == "fashion-mnist":
        return (
            "install it with 'apt-get install dataset-fashion-mnist' (Debian, as root), run "
            f"'ofa-bench data fetch fashion-mnist', or pass {root_option} DIR"
        )
    return f"pass {root_option} DIR, a folder of train-images-idx3-ubyte[.gz] and the three other MNIST-format files"


def find_root(dataset: IdxDataset, root: str | Path | None, root_option: str = "--data-root") -> Path:
    """The folder that holds ``dataset``, by the lookup order of this module.

    An explicit ``root`` is the only place looked at when given, so a typo is not silently
    replaced by another copy. ``root_option`` is the option that gives it, for messages
    (``train --data-root``, ``data check --root``).

    Raises:
        OfaBenchError: Not found; the message says where it looked and how to get the data.
    """
    if root is not None:
        folder = Path(root).expanduser()
        if not folder.is_dir():
            state = "is not a folder" if folder.exists() else "does not exist"
            how = _how_to_get(dataset, root_option)
            raise OfaBenchError(f"{dataset.name} data root {str(folder)!r} {state}; {how}")
        found = _dataset_folder(folder, dataset)
        if found is None:
            first = dataset.files["train_images"]
            raise OfaBenchError(
                f"{dataset.name} data not found under {str(folder)!r}: expected {first}[.gz] there or in "
                f"{dataset.name}/; {_how_to_get(dataset, root_option)}"
            )
        return found
    places = []
    env = os.environ.get(DATA_ENV)
    if env:
        places.append(Path(env).expanduser())
    if dataset.debian_dir is not None:
        places.append(dataset.debian_dir)
    if dataset.url is not None:
        places.append(user_cache_dir())
    for place in places:
        found = _dataset_folder(place, dataset) if place.is_dir() else None
        if found is not None:
            return found
    looked = ", ".join(str(p) for p in places) or "nowhere (no root given)"
    raise OfaBenchError(f"{dataset.name} data not found (looked in {looked}); {_how_to_get(dataset, root_option)}")


def read_splits(
    dataset: IdxDataset, root: str | Path | None, verify: bool = True, root_option: str = "--data-root"
) -> IdxSplits:
    """Read and check the four files of ``dataset`` (see :func:`find_root` for ``root`` and ``root_option``).

    Checks the IDX structure, that images and labels agree in count, that labels fit the classes,
    and with ``verify`` that pinned datasets match their hashes.

    Raises:
        OfaBenchError: One line naming the file and what is wrong.
    """
    folder = find_root(dataset, root, root_option)
    arrays: dict[str, np.ndarray] = {}
    digests: dict[str, str] = {}
    for part in _PARTS:
        name = dataset.files[part]
        path = _file_in(folder, name)
        if path is None:
            raise OfaBenchError(
                f"{dataset.name} file {name}[.gz] is missing from {str(folder)!r}; {_how_to_get(dataset, root_option)}"
            )
        raw = read_idx_bytes(path)
        digests[part] = sha256_of(raw)
        if verify and dataset.sha256 is not None and digests[part] != dataset.sha256[part]:
            raise OfaBenchError(
                f"{dataset.name} file {str(path)!r} does not match its pinned hash: sha256 of the decompressed "
                f"bytes is {digests[part][:16]}..., expected {dataset.sha256[part][:16]}... (a different or "
                f"damaged copy; fetch it again with 'ofa-bench data fetch {dataset.name}')"
            )
        arrays[part] = read_idx(path, ndim=3 if part.endswith("images") else 1, raw=raw)
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if len(images) != len(labels):
            raise OfaBenchError(
                f"{dataset.name} {split} split in {str(folder)!r}: {len(images)} images but {len(labels)} labels "
                f"({dataset.files[f'{split}_images']} and {dataset.files[f'{split}_labels']} must agree)"
            )
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise OfaBenchError(
            f"{dataset.name} in {str(folder)!r}: train images are {arrays['train_images'].shape[1:]} pixels "
            f"but test images {arrays['test_images'].shape[1:]}; both splits must have one image size"
        )
    n_classes = dataset.n_classes or int(arrays["train_labels"].max()) + 1
    for split in ("train", "test"):
        labels = arrays[f"{split}_labels"]
        if labels.max() >= n_classes:
            raise OfaBenchError(
                f"{dataset.name} {split} labels in {str(folder)!r} go up to {int(labels.max())}; "
                f"allowed: 0..{n_classes - 1}"
            )
    pinned = dataset.sha256 is not None
    verified = (all(digests[p] == dataset.sha256[p] for p in _PARTS) if pinned else None) if verify else None
    return IdxSplits(
        folder,
        arrays["train_images"],
        arrays["train_labels"].astype(np.int64),
        arrays["test_images"],
        arrays["test_labels"].astype(np.int64),
        digests,
        verified,
    )
