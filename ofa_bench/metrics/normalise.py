"""The fixed normalisation every indicator of a suite shares.

Each objective column gets raw bounds ``[low, high]`` fixed once per suite (before any run), and
is mapped to a minimisation axis where 0 is the best bound and 1 the worst: ``(v - low) /
(high - low)`` for a minimised column, ``(high - v) / (high - low)`` for a maximised one. Rows
that break a constraint, or miss a value, are not points of the front.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ofa_bench.objectives import constraint_matrix, non_dominated, objective_matrix
from ofa_bench.plugins.interfaces import Constraint, Objective

__all__ = ["Normalisation"]


@dataclass(frozen=True)
class Normalisation:
    """Objectives, constraints and the fixed bounds that turn records into normalised points.

    Attributes:
        objectives: What is optimised.
        constraints: Upper limits a point must meet to count.
        bounds: Raw ``(low, high)`` per objective column.
        reference: Hypervolume reference point on every normalised axis.
    """

    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...] = ()
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    reference: float = 1.1

    def __post_init__(self) -> None:
        missing = [o.column for o in self.objectives if o.column not in self.bounds]
        if missing:
            raise ValueError(f"no bounds for objective {missing[0]!r}")

    @property
    def columns(self) -> tuple[str, ...]:
        """Record columns the objectives and constraints read."""
        return tuple(dict.fromkeys([o.column for o in self.objectives] + [c.column for c in self.constraints]))

    @property
    def reference_point(self) -> np.ndarray:
        """The hypervolume reference point, one coordinate per objective."""
        return np.full(len(self.objectives), float(self.reference))

    def _scale(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower bound and span of each objective on its minimisation axis."""
        low, span = [], []
        for o in self.objectives:
            lo, hi = self.bounds[o.column]
            low.append(-hi if o.direction == "max" else lo)
            span.append(hi - lo)
        return np.array(low, dtype=np.float64), np.array(span, dtype=np.float64)

    def feasible_mask(self, records: pd.DataFrame) -> np.ndarray:
        """Rows whose objectives are all measured and that meet every constraint."""
        columns = _columns(records, self.columns)
        n = len(records)
        F = objective_matrix(columns, self.objectives, n)
        ok = np.isfinite(F).all(axis=1)
        if self.constraints:
            ok &= (constraint_matrix(columns, self.constraints, n) <= 0).all(axis=1)
        return ok

    def points(self, records: pd.DataFrame, feasible_only: bool = True) -> np.ndarray:
        """Normalised ``(n, m)`` points of the rows (only feasible ones by default), in row order."""
        F = objective_matrix(_columns(records, self.columns), self.objectives, len(records))
        if feasible_only:
            F = F[self.feasible_mask(records)]
        return self.normalise(F)

    def normalise(self, F: np.ndarray) -> np.ndarray:
        """Map a raw minimisation matrix (maximised columns negated) to normalised points."""
        low, span = self._scale()
        return (np.asarray(F, dtype=np.float64).reshape(-1, len(self.objectives)) - low) / span

    def raw(self, points: np.ndarray) -> np.ndarray:
        """Undo :meth:`normalise` and the negation: points back in record units per column."""
        low, span = self._scale()
        F = np.asarray(points, dtype=np.float64) * span + low
        signs = np.array([-1.0 if o.direction == "max" else 1.0 for o in self.objectives])
        return F * signs

    def front(self, records: pd.DataFrame) -> np.ndarray:
        """Normalised non-dominated feasible points of the rows, sorted by the first objective."""
        points = self.points(records)
        front = points[non_dominated(points)] if len(points) else points
        return np.unique(front, axis=0) if len(front) else front

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; :meth:`from_dict` reads it back."""
        return {
            "objectives": [{"column": o.column, "direction": o.direction} for o in self.objectives],
            "constraints": [{"column": c.column, "upper": c.upper} for c in self.constraints],
            "bounds": {k: [float(v[0]), float(v[1])] for k, v in self.bounds.items()},
            "reference": float(self.reference),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Normalisation:
        """Read the form :meth:`to_dict` writes."""
        return cls(
            tuple(Objective(o["column"], o["direction"]) for o in data["objectives"]),
            tuple(Constraint(c["column"], float(c["upper"])) for c in data.get("constraints", ())),
            {k: (float(v[0]), float(v[1])) for k, v in data["bounds"].items()},
            float(data.get("reference", 1.1)),
        )


def _columns(records: pd.DataFrame, wanted: Sequence[str]) -> dict[str, np.ndarray]:
    """The wanted columns present in ``records`` as float arrays (missing ones stay absent: +inf)."""
    return {c: pd.to_numeric(records[c], errors="coerce").to_numpy(np.float64) for c in wanted if c in records}
