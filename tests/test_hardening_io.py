"""Issue 28, part A: output paths (rows 1, 21) and streaming arch lines (rows 2, 3, 4, ``costs --backends``).

Each test reproduces a row of the issue scaled down to seconds: a write onto a device, a pipe, a
link or a folder is a one-line refusal (exit 2) that leaves the thing as it was; arch lines are
read, checked and costed chunk by chunk, so a bad first line fails before the rest is read and
memory follows a chunk, not the input; ``sample`` streams its output with the same lines as before.
"""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import sys
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from ofa_bench import cli, get_space
from ofa_bench.cli.commands import archs as archs_command
from ofa_bench.costs import macs_params
from ofa_bench.errors import OfaBenchError
from ofa_bench.io import jsonl
from ofa_bench.io.atomic import atomic_path, write_text_atomic
from ofa_bench.plugins import HardwareBackend, registry

MINI = get_space("ofa-mini")
FMNIST = get_space("ofa-fmnist")


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """The one error line of a command that must exit 2."""
    code = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "\n" not in err and len(err) < 300 and "Traceback" not in err, err
    return err


# ----- rows 1 and 21: output paths -----------------------------------------------------------------


def _device(tmp_path: Path, name: str, minor: int) -> Path:
    """A character device like /dev/null (minor 3) or /dev/full (minor 7), made in ``tmp_path``.

    The tests never point a write at the system's own /dev/null: code without the fix replaces the
    target by a regular file, which as root breaks /dev/null for every process on the machine.
    """
    path = tmp_path / name
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    except (PermissionError, AttributeError):
        pytest.skip("making a device node needs root (the issue's reproducer runs as root)")
    return path


@pytest.mark.parametrize(("name", "minor"), [("null", 3), ("full", 7)])
def test_a_device_is_refused_not_replaced(tmp_path: Path, name: str, minor: int) -> None:
    target = _device(tmp_path, name, minor)
    before = os.lstat(target)
    with pytest.raises(OfaBenchError) as info:
        write_text_atomic(target, "x")
    message = str(info.value)
    assert repr(str(target)) in message and "it is a character device, not a regular file" in message
    assert "\n" not in message
    after = os.lstat(target)
    assert (after.st_ino, after.st_mode, after.st_rdev) == (before.st_ino, before.st_mode, before.st_rdev)


def test_fifo_socket_folder_and_links_are_refused_with_what_they_are(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("keep")
    (tmp_path / "link").symlink_to(tmp_path / "file")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    cases = {
        "fifo": "named pipe (FIFO)",
        "folder": "it is a folder, not a file",
        "link": "symbolic link (to",
        "loop": "symbolic link that loops",
        "dangling": "symbolic link to a missing path",
        "file/x": "'file' is a file, not a folder".replace("'file'", repr(str(tmp_path / "file"))),
        "loop/x": "symbolic link that loops",
    }
    for name, words in cases.items():
        with pytest.raises(OfaBenchError) as info:
            write_text_atomic(tmp_path / name, "new")
        message = str(info.value)
        assert words in message and "File exists" not in message and "\n" not in message, message
    assert (tmp_path / "file").read_text() == "keep" and (tmp_path / "link").is_symlink()
    assert not list(tmp_path.glob(".*.tmp"))
    with tempfile.TemporaryDirectory(dir="/tmp") as short:  # a socket path must be short
        sock_path = Path(short) / "s"
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(sock_path))
            with pytest.raises(OfaBenchError, match="it is a socket, not a regular file"):
                write_text_atomic(sock_path, "x")


def test_regular_files_new_paths_and_linked_folders_still_work(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "via").symlink_to(tmp_path / "real")
    write_text_atomic(tmp_path / "via" / "a.txt", "1")  # a folder on the way may be a link
    write_text_atomic(tmp_path / "via" / "a.txt", "2")
    write_text_atomic(tmp_path / "new" / "deep" / "b.txt", "3")  # missing folders are created
    with atomic_path(tmp_path / "c.bin") as tmp:
        tmp.write_bytes(b"4")
    assert (tmp_path / "real" / "a.txt").read_text() == "2"
    assert (tmp_path / "new" / "deep" / "b.txt").read_text() == "3" and (tmp_path / "c.bin").read_bytes() == b"4"


