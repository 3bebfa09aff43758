"""The measurement cache: one SQLite file per benchmark, so no arch is measured twice.

Rows are keyed by ``(fingerprint, oracle, arch)``: new weights give a new fingerprint and a
surrogate's predictions a different oracle label, so neither ever reads another's rows. SQLite in
WAL mode lets several processes (parallel harness runs) read and write the same file; a row is
committed as soon as it is put, so a killed evaluation loses at most the arch in progress.

Two more tables serve work that records more than one accuracy per arch (the measured archive of
:mod:`ofa_bench.benchmark.archive`): ``records`` holds a JSON payload per ``(fingerprint, kind, arch)``,
and ``claims`` lets concurrent workers, in one process tree or not, divide the archs between them:
a worker measures an arch only after claiming it, so nothing is measured twice, and a claim older
than the caller's ``stale_after`` (a worker that died) can be taken over, so nothing is lost.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ofa_bench.errors import OfaBenchError
from ofa_bench.io.untrusted.limits import excerpt
from ofa_bench.io.untrusted.state import check_value, shown, value_range

__all__ = ["CACHE_COMMANDS", "CACHE_FILE", "CACHE_REMEDY", "RECORD_FIELDS", "Measurement", "MeasurementCache"]

CACHE_FILE = "cache.sqlite"

#: Which commands need the cache and which can skip it.
CACHE_COMMANDS = (
    "'evaluate', 'archive' and 'search' can skip the cache (--no-cache; Python: Evaluator(cache=False)), "
    "'run', 'build-archive' and the other commands need it"
)
#: What works when the cache cannot be opened or written.
CACHE_REMEDY = f"free space or make its folder writable; {CACHE_COMMANDS}"

#: Fields every payload of a ``records`` kind holds (the measured archive's,
#: :mod:`ofa_bench.benchmark.archive_plan`); a kind starting with a key's text holds its fields.
RECORD_FIELDS: dict[str, tuple[str, ...]] = {
    "archive:full": ("accuracy", "loss", "valid_half_a", "valid_half_b", "test_accuracy", "test_loss", "seconds"),
    "archive:noise:": ("accuracy", "valid_half_a", "valid_half_b"),
}
#: Payload fields that may be NaN (nothing to measure: no test split, a one-image validation half).
_MAY_BE_NAN = frozenset({"valid_half_b", "test_accuracy", "test_loss", "loss"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS measurements (
    fingerprint TEXT NOT NULL,
    oracle TEXT NOT NULL,
    arch TEXT NOT NULL,
    accuracy REAL,
    loss REAL,
    wall_time REAL NOT NULL,
    measured_at TEXT NOT NULL,
    PRIMARY KEY (fingerprint, oracle, arch)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    fingerprint TEXT NOT NULL,
    kind TEXT NOT NULL,
    arch TEXT NOT NULL,
    payload TEXT NOT NULL,
    measured_at TEXT NOT NULL,
    PRIMARY KEY (fingerprint, kind, arch)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS claims (
    fingerprint TEXT NOT NULL,
    kind TEXT NOT NULL,
    arch TEXT NOT NULL,
    owner TEXT NOT NULL,
    claimed_at REAL NOT NULL,
    PRIMARY KEY (fingerprint, kind, arch)
) WITHOUT ROWID;
"""

_CHUNK = 500  # stays under SQLite's limit on bound variables in one statement
_TIMEOUT = 60.0  # seconds a statement waits for another process's lock


def _enter_wal(db: sqlite3.Connection) -> None:
    """Switch ``db`` to write-ahead logging, waiting out other processes that are doing the same.

    SQLite answers "database is locked" at once, without its busy timeout, when another
    connection is switching a new file to WAL at the same moment (several workers opening one new
    cache), so the switch is retried for as long as a statement would wait for a lock.
    """
    deadline = time.monotonic() + _TIMEOUT
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@dataclass(frozen=True)
class Measurement:
    """The accuracy measurement of one arch.

    Attributes:
        accuracy: Top-1 accuracy in [0, 1] (or the surrogate's prediction, clipped to [0, 1]); NaN
            for a failed measurement (stored as NULL).
        loss: Mean cross-entropy on the validation split, >= 0; NaN for a surrogate (NULL).
        wall_time: Seconds the measurement took when it was made, >= 0.
        cached: Whether it was read from the cache rather than made now.
    """

    accuracy: float
    loss: float
    wall_time: float
    cached: bool


