"""Shipped, trained benchmarks, so a ``pip install`` user has one to search on.

Each subfolder is a benchmark directory (``benchmark.json``, ``supernet.pt``) plus
``provenance.json``: the exact command that trained it, the code commit, seed, data hashes, device
and wall time. Wherever a benchmark directory is asked for, a shipped benchmark's name (``fmnist``)
works too; a path that exists as a folder always wins over a name. The measurement cache of a
shipped benchmark lives in the user cache directory, not inside the installed package.

A benchmark may also ship a surrogate of its accuracies (``surrogate/``), so suites run on it
without the dataset and without training: :mod:`ofa_bench.benchmark.surrogate` reads and writes it. That
module sits above :mod:`ofa_bench.benchmark.trained` (it checks a benchmark's fingerprint), and this one
below it (the benchmark resolves shipped names here), so it is imported by its own name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ofa_bench.errors import OfaBenchError
from ofa_bench.io.untrusted import read_json

__all__ = [
    "PROVENANCE_FILE",
    "SHIPPED_ARCHIVE",
    "ZOO_DIR",
    "archive_file",
    "cache_dir",
    "provenance",
    "resolve_archive",
    "resolve_benchmark",
    "shipped_benchmarks",
]

#: The folder of the shipped benchmarks.
ZOO_DIR = Path(__file__).resolve().parent / "shipped"
#: The provenance record in a shipped benchmark.
PROVENANCE_FILE = "provenance.json"


def shipped_benchmarks() -> list[str]:
    """Names of the shipped benchmarks (folders of the zoo holding ``benchmark.json``)."""
    return sorted(p.parent.name for p in ZOO_DIR.glob("*/benchmark.json"))


def resolve_benchmark(ref: str | os.PathLike[str]) -> Path:
    """The directory a benchmark reference means: an existing folder, else a shipped benchmark's name.

    A reference that is neither is returned unchanged, for the loader to report as missing, unless
    it looks like a name (no path separator), which gives one line listing the shipped names.

    Raises:
        OfaBenchError: An unknown benchmark name.
    """
    path = Path(ref)
    if path.exists():
        return path
    text = os.fspath(ref)
    if text in shipped_benchmarks():
        return ZOO_DIR / text
    if os.sep not in text and "/" not in text and not text.startswith("."):
        shipped = ", ".join(shipped_benchmarks()) or "none"
        raise OfaBenchError(
            f"unknown benchmark {text!r}: no such directory and no shipped benchmark of that name; shipped: {shipped}"
        )
    return path


#: The prefix naming a shipped benchmark's measured archive: ``shipped:fmnist``.
SHIPPED_ARCHIVE = "shipped:"


def resolve_archive(ref: str | os.PathLike[str]) -> Path:
    """The archive folder a reference means: ``shipped:<name>`` for a shipped benchmark's, else a path.

    A suite names a shipped benchmark ``shipped:fmnist``; an archive is named the same way wherever
    one is read (``predictors evaluate --archive``, ``fit-surrogate --archive``, ``build-archive --reuse``).

    Raises:
        OfaBenchError: An unknown shipped name, or a shipped benchmark without an archive.
    """
    text = os.fspath(ref)
    if not text.startswith(SHIPPED_ARCHIVE):
        return Path(ref)
    name = text[len(SHIPPED_ARCHIVE) :]
    if name not in shipped_benchmarks():
        raise OfaBenchError(f"{text!r}: no shipped benchmark {name!r}; shipped: {', '.join(shipped_benchmarks()) or 'none'}")
    folder = ZOO_DIR / name / "archive"
    if not (folder / "archive.csv").is_file():
        raise OfaBenchError(f"{text!r}: the shipped benchmark {name!r} ships no measured archive")
    return folder


def archive_file(ref: str | os.PathLike[str]) -> Path:
    """The file of measured archs a reference means: an archive folder's ``archive.csv``, else the file itself.

    ``ref`` is what :func:`resolve_archive` takes (``shipped:<name>`` or a path to a folder or a file).
    """
    folder = resolve_archive(ref)
    return folder / "archive.csv" if folder.is_dir() else folder


def is_shipped(directory: str | Path) -> bool:
    """Whether ``directory`` is a benchmark of the zoo (inside the installed package)."""
    try:
        return Path(directory).resolve().parent == ZOO_DIR
    except OSError:
        return False


def cache_dir(directory: str | Path) -> Path:
    """Where the measurement cache of the benchmark in ``directory`` lives.

    The benchmark directory itself, except for shipped benchmarks, whose cache goes to
    ``<user cache>/ofa-bench/zoo/<name>`` (the installed package may be read-only, and an editable
    install must not collect caches in the source tree).
    """
    directory = Path(directory)
    if not is_shipped(directory):
        return directory
    from ofa_bench.data.idx_files import user_cache_dir
    from ofa_bench.io.cache import CACHE_COMMANDS

    folder = user_cache_dir() / "zoo" / directory.resolve().name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OfaBenchError(
            f"cannot create the cache folder {str(folder)!r}: {exc.strerror}; set XDG_CACHE_HOME to a writable folder; "
            f"{CACHE_COMMANDS}"
        ) from None
    return folder


def provenance(directory: str | Path) -> dict[str, Any] | None:
    """The provenance record of a benchmark directory, or ``None`` when it has none.

    Raises:
        OfaBenchError: A provenance file that is not a JSON object.
    """
    path = Path(directory) / PROVENANCE_FILE
    if not path.is_file():
        return None
    data = read_json(path, f"provenance file {str(path)!r}")  # shipped benchmarks travel: bounded
    if not isinstance(data, dict):
        raise OfaBenchError(f"provenance file {str(path)!r} must hold a JSON object; got {type(data).__name__}")
    return data