def test_costs_out_through_a_link_to_stdout_is_refused(capsys, tmp_path: Path) -> None:
    # The reproducer: ln -s /proc/self/fd/1 L; ofa-bench costs ... --out L
    archs = tmp_path / "archs.jsonl"
    archs.write_text(MINI.largest().to_json() + "\n")
    link = tmp_path / "L"
    link.symlink_to("/proc/self/fd/1")
    err = _error(capsys, ["costs", "--space", "ofa-mini", "--archs", str(archs), "--out", str(link)])
    assert "symbolic link" in err and str(link) in err
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"
    full = _device(tmp_path, "full", 7)  # the issue's --junit /dev/full, on a device of our own
    err = _error(capsys, ["sample", "--space", "ofa-mini", "-n", "3", "--out", str(full)])
    assert "character device" in err and "File exists" not in err
    assert stat.S_ISCHR(os.lstat(full).st_mode)


def test_folder_outputs_name_what_is_in_the_way(capsys, tmp_path: Path, monkeypatch) -> None:
    # Row 21: commands that make an output folder (run, search, train, ...) with plain mkdir said
    # "File exists" for /dev/null or a link loop; the command line now says what is there.
    null = _device(tmp_path, "null", 3)
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "file").write_text("")
    wanted: list[Path] = []

    def make_folder(args) -> int:
        wanted[0].mkdir(parents=True, exist_ok=True)
        return 0

    monkeypatch.setattr(archs_command, "_cmd_sample", make_folder)
    for folder, words in (
        (null, "it is a character device, not a folder"),
        (tmp_path / "loop", "symbolic link that loops"),
        (tmp_path / "file" / "run", "is a file, not a folder"),
    ):
        wanted[:] = [folder]
        err = _error(capsys, ["sample", "--space", "ofa-mini", "-n", "1"])
        assert words in err and "File exists" not in err, err


