"""Tests of the IDX reader, the fashion-mnist and idx datasets, ``data check`` and ``data fetch``.

Every dataset here is a tiny MNIST-format folder the tests write themselves; the one test that
needs the real Fashion-MNIST is marked slow and skips when it is absent. ``data fetch`` is tested
against an HTTP server on 127.0.0.1 serving files the test made; nothing else is ever contacted.
"""

from __future__ import annotations

import dataclasses
import gzip
import http.server
import json
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ofa_bench import cli
from ofa_bench.data import DataSpec, idx_files, load_data
from ofa_bench.data.fetch import fetch
from ofa_bench.data.idx import read_idx, sha256_of
from ofa_bench.data.idx_files import FASHION_MNIST, IdxDataset, read_splits
from ofa_bench.errors import OfaBenchError

NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def idx_bytes(array: np.ndarray, magic: bytes | None = None) -> bytes:
    """An unsigned-byte IDX file of ``array`` (``magic`` replaces the 4-byte magic number)."""
    header = magic if magic is not None else bytes([0, 0, 8, array.ndim])
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()


def write_idx_folder(folder: Path, n_train: int = 120, n_test: int = 30, gz: bool = True) -> dict[str, bytes]:
    """Write a tiny 10-class, 28x28 MNIST-format dataset; returns each part's decompressed bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    parts = {}
    for split, n in (("train", n_train), ("test", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 256, size=(n, 28, 28))
        parts[f"{split}_images"], parts[f"{split}_labels"] = idx_bytes(images), idx_bytes(labels)
    for part, raw in parts.items():
        path = folder / (NAMES[part] + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
    return parts


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(code: int, err: str) -> str:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ofa-bench: error: "), err
    assert "Traceback" not in err
    return lines[0]


# ----- the reader ----------------------------------------------------------------------------------


def test_read_idx_round_trips_plain_and_gzipped(tmp_path: Path) -> None:
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(array))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(array)))
    for name in ("a", "a.gz"):
        got = read_idx(tmp_path / name, ndim=3)
        assert got.dtype == np.uint8 and got.shape == (2, 3, 4)
        np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"\x00\x00", "truncated"),
        (b"\x12\x34\x08\x01" + struct.pack(">I", 1) + b"\x00", "wrong magic number"),
        (b"\x00\x00\x0d\x01" + struct.pack(">I", 1) + b"\x00\x00\x00\x00", "float values"),
        (b"\x00\x00\x08\x01\x00\x00", "shorter than its 8-byte header"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"\x01\x02", "truncated: shape (5,) needs 13 bytes"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 1) + b"\x01\x02", "1 bytes after"),
        (b"\x00\x00\x08\x03" + struct.pack(">III", 1, 2, 2) + bytes(4), "3 dimensions"),
    ],
)
def test_read_idx_names_the_file_and_the_problem(tmp_path: Path, raw: bytes, expected: str) -> None:
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(raw)
    with pytest.raises(OfaBenchError) as exc:
        read_idx(path, ndim=1)
    message = str(exc.value)
    assert expected in message and str(path) in message and "\n" not in message


def test_a_damaged_gzip_stream_is_one_line(tmp_path: Path) -> None:
    packed = gzip.compress(idx_bytes(np.zeros((50, 28, 28))))
    (tmp_path / "cut.gz").write_bytes(packed[: len(packed) // 2])
    (tmp_path / "junk.gz").write_bytes(b"\x1f\x8bthis is not gzip at all")
    (tmp_path / "text.gz").write_bytes(b"neither gzip nor IDX")
    cases = (("cut.gz", "truncated"), ("junk.gz", "not a valid gzip file"), ("text.gz", "wrong magic number"))
    for name, expected in cases:
        with pytest.raises(OfaBenchError, match=expected) as exc:
            read_idx(tmp_path / name)
        assert name in str(exc.value)


# ----- datasets ------------------------------------------------------------------------------------


def test_idx_folder_splits_into_train_valid_calib_and_test(tmp_path: Path) -> None:
    write_idx_folder(tmp_path / "mnistlike")
    spec = DataSpec(dataset="idx", root=str(tmp_path / "mnistlike"), val_fraction=0.25, calib_size=40)
    data = load_data(spec)
    assert (data.n_train, data.n_val, data.n_calib, data.n_test) == (90, 30, 40, 30)
    assert np.intersect1d(data.train_index, data.val_index).size == 0
    assert set(data.calib_index) <= set(data.train_index)
    assert np.bincount(data._train.labels[data.val_index]).tolist() == [3] * 10  # stratified
    assert data.eval_splits == ("val", "calib", "test")
    x, y = next(data.eval_batches("test", 16, batch_size=64))
    assert x.shape == (30, 1, 16, 16) and y.tolist() == (np.arange(30) % 10).tolist()
    facts = data.describe()
    assert facts["n_test"] == 30 and len(facts["test_sha256"]) == 16
    assert set(facts["files_sha256"]) == set(NAMES)
    again = load_data(spec).describe()
    assert again == facts, "splits are seeded"
    assert load_data(dataclasses.replace(spec, split_seed=1)).describe()["val_sha256"] != facts["val_sha256"]


def test_digits_has_no_test_split() -> None:
    data = load_data("digits")
    assert data.eval_splits == ("val", "calib") and "test_sha256" not in data.describe()
    with pytest.raises(OfaBenchError, match="allowed splits: val, calib"):
        next(data.eval_batches("test", 12))


def test_fashion_mnist_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = dataclasses.replace(FASHION_MNIST, debian_dir=tmp_path / "debian")
    monkeypatch.setattr(idx_files, "FASHION_MNIST", fake)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(idx_files.DATA_ENV, raising=False)
    with pytest.raises(OfaBenchError, match="apt-get install dataset-fashion-mnist") as exc:
        idx_files.find_root(fake, None)
    assert "ofa-bench data fetch fashion-mnist" in str(exc.value)
    for place in ("cache/ofa-bench/fashion-mnist", "debian", "env/fashion-mnist"):
        write_idx_folder(tmp_path / place)
        if place.startswith("env"):
            monkeypatch.setenv(idx_files.DATA_ENV, str(tmp_path / "env"))
        assert idx_files.find_root(fake, None) == tmp_path / place  # each earlier place wins
    write_idx_folder(tmp_path / "explicit", gz=False)
    assert idx_files.find_root(fake, tmp_path / "explicit") == tmp_path / "explicit"


# ----- data check ----------------------------------------------------------------------------------


def test_data_check_idx_reports_sizes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_idx_folder(tmp_path)
    code, out, _ = _run(capsys, ["data", "check", "idx", "--root", str(tmp_path), "--json"])
    report = json.loads(out)
    assert code == 0 and report["train"] == 120 and report["test"] == 30 and report["verified"] is None
    assert {"dataset", "root", "train", "test", "verified"} <= set(report)


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("truncate", "truncated"),
        ("magic", "wrong magic number"),
        ("count", "120 images but 119 labels"),
    ],
)
def test_data_check_bad_files_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, damage: str, expected: str
) -> None:
    parts = write_idx_folder(tmp_path, gz=False)
    images, labels = tmp_path / NAMES["train_images"], tmp_path / NAMES["train_labels"]
    if damage == "truncate":
        images.write_bytes(parts["train_images"][:-100])
    elif damage == "magic":
        images.write_bytes(b"\x00\x01" + parts["train_images"][2:])
    else:
        labels.write_bytes(idx_bytes(np.arange(119) % 10))
    code, out, err = _run(capsys, ["data", "check", "idx", "--root", str(tmp_path)])
    line = _one_error_line(code, err)
    assert expected in line and out == ""


def test_data_check_fashion_mnist_hash_mismatch_and_missing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write_idx_folder(tmp_path / "impostor")
    code, _, err = _run(capsys, ["data", "check", "fashion-mnist", "--root", str(tmp_path / "impostor")])
    line = _one_error_line(code, err)
    assert "does not match its pinned hash" in line and "train-images-idx3-ubyte.gz" in line
    (tmp_path / "empty").mkdir()
    code, _, err = _run(capsys, ["data", "check", "fashion-mnist", "--root", str(tmp_path / "empty")])
    assert "data not found" in _one_error_line(code, err)


def test_train_on_a_missing_dataset_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["train", "--preset", "ofa-fmnist", "--data", "fashion-mnist", "--data-root", str(tmp_path / "nope")]
    code, _, err = _run(capsys, [*argv, "--out", str(tmp_path / "out")])
    assert "does not exist" in _one_error_line(code, err)


@pytest.mark.parametrize("dataset", ["fashion-mnist", "idx"])
def test_missing_data_names_the_root_option_of_the_command_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, dataset: str
) -> None:
    """``data check`` takes ``--root``, ``train`` takes ``--data-root``: each message names its own."""
    missing = str(tmp_path / "nope")
    code, _, err = _run(capsys, ["data", "check", dataset, "--root", missing])
    line = _one_error_line(code, err)
    assert "pass --root DIR" in line and "--data-root" not in line
    if dataset == "fashion-mnist":  # train says what to do about a missing idx folder in its own words
        argv = ["train", "--preset", "ofa-fmnist", "--data", dataset, "--data-root", missing, "--out", str(tmp_path)]
        code, _, err = _run(capsys, argv)
        assert "pass --data-root DIR" in _one_error_line(code, err)


@pytest.mark.slow
def test_installed_fashion_mnist_is_verified(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        idx_files.find_root(FASHION_MNIST, None)
    except OfaBenchError:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    code, out, _ = _run(capsys, ["data", "check", "fashion-mnist", "--json"])
    report = json.loads(out)
    assert code == 0 and (report["train"], report["test"], report["verified"]) == (60000, 10000, True)


# ----- data fetch ----------------------------------------------------------------------------------


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves the bytes in ``files`` by path, honouring ``Range: bytes=N-``; records the ranges asked."""

    files: dict[str, bytes] = {}
    ranges: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        body = self.files.get(self.path.lstrip("/"))
        if body is None:
            self.send_error(404)
            return
        wanted = self.headers.get("Range")
        status = 200
        if wanted:
            self.ranges.append(wanted)
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            body, status = body[start:], 206
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[tuple[str, type[_RangeHandler]]]:
    handler = type("Handler", (_RangeHandler,), {"files": {}, "ranges": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", handler
    finally:
        server.shutdown()
        server.server_close()


def _served(tmp_path: Path, handler: type[_RangeHandler]) -> IdxDataset:
    parts = write_idx_folder(tmp_path / "upstream")
    for name in NAMES.values():
        handler.files[f"{name}.gz"] = (tmp_path / "upstream" / f"{name}.gz").read_bytes()
    pinned = {part: sha256_of(raw) for part, raw in parts.items()}
    return dataclasses.replace(FASHION_MNIST, sha256=pinned, url=None)


def test_fetch_downloads_verifies_resumes_and_keeps(tmp_path: Path, local_server: tuple) -> None:
    url, handler = local_server
    dataset = _served(tmp_path, handler)
    dest = tmp_path / "dest"
    dest.mkdir()
    first = f"{NAMES['train_images']}.gz"
    half = handler.files[first][: len(handler.files[first]) // 2]
    (dest / f"{first}.part").write_bytes(half)  # an interrupted earlier download
    done: dict[str, str] = {}
    assert fetch(dataset, dest, url, lambda name, what: done.__setitem__(name, what)) == dest
    assert handler.ranges == [f"bytes={len(half)}-"]
    assert set(done.values()) == {"downloaded"} and not list(dest.glob("*.part"))
    assert read_splits(dataset, dest).verified is True
    done.clear()
    fetch(dataset, dest, url, lambda name, what: done.__setitem__(name, what))
    assert set(done.values()) == {"kept"}


def test_fetch_hash_mismatch_keeps_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, local_server: tuple
) -> None:
    url, handler = local_server
    _served(tmp_path, handler)  # tiny files: not what fashion-mnist's pinned hashes name
    dest = tmp_path / "dest"
    code, _, err = _run(capsys, ["data", "fetch", "fashion-mnist", "--url", url, "--root", str(dest)])
    assert "does not match its pinned hash" in _one_error_line(code, err)
    assert list(dest.iterdir()) == []
    code, _, err = _run(capsys, ["data", "fetch", "fashion-mnist", "--url", url + "missing/", "--root", str(dest)])
    assert "HTTP 404" in _one_error_line(code, err)
