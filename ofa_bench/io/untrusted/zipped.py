"""Opening zip-based files (predictor files, torch checkpoints) with their sizes checked first.

A zip member declares its inflated size in the archive's central directory, and Python's
``zipfile`` (like the reader inside ``torch.load``) never inflates a member past that size. So
reading the central directory, which costs no inflation, and refusing archives whose members are
too many, too large, or compressed by a method other than stored/deflate, bounds the memory any
later read can take: a 1 MB file that would inflate to 1 GB is refused before a byte is inflated.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ofa_bench.errors import OfaBenchError

__all__ = ["CHECKPOINT_LIMITS", "PREDICTOR_LIMITS", "ZipLimits", "check_zip", "load_torch", "open_zip", "read_member"]


@dataclass(frozen=True)
class ZipLimits:
    """What one zip archive may hold.

    Attributes:
        members: Number of members.
        member_bytes: Inflated size of any one member.
        total_bytes: Inflated size of all members together.
    """

    members: int
    member_bytes: int
    total_bytes: int


#: A predictor file: ``predictor.json`` and a member per piece of state (ensembles nest files).
PREDICTOR_LIMITS = ZipLimits(members=20_000, member_bytes=256 * 2**20, total_bytes=512 * 2**20)
#: A torch checkpoint: one member per tensor storage; OFA's largest supernet is ~100 MB.
CHECKPOINT_LIMITS = ZipLimits(members=100_000, member_bytes=2 * 2**30, total_bytes=4 * 2**30)

_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}


def check_zip(archive: zipfile.ZipFile, what: str, limits: ZipLimits) -> None:
    """Refuse an open archive whose central directory exceeds ``limits``; nothing is inflated.

    Raises:
        OfaBenchError: One line naming the source, the member and the limit.
    """
    infos = archive.infolist()
    if len(infos) > limits.members:
        raise OfaBenchError(f"{what}: refused: it holds {len(infos):,} members; the limit is {limits.members:,}")
    total = 0
    for info in infos:
        name = _short(info.filename)
        if info.compress_type not in _METHODS:
            raise OfaBenchError(f"{what}: refused: member {name!r} uses compression method {info.compress_type}; "
                                "allowed: stored, deflate")  # fmt: skip
        if info.flag_bits & 0x1:
            raise OfaBenchError(f"{what}: refused: member {name!r} is encrypted")
        if info.file_size > limits.member_bytes:
            raise OfaBenchError(f"{what}: refused: member {name!r} inflates to {info.file_size:,} bytes; "
                                f"the limit is {limits.member_bytes:,}")  # fmt: skip
        total += info.file_size
    if total > limits.total_bytes:
        raise OfaBenchError(
            f"{what}: refused: its members inflate to {total:,} bytes; the limit is {limits.total_bytes:,}"
        )


def open_zip(source: bytes | str | Path | IO[bytes], what: str, limits: ZipLimits) -> zipfile.ZipFile:
    """Open a zip archive for reading after :func:`check_zip` passes.

    Args:
        source: The archive's bytes, path or binary file object.
        what: The source, for messages.
        limits: What it may hold.

    Raises:
        OfaBenchError: Not a complete zip archive, or beyond ``limits``.
    """
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError):
        raise OfaBenchError(f"{what} is truncated, corrupted or not a zip archive") from None
    try:
        check_zip(archive, what, limits)
    except OfaBenchError:
        archive.close()
        raise
    return archive


def read_member(archive: zipfile.ZipFile, name: str, what: str) -> bytes:
    """The inflated bytes of one member of an archive opened by :func:`open_zip`.

    Raises:
        OfaBenchError: The member is missing, or its bytes are damaged (bad CRC, bad deflate data).
    """
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise OfaBenchError(f"{what}: member {_short(name)!r} is missing (truncated or corrupted file)") from None
    try:
        with archive.open(info) as member:
            # zipfile stops at the declared size already; reading one byte more would show a lie.
            data = member.read(info.file_size + 1)
    except Exception as exc:  # BadZipFile (CRC), zlib.error, EOFError: damaged bytes of any kind
        reason = _short(" ".join(str(exc).split()), 80)
        raise OfaBenchError(f"{what}: member {_short(name)!r} is corrupted ({type(exc).__name__}: {reason})") from None
    if len(data) > info.file_size:
        raise OfaBenchError(f"{what}: member {_short(name)!r} is longer than its declared size")
    return data


def load_torch(
    source: bytes | str | Path, what: str, failure: str = " is corrupted or not a torch weights file"
) -> Any:
    """``torch.load(weights_only=True)`` of a file or bytes, with a zip checkpoint's sizes checked first.

    Files in torch's legacy (non-zip) format, such as some of OFA's published weights, are read
    too: they hold no compressed members, so cannot inflate beyond their own size.

    Args:
        source: The file's path or its bytes.
        what: The source, for messages.
        failure: What to say when torch cannot read it, right after ``what`` (so with its own
            leading space or colon).

    Raises:
        OfaBenchError: ``"<what><failure> (<torch's first sentence>)"``, or a refusal by the limits.
    """
    buffer: Callable[[], Any] = (lambda: io.BytesIO(source)) if isinstance(source, bytes) else (lambda: source)
    try:
        is_zip = zipfile.is_zipfile(buffer())
    except OSError as exc:
        raise OfaBenchError(f"{what} cannot be read: {exc.strerror or type(exc).__name__}") from None
    if is_zip:
        open_zip(buffer(), what, CHECKPOINT_LIMITS).close()
    import torch  # after the check: a refused file costs no torch import

    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols before failing on a raw pickle; the error says enough.
            warnings.simplefilter("ignore")
            return torch.load(buffer(), map_location="cpu", weights_only=True)
    except Exception as exc:  # damaged bytes make torch's unpickler raise almost anything
        raise OfaBenchError(f"{what}{failure} ({_torch_reason(exc)})") from None


def _torch_reason(exc: Exception) -> str:
    """Torch's reason in one complete clause (its weights-only message runs to paragraphs)."""
    text = str(exc)
    if "Weights only load failed" in text:
        detail = text.partition("WeightsUnpickler error:")[2].strip().split("\n")[0].strip().rstrip(".")
        detail = f": {_short(detail, 100)}" if detail else ""
        return f"it asks to unpickle something other than tensors and plain containers{detail}"
    first = " ".join((text.strip().splitlines() or [""])[0].split())
    return _short(first, 160) if first else type(exc).__name__


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
