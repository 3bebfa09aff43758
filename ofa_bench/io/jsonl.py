"""Archs in and out as JSON lines in OFA's dict form, with ``-`` meaning stdin or stdout.

Errors are :class:`~ofa_bench.errors.OfaBenchError` with one-line messages that name the input
and the 1-based line, so a person can find the bad arch in a file of thousands.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ofa_bench.errors import OfaBenchError, SpaceError
from ofa_bench.io.atomic import atomic_path
from ofa_bench.io.untrusted import MAX_JSON_BYTES, parse_json, read_untrusted_text
from ofa_bench.space import Arch, SearchSpace

__all__ = [
    "CHUNK_BYTES",
    "FIRST_CHUNK_BYTES",
    "MAX_LINE_BYTES",
    "arch_lines",
    "read_arch",
    "read_arch_arrays",
    "read_archs",
    "read_text",
    "text_output",
    "write_text",
]

#: Text read and checked at a time when reading arch lines (a chunk is ~70,000 archs).
CHUNK_BYTES = 2 * 2**20
#: The first chunk: the first lines are checked before the rest of the input is read.
FIRST_CHUNK_BYTES = 2**16
#: Longest arch line (ofa-bench writes ~120 characters per arch).
MAX_LINE_BYTES = 2**20


def read_text(path: str, what: str) -> str:
    """The whole text of a file, or of stdin when ``path`` is ``-``.

    Args:
        path: File path or ``-``.
        what: What the file holds, for messages (``"archs"`` gives ``archs file 'x' not found``).

    Raises:
        OfaBenchError: The file is missing, unreadable or not UTF-8.
    """
    if path == "-":
        text = sys.stdin.read(MAX_JSON_BYTES + 1)
        if len(text) > MAX_JSON_BYTES:
            raise OfaBenchError(f"{what} on stdin is larger than the limit of {MAX_JSON_BYTES:,} characters")
        return text
    return read_untrusted_text(Path(path), f"{what} file {path!r}", MAX_JSON_BYTES)


def write_text(path: str, text: str, what: str) -> None:
    """Write ``text`` to a file atomically, or to stdout when ``path`` is ``-``.

    Args:
        path: File path (missing folders are created) or ``-``.
        text: Complete content.
        what: What the file holds, for messages.

    Raises:
        OfaBenchError: The file cannot be written, or ``path`` is not a regular file or a new path
            (a device, a pipe, a link or a folder; see :func:`ofa_bench.io.atomic.check_output_file`).
    """
    with text_output(path, what) as out:
        out.write(text)


@contextmanager
def text_output(path: str, what: str) -> Iterator[TextIO]:
    """A text stream to write piece by piece: stdout for ``-``, else a file replaced atomically at the end.

    Args:
        path: File path (missing folders are created) or ``-``.
        what: What the file holds, for messages.

    Raises:
        OfaBenchError: As :func:`write_text`; an error inside the block leaves ``path`` as it was.
    """
    if path == "-":
        yield sys.stdout
        return
    try:
        with atomic_path(path, what) as tmp, open(tmp, "w", encoding="utf-8") as out:
            yield out
    except OSError as exc:
        raise OfaBenchError(f"cannot write {what} file {path!r}: {exc.strerror or exc}") from exc


def arch_lines(space: SearchSpace, array: np.ndarray, columns: dict[str, np.ndarray] | None = None) -> str:
    """JSON lines of a batch array, as :meth:`Arch.to_json` writes them, with ``columns`` added to each.

    Args:
        space: The space of ``array``'s columns.
        array: ``(n, n_columns)`` int64 choice values, valid and normalised.
        columns: Name to an ``(n,)`` array; integer arrays are written as integers, float arrays as
            JSON numbers (``null`` where not finite).

    Returns:
        ``n`` lines, each ending in a newline (``json.dumps(..., separators=(",", ":"))``'s form).
    """
    b, s = space.n_blocks, space.n_stages
    ints = ",".join(["%d"] * b)
    head = f'{{"ks":[{ints}],"e":[{ints}],"d":[{",".join(["%d"] * s)}],"r":%d'
    extra = []
    for name, column in (columns or {}).items():
        column = np.asarray(column).reshape(-1)
        key = json.dumps(name).replace("%", "%%")
        if column.dtype.kind in "iu":
            head += f",{key}:%d"
            extra.append(column.astype(np.int64).tolist())
        else:
            head += f",{key}:%s"
            extra.append([_json_float(v) for v in column.tolist()])
    line = head + "}\n"
    rows = array.tolist()
    if not extra:
        return "".join([line % tuple(row) for row in rows])
    return "".join([line % (*row, *more) for row, more in zip(rows, zip(*extra))])


def _json_float(value: float) -> str:
    return repr(float(value)) if math.isfinite(value) else "null"


def read_archs(space: SearchSpace, source: str) -> list[Arch]:
    """Archs of ``space`` from JSON lines, one OFA dict per line; blank lines are skipped.

    Read chunk by chunk (see :func:`read_arch_arrays`); the list holds every arch.

    Args:
        space: The space every arch must fit.
        source: File path or ``-`` for stdin.

    Raises:
        OfaBenchError: Naming the line, e.g. ``archs line 3: malformed JSON at column 5: ...`` or
            ``archs line 2: ks[4]=4 is not allowed in ofa-mbv3-w1.0; allowed: 3, 5, 7``.
    """
    arrays = list(read_arch_arrays(space, source))
    return space.from_array(np.concatenate(arrays)) if arrays else []


def read_arch_arrays(space: SearchSpace, source: str, what: str = "archs") -> Iterator[np.ndarray]:
    """Archs of ``space`` from JSON lines, chunk by chunk, as checked and normalised batch arrays.

    Memory is bounded by one chunk (:data:`CHUNK_BYTES` of text, a line at most
    :data:`MAX_LINE_BYTES`), not by the input; the first chunk is the first
    :data:`FIRST_CHUNK_BYTES`, so a file whose first line is wrong fails before the rest is read.
    The whole input is bounded by :data:`~ofa_bench.io.untrusted.MAX_JSON_BYTES` (a file's size
    is checked before reading; stdin as it arrives).

    Args:
        space: The space every arch must fit.
        source: File path or ``-`` for stdin.
        what: What the lines hold, for messages.

    Yields:
        ``(n, space.n_columns)`` int64 arrays of valid, normalised archs (n >= 1), in input order.

    Raises:
        OfaBenchError: As :func:`read_archs`; also a line longer than :data:`MAX_LINE_BYTES`.
    """
    fast = _fast_line(space)
    for numbered in _line_chunks(source, what):
        if numbered:  # a chunk of blank lines gives nothing
            yield _chunk_array(space, numbered, what, fast)


def _line_chunks(source: str, what: str) -> Iterator[list[tuple[int, str]]]:
    """Non-blank lines with their 1-based numbers, a chunk at a time."""
    if source == "-":
        stream: Any = getattr(sys.stdin, "buffer", sys.stdin)
        where, close = f"{what} on stdin", None
    else:
        where = f"{what} file {source!r}"
        try:
            stream = close = open(source, "rb")  # noqa: SIM115  # closed below
        except FileNotFoundError:
            raise OfaBenchError(f"{where} not found") from None
        except IsADirectoryError:
            raise OfaBenchError(f"{where} is a directory, not a file") from None
        except OSError as exc:
            raise OfaBenchError(f"{where} cannot be read: {exc.strerror or type(exc).__name__}") from None
    try:
        if close is not None and os.path.isfile(source) and os.fstat(close.fileno()).st_size > MAX_JSON_BYTES:
            raise OfaBenchError(f"{where} is larger than the limit of {MAX_JSON_BYTES:,} bytes")
        yield from _split_lines(stream, where)
    finally:
        if close is not None:
            close.close()


def _split_lines(stream: Any, where: str) -> Iterator[list[tuple[int, str]]]:
    pending: Any = None
    lineno = total = 0
    size = FIRST_CHUNK_BYTES
    while True:
        try:
            block = stream.read(size)
        except OSError as exc:
            raise OfaBenchError(f"{where} cannot be read: {exc.strerror or type(exc).__name__}") from None
        size = CHUNK_BYTES
        total += len(block)
        if total > MAX_JSON_BYTES:
            raise OfaBenchError(f"{where} is larger than the limit of {MAX_JSON_BYTES:,} bytes")
        text = block if pending is None else pending + block
        parts = text.split(b"\n" if isinstance(text, bytes) else "\n")
        pending = parts.pop() if block else None
        longest = max(map(len, parts), default=0)
        if longest > MAX_LINE_BYTES or (pending is not None and len(pending) > MAX_LINE_BYTES):
            at = lineno + 1 + next((i for i, p in enumerate(parts) if len(p) > MAX_LINE_BYTES), len(parts))
            raise OfaBenchError(f"{where}: line {at} is longer than the limit of {MAX_LINE_BYTES:,} bytes")
        if parts:
            lines = _decoded(parts, where, lineno)
            yield [(lineno + i, line) for i, line in enumerate(lines, 1) if line.strip()]
            lineno += len(parts)
        if not block:
            return


def _decoded(parts: list[Any], where: str, lineno: int) -> list[str]:
    if not parts or isinstance(parts[0], str):
        return parts
    joined = b"\n".join(parts)
    try:
        return joined.decode("utf-8").split("\n")
    except UnicodeDecodeError as exc:
        line = lineno + 1 + joined.count(b"\n", 0, exc.start)
        raise OfaBenchError(f"{where} is not UTF-8 text (line {line})") from None


def _chunk_array(space: SearchSpace, numbered: list[tuple[int, str]], what: str, fast: re.Pattern[str]) -> np.ndarray:
    """One chunk of numbered lines as a checked, normalised batch array."""
    n_cols = space.n_columns
    array = np.empty((len(numbered), n_cols), dtype=np.int64)
    quick = [i for i, (_, line) in enumerate(numbered) if fast.fullmatch(line)]
    if quick:
        # Lines in exactly ofa-bench's own form hold only the numbers, in column order.
        text = " ".join(numbered[i][1] for i in quick).translate(_TO_SPACES)
        array[quick] = np.fromstring(text, dtype=np.int64, sep=" ").reshape(len(quick), n_cols)
    done = np.zeros(len(numbered), dtype=bool)
    done[quick] = True
    for i in np.flatnonzero(~done):
        lineno, line = numbered[i]
        data = parse_json(line, f"{what} line {lineno}", line=True)
        row = _plain_row(space, data)
        if row is None:
            try:
                row = list(space.from_dict(data)._row)
            except SpaceError as exc:
                raise OfaBenchError(f"{what} line {lineno}: {exc}") from exc
        try:
            array[i] = row
        except OverflowError:  # an integer beyond int64: the per-arch check below names it
            array[i] = -1
    try:
        return space.normalise(space.validate_array(array))
    except SpaceError:
        pass
    for lineno, line in numbered:  # find the line to blame
        try:
            space.from_dict(parse_json(line, f"{what} line {lineno}", line=True))
        except SpaceError as exc:
            raise OfaBenchError(f"{what} line {lineno}: {exc}") from exc
    raise OfaBenchError(f"{what}: an arch does not fit {space.name}")  # not reached: a line fails above


@cache
def _fast_line(space: SearchSpace) -> re.Pattern[str]:
    """The exact line ofa-bench writes for an arch of ``space`` (JSON spaces allowed), numbers in column order."""
    ws, num = "[ \t\r]*", "(?:0|[1-9][0-9]{0,8})"

    def field(name: str, count: int | None) -> str:
        value = num if count is None else rf"\[{ws}{num}(?:{ws},{ws}{num}){{{count - 1}}}{ws}\]"
        return rf'"{name}"{ws}:{ws}{value}'

    fields = f"{ws},{ws}".join(
        (field("ks", space.n_blocks), field("e", space.n_blocks), field("d", space.n_stages), field("r", None))
    )
    return re.compile(rf"{ws}\{{{ws}{fields}{ws}\}}{ws}")


_TO_SPACES = str.maketrans({c: " " for c in '{}[]":,ksedr\t\r'})


def _plain_row(space: SearchSpace, data: object) -> list[int] | None:
    """``data`` as one array row when it is exactly ``{"ks", "e", "d", "r"}`` of full-length int lists."""
    if type(data) is not dict or data.keys() != _KEYS:
        return None
    ks, e, d, r = data["ks"], data["e"], data["d"], data["r"]
    if not (type(ks) is type(e) is type(d) is list):
        return None
    if not (len(ks) == len(e) == space.n_blocks and len(d) == space.n_stages):
        return None
    row = [*ks, *e, *d, r]
    return row if set(map(type, row)) == _INT else None  # bools and floats take the checked path


_KEYS = {"ks", "e", "d", "r"}
_INT = {int}


def read_arch(space: SearchSpace, value: str, what: str = "arch") -> Arch:
    """One arch from inline JSON, ``@FILE``, ``-`` (stdin), or the words ``largest`` / ``smallest``.

    Args:
        space: The space the arch must fit.
        value: The JSON text, ``@`` and a file path, ``-``, ``largest`` or ``smallest``.
        what: Where the value came from, for messages (e.g. ``"--arch"``).

    Raises:
        OfaBenchError: Unreadable file, malformed JSON, more than one JSON value, or an arch that
            does not fit ``space``.
    """
    if value in ("largest", "smallest"):
        return space.largest() if value == "largest" else space.smallest()
    inline = value != "-" and not value.startswith("@")
    if inline:
        text, where = value, what
    else:
        source = "-" if value == "-" else value[1:]
        text = read_text(source, what)
        where = f"{what} " + ("stdin" if source == "-" else f"file {source!r}")
    try:
        data = parse_json(text, where)
    except OfaBenchError as exc:
        if str(exc).endswith(": Extra data"):
            raise OfaBenchError(f"{where}: holds more than one JSON value; expected one arch") from None
        if inline:  # perhaps a misspelt keyword rather than broken JSON
            raise OfaBenchError(f"{exc}; give largest, smallest, a JSON arch, @FILE or - (stdin)") from None
        raise
    try:
        return space.from_dict(data)
    except SpaceError as exc:
        raise OfaBenchError(f"{where}: {exc}") from exc
