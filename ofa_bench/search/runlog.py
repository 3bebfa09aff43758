"""The run log of one search: every evaluation, in order, with its cost; resumable after a crash.

A run directory holds two files:

- ``run.json``: metadata written atomically (strategy and its parameters, seed, objectives,
  constraints, budget, batch size, space, benchmark fingerprint, oracle label, versions and
  ``status``: ``"running"`` until the budget is spent, then ``"done"``);
- ``log.jsonl``: append-only, one JSON object per evaluation::

    {"n": 1, "batch": 1, "arch": {"ks": [...], "e": [...], "d": [...], "r": 24},
     "record": {"accuracy": 0.91, "loss": 0.3, "macs": 1.2e6, "params": 5e4, "latency:mmacs": 1.2},
     "time": {"eval_s": 0.01, "strategy_s": 0.0002, "elapsed_s": 1.5, "cpu_s": 1.4}}

``n`` counts evaluations from 1, ``batch`` counts the strategy's asks from 1 (so a resumed run
asks the same batch sizes), a failed measurement is ``null``. Everything outside ``time`` is
deterministic for a seed, so two runs compare equal line by line once ``time`` is dropped.
Lines are flushed and fsynced batch by batch; a line torn by a crash is dropped on reopening.

A run folder may be handed over or edited, so every line read back is checked (and every line
appended, so nothing is written that could not be read back): ``n`` is the line's number,
``batch`` a positive integer that never decreases, ``arch`` an object, each ``record`` value a
finite number in its column's range (accuracy in [0, 1]; loss, MACs, params, latencies >= 0) or
``null``, each ``time`` value a finite number >= 0. A bad line is an error naming the file and line.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ofa_bench.errors import OfaBenchError
from ofa_bench.io.atomic import write_text_atomic
from ofa_bench.io.untrusted import excerpt, parse_json, read_json
from ofa_bench.io.untrusted.state import check_value, shown, value_range

__all__ = ["LOG_FILE", "META_FILE", "TIME_KEYS", "RunLog", "check_entry", "entries_frame", "entry_record", "read_log"]

META_FILE = "run.json"
LOG_FILE = "log.jsonl"
#: Keys of an entry's ``time`` object, in order.
TIME_KEYS: tuple[str, ...] = ("eval_s", "strategy_s", "elapsed_s", "cpu_s")


def entry_record(values: Mapping[str, Any]) -> dict[str, float | None]:
    """A record as the log stores it: floats, with NaN, infinities and ``None`` as ``null``."""
    out: dict[str, float | None] = {}
    for key, value in values.items():
        number = None if value is None else float(value)
        out[key] = number if number is not None and math.isfinite(number) else None
    return out


class RunLog:
    """The files of one run directory; open with :meth:`open`.

    Attributes:
        directory: The run directory.
        entries: The complete log lines read or appended so far, as dicts.
        meta: The content of ``run.json`` (empty before the first :meth:`write_meta`).
    """

    def __init__(self, directory: Path, entries: list[dict[str, Any]], meta: dict[str, Any]) -> None:
        self.directory = directory
        self.entries = entries
        self.meta = meta

    @classmethod
    def open(cls, directory: str | os.PathLike[str]) -> RunLog:
        """Open (creating if needed) a run directory and read its log.

        A last line without its newline is what a crash mid-write leaves: it is dropped and cut
        from the file, so the next append starts on a clean line.

        Raises:
            OfaBenchError: ``run.json`` or a complete log line is not valid JSON.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta: dict[str, Any] = {}
        meta_path = directory / META_FILE
        if meta_path.exists():
            meta = _check_meta(read_json(meta_path, f"run metadata {str(meta_path)!r}"), str(meta_path))
        return cls(directory, _read_entries(directory / LOG_FILE), meta)

    @property
    def done(self) -> bool:
        """Whether the run finished its budget: marked done, and the log holds every evaluation of it.

        A log cut short after the run finished (a disk copy that stopped, a file truncated by hand) is
        not done: resuming evaluates what is missing again instead of reporting a short run as finished.
        """
        if self.meta.get("status") != "done":
            return False
        try:
            return len(self.entries) >= int(self.meta.get("budget", 0))
        except (TypeError, ValueError):
            return False

    def write_meta(self, meta: Mapping[str, Any]) -> None:
        """Replace ``run.json`` atomically."""
        self.meta = dict(meta)
        write_text_atomic(self.directory / META_FILE, json.dumps(self.meta, indent=2) + "\n")

    def append(self, entries: Iterable[Mapping[str, Any]]) -> None:
        """Append entries as lines, then flush and fsync so they survive a crash."""
        entries = [dict(e) for e in entries]
        if not entries:
            return
        path = self.directory / LOG_FILE
        batch = self.entries[-1].get("batch") if self.entries else None
        for i, entry in enumerate(entries, start=len(self.entries) + 1):  # never write what a read would refuse
            batch = check_entry(entry, i, batch, f"evaluation {i} for run log {str(path)!r}")
        text = "".join(json.dumps(e, separators=(",", ":"), allow_nan=False) + "\n" for e in entries)
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:  # a full disk fails the write, which names no file: name the log
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        self.entries.extend(entries)


