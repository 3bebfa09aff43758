"""The result of one search run: every evaluation in order, and its Pareto set under the constraints."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from ofa_bench.objectives import constraint_matrix, non_dominated, objective_matrix, parse_constraint
from ofa_bench.plugins.interfaces import Constraint, Objective
from ofa_bench.search.runlog import TIME_KEYS, entry_record
from ofa_bench.space import Arch, SearchSpace

__all__ = ["RunResult", "as_columns"]


def as_columns(rows: Sequence[Mapping[str, Any]], n: int) -> dict[str, np.ndarray]:
    """Records (one mapping per arch) as columns of float64; ``None``, missing and non-numbers are NaN."""
    names = dict.fromkeys(c for row in rows for c in row)
    out = {}
    for name in names:
        out[name] = np.array([_number(row.get(name)) for row in rows], dtype=np.float64).reshape(n)
    return out


def _number(value: Any) -> float:
    if value is None or isinstance(value, (str, bytes)):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


@dataclass
class RunResult:
    """Every evaluation of one run, in order, as arrays.

    Attributes:
        space: The search space.
        meta: The run's settings, as written to ``run.json``.
        X: ``(n, space.n_columns)`` evaluated archs.
        records: Column name to ``n`` floats (NaN for failed measurements).
        times: ``(n, 4)`` ``eval_s``, ``strategy_s``, ``elapsed_s``, ``cpu_s``.
        batch: The ask each evaluation came from (1-based).
    """

    space: SearchSpace
    meta: dict[str, Any]
    X: np.ndarray
    records: dict[str, np.ndarray]
    times: np.ndarray
    batch: np.ndarray = field(repr=False)

    @classmethod
    def from_batches(
        cls,
        space: SearchSpace,
        meta: dict[str, Any],
        arrays: list[np.ndarray],
        records: list[dict[str, np.ndarray]],
        times: list[np.ndarray],
        batches: list[np.ndarray],
    ) -> RunResult:
        """Join per-batch arrays; a column missing from a batch is NaN there."""
        n_cols = space.n_columns
        X = np.concatenate(arrays) if arrays else np.empty((0, n_cols), dtype=np.int64)
        columns = dict.fromkeys(c for r in records for c in r)
        pairs = list(zip(records, arrays))
        joined = {c: np.concatenate([r.get(c, np.full(len(a), np.nan)) for r, a in pairs]) for c in columns}
        T = np.concatenate(times) if times else np.empty((0, len(TIME_KEYS)))
        B = np.concatenate(batches) if batches else np.zeros(0, dtype=np.int64)
        return cls(space, meta, X, joined, T, B)

    def __len__(self) -> int:
        return len(self.X)

    @property
    def objectives(self) -> tuple[Objective, ...]:
        """The run's objectives."""
        return tuple(Objective(o["column"], o["direction"]) for o in self.meta.get("objectives", []))

    @property
    def constraints(self) -> tuple[Constraint, ...]:
        """The run's constraints."""
        return tuple(parse_constraint(c) for c in self.meta.get("constraints", []))

    @cached_property
    def archs(self) -> list[Arch]:
        """The evaluated archs, in order."""
        return self.space.from_array(self.X)

    @property
    def entries(self) -> list[dict[str, Any]]:
        """The evaluations as run-log entries (see :mod:`ofa_bench.search.runlog`)."""
        columns = list(self.records)
        return [
            {
                "n": i + 1,
                "batch": int(self.batch[i]),
                "arch": arch.to_dict(),
                "record": entry_record({c: self.records[c][i] for c in columns}),
                "time": dict(zip(TIME_KEYS, self.times[i].tolist())),
            }
            for i, arch in enumerate(self.archs)
        ]

    def frame(self) -> pd.DataFrame:
        """The evaluations as the table :func:`ofa_bench.search.runlog.read_log` returns."""
        data: dict[str, Any] = {
            "n": np.arange(1, len(self) + 1),
            "batch": self.batch,
            "arch": [a.to_json() for a in self.archs],
        }
        data.update(self.records)
        data.update({k: self.times[:, j] for j, k in enumerate(TIME_KEYS)})
        df = pd.DataFrame(data)
        df.attrs["meta"] = self.meta
        return df

    def feasible(self) -> np.ndarray:
        """Boolean mask: evaluations meeting every constraint with every objective measured."""
        n = len(self)
        G = constraint_matrix(self.records, self.constraints, n)
        F = objective_matrix(self.records, self.objectives, n)
        return (G <= 0).all(axis=1) & np.isfinite(F).all(axis=1)

    def pareto_mask(self) -> np.ndarray:
        """Boolean mask: first evaluations of the archs in the Pareto set under the constraints."""
        n = len(self)
        candidates = self.feasible()
        # An arch evaluated twice counts once, at its first evaluation.
        _, first = np.unique(self.X, axis=0, return_index=True)
        once = np.zeros(n, dtype=bool)
        once[first] = True
        idx = np.flatnonzero(candidates & once)
        mask = np.zeros(n, dtype=bool)
        F = objective_matrix(self.records, self.objectives, n)
        mask[idx[non_dominated(F[idx])]] = True
        return mask

    def pareto(self) -> pd.DataFrame:
        """The Pareto set under the constraints: ``n``, ``arch`` and the record columns, best first."""
        df = self.frame()[self.pareto_mask()]
        df = df.drop(columns=["batch", *TIME_KEYS])
        if self.objectives:
            first = self.objectives[0]
            df = df.sort_values(first.column, ascending=first.direction == "min", kind="stable")
        return df.reset_index(drop=True)
