"""The measurement cache: one SQLite file per benchmark, so no arch is measured twice.

Rows are keyed by ``(fingerprint, oracle, arch)``: new weights give a new fingerprint and a
surrogate's predictions a different oracle label, so neither ever reads another's rows. SQLite in
WAL mode lets several processes (parallel harness runs) read and write the same file; a row is
committed as soon as it is put, so a killed evaluation loses at most the arch in progress.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
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
) WITHOUT ROWID
"""

_CHUNK = 500  # stays under SQLite's limit on bound variables in one statement


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
            self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise self._error("cannot open", exc) from exc

    def _error(self, what: str, exc: sqlite3.Error) -> OfaBenchError:
        return OfaBenchError(f"{what} the evaluation cache {str(self.path)!r}: {exc}; use cache=False (--no-cache)")

    def get(self, fingerprint: str, oracle: str, archs: Sequence[str]) -> dict[str, Measurement]:
        """The cached measurements of the given arch JSONs that exist, by arch JSON."""
        found: dict[str, Measurement] = {}
        try:
            for lo in range(0, len(archs), _CHUNK):
                chunk = list(archs[lo : lo + _CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT arch, accuracy, loss, wall_time FROM measurements "
                    f"WHERE fingerprint = ? AND oracle = ? AND arch IN ({marks})",
                    [fingerprint, oracle, *chunk],
                )
                for arch, accuracy, loss, wall_time in rows:
                    found[arch] = Measurement(_float(accuracy), _float(loss), wall_time, cached=True)
        except sqlite3.Error as exc:
            raise self._error("cannot read", exc) from exc
        return found

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
