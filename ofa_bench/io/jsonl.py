"""Archs in and out as JSON lines in OFA's dict form, with ``-`` meaning stdin or stdout.

Errors are :class:`~ofa_bench.errors.OfaBenchError` with one-line messages that name the input
and the 1-based line, so a person can find the bad arch in a file of thousands.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ofa_bench.errors import OfaBenchError, SpaceError
from ofa_bench.io.atomic import write_text_atomic
from ofa_bench.io.untrusted import MAX_JSON_BYTES, parse_json, read_untrusted_text
from ofa_bench.space import Arch, SearchSpace

__all__ = ["read_arch", "read_archs", "read_text", "write_text"]


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
        path: File path (its directory must exist) or ``-``.
        text: Complete content.
        what: What the file holds, for messages.

    Raises:
        OfaBenchError: The file cannot be written.
    """
    if path == "-":
        sys.stdout.write(text)
        return
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise OfaBenchError(f"cannot write {what} file {path!r}: {exc.strerror}") from exc


def read_archs(space: SearchSpace, source: str) -> list[Arch]:
    """Archs of ``space`` from JSON lines, one OFA dict per line; blank lines are skipped.

    Args:
        space: The space every arch must fit.
        source: File path or ``-`` for stdin.

    Raises:
        OfaBenchError: Naming the line, e.g. ``archs line 3: malformed JSON at column 5: ...`` or
            ``archs line 2: ks[4]=4 is not allowed in ofa-mbv3-w1.0; allowed: 3, 5, 7``.
    """
    parsed = []
    for lineno, line in enumerate(read_text(source, "archs").splitlines(), 1):
        if not line.strip():
            continue
        parsed.append((lineno, parse_json(line, f"archs line {lineno}", line=True)))
    # Validating arch by arch costs ~0.1 ms each; plain full-length integer lists (what ofa-bench
    # writes) are validated as one array instead, and anything else takes the per-arch path,
    # which is also what finds the line to blame when the array check fails.
    rows = [_plain_row(space, data) for _, data in parsed]
    plain = [i for i, row in enumerate(rows) if row is not None]
    archs: list[Arch | None] = [None] * len(parsed)
    if plain:
        try:
            for i, arch in zip(plain, space.from_array(np.array([rows[i] for i in plain], dtype=np.int64))):
                archs[i] = arch
        except (SpaceError, OverflowError):
            pass  # the per-arch path below names the first bad line
    for i, (lineno, data) in enumerate(parsed):
        if archs[i] is None:
            try:
                archs[i] = space.from_dict(data)
            except SpaceError as exc:
                raise OfaBenchError(f"archs line {lineno}: {exc}") from exc
    return archs  # type: ignore[return-value]  # every slot is filled above


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
    if value == "-" or value.startswith("@"):
        source = "-" if value == "-" else value[1:]
        text = read_text(source, what)
        where = f"{what} " + ("stdin" if source == "-" else f"file {source!r}")
    else:
        text, where = value, what
    try:
        data = parse_json(text, where)
    except OfaBenchError as exc:
        if str(exc).endswith(": Extra data"):
            raise OfaBenchError(f"{where}: holds more than one JSON value; expected one arch") from None
        raise
    try:
        return space.from_dict(data)
    except SpaceError as exc:
        raise OfaBenchError(f"{where}: {exc}") from exc
