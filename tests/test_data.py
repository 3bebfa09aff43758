"""Tests of the data sets: splits, deterministic sharded batches, CIFAR pickles, image folders, errors."""

from __future__ import annotations

import itertools
import os
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ofa_bench.data import DIGITS_MEAN, DIGITS_STD, DataSpec, ImageData, load_data
from ofa_bench.errors import OfaBenchError

RES = (16, 20, 24, 28, 32)


@pytest.fixture(scope="module")
def digits() -> ImageData:
    return load_data("digits")


def _labels(data: ImageData, split: str) -> np.ndarray:
    return torch.cat([y for _, y in data.eval_batches(split, 8)]).numpy()


def _epoch(data: ImageData, steps: int | None = None, **kwargs) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first ``steps`` batches of an epoch (all by default)."""
    args = {"batch_size": 64, "resolutions": RES, "seed": 0, "epoch": 0} | kwargs
    return list(itertools.islice(data.train_batches(**args), steps))


# ----- spec --------------------------------------------------------------------------------------


def test_spec_round_trips_and_takes_paths(tmp_path):
    spec = DataSpec(dataset="cifar10", root=tmp_path, split_seed=3, val_fraction=0.1, calib_size=10, augment=False)
    assert spec.root == str(tmp_path)
    assert DataSpec.from_dict(spec.to_dict()) == spec
    assert DataSpec.from_dict({}) == DataSpec()
    assert DataSpec.from_dict({"val_fraction": 1 / 4}).val_fraction == 0.25


# ----- digits splits -------------------------------------------------------------------------------


def test_digits_split_sizes(digits):
    assert (digits.n_train, digits.n_val, digits.n_calib) == (1437, 360, 500)
    assert (digits.n_classes, digits.in_channels) == (10, 1)
    assert len(_labels(digits, "val")) == 360 and len(_labels(digits, "calib")) == 500


def test_digits_splits_are_disjoint_and_calib_is_inside_train(digits):
    train, val, calib = digits.train_index, digits.val_index, digits.calib_index
    assert not set(train) & set(val)
    assert sorted(set(train) | set(val)) == list(range(1797))
    assert set(calib) <= set(train)
    assert len(set(calib)) == len(calib)


def test_digits_splits_are_stratified(digits):
    all_labels = digits._train.labels  # the full 1797 labels, in sklearn's order
    counts = np.bincount(all_labels, minlength=10)
    for index, share in ((digits.val_index, 360 / 1797), (digits.calib_index, 500 / 1797)):
        split_counts = np.bincount(all_labels[index], minlength=10)
        assert (split_counts > 0).all()
        assert np.abs(split_counts - share * counts).max() <= 1.5
    assert (np.bincount(all_labels[digits.train_index], minlength=10) > 0).all()


def test_split_seed_changes_the_split_and_the_fingerprint(digits):
    again, other = load_data("digits"), load_data(DataSpec(split_seed=1))
    assert np.array_equal(again.val_index, digits.val_index)
    assert not np.array_equal(other.val_index, digits.val_index)
    described = digits.describe()
    assert described == again.describe()
    for key in ("train_sha256", "val_sha256", "calib_sha256"):
        assert len(described[key]) == 16 and int(described[key], 16) >= 0
        assert other.describe()[key] != described[key]
    assert described["n_calib"] == 500 and described["dataset"] == "digits"


def test_digits_normalisation_constants_match_the_default_train_split(digits):
    pixels = digits._train.images[torch.from_numpy(digits.train_index)]
    assert pixels.mean().item() == pytest.approx(DIGITS_MEAN[0], abs=1e-4)
    assert pixels.std().item() == pytest.approx(DIGITS_STD[0], abs=1e-4)


# ----- training batches ----------------------------------------------------------------------------


def test_train_batches_shapes_dtypes_and_resolutions(digits):
    batches = _epoch(digits)
    assert len(batches) == digits.steps_per_epoch(64) == 1437 // 64
    sizes = []
    for x, y in batches:
        r = x.shape[-1]
        assert x.shape == (64, 1, r, r) and x.dtype == torch.float32
        assert y.shape == (64,) and y.dtype == torch.int64 and 0 <= y.min() and y.max() <= 9
        sizes.append(r)
    assert set(sizes) == set(RES)  # drawn from the set, and every one of them over an epoch


def test_train_batches_are_a_pure_function_of_seed_and_epoch(digits):
    first, again = _epoch(digits, steps=6), _epoch(digits, steps=6)
    for (x1, y1), (x2, y2) in zip(first, again, strict=True):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    other = _epoch(digits, steps=6, epoch=1)
    assert not torch.equal(torch.cat([y for _, y in first]), torch.cat([y for _, y in other]))
    assert [x.shape[-1] for x, _ in first] != [x.shape[-1] for x, _ in other]


def test_ranks_share_resolutions_and_step_counts(digits):
    ranks = [_epoch(digits, rank=k, world_size=2) for k in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == digits.steps_per_epoch(64, 2) == 718 // 64
    assert [x.shape[-1] for x, _ in ranks[0]] == [x.shape[-1] for x, _ in ranks[1]]
    assert not torch.equal(ranks[0][0][1], ranks[1][0][1])


def test_no_augmentation_gives_eval_resizing_of_the_same_images():
    # With calib_size = n_train the calibration split is the whole train split, in train order.
    data = load_data(DataSpec(calib_size=1437, augment=False))
    whole = {r: torch.cat([x for x, _ in data.eval_batches("calib", r)]) for r in RES}
    perm = np.random.default_rng([5, 2]).permutation(data.n_train)
    for rank in (0, 1):
        shard = perm[rank::2]
        batches = data.train_batches(32, RES, seed=5, epoch=2, rank=rank, world_size=2)
        for step, (x, y) in enumerate(itertools.islice(batches, 6)):
            pos = torch.from_numpy(shard[step * 32 : (step + 1) * 32])
            assert torch.allclose(x, whole[x.shape[-1]][pos], atol=1e-6)
            assert torch.equal(y, torch.from_numpy(data._train.labels[data.train_index[pos.numpy()]]))


def test_digits_augmentation_shifts_by_at_most_one_pixel():
    plain = load_data(DataSpec(calib_size=1437, augment=False))
    augmented = load_data(DataSpec(calib_size=1437))
    (x_plain, y_plain), (x_aug, y_aug) = (next(d.train_batches(64, [8], seed=0, epoch=0)) for d in (plain, augmented))
    assert torch.equal(y_plain, y_aug)
    assert not torch.equal(x_plain, x_aug)
    zero = (0 - DIGITS_MEAN[0]) / DIGITS_STD[0]  # padding is black before normalisation
    padded = F.pad(x_plain, (1, 1, 1, 1), value=zero)
    shifts = torch.stack([padded[..., dy : dy + 8, dx : dx + 8] for dy in range(3) for dx in range(3)])
    assert ((shifts - x_aug).abs().amax(dim=(2, 3, 4)) < 1e-6).any(dim=0).all()


def test_eval_batches_are_fixed_and_not_spoiled_by_callers(digits):
    first = list(digits.eval_batches("val", 20, batch_size=100))
    assert [len(y) for _, y in first] == [100, 100, 100, 60]
    first[0][0].zero_()  # a caller writing into a batch must not change the next pass
    again = list(digits.eval_batches("val", 20, batch_size=100))
    assert torch.equal(torch.cat([y for _, y in first]), torch.cat([y for _, y in again]))
    assert again[0][0].abs().sum() > 0
    assert again[0][0].shape == (100, 1, 20, 20) and again[0][0].dtype == torch.float32


# ----- CIFAR ---------------------------------------------------------------------------------------

CIFAR_N = 8  # images per fake batch file


def _ids_image(ids: np.ndarray) -> np.ndarray:
    """Flat CIFAR rows whose first two red pixels spell out an image id; the rest is noise."""
    data = np.random.default_rng(int(ids[0])).integers(0, 256, (len(ids), 3072), dtype=np.uint8)
    data[:, 0], data[:, 1] = ids % 256, ids // 256
    return data


def _python2_pickle(batch: dict[bytes, object], label_key: bytes) -> bytes:
    """What Python 2's cPickle wrote for the original files: str as BINSTRING and numpy.core names."""

    def text(b: bytes) -> bytes:
        return b"U" + bytes([len(b)]) + b

    data = batch[b"data"]
    labels = b"".join(b"K" + bytes([v]) for v in batch[label_key])
    return (
        b"\x80\x02}(" + text(b"data") + b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85"
        + text(b"b") + b"\x87R(K\x01M" + len(data).to_bytes(2, "little") + b"M\x00\x0c\x86cnumpy\ndtype\n"
        + text(b"u1") + b"K\x00K\x01\x87R(K\x03" + text(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T"
        + data.nbytes.to_bytes(4, "little") + data.tobytes() + b"tb" + text(label_key) + b"](" + labels + b"eu."
    )  # fmt: skip


def _write_cifar(root: Path, kind: str, protocol: int | str = 2) -> dict[str, np.ndarray]:
    """Fake CIFAR files in the real format: dicts of bytes keys, a uint8 data array and label lists."""
    if kind == "cifar10":
        names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
        folder, key, n_classes = root / "cifar-10-batches-py", b"labels", 10
    else:
        names = ["train", "test"]
        folder, key, n_classes = root / "cifar-100-python", b"fine_labels", 100
    folder.mkdir(parents=True)
    written = {}
    for k, name in enumerate(names):
        n = CIFAR_N * (5 if kind == "cifar100" and name == "train" else 1)
        ids = np.arange(n) + 1000 * k
        labels = [int(v) for v in np.random.default_rng(k).integers(0, n_classes, n)]
        batch = {b"batch_label": name.encode(), key: labels, b"data": _ids_image(ids), b"filenames": [b"x.png"] * n}
        if kind == "cifar100":
            batch[b"coarse_labels"] = [v // 5 for v in labels]
        if protocol == "python2":
            (folder / name).write_bytes(_python2_pickle(batch, key))
        else:
            (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        written[name] = batch
    return written


def _ids(x: torch.Tensor, mean: float, std: float) -> np.ndarray:
    pixels = torch.round((x[:, 0, 0, :2] * std + mean) * 255).long().numpy()
    return pixels[:, 0] + 256 * pixels[:, 1]


@pytest.mark.parametrize("protocol", ["python2", 2, pickle.HIGHEST_PROTOCOL])
def test_fake_cifar10_loads_and_batches(tmp_path, protocol):
    written = _write_cifar(tmp_path, "cifar10", protocol)
    data = load_data(DataSpec(dataset="cifar10", root=str(tmp_path), calib_size=12))
    assert (data.n_train, data.n_val, data.n_calib, data.n_classes, data.in_channels) == (40, 8, 12, 10, 3)
    x, y = next(data.eval_batches("val", 32))
    assert y.tolist() == written["test_batch"][b"labels"]
    expected = torch.from_numpy(written["test_batch"][b"data"].reshape(-1, 3, 32, 32)).float() / 255
    mean, std = torch.tensor(data.describe()["mean"]), torch.tensor(data.describe()["std"])
    assert torch.allclose(x, (expected - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1), atol=1e-5)
    for x, y in data.train_batches(4, [24, 40], seed=0, epoch=0):
        assert x.shape[1:] == (3, x.shape[-1], x.shape[-1]) and x.shape[-1] in (24, 40) and y.dtype == torch.int64
    # The root may also be the extracted folder itself.
    inner = DataSpec(dataset="cifar10", root=str(tmp_path / "cifar-10-batches-py"), calib_size=12)
    assert load_data(inner).n_train == 40


def test_cifar_ranks_get_disjoint_images_covering_the_epoch(tmp_path):
    _write_cifar(tmp_path, "cifar10")
    data = load_data(DataSpec(dataset="cifar10", root=str(tmp_path), calib_size=10, augment=False))
    mean, std = data.describe()["mean"][0], data.describe()["std"][0]
    seen = []
    for rank in (0, 1):
        batches = list(data.train_batches(4, [32], seed=1, epoch=0, rank=rank, world_size=2))
        assert len(batches) == data.steps_per_epoch(4, 2) == 5
        seen.append(np.concatenate([_ids(x, mean, std) for x, _ in batches]))
    assert not set(seen[0]) & set(seen[1])
    assert sorted(np.concatenate(seen)) == sorted(i + 1000 * k for k in range(5) for i in range(CIFAR_N))


def test_fake_cifar100_reads_fine_labels(tmp_path):
    written = _write_cifar(tmp_path, "cifar100")
    data = load_data(DataSpec(dataset="cifar100", root=str(tmp_path), calib_size=20))
    assert (data.n_train, data.n_val, data.n_classes) == (40, 8, 100)
    assert _labels(data, "val").tolist() == written["test"][b"fine_labels"]
    x, y = next(data.train_batches(8, [16], seed=0, epoch=0))
    assert x.shape == (8, 3, 16, 16) and y.dtype == torch.int64


class _RunsCommand:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_pickle_asking_for_os_system_is_refused_and_not_run(tmp_path):
    _write_cifar(tmp_path, "cifar10")
    marker = tmp_path / "pwned"
    evil = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    evil.write_bytes(pickle.dumps({b"data": _RunsCommand(f"touch {marker}"), b"labels": []}, protocol=2))
    with pytest.raises(OfaBenchError, match="refusing to load") as caught:
        load_data(DataSpec(dataset="cifar10", root=str(tmp_path), calib_size=10))
    assert "system" in str(caught.value) and str(evil) in str(caught.value) and "\n" not in str(caught.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "content",
    [b"not a pickle at all", pickle.dumps({b"data": 1})[:-5], pickle.dumps([1, 2]), pickle.dumps({b"data": 3})],
    ids=["garbage", "truncated", "not-a-dict", "no-array"],
)
def test_corrupt_cifar_file_is_named(tmp_path, content):
    _write_cifar(tmp_path, "cifar10")
    bad = tmp_path / "cifar-10-batches-py" / "test_batch"
    bad.write_bytes(content)
    with pytest.raises(OfaBenchError, match="corrupt CIFAR file") as caught:
        load_data(DataSpec(dataset="cifar10", root=str(tmp_path), calib_size=10))
    assert str(bad) in str(caught.value) and "\n" not in str(caught.value)


# ----- image folders -------------------------------------------------------------------------------


def _write_images(folder: Path, n: int, seed: int, ext: str = ".png") -> None:
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        w, h = (int(v) for v in rng.integers(12, 40, 2))
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"img{i}{ext}")


def _image_tree(root: Path, with_val: bool) -> Path:
    for k, name in enumerate(("cat", "dog", "emu")):
        _write_images(root / "train" / name, 5, k, ".JPG" if name == "emu" else ".png")
        if with_val:
            _write_images(root / "val" / name, 2, 10 + k)
    (root / "train" / "cat" / "notes.txt").write_text("not an image")
    return root


def test_imagefolder_with_val_folder(tmp_path):
    root = _image_tree(tmp_path, with_val=True)
    data = load_data(DataSpec(dataset="imagefolder", root=str(root), calib_size=6))
    assert (data.n_train, data.n_val, data.n_calib, data.n_classes, data.in_channels) == (15, 6, 6, 3, 3)
    assert _labels(data, "val").tolist() == [0, 0, 1, 1, 2, 2]
    assert sorted(set(_labels(data, "calib"))) == [0, 1, 2]  # stratified
    x, y = next(data.eval_batches("val", 16, batch_size=4))
    assert x.shape == (4, 3, 16, 16) and x.dtype == torch.float32 and y.dtype == torch.int64
    first = [(x.clone(), y) for x, y in data.train_batches(5, [16, 24], seed=0, epoch=0)]
    again = list(data.train_batches(5, [16, 24], seed=0, epoch=0))
    assert len(first) == 3
    for (x1, y1), (x2, y2) in zip(first, again, strict=True):
        assert x1.shape == (5, 3, x1.shape[-1], x1.shape[-1]) and torch.equal(x1, x2) and torch.equal(y1, y2)


def test_imagefolder_without_val_folder_splits_train(tmp_path):
    root = _image_tree(tmp_path, with_val=False)
    data = load_data(DataSpec(dataset="imagefolder", root=str(root), calib_size=6, val_fraction=0.2, augment=False))
    assert (data.n_train, data.n_val) == (12, 3)
    assert sorted(_labels(data, "val")) == [0, 1, 2]
    assert not set(data.train_index) & set(data.val_index)
    # Without augmentation training images are the evaluation crops.
    all_train = load_data(DataSpec(dataset="imagefolder", root=str(root), calib_size=12, val_fraction=0.2))
    whole = torch.cat([x for x, _ in all_train.eval_batches("calib", 16)])
    perm = np.random.default_rng([0, 0]).permutation(12)
    x, _ = next(data.train_batches(4, [16], seed=0, epoch=0))
    assert torch.allclose(x, whole[torch.from_numpy(perm[:4])], atol=1e-6)


def test_unreadable_image_is_named(tmp_path):
    root = _image_tree(tmp_path, with_val=True)
    bad = root / "val" / "cat" / "img0.png"
    bad.write_bytes(b"garbage")
    data = load_data(DataSpec(dataset="imagefolder", root=str(root), calib_size=3))
    with pytest.raises(OfaBenchError, match="cannot read image") as caught:
        list(data.eval_batches("val", 16))
    assert str(bad) in str(caught.value) and "\n" not in str(caught.value)


# ----- errors --------------------------------------------------------------------------------------


def _folders(root: Path, *subfolders: str) -> str:
    """``root`` as a string, after creating it and the given empty subfolders."""
    for sub in ("", *subfolders):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return str(root)


ERRORS: list[tuple[str, Callable[[Path, ImageData], object], str]] = [
    ("unknown-dataset", lambda t, d: DataSpec(dataset="mnist"), "known: digits, fashion-mnist, idx, cifar10, cifar100, imagefolder"),
    ("unknown-key", lambda t, d: DataSpec.from_dict({"datset": "digits"}), "'datset'"),
    ("not-a-mapping", lambda t, d: DataSpec.from_dict(["digits"]), "mapping"),
    ("wrong-type", lambda t, d: DataSpec.from_dict({"calib_size": "5"}), "'calib_size' must be an integer"),
    ("bool-not-int", lambda t, d: DataSpec.from_dict({"split_seed": True}), "'split_seed'"),
    ("bad-fraction", lambda t, d: DataSpec.from_dict({"val_fraction": 1.5}), "'val_fraction' must be a number"),
    ("bad-augment", lambda t, d: DataSpec.from_dict({"augment": 1}), "'augment' must be true or false"),
    ("bad-calib", lambda t, d: DataSpec(calib_size=0), "'calib_size'"),
    ("no-root", lambda t, d: load_data("cifar10"), "cifar10 needs --data-root: the folder holding cifar-10-batches-py"),
    ("no-root-folder", lambda t, d: load_data("imagefolder"), "imagefolder needs --data-root"),
    ("missing-root", lambda t, d: load_data(DataSpec("cifar100", root=str(t / "nope"))), "does not exist"),
    (
        "cifar10-files",
        lambda t, d: load_data(DataSpec("cifar10", root=_folders(t))),
        "expected cifar-10-batches-py/data_batch_1",
    ),
    (
        "cifar100-files",
        lambda t, d: load_data(DataSpec("cifar100", root=_folders(t))),
        "expected cifar-100-python/train",
    ),
    ("no-train-dir", lambda t, d: load_data(DataSpec("imagefolder", root=_folders(t))), "expected train/<class>"),
    ("no-classes", lambda t, d: load_data(DataSpec("imagefolder", root=str(_folders(t, "train")))), "no class folders"),
    (
        "no-images",
        lambda t, d: load_data(DataSpec("imagefolder", root=str(_folders(t, "train/a", "train/b")))),
        "no images",
    ),
    ("calib-too-big", lambda t, d: load_data(DataSpec(calib_size=5000)), "calib_size 5000 is larger than the 1437"),
    ("small-resolution", lambda t, d: next(d.train_batches(8, [4, 16], 0, 0)), "resolution 4"),
    ("no-resolutions", lambda t, d: next(d.train_batches(8, [], 0, 0)), "resolutions must be"),
    ("eval-resolution", lambda t, d: next(d.eval_batches("val", 7)), "resolution 7"),
    ("batch-size", lambda t, d: next(d.train_batches(0, [16], 0, 0)), "batch_size must be"),
    ("eval-batch-size", lambda t, d: next(d.eval_batches("val", 16, 0)), "batch_size must be"),
    ("huge-batch", lambda t, d: next(d.train_batches(5000, [16], 0, 0)), "batch_size 5000 is larger"),
    ("bad-rank", lambda t, d: next(d.train_batches(8, [16], 0, 0, rank=2, world_size=2)), "rank must be"),
    ("bad-epoch", lambda t, d: next(d.train_batches(8, [16], 0, -1)), "epoch must be"),
    ("bad-split", lambda t, d: next(d.eval_batches("test", 16)), "allowed splits: val, calib"),
]


@pytest.mark.parametrize(("name", "make", "needle"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_are_one_line_and_name_the_field_or_path(tmp_path, digits, name, make, needle):
    with pytest.raises(OfaBenchError) as caught:
        make(tmp_path, digits)
    message = str(caught.value)
    assert needle in message and "\n" not in message
    if "root" in name or "files" in name or "dir" in name or "classes" in name:
        assert str(tmp_path) in message or "needs --data-root" in message