class MeasurementCache:
    """``cache.sqlite`` in a benchmark directory.

    Args:
        directory: The benchmark directory.

    Every row read back is checked (the file may have been edited or damaged): accuracy a number
    in [0, 1] or NULL, loss a number >= 0 or NULL, wall time a number >= 0; a payload of the
    ``records`` table a JSON object with its kind's fields in their ranges (:data:`RECORD_FIELDS`).
    Anything else is an :class:`OfaBenchError` naming the file, the row and the field. What is put
    is checked the same way, so nothing is stored that could not be read back.

    Raises:
        OfaBenchError: The file cannot be opened or created (e.g. a read-only benchmark).
    """

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / CACHE_FILE
        try:
            # isolation_level=None: autocommit, transactions are explicit below.
            self._db = sqlite3.connect(self.path, timeout=_TIMEOUT, isolation_level=None)
            _enter_wal(self._db)
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
        except sqlite3.Error as exc:
            raise self._error("cannot open", exc) from exc

    def _error(self, what: str, exc: sqlite3.Error) -> OfaBenchError:
        return OfaBenchError(f"{what} the evaluation cache {str(self.path)!r}: {exc}; {CACHE_REMEDY}")

    def _where(self, table: str, key: str, arch: Any) -> str:
        text = arch if isinstance(arch, str) else repr(arch)
        return f"evaluation cache {str(self.path)!r}: {table} row ({key}, arch {excerpt(text, 32)})"

    def _measurement(self, table: str, key: str, arch: Any, accuracy: Any, loss: Any, wall_time: Any,
                     cached: bool) -> Measurement:  # fmt: skip
        """A row as a :class:`Measurement`, each value checked: tampered or damaged rows are refused."""
        if (
            (accuracy is None or (type(accuracy) is float and (0.0 <= accuracy <= 1.0 or math.isnan(accuracy))))
            and (loss is None or (type(loss) is float and (0.0 <= loss < math.inf or math.isnan(loss))))
            and (type(wall_time) is float and 0.0 <= wall_time < math.inf)
        ):  # the usual row (NaN: NULL, a failure or no loss), checked without building a message
            return Measurement(_float(accuracy), _float(loss), wall_time, cached=cached)
        where = self._where(table, key, arch)
        tail = "; delete the row or the file to measure again"
        try:
            acc = check_value(accuracy, f"{where}: accuracy", "accuracy", missing="NULL (a failed measurement)",
                              nan_is_missing=True)  # fmt: skip
            lss = check_value(loss, f"{where}: loss", "loss", missing="NULL", nan_is_missing=True)
            seconds = check_value(wall_time, f"{where}: wall_time", "wall_time")
        except OfaBenchError as exc:
            raise OfaBenchError(f"{exc}{tail}") from None
        return Measurement(_float(acc), _float(lss), float(seconds), cached=cached)  # type: ignore[arg-type]

    def _payload(self, table: str, kind: str, arch: Any, text: Any) -> dict:
        """A ``records`` payload, checked: a JSON object of numbers in range, with its kind's fields."""
        tail = "; delete the row or the file to measure again"
        try:
            payload = json.loads(text) if isinstance(text, str) else None
        except (ValueError, RecursionError):
            payload = None
        if not isinstance(payload, dict):
            where = self._where(table, f"kind {kind!r}", arch)
            raise OfaBenchError(f"{where}: payload must be a JSON object of numbers; got {excerpt(text)}{tail}")
        fields = next((f for prefix, f in RECORD_FIELDS.items() if kind.startswith(prefix)), ("accuracy",))
        missing = [f for f in fields if f not in payload]
        if missing:
            raise OfaBenchError(
                f"{self._where(table, f'kind {kind!r}', arch)}: payload lacks {', '.join(missing)}{tail}"
            )
        for name, value in payload.items():
            nan = name in _MAY_BE_NAN
            low, high = value_range(name)
            if type(value) is float and (
                (math.isfinite(value) and (low is None or value >= low) and (high is None or value <= high))
                or (nan and math.isnan(value))
            ):  # the usual value, checked without building a message
                continue
            where = f"{self._where(table, f'kind {kind!r}', arch)}: payload {shown(name)}"
            try:
                check_value(value, where, low=low, high=high, missing="NaN" if nan else None, nan_is_missing=nan)
            except OfaBenchError as exc:
                raise OfaBenchError(f"{exc}{tail}") from None
        return payload

    def _rows_of(self, select: str, key: Sequence[str], archs: Sequence[str]) -> Iterator[tuple]:
        """Rows of ``SELECT ... WHERE fingerprint = ? AND <column> = ? AND arch IN (archs)``, in chunks."""
        try:
            for lo in range(0, len(archs), _CHUNK):
                chunk = list(archs[lo : lo + _CHUNK])
                marks = ",".join("?" * len(chunk))
                yield from self._db.execute(f"{select} AND arch IN ({marks})", [*key, *chunk]).fetchall()
        except sqlite3.Error as exc:
            raise self._error("cannot read", exc) from exc

    def get(self, fingerprint: str, oracle: str, archs: Sequence[str]) -> dict[str, Measurement]:
        """The cached measurements of the given arch JSONs that exist, by arch JSON."""
        select = "SELECT arch, accuracy, loss, wall_time FROM measurements WHERE fingerprint = ? AND oracle = ?"
        return {
            arch: self._measurement("measurements", f"oracle {oracle!r}", arch, accuracy, loss, wall, True)
            for arch, accuracy, loss, wall in self._rows_of(select, (fingerprint, oracle), archs)
        }

    def put(self, fingerprint: str, oracle: str, archs: Sequence[str], results: Sequence[Measurement]) -> None:
        """Store measurements in one committed transaction; an existing row is kept."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for arch, m in zip(archs, results):  # never store what a read would refuse
            self._measurement("new measurements", f"oracle {oracle!r}", arch, m.accuracy, m.loss, m.wall_time, False)
        rows = [
            (fingerprint, oracle, arch, _sql(m.accuracy), _sql(m.loss), float(m.wall_time), now)
            for arch, m in zip(archs, results)
        ]
        try:
            with self._db:  # BEGIN ... COMMIT
                self._db.execute("BEGIN IMMEDIATE")
                # Measurements are deterministic, so a row another process wrote first is as good.
                self._db.executemany("INSERT OR IGNORE INTO measurements VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.Error as exc:
            raise self._error("cannot write", exc) from exc

    def get_records(self, fingerprint: str, kind: str, archs: Sequence[str]) -> dict[str, dict]:
        """The stored payloads of the given arch JSONs that exist, by arch JSON."""
        select = "SELECT arch, payload FROM records WHERE fingerprint = ? AND kind = ?"
        return {
            arch: self._payload("records", kind, arch, payload)
            for arch, payload in self._rows_of(select, (fingerprint, kind), archs)
        }

    def put_record(self, fingerprint: str, kind: str, arch: str, payload: dict) -> None:
        """Store one payload (an existing one is kept) and drop the arch's claim, in one transaction."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        text = json.dumps(payload, sort_keys=True)
        self._payload("new records", kind, arch, text)  # never store what a read would refuse
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(
                    "INSERT OR IGNORE INTO records VALUES (?, ?, ?, ?, ?)", (fingerprint, kind, arch, text, now)
                )
                self._db.execute(
                    "DELETE FROM claims WHERE fingerprint = ? AND kind = ? AND arch = ?", (fingerprint, kind, arch)
                )
        except sqlite3.Error as exc:
            raise self._error("cannot write", exc) from exc

    def claim(self, fingerprint: str, kind: str, arch: str, owner: str, stale_after: float) -> bool:
        """Claim an arch for measuring: ``True`` when ``owner`` may measure it now.

        ``False`` when it is already recorded, or claimed by another owner less than
        ``stale_after`` seconds ago. The check and the claim are one transaction, so of two
        workers asking at once exactly one gets it.
        """
        now = time.time()
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                key = (fingerprint, kind, arch)
                done = self._db.execute(
                    "SELECT 1 FROM records WHERE fingerprint = ? AND kind = ? AND arch = ?", key
                ).fetchone()
                if done is not None:
                    return False
                row = self._db.execute(
                    "SELECT owner, claimed_at FROM claims WHERE fingerprint = ? AND kind = ? AND arch = ?", key
                ).fetchone()
                if row is not None and row[0] != owner and now - row[1] < stale_after:
                    return False
                self._db.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)", (*key, owner, now))
                return True
        except sqlite3.Error as exc:
            raise self._error("cannot write", exc) from exc

    def release(self, owner: str) -> int:
        """Give back every claim ``owner`` holds (a worker stopping before it measured them); returns how many."""
        try:
            with self._db:
                return self._db.execute("DELETE FROM claims WHERE owner = ?", (owner,)).rowcount
        except sqlite3.Error as exc:
            raise self._error("cannot write", exc) from exc

    def count(self, fingerprint: str | None = None) -> int:
        """Number of cached rows (of one fingerprint, or all)."""
        if fingerprint is None:
            return self._db.execute("SELECT COUNT(*) FROM measurements").fetchone()[0]
        return self._db.execute("SELECT COUNT(*) FROM measurements WHERE fingerprint = ?", [fingerprint]).fetchone()[0]

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


def _sql(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _float(value: float | None) -> float:
    return math.nan if value is None else float(value)
