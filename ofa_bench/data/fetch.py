"""``ofa-bench data fetch``: download an IDX dataset's files, verified, atomically and resumably.

Each file is downloaded to ``<name>.gz.part`` in the destination folder; an interrupted download
continues from the bytes already there (an HTTP ``Range`` request; a server that ignores it sends
the whole file again, which replaces the part). Only when the decompressed bytes match the pinned
SHA-256 is the part renamed to ``<name>.gz``, so the folder never holds a file that looks finished
but is not. This is the one place ofa-bench touches the network, and only when asked to.

A server cannot make a fetch run or grow without end (docs/security.md, "Downloads"): each file is
capped at what its pinned size allows (:func:`size_cap`; more is deleted, never kept to resume),
a download that receives nothing for ``stall_s`` seconds stops, and the whole fetch stops after
``deadline_s`` seconds (checked between reads, so it ends at most one stall timeout later). A
stopped download keeps its bytes for the next fetch to resume; a file that then fails its hash is
deleted.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ofa_bench.data.idx import MAX_IDX_BYTES, sha256_of_file
from ofa_bench.data.idx_files import IdxDataset, user_cache_dir
from ofa_bench.errors import OfaBenchError
from ofa_bench.io.atomic import check_output_file, make_dirs

__all__ = ["DEADLINE_S", "STALL_S", "fetch", "size_cap"]

_CHUNK = 1 << 16
#: Longest wait for the next bytes from the server (connecting included), in seconds.
STALL_S = 60.0
#: Longest time for a whole fetch (Fashion-MNIST is 30 MB: 17 KB/s suffices), in seconds.
DEADLINE_S = 1800.0


class _Stopped(Exception):
    """A download stopped by the deadline (its bytes are kept to resume)."""


def size_cap(dataset: IdxDataset, part: str) -> int:
    """Most bytes a download of ``part`` may have: its pinned decompressed size plus a margin.

    A gzip file is never much larger than what it holds (stored blocks add 5 bytes per 64 KiB), so
    the cap is that size plus 1/64 plus 64 KiB; without a pinned size, :data:`MAX_IDX_BYTES`.
    """
    size = (dataset.sizes or {}).get(part)
    return MAX_IDX_BYTES if size is None else size + size // 64 + 2**16


def fetch(
    dataset: IdxDataset,
    dest: str | Path | None = None,
    base_url: str | None = None,
    on_file: Callable[[str, str], None] | None = None,
    *,
    stall_s: float = STALL_S,
    deadline_s: float = DEADLINE_S,
) -> Path:
    """Download the four files of ``dataset`` into ``dest`` and verify them.

    Files already there that match their pinned hashes are kept (a second fetch downloads nothing).

    Args:
        dataset: A pinned dataset (it needs a URL and hashes), e.g. ``FASHION_MNIST``.
        dest: Destination folder (default: ``<user cache>/ofa-bench/<name>``, where loading looks).
        base_url: Where ``<file>.gz`` are served (default: the dataset's upstream URL); http or https.
        on_file: Called as ``on_file(file name, "kept" | "downloaded")``.
        stall_s: Longest wait for the next bytes (default :data:`STALL_S`).
        deadline_s: Longest time for the whole fetch (default :data:`DEADLINE_S`).

    Returns:
        The destination folder.

    Raises:
        OfaBenchError: One line: an unpinned dataset, a bad URL, a network error, a stall, the
            deadline, a file larger than its cap, or a hash mismatch.
    """
    deadline = time.monotonic() + deadline_s
    if dataset.sha256 is None or (dataset.url is None and base_url is None):
        raise OfaBenchError(f"dataset {dataset.name!r} has no pinned download; only fashion-mnist can be fetched")
    base = base_url or dataset.url or ""
    scheme = urllib.parse.urlsplit(base).scheme
    if scheme not in ("http", "https"):
        raise OfaBenchError(f"download URL {base!r} must start with http:// or https://")
    if not base.endswith("/"):
        base += "/"
    folder = Path(dest).expanduser() if dest is not None else user_cache_dir() / dataset.name
    try:
        make_dirs(folder)
    except OSError as exc:
        raise OfaBenchError(f"cannot create the download folder {str(folder)!r}: {exc.strerror or exc}") from None
    for part, name in dataset.files.items():
        target = folder / f"{name}.gz"
        size = (dataset.sizes or {}).get(part, MAX_IDX_BYTES)
        if target.is_file() and _matches(target, dataset.sha256[part], size):
            if on_file is not None:
                on_file(target.name, "kept")
            continue
        partial = folder / f"{name}.gz.part"
        check_output_file(partial)  # never append through a link planted there
        check_output_file(target)
        url = base + f"{name}.gz"
        _download(url, partial, size_cap(dataset, part), stall_s, deadline, deadline_s)
        try:
            digest = sha256_of_file(partial, size)
        except OfaBenchError as exc:
            partial.unlink(missing_ok=True)  # a damaged file must not be resumed from next time
            raise OfaBenchError(f"downloaded {url} is not the pinned file: {exc}; nothing was kept") from None
        if digest != dataset.sha256[part]:
            partial.unlink(missing_ok=True)  # a wrong file must not be resumed from next time
            raise OfaBenchError(
                f"downloaded {url} does not match its pinned hash: sha256 of the decompressed bytes is "
                f"{digest[:16]}..., expected {dataset.sha256[part][:16]}...; nothing was kept"
            )
        os.replace(partial, target)
        if on_file is not None:
            on_file(target.name, "downloaded")
    return folder


def _matches(path: Path, expected: str, size: int) -> bool:
    try:
        return sha256_of_file(path, size) == expected
    except OfaBenchError:  # a damaged earlier copy is downloaded again
        return False


def _download(url: str, partial: Path, cap: int, stall_s: float, deadline: float, deadline_s: float) -> None:
    """Download ``url`` into ``partial``, continuing from the bytes already in it, within the bounds."""
    have = partial.stat().st_size if partial.is_file() else 0
    if have > cap:  # not a resumable part of this file
        partial.unlink()
        have = 0
    left = deadline - time.monotonic()
    kept = f"the bytes so far are kept in {str(partial)!r}; run fetch again to resume"
    if left <= 0:
        raise OfaBenchError(f"cannot download {url}: the fetch took longer than {deadline_s:g} s (the deadline)")
    request = urllib.request.Request(url, headers={"User-Agent": "ofa-bench"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        with urllib.request.urlopen(request, timeout=min(stall_s, left)) as response:
            if have and response.status != 206:  # the server sent the whole file: start the part again
                have = 0
            announced = response.headers.get("Content-Length", "")
            if announced.isdigit() and have + int(announced) > cap:
                raise OfaBenchError(
                    f"cannot download {url}: the server announces {have + int(announced):,} bytes, more than "
                    f"the {cap:,} this file can have; nothing was downloaded"
                )
            with partial.open("ab" if have else "wb") as out:
                while chunk := response.read1(_CHUNK):
                    have += len(chunk)
                    if have > cap:
                        out.close()
                        partial.unlink(missing_ok=True)
                        raise OfaBenchError(
                            f"cannot download {url}: the server sent more than the {cap:,} bytes this file can "
                            f"have; the download was deleted"
                        )
                    out.write(chunk)
                    if time.monotonic() > deadline:
                        raise _Stopped
    except _Stopped:
        raise OfaBenchError(f"cannot download {url}: the fetch took longer than {deadline_s:g} s ({kept})") from None
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the part already holds the whole file
            return
        raise OfaBenchError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):
            reason = f"no data for {min(stall_s, left):g} s (the stall timeout)"
        raise OfaBenchError(f"cannot download {url}: {reason} ({kept})") from None
