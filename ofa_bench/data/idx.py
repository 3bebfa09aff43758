"""A strict reader of IDX files, the format of MNIST, Fashion-MNIST and KMNIST.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the values in C order. Only unsigned bytes (type ``0x08``)
occur in the image datasets, so only those are read. Every way a file can be wrong (a bad magic
number, truncation, trailing bytes, a damaged gzip stream) is one :class:`OfaBenchError` line that
names the file and the problem, never a numpy or zlib traceback.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ofa_bench.errors import OfaBenchError

__all__ = ["MAX_IDX_BYTES", "read_idx", "read_idx_bytes", "sha256_of", "sha256_of_file"]

#: Largest decompressed IDX file read (1 GiB): far above MNIST-style data, far below a memory bomb.
MAX_IDX_BYTES = 2**30
_UBYTE = 0x08
_TYPE_NAMES = {0x08: "ubyte", 0x09: "byte", 0x0B: "short", 0x0C: "int", 0x0D: "float", 0x0E: "double"}


def read_idx_bytes(path: str | Path) -> bytes:
    """The decompressed bytes of an IDX file, at most :data:`MAX_IDX_BYTES`.

    A gzip stream is recognised by its magic bytes, not its name (an IDX file starts with two zero
    bytes, so the two cannot be confused), so a ``.gz.part`` download reads like its ``.gz``.

    Raises:
        OfaBenchError: The file is missing, unreadable, a damaged gzip stream, or too large.
    """
    path = Path(path)
    where = f"IDX file {str(path)!r}"
    with _reading(path, where) as stream:
        raw = stream.read(MAX_IDX_BYTES + 1)
    if len(raw) > MAX_IDX_BYTES:
        raise OfaBenchError(f"{where} decompresses to more than {MAX_IDX_BYTES} bytes; not an image dataset file")
    return raw


def sha256_of_file(path: str | Path, max_bytes: int = MAX_IDX_BYTES) -> str:
    """Hex SHA-256 of an IDX file's decompressed bytes, read a MiB at a time (memory stays small).

    Raises:
        OfaBenchError: As :func:`read_idx_bytes`, or the file decompresses to more than ``max_bytes``.
    """
    path = Path(path)
    where = f"IDX file {str(path)!r}"
    digest, size = hashlib.sha256(), 0
    with _reading(path, where) as stream:
        while chunk := stream.read(2**20):
            size += len(chunk)
            if size > max_bytes:
                raise OfaBenchError(f"{where} decompresses to more than {max_bytes:,} bytes")
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def _reading(path: Path, where: str) -> Iterator[BinaryIO]:
    """The decompressed stream of ``path`` (gzip or plain), its errors as one-line OfaBenchErrors."""
    try:
        with path.open("rb") as stream:
            packed = stream.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rb") if packed else path.open("rb") as stream:
            yield stream
    except FileNotFoundError:
        raise OfaBenchError(f"{where} not found") from None
    except EOFError:
        raise OfaBenchError(f"{where} is truncated: the gzip stream ends early") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise OfaBenchError(f"{where} is not a valid gzip file ({exc})") from None
    except OSError as exc:
        raise OfaBenchError(f"{where} cannot be read: {exc.strerror or exc}") from None


def read_idx(path: str | Path, ndim: int | None = None, raw: bytes | None = None) -> np.ndarray:
    """Read an unsigned-byte IDX file into a read-only ``uint8`` array of its shape.

    Args:
        path: The file (``.gz`` or plain); also used to name it in errors.
        ndim: The number of dimensions the file must have (3 for images, 1 for labels), or ``None``.
        raw: The file's decompressed bytes when already read (see :func:`read_idx_bytes`).

    Raises:
        OfaBenchError: One line naming the file and what is wrong with it.
    """
    where = f"IDX file {str(path)!r}"
    if raw is None:
        raw = read_idx_bytes(path)
    if len(raw) < 4:
        raise OfaBenchError(f"{where} is truncated: {len(raw)} bytes, shorter than the 4-byte magic number")
    zero, kind, dims = raw[:2], raw[2], raw[3]
    if zero != b"\x00\x00":
        raise OfaBenchError(
            f"{where} has a wrong magic number 0x{raw[:4].hex()}: an IDX file starts with two zero bytes"
        )
    if kind != _UBYTE:
        name = _TYPE_NAMES.get(kind, f"unknown type 0x{kind:02x}")
        raise OfaBenchError(f"{where} holds {name} values; only unsigned bytes (type 0x08) are read")
    if dims == 0 or (ndim is not None and dims != ndim):
        expected = f"{ndim}" if ndim is not None else "at least 1"
        raise OfaBenchError(f"{where} has {dims} dimensions in its magic number; expected {expected}")
    header = 4 + 4 * dims
    if len(raw) < header:
        raise OfaBenchError(f"{where} is truncated: {len(raw)} bytes, shorter than its {header}-byte header")
    shape = struct.unpack(f">{dims}I", raw[4:header])
    if any(n == 0 for n in shape):
        raise OfaBenchError(f"{where} has an empty dimension: shape {shape}")
    # Exact integers: dims up to 2**32 - 1 each overflow int64 (np.prod wraps (2**31, 2**31, 4) to 0).
    expected_bytes = header + math.prod(shape)
    if expected_bytes > MAX_IDX_BYTES:
        raise OfaBenchError(
            f"{where} has header dims {shape}, which need {expected_bytes:,} bytes, more than the limit of "
            f"{MAX_IDX_BYTES:,}; the file has {len(raw):,}"
        )
    if len(raw) < expected_bytes:
        raise OfaBenchError(
            f"{where} is truncated: shape {shape} needs {expected_bytes} bytes, the file has {len(raw)}"
        )
    if len(raw) > expected_bytes:
        raise OfaBenchError(
            f"{where} has {len(raw) - expected_bytes} bytes after the {expected_bytes} its shape {shape} needs"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def sha256_of(raw: bytes) -> str:
    """Hex SHA-256 of ``raw`` (the decompressed bytes are what a dataset pins)."""
    return hashlib.sha256(raw).hexdigest()
