"""Issue 28, part A: ``data fetch`` bounds (row 5), IDX header dims (row 16), duplicate YAML keys (row 20).

Servers run on 127.0.0.1 only, with short timeouts passed as parameters so each case takes seconds:
an endless stream, a server announcing too much, one that trickles a byte at a time, one that
sends nothing.
"""

from __future__ import annotations

import dataclasses
import gzip
import http.server
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from ofa_bench import cli
from ofa_bench.data.fetch import fetch, size_cap
from ofa_bench.data.idx import read_idx, sha256_of
from ofa_bench.data.idx_files import FASHION_MNIST, IdxDataset
from ofa_bench.errors import OfaBenchError
from ofa_bench.io.untrusted import parse_yaml

NAMES = FASHION_MNIST.files


def _one_line(code: int, err: str) -> str:
    err = err.strip()
    assert code == 2 and "\n" not in err and len(err) < 400 and "Traceback" not in err, err
    return err


# ----- row 5: data fetch -------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``mode``: endless, announce, trickle, silent, or the files in ``files``."""

    mode = "files"
    files: ClassVar[dict[str, bytes]] = {}
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        try:
            self._serve()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _serve(self) -> None:
        if self.mode == "silent":
            time.sleep(5)
            return
        self.send_response(200)
        if self.mode == "announce":
            self.send_header("Content-Length", str(10**12))
        if self.mode == "files":
            body = self.files[self.path.lstrip("/")]
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.mode == "files":
            self.wfile.write(body)
        elif self.mode == "endless":
            block = b"\x1f\x8b" + b"x" * 65_534
            for _ in range(100_000):  # 6.5 GB if nobody stops reading
                self.wfile.write(block)
        elif self.mode == "trickle":
            for _ in range(100):
                self.wfile.write(b"\x1f")
                self.wfile.flush()
                time.sleep(0.2)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"files": {}, "mode": "files"})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def _tiny_dataset(sizes: dict[str, int] | None = None) -> IdxDataset:
    return dataclasses.replace(
        FASHION_MNIST, sha256={p: "0" * 64 for p in NAMES}, url=None,
        sizes=sizes or {p: 1000 for p in NAMES},
    )  # fmt: skip


def test_an_endless_stream_stops_at_the_cap_and_is_deleted(tmp_path: Path, server) -> None:
    url, handler = server
    handler.mode = "endless"
    dataset = _tiny_dataset()
    start = time.monotonic()
    with pytest.raises(OfaBenchError) as info:
        fetch(dataset, tmp_path, url, stall_s=5, deadline_s=20)
    message = str(info.value)
    cap = size_cap(dataset, "train_images")
    assert f"more than the {cap:,} bytes this file can have; the download was deleted" in message
    assert "\n" not in message and time.monotonic() - start < 10
    assert list(tmp_path.iterdir()) == []  # nothing kept to resume


def test_a_cap_follows_the_pinned_size() -> None:
    assert size_cap(FASHION_MNIST, "train_images") == 47040016 + 47040016 // 64 + 65536
    assert size_cap(dataclasses.replace(FASHION_MNIST, sizes=None), "train_images") == 2**30


def test_an_announced_size_beyond_the_cap_downloads_nothing(tmp_path: Path, server) -> None:
    url, handler = server
    handler.mode = "announce"
    with pytest.raises(OfaBenchError, match="the server announces 1,000,000,000,000 bytes, more than the 66,551"):
        fetch(_tiny_dataset(), tmp_path, url, stall_s=5, deadline_s=20)
    assert list(tmp_path.iterdir()) == []


def test_a_trickling_server_meets_the_deadline(tmp_path: Path, server, capsys) -> None:
    # A byte every 0.2 s never trips the stall timeout; the overall deadline ends it.
    url, handler = server
    handler.mode = "trickle"
    start = time.monotonic()
    with pytest.raises(OfaBenchError, match=r"the fetch took longer than 1\.5 s \(the bytes so far are kept"):
        fetch(_tiny_dataset(), tmp_path, url, stall_s=1, deadline_s=1.5)
    assert time.monotonic() - start < 4
    argv = ["data", "fetch", "fashion-mnist", "--url", url, "--root", str(tmp_path / "cli"),
            "--timeout", "1", "--stall-timeout", "1"]  # fmt: skip
    err = _one_line(cli.main(argv), capsys.readouterr().err)
    assert "took longer than 1 s" in err


def test_a_silent_server_meets_the_stall_timeout(tmp_path: Path, server) -> None:
    url, handler = server
    handler.mode = "silent"
    start = time.monotonic()
    with pytest.raises(OfaBenchError, match=r"no data for 0\.5 s \(the stall timeout\)"):
        fetch(_tiny_dataset(), tmp_path, url, stall_s=0.5, deadline_s=30)
    assert time.monotonic() - start < 3