def _read_entries(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    data = path.read_bytes()
    complete = data.rfind(b"\n") + 1
    if complete < len(data):
        with open(path, "r+b") as f:  # a torn last line: cut it so appends start cleanly
            f.truncate(complete)
            f.flush()
            os.fsync(f.fileno())
    entries: list[dict[str, Any]] = []
    batch = None
    try:
        text = data[:complete].decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise OfaBenchError(f"run log {str(path)!r} line {line}: not UTF-8 text") from None
    for i, line in enumerate(text.split("\n")[:-1], start=1):
        where = f"run log {str(path)!r} line {i}"
        entry = parse_json(line, where, line=True)
        batch = check_entry(entry, i, batch, where)
        entries.append(entry)
    return entries


def _check_meta(meta: Any, path: str) -> dict[str, Any]:
    """``run.json`` as read back: an object whose ``status``/``stopped`` are text and ``budget`` a count."""
    where = f"run metadata {path!r}"
    if not isinstance(meta, dict):
        raise OfaBenchError(f"{where}: must be a JSON object; got {excerpt(meta)}")
    for key in ("status", "stopped"):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            raise OfaBenchError(f"{where}: {key}: must be text; got {excerpt(meta[key])}")
    for key in ("budget", "batch_size"):
        value = meta.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise OfaBenchError(f"{where}: {key}: must be a positive integer; got {excerpt(value)}")
    return meta


def check_entry(entry: Any, n: int, batch: Any, where: str) -> int | None:
    """Check one log line (``n``: its number; ``batch``: the previous line's); returns its batch.

    Raises:
        OfaBenchError: ``"<where>: <field>: must be ...; got ..."``.
    """
    if not isinstance(entry, dict):
        raise OfaBenchError(f"{where}: must be a JSON object with n, batch, arch, record, time; got {excerpt(entry)}")
    number = entry.get("n")
    if isinstance(number, bool) or not isinstance(number, int) or number != n:
        raise OfaBenchError(
            f"{where}: n: must be {n} (evaluations are numbered from 1, one a line); got {excerpt(number)}"
        )
    this = entry.get("batch")
    if this is not None or batch is not None:
        low = batch if isinstance(batch, int) else 1
        if isinstance(this, bool) or not isinstance(this, int) or not low <= this <= n:
            raise OfaBenchError(
                f"{where}: batch: must be an integer from {low} to {n} (asks are numbered from 1, in order); "
                f"got {excerpt(this)}"
            )
    if not isinstance(entry.get("arch"), dict):
        raise OfaBenchError(
            f"{where}: arch: must be a JSON object (an arch's OFA dict); got {excerpt(entry.get('arch'))}"
        )
    for part, missing in (("record", "null (a failed measurement)"), ("time", None)):
        values = entry.get(part, {})
        if not isinstance(values, dict):
            raise OfaBenchError(f"{where}: {part}: must be a JSON object; got {excerpt(values)}")
        for column, value in values.items():
            low, high = (0.0, None) if part == "time" else value_range(column)
            if value is None and missing is not None:
                continue
            if (
                type(value) is float
                and math.isfinite(value)
                and (low is None or value >= low)
                and (high is None or value <= high)
            ):  # the usual value, checked without building a message
                continue
            check_value(value, f"{where}: {part}.{shown(column)}", low=low, high=high, missing=missing)
    return this


def read_log(directory: str | os.PathLike[str]) -> pd.DataFrame:
    """The run log as a table, for metrics and reports.

    Args:
        directory: A run directory.

    Returns:
        One row per evaluation with columns ``n``, ``batch``, ``arch`` (OFA JSON string), one
        column per record field (NaN for ``null``) and ``eval_s``, ``strategy_s``,
        ``elapsed_s``, ``cpu_s``. ``df.attrs["meta"]`` holds ``run.json``.

    Raises:
        OfaBenchError: The directory holds no run log.
    """
    directory = Path(directory)
    if not (directory / LOG_FILE).exists() and not (directory / META_FILE).exists():
        raise OfaBenchError(f"{str(directory)!r} holds no run log ({LOG_FILE})")
    log = RunLog.open(directory)
    df = entries_frame(log.entries)
    df.attrs["meta"] = log.meta
    return df


def entries_frame(entries: list[Mapping[str, Any]]) -> pd.DataFrame:
    """Log entries as the table :func:`read_log` returns."""
    columns: list[str] = []
    for entry in entries:
        columns.extend(c for c in entry.get("record", {}) if c not in columns)
    rows = []
    for entry in entries:
        record = entry.get("record", {})
        times = entry.get("time", {})
        rows.append(
            {
                "n": entry["n"],
                "batch": entry.get("batch"),
                "arch": json.dumps(entry["arch"], separators=(",", ":")),
                **{c: (math.nan if record.get(c) is None else record[c]) for c in columns},
                **{k: times.get(k, math.nan) for k in TIME_KEYS},
            }
        )
    order = ["n", "batch", "arch", *columns, *TIME_KEYS]
    return pd.DataFrame(rows, columns=order)
