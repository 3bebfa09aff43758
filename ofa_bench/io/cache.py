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

from ofa_bench.errors import OfaBenchError

__all__ = ["CACHE_FILE", "Measurement", "MeasurementCache"]

CACHE_FILE = "cache.sqlite"

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
        accuracy: Top-1 accuracy in [0, 1] (or the surrogate's prediction).
        loss: Mean cross-entropy on the validation split; NaN for a surrogate.
        wall_time: Seconds the measurement took when it was made.
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
        return OfaBenchError(f"{what} the evaluation cache {str(self.path)!r}: {exc}; use cache=False (--no-cache)")

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
            arch: Measurement(_float(accuracy), _float(loss), wall_time, cached=True)
            for arch, accuracy, loss, wall_time in self._rows_of(select, (fingerprint, oracle), archs)
        }

    def put(self, fingerprint: str, oracle: str, archs: Sequence[str], results: Sequence[Measurement]) -> None:
        """Store measurements in one committed transaction; an existing row is kept."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        rows = [
            (fingerprint, oracle, arch, _sql(m.accuracy), _sql(m.loss), m.wall_time, now)
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
        return {arch: json.loads(payload) for arch, payload in self._rows_of(select, (fingerprint, kind), archs)}

    def put_record(self, fingerprint: str, kind: str, arch: str, payload: dict) -> None:
        """Store one payload (an existing one is kept) and drop the arch's claim, in one transaction."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(
                    "INSERT OR IGNORE INTO records VALUES (?, ?, ?, ?, ?)",
                    (fingerprint, kind, arch, json.dumps(payload, sort_keys=True), now),
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
