"""``ofa-bench data fetch``: download an IDX dataset's files, verified, atomically and resumably.

Each file is downloaded to ``<name>.gz.part`` in the destination folder; an interrupted download
continues from the bytes already there (an HTTP ``Range`` request; a server that ignores it sends
the whole file again, which replaces the part). Only when the decompressed bytes match the pinned
SHA-256 is the part renamed to ``<name>.gz``, so the folder never holds a file that looks finished
but is not. This is the one place ofa-bench touches the network, and only when asked to.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ofa_bench.data.idx import read_idx_bytes, sha256_of
from ofa_bench.data.idx_files import IdxDataset, user_cache_dir
from ofa_bench.errors import OfaBenchError

__all__ = ["fetch"]

_CHUNK = 1 << 16
_TIMEOUT_S = 60


def fetch(
    dataset: IdxDataset,
    dest: str | Path | None = None,
    base_url: str | None = None,
    on_file: Callable[[str, str], None] | None = None,
) -> Path:
    """Download the four files of ``dataset`` into ``dest`` and verify them.

    Files already there that match their pinned hashes are kept (a second fetch downloads nothing).

    Args:
        dataset: A pinned dataset (it needs a URL and hashes), e.g. ``FASHION_MNIST``.
        dest: Destination folder (default: ``<user cache>/ofa-bench/<name>``, where loading looks).
        base_url: Where ``<file>.gz`` are served (default: the dataset's upstream URL); http or https.
        on_file: Called as ``on_file(file name, "kept" | "downloaded")``.

    Returns:
        The destination folder.

    Raises:
        OfaBenchError: One line: an unpinned dataset, a bad URL, a network error, or a hash mismatch.
    """
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
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OfaBenchError(f"cannot create the download folder {str(folder)!r}: {exc.strerror or exc}") from None
    for part, name in dataset.files.items():
        target = folder / f"{name}.gz"
        if target.is_file() and _matches(target, dataset.sha256[part]):
            if on_file is not None:
                on_file(target.name, "kept")
            continue
        partial = folder / f"{name}.gz.part"
        _download(base + f"{name}.gz", partial)
        digest = sha256_of(read_idx_bytes(partial))
        if digest != dataset.sha256[part]:
            partial.unlink(missing_ok=True)  # a wrong file must not be resumed from next time
            raise OfaBenchError(
                f"downloaded {base}{name}.gz does not match its pinned hash: sha256 of the decompressed bytes is "
                f"{digest[:16]}..., expected {dataset.sha256[part][:16]}...; nothing was kept"
            )
        os.replace(partial, target)
        if on_file is not None:
            on_file(target.name, "downloaded")
    return folder


def _matches(path: Path, expected: str) -> bool:
    try:
        return sha256_of(read_idx_bytes(path)) == expected
    except OfaBenchError:  # a damaged earlier copy is downloaded again
        return False


def _download(url: str, partial: Path) -> None:
    """Download ``url`` into ``partial``, continuing from the bytes already in it."""
    have = partial.stat().st_size if partial.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "ofa-bench"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            status = response.status
            if have and status != 206:  # the server sent the whole file: start the part again
                have = 0
            with partial.open("ab" if have else "wb") as out:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the part already holds the whole file
            return
        raise OfaBenchError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        kept = f"the bytes so far are kept in {str(partial)!r}; run fetch again to resume"
        raise OfaBenchError(f"cannot download {url}: {reason} ({kept})") from None
