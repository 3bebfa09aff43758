"""Reading an archive of measured archs: ours, or anyone's CSV/JSON of OFA-dict archs with a target.

Accepted layouts, told apart by the file name:

* ``.csv``: one row per arch, with an ``arch`` column holding the OFA dict as JSON (what
  ``ofa-bench archive --out x.csv`` writes), or ``ks``, ``e``, ``d``, ``r`` columns (lists as JSON);
* ``.json``: a list of objects;
* anything else: JSON lines, one object per line (what ``ofa-bench archive --out x.jsonl`` writes),

where each object has ``ks``, ``e``, ``d``, ``r`` (or an ``arch`` object or JSON string) and the
target column, ``accuracy`` by default. Errors name the file, the line and the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ofa_bench.errors import OfaBenchError, SpaceError
from ofa_bench.io.jsonl import read_text
from ofa_bench.io.untrusted import excerpt, parse_json
from ofa_bench.space import SearchSpace, get_space, preset_names

__all__ = ["ARCH_FIELDS", "Archive", "read_archive"]

#: The fields of an arch in OFA's dict form.
ARCH_FIELDS: tuple[str, ...] = ("ks", "e", "d", "r")


@dataclass(frozen=True)
class Archive:
    """Unique measured archs of one space and their targets.

    Attributes:
        source: Where they came from (a file path).
        space: Their search space.
        array: ``(n, space.n_columns)`` batch array of the archs, in file order.
        y: Float64 targets, one per arch.
        target: Name of the target column.
        duplicates: Rows dropped because their arch came earlier in the file.
    """

    source: str
    space: SearchSpace
    array: np.ndarray
    y: np.ndarray
    target: str
    duplicates: int = 0

    def __len__(self) -> int:
        return int(self.y.shape[0])


def read_archive(path: str | Path, target: str = "accuracy", space: str | SearchSpace | None = None) -> Archive:
    """Read measured archs and their targets; the search space is inferred unless given.

    Args:
        path: CSV, JSON or JSON-lines file (see the module docstring), an archive folder (its
            ``archive.csv``), or ``shipped:<name>``, a shipped benchmark's archive.
        target: Column holding the value to predict.
        space: Preset the archs must belong to; inferred when ``None`` (the first preset, in name
            order, that fits every arch).

    Returns:
        The archive, duplicates dropped (the first measurement of an arch is kept).

    Raises:
        OfaBenchError: One line naming the problem: an unreadable or malformed file, missing
            columns, a target that is not a number (with its line), archs of another space.
    """
    from ofa_bench.benchmark.zoo import archive_file

    source = str(archive_file(path))
    where = f"archive {str(path)!r}"
    rows = _rows(source, where)
    if not rows:
        raise OfaBenchError(f"{where} holds no rows")
    archs = [(line, _arch_dict(row, line, where, target)) for line, row in rows]
    y = np.array([_number(row, target, line, where) for line, row in rows], dtype=np.float64)
    chosen = get_space(space) if space is not None else _infer_space(archs, where)
    array = _to_array(archs, chosen, where)
    _, first = np.unique(array, axis=0, return_index=True)
    keep = np.sort(first)
    return Archive(source, chosen, array[keep], y[keep], target, duplicates=len(y) - len(keep))


def _rows(source: str, where: str) -> list[tuple[str, dict[str, Any]]]:
    """``(position, object)`` per record; position reads ``line N`` or ``item N``."""
    suffix = Path(source).suffix.lower()
    if suffix == ".csv":
        return _csv_rows(source, where)
    text = read_text(source, "archive")
    if suffix == ".json":
        data = parse_json(text, where)
        if not isinstance(data, list):
            raise OfaBenchError(f"{where} must hold a JSON list of objects; got a {type(data).__name__}")
        rows = [(f"item {i}", item) for i, item in enumerate(data, 1)]
    else:
        rows = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if line.strip():
                rows.append((f"line {lineno}", parse_json(line, f"{where} line {lineno}", line=True)))
    for position, row in rows:
        if not isinstance(row, dict):
            raise OfaBenchError(f"{where} {position}: expected a JSON object; got {type(row).__name__}")
    return rows


def _csv_rows(source: str, where: str) -> list[tuple[str, dict[str, Any]]]:
    import io

    import pandas as pd

    text = read_text(source, "archive")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise OfaBenchError(f"{where}: malformed CSV ({' '.join(str(exc).split())})") from None
    # Header on line 1, so data row i (0-based) is on line i + 2 when no cell spans lines.
    return [(f"line {i + 2}", row) for i, row in enumerate(frame.to_dict(orient="records"))]


def _arch_dict(row: dict[str, Any], line: str, where: str, target: str) -> dict[str, Any]:
    """The OFA dict of one row, from an ``arch`` field or the ``ks``/``e``/``d``/``r`` fields."""
    if "arch" in row:
        arch = row["arch"]
        if isinstance(arch, str):
            arch = parse_json(arch, f"{where} {line}: arch", line=True)
        if not isinstance(arch, Mapping):
            raise OfaBenchError(f"{where} {line}: arch must be an object with ks, e, d, r; got {excerpt(arch)}")
        return dict(arch)
    missing = [f for f in ARCH_FIELDS if f not in row]
    if missing:
        more = [target] if target not in row else []
        names = ", ".join(repr(m) for m in missing + more)
        raise OfaBenchError(
            f"{where} {line}: missing column(s) {names}; an archive needs an 'arch' column or ks, e, d, r, "
            f"plus {target!r} (has: {', '.join(map(str, row)) or 'nothing'})"
        )
    arch = {}
    for field in ARCH_FIELDS:
        value = row[field]
        if isinstance(value, str):  # CSV cells hold lists as JSON text
            try:
                value = parse_json(value, f"{where} {line}: {field}", line=True)
            except OfaBenchError:
                raise OfaBenchError(f"{where} {line}: {field} {excerpt(value)} is not a JSON list or number") from None
        arch[field] = value
    return arch


def _number(row: dict[str, Any], target: str, line: str, where: str) -> float:
    if target not in row:
        names = ", ".join(map(str, row))
        raise OfaBenchError(f"{where} {line}: missing column {target!r} (has: {names}); choose one with --target")
    value = row[target]
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        shown = "empty" if value in ("", None) else repr(value)
        raise OfaBenchError(f"{where} {line}: {target} {shown} is not a finite number")
    return number


def _to_array(archs: list[tuple[str, dict[str, Any]]], space: SearchSpace, where: str) -> np.ndarray:
    parsed = []
    for line, data in archs:
        try:
            parsed.append(space.from_dict(data))
        except SpaceError as exc:
            raise OfaBenchError(f"{where} {line}: arch is not of space {space.name}: {exc}") from None
    return space.to_array(parsed)


def _infer_space(archs: list[tuple[str, dict[str, Any]]], where: str) -> SearchSpace:
    """The first preset (in name order) that fits every arch; the error names the closest miss."""
    best: tuple[int, str, str] | None = None  # (archs that fit, preset, first error)
    for name in preset_names():
        space = get_space(name)
        for fitted, (line, data) in enumerate(archs):
            try:
                space.from_dict(data)
            except SpaceError as exc:
                if best is None or fitted > best[0]:
                    best = (fitted, name, f"{line}: {exc}")
                break
        else:
            return space
    assert best is not None
    raise OfaBenchError(
        f"{where}: the archs fit no search-space preset ({', '.join(preset_names())}); "
        f"closest {best[1]} fails at {best[2]}"
    )
