"""Atomic file writes: a reader sees the old file or the complete new one, never a partial one.

Results, archs and exported models are read by later steps (and by people with ``tail -f``), so a
crash or Ctrl-C in the middle of a write must not leave a truncated file under the final name.

A write replaces only a regular file or creates a new path. Anything else under the target's
name is refused with one line saying what it is (docs/security.md, "Output paths"): a device such
as ``/dev/null`` or ``/dev/full``, a named pipe or a socket (an atomic rename would swap the
special file for a regular one), a folder where a file is wanted, and a symbolic link wherever it
points (writing through a link lets whoever planted it choose where the output lands; replacing
the link would silently break it). Folders on the way to the target may be links.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ofa_bench.errors import OfaBenchError

__all__ = ["atomic_path", "check_output_file", "make_dirs", "path_problem", "write_text_atomic"]

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISREG, "a file"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "a special file")


def _link_problem(path: Path) -> str:
    """What is wrong with the symbolic link ``path`` (it loops, dangles, or is a link at all)."""
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    shown = target if len(target) <= 60 else target[:57] + "..."
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"it is a symbolic link that loops (to {shown!r})"
        return f"it is a symbolic link to a missing path ({shown!r})"
    return f"it is a symbolic link (to {shown!r})"


def path_problem(path: str | os.PathLike[str], want: str = "file") -> str | None:
    """Why ``path`` cannot be written as a ``want`` (``"file"`` or ``"folder"``), or ``None``.

    Folders on the way are followed (links included); one that is not a folder, loops or dangles is
    named. For ``"file"`` the last part must be a regular file or missing; for ``"folder"`` a folder
    (or a link to one) or missing.
    """
    path = Path(path)
    for parent in reversed(path.parents):
        if str(parent) in ("", "."):
            continue
        try:
            mode = os.stat(parent).st_mode
        except FileNotFoundError:
            if os.path.islink(parent):
                return f"{str(parent)!r} is a symbolic link to a missing path"
            break  # the rest does not exist yet and is created
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return f"{str(parent)!r} is a symbolic link that loops"
            return None  # a permission problem: the caller's own error says it
        if not stat.S_ISDIR(mode):
            return f"{str(parent)!r} is {_kind(mode)}, not a folder"
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError:
        return None
    if stat.S_ISLNK(mode):
        if want == "folder" and os.path.isdir(path):
            return None
        return _link_problem(path)
    if want == "folder":
        return None if stat.S_ISDIR(mode) else f"it is {_kind(mode)}, not a folder"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "it is a folder, not a file"
    return f"it is {_kind(mode)}, not a regular file"


def make_dirs(path: str | os.PathLike[str]) -> Path:
    """Create the folder ``path`` and its parents; an existing folder (or link to one) is fine.

    Raises:
        OfaBenchError: A part of ``path`` is a file, a device, a looping or dangling link.
        OSError: Other failures (permissions, a full disk), naming the folder.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        problem = path_problem(path, "folder")
        if problem is not None:
            raise OfaBenchError(f"cannot create folder {str(path)!r}: {problem}") from None
        raise
    return path


def check_output_file(path: str | os.PathLike[str], what: str | None = None) -> None:
    """Refuse ``path`` as the target of a write unless it is a regular file or a new path.

    Args:
        path: The target.
        what: What the file holds, for the message (``"ONNX"`` gives ``cannot write ONNX file 'x'``).

    Raises:
        OfaBenchError: ``"cannot write 'x': it is a character device, not a regular file; ..."``.
    """
    problem = path_problem(path, "file")
    if problem is not None:
        name = f"{what} file {str(path)!r}" if what else repr(str(path))
        raise OfaBenchError(f"cannot write {name}: {problem}; ofa-bench writes only onto a regular file or a new path")


@contextmanager
def atomic_path(path: str | os.PathLike[str], what: str | None = None) -> Iterator[Path]:
    """Yield a temporary path to write to; on success it replaces ``path`` in one step.

    The temporary file lives in the target's directory, because :func:`os.replace` is atomic only
    within one file system. On error the temporary file is removed and ``path`` is left as it was.
    The target is checked before anything is written (:func:`check_output_file`); a link or special
    file put there during the write is replaced, never written through.

    Args:
        path: Final location; missing parent directories are created.
        what: What the file holds, for messages (see :func:`check_output_file`).

    Yields:
        A path in the same directory to write the complete content to.

    Raises:
        OfaBenchError: ``path`` is not a regular file or a new path, or a folder on the way cannot be.
    """
    path = Path(path)
    check_output_file(path, what)  # the folders on the way too: "'a' is a file, not a folder"
    make_dirs(path.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates the file 0600; give the result the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename is None or exc.filename == str(tmp):
            # A failed write (a full disk) names no file, or only the temporary one: name the target.
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str, what: str | None = None) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically.

    Args:
        path: Final location; missing parent directories are created.
        text: Complete file content.
        what: What the file holds, for messages (see :func:`check_output_file`).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        OfaBenchError: ``path`` is not a regular file or a new path (see :func:`check_output_file`).
    """
    path = Path(path)
    with atomic_path(path, what) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
