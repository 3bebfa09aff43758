"""Leakage between what an oracle was fitted on and what a search was scored on.

A surrogate oracle fitted by a suite (``oracle.mode: surrogate``) learns from the archs of
``OUT/oracle_archive.csv``; an evaluation of one of those archs is answered from the oracle's own
training data, where it is most accurate, so a strategy that happens to revisit them looks better
than the oracle's quality says. The archive is drawn from its own random stream, so overlap should
be rare; every run's ``oracle_overlap`` (:func:`oracle_overlap`) counts it so the report can show it.

Archs are compared as archs, not as text: the archive stores OFA's dict with spaces and the run log
stores compact JSON, and key order may differ (:func:`arch_key`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

__all__ = ["ARCHIVE_FILE", "arch_key", "archive_keys", "oracle_overlap"]

#: The archs a suite's surrogate oracle was fitted on, in its output folder.
ARCHIVE_FILE = "oracle_archive.csv"


def arch_key(text: str) -> str:
    """One canonical text per arch: its JSON with sorted keys and no spaces."""
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


def archive_keys(out: Path) -> set[str] | None:
    """The canonical keys of the archs the suite's oracle was fitted on; ``None`` without an archive."""
    path = Path(out) / ARCHIVE_FILE
    if not path.exists():
        return None
    return {arch_key(text) for text in pd.read_csv(path)["arch"]}


def oracle_overlap(evaluated: Iterable[str], fitted_on: set[str]) -> int:
    """How many evaluations (arch JSON texts, one per evaluation, repeats counted) are of archs in ``fitted_on``."""
    return sum(arch_key(text) in fitted_on for text in evaluated)