def test_dash_is_stdout(capsys) -> None:
    assert cli.main(["sample", "--space", "ofa-mini", "-n", "2", "--out", "-"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


# ----- rows 2 and 3: arch lines read and costed chunk by chunk ---------------------------------------


class _CountingStdin:
    """A stdin whose binary buffer counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        self.buffer = _Counted(data)


class _Counted(io.BytesIO):
    read_bytes = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.read_bytes += len(chunk)
        return chunk


def test_a_bad_first_line_fails_before_the_rest_is_read(capsys, monkeypatch) -> None:
    # Row 3: 510 MB of lines "11" ran out of memory; scaled down to 12 MB, counting what is read.
    stdin = _CountingStdin(b"11\n" * 4_000_000)
    monkeypatch.setattr(sys, "stdin", stdin)
    err = _error(capsys, ["costs", "--space", "ofa-fmnist", "--summary"])
    assert err.startswith("ofa-bench: error: archs line 1: an arch must be a JSON object")
    assert stdin.buffer.read_bytes <= jsonl.FIRST_CHUNK_BYTES


def test_a_line_without_end_is_refused_at_its_limit(tmp_path: Path, capsys) -> None:
    path = tmp_path / "zeros.jsonl"
    path.write_bytes(b"0" * (jsonl.MAX_LINE_BYTES + 10))
    err = _error(capsys, ["costs", "--space", "ofa-mini", "--archs", str(path)])
    assert "line 1 is longer than the limit of 1,048,576 bytes" in err


def test_an_oversized_archs_file_is_refused_before_reading(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text(MINI.largest().to_json() + "\n" * 200)
    monkeypatch.setattr(jsonl, "MAX_JSON_BYTES", 100)
    with pytest.raises(OfaBenchError, match="larger than the limit of 100 bytes"):
        list(jsonl.read_arch_arrays(MINI, str(path)))


def test_chunks_give_what_one_read_gives_and_errors_name_the_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(jsonl, "FIRST_CHUNK_BYTES", 300)
    archs = MINI.sample(300, 5)
    forms = [
        a.to_json() if i % 3 else json.dumps(a.to_dict()) + "  "  # ofa-bench's form and json.dumps' spaces
        for i, a in enumerate(archs)
    ]
    forms[7] = json.dumps({"r": archs[7].r, "d": list(archs[7].d), "e": list(archs[7].e), "ks": list(archs[7].ks)})
    forms[11] = json.dumps({"ks": 3, "e": 3, "d": 2, "r": archs[11].r})  # broadcast scalars
    archs[11] = MINI.from_dict(json.loads(forms[11]))
    path = tmp_path / "a.jsonl"
    path.write_text("\n\n".join(forms) + "\n")
    chunks = list(jsonl.read_arch_arrays(MINI, str(path)))
    assert len(chunks) > 3 and np.array_equal(np.concatenate(chunks), MINI.to_array(archs))
    assert jsonl.read_archs(MINI, str(path)) == archs
    bad = forms[:250] + ['{"ks": [3, x]}'] + forms[250:]
    path.write_text("\n".join(bad) + "\n")
    with pytest.raises(OfaBenchError, match="^archs line 251: malformed JSON at column 12"):
        jsonl.read_archs(MINI, str(path))
    bad = forms[:200] + [json.dumps({**archs[0].to_dict(), "r": 13})] + forms[200:]
    path.write_text("\n".join(bad) + "\n")
    with pytest.raises(OfaBenchError, match="^archs line 201: r=13 is not allowed in ofa-mini"):
        jsonl.read_archs(MINI, str(path))
    path.write_bytes(b"\n".join(f.encode() for f in forms[:150]) + b"\n\xff\xfe\n")
    with pytest.raises(OfaBenchError, match=r"is not UTF-8 text \(line 151\)"):
        jsonl.read_archs(MINI, str(path))


def _traced_peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_costs_memory_follows_a_chunk_not_the_input(tmp_path: Path, capsys, monkeypatch) -> None:
    # Row 2: 4M archs to costs --summary ran out of memory at 4.9 GB. Scaled down: 30,000 archs
    # (3.5 MB of lines) in chunks of 256 KiB: ~5 MB traced (reading the whole text, at most the
    # 512 MiB limit, and holding every arch as an object traced 512 MB).
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 2**18, raising=False)
    path = tmp_path / "archs.jsonl"
    assert cli.main(["sample", "--space", "ofa-fmnist", "-n", "30000", "--out", str(path)]) == 0
    capsys.readouterr()
    summary = _traced_peak(
        lambda: cli.main(["--json", "costs", "--space", "ofa-fmnist", "--archs", str(path), "--summary"])
    )
    result = json.loads(capsys.readouterr().out)
    assert result["count"] == 30_000
    out = tmp_path / "costs.jsonl"
    per_line = _traced_peak(
        lambda: cli.main(["costs", "--space", "ofa-fmnist", "--archs", str(path), "--out", str(out)])
    )
    assert summary < 16 * 2**20 and per_line < 16 * 2**20, (summary / 2**20, per_line / 2**20)
    macs = [json.loads(line)["macs"] for line in out.read_text().splitlines()]
    assert len(macs) == 30_000 and result["macs"]["median"] == float(np.median(macs))


def test_costs_lines_are_what_they_were(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 2048)
    monkeypatch.setattr(jsonl, "FIRST_CHUNK_BYTES", 200)
    archs = MINI.sample(100, 1)
    path = tmp_path / "a.jsonl"
    path.write_text("".join(a.to_json() + "\n" for a in archs))
    assert cli.main(["costs", "--space", "ofa-mini", "--archs", str(path)]) == 0
    macs, params = macs_params(archs)
    expected = "".join(
        json.dumps({**a.to_dict(), "macs": int(m), "params": int(p)}, separators=(",", ":")) + "\n"
        for a, m, p in zip(archs, macs, params)
    )
    assert capsys.readouterr().out == expected


# ----- costs --backends ---------------------------------------------------------------------------


class _ListOnly(HardwareBackend):
    """A backend taking lists of archs only (no accepts_arrays): the chunk is converted for it."""

    name = "list-only"

    def latency(self, archs):
        assert isinstance(archs, list)
        return np.array([a.r + 0.5 for a in archs], dtype=np.float64)

    def describe(self):
        return {"name": self.name, "device": "none", "version": "1", "units": "ms"}


def test_costs_backends_add_latency_columns(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 2048)
    archs = MINI.sample(60, 2)
    path = tmp_path / "a.jsonl"
    path.write_text("".join(a.to_json() + "\n" for a in archs))
    macs, params = macs_params(archs)
    with registry.registered_while("hardware", "list-only", _ListOnly):
        argv = ["costs", "--space", "ofa-mini", "--archs", str(path), "--backends", "mmacs,list-only"]
        assert cli.main(argv) == 0
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [r["latency:mmacs"] for r in rows] == pytest.approx(macs / 1e6)
        assert [r["latency:list-only"] for r in rows] == [a.r + 0.5 for a in archs]
        assert [r["params"] for r in rows] == params.tolist()
        assert cli.main(["--json", *argv, "--summary"]) == 0
        summary = json.loads(capsys.readouterr().out)
    assert summary["latency:mmacs"]["units"] == "MMACs"
    assert summary["latency:list-only"]["median"] == float(np.median([a.r + 0.5 for a in archs]))
    err = _error(capsys, ["costs", "--space", "ofa-mini", "--archs", str(path), "--backends", "nope"])
    assert "--backends" in err and "unknown hardware backend 'nope'" in err


def test_costs_backends_take_a_lookup_table(tmp_path: Path, capsys) -> None:
    from ofa_bench_hardware.layer_grid import layer_grid
    from ofa_bench_hardware.lut import LookupTableBackend
    from ofa_bench_hardware.lut_format import save_table

    entries = {layer.key(): {"count": 1, "mean": 0.01, "std": 0.0} for layer in layer_grid(MINI).distinct()}
    table = save_table(tmp_path / "t.yaml", {"space": "ofa-mini", "units": "ms"}, entries)
    archs = MINI.sample(5, 0)
    path = tmp_path / "a.jsonl"
    path.write_text("".join(a.to_json() + "\n" for a in archs))
    assert (
        cli.main(["costs", "--space", "ofa-mini", "--archs", str(path), "--backends", f"mmacs,lut:table={table}"]) == 0
    )
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    expected = LookupTableBackend(table=table).latency(archs)
    assert [r["latency:lut"] for r in rows] == pytest.approx(expected)


# ----- row 4: sample streams its output -------------------------------------------------------------


def test_sample_in_chunks_writes_the_lines_of_one_draw(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(archs_command, "CHUNK", 7)
    for n, seed in ((0, 0), (1, 3), (20, 3), (21, 9)):
        out = tmp_path / f"s{n}.jsonl"
        assert (
            cli.main(
                ["--quiet", "sample", "--space", "ofa-fmnist", "-n", str(n), "--seed", str(seed), "--out", str(out)]
            )
            == 0
        )
        assert out.read_text() == "".join(a.to_json() + "\n" for a in FMNIST.sample(n, seed))


def test_sample_memory_follows_a_chunk_not_n(tmp_path: Path, monkeypatch) -> None:
    # Row 4: -n 10000000 allocated 3.43 GiB at once. Scaled down: 30,000 archs (3.5 MB of lines) in
    # chunks of 2,048: ~2.5 MB traced (all of them as Arch objects and one string: 40 MB).
    monkeypatch.setattr(archs_command, "CHUNK", 2048, raising=False)
    out = tmp_path / "s.jsonl"
    peak = _traced_peak(
        lambda: cli.main(["--quiet", "sample", "--space", "ofa-fmnist", "-n", "30000", "--out", str(out)])
    )
    assert peak < 10 * 2**20, peak / 2**20
    with out.open() as f:
        head = [next(f) for _ in range(3)]
        assert sum(1 for _ in f) == 30_000 - 3
    assert head == [a.to_json() + "\n" for a in FMNIST.sample(3, 0)]  # a prefix of the draw: same rows