def test_a_resumable_part_beyond_the_cap_is_started_again(tmp_path: Path, server) -> None:
    url, handler = server
    raw = {part: bytes([0, 0, 8, 1]) + struct.pack(">I", 4) + bytes([1, 2, 3, 4]) for part in NAMES}
    handler.files = {f"{name}.gz": gzip.compress(raw[part], mtime=0) for part, name in NAMES.items()}
    dataset = dataclasses.replace(
        FASHION_MNIST, sha256={p: sha256_of(raw[p]) for p in NAMES}, url=None, sizes={p: 12 for p in NAMES}
    )
    part = tmp_path / f"{NAMES['train_images']}.gz.part"
    part.write_bytes(b"junk" * 20_000)  # larger than any part of this file can be
    fetch(dataset, tmp_path, url, stall_s=5, deadline_s=20)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{name}.gz" for name in NAMES.values())


def test_a_planted_link_as_the_part_is_refused(tmp_path: Path, server) -> None:
    url, _ = server
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / f"{NAMES['train_images']}.gz.part").symlink_to(victim)
    with pytest.raises(OfaBenchError, match="symbolic link"):
        fetch(_tiny_dataset(), tmp_path / "dest", url, stall_s=5, deadline_s=20)
    assert victim.read_text() == "keep"


# ----- row 16: IDX header dims ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dims", [(2**31, 2**31, 4), (2**32 - 1,) * 3, (2**16, 2**16, 1)], ids=["wraps-to-0", "max-dims", "4GiB"]
)
def test_idx_dims_are_checked_with_exact_integers(tmp_path: Path, dims: tuple[int, ...]) -> None:
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", *dims))
    with pytest.raises(OfaBenchError) as info:
        read_idx(path, ndim=3)
    message = str(info.value)
    needed = 16 + dims[0] * dims[1] * dims[2]
    assert str(path) in message and f"dims {dims}" in message and f"{needed:,} bytes" in message
    assert "the file has 16" in message and "\n" not in message


def test_data_check_idx_names_the_file_and_dims(tmp_path: Path, capsys) -> None:
    labels = np.arange(10) % 10
    for part, name in NAMES.items():
        if part.endswith("labels"):
            (tmp_path / name).write_bytes(
                bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + labels.astype(np.uint8).tobytes()
            )
        else:
            (tmp_path / name).write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 2**31, 2**31, 4))
    err = _one_line(cli.main(["data", "check", "idx", "--root", str(tmp_path)]), capsys.readouterr().err)
    assert NAMES["train_images"] in err and "dims (2147483648, 2147483648, 4)" in err


# ----- row 20: a key given twice --------------------------------------------------------------------------


def test_a_latency_table_with_a_layer_twice_names_the_key(tmp_path: Path) -> None:
    from ofa_bench_hardware.lut import LookupTableBackend

    path = tmp_path / "t.yaml"
    path.write_text(
        "Conv-input:24x24x1-output:12x12x8: {count: 5, mean: 0.1, std: 0}\n"
        "Conv-input:12x12x8-output:12x12x8: {count: 5, mean: 0.2, std: 0}\n"
        "Conv-input:24x24x1-output:12x12x8: {count: 5, mean: 9990, std: 0}\n"
    )
    with pytest.raises(OfaBenchError) as info:
        LookupTableBackend(table=path)
    message = str(info.value)
    assert str(path) in message and "duplicate key 'Conv-input:24x24x1-output:12x12x8'" in message
    assert "line 3" in message and "\n" not in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("name: a\nbudget: {evaluations: 10}\nbudget: {evaluations: 99}\n", "'budget'"),
        ("layers:\n  a: {mean: 1, mean: 2}\n", "'mean'"),
        ("1: x\n0x1: y\n", "1"),
    ],
)
def test_every_yaml_refuses_a_key_twice(text: str, key: str) -> None:
    with pytest.raises(OfaBenchError, match=f"^x.yaml: not valid YAML at line .*: found duplicate key {key}$"):
        parse_yaml(text, "x.yaml")


def test_merges_may_still_override_and_distinct_keys_stay() -> None:
    text = "base: &b {lr: 0.1, epochs: 1}\nphase:\n  <<: *b\n  lr: 0.2\n1: int\n'1': str\n"
    assert parse_yaml(text, "x") == {
        "base": {"lr": 0.1, "epochs": 1},
        "phase": {"lr": 0.2, "epochs": 1},
        1: "int",
        "1": "str",
    }
