"""Objectives and constraints: parsing them from text and evaluating them on batches of records.

Records are column-wise here: a mapping from column name (``accuracy``, ``macs``,
``latency:<backend>``...) to a float array with one value per arch, NaN for a failed
measurement. Objectives turn into a matrix ``F`` to *minimise* (maximised columns are negated,
failures are ``+inf``, the worst value); constraints into a matrix ``G`` of ``value - upper``
(feasible where every entry is ``<= 0``; a missing value is ``+inf``, never feasible).

The analytic columns (``macs``, ``params`` and the ``macs``/``params`` proxy backends) cost a
gather and a sum per batch, so strategies may compute them themselves before proposing archs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ofa_bench.costs import array_costs, macs_params
from ofa_bench.errors import OfaBenchError, PluginError
from ofa_bench.plugins.interfaces import Constraint, Objective
from ofa_bench.space import SearchSpace

__all__ = [
    "ANALYTIC_COLUMNS",
    "BASE_COLUMNS",
    "analytic_columns",
    "backends_for",
    "check_satisfiable",
    "constraint_matrix",
    "format_constraint",
    "minimum_of",
    "non_dominated",
    "objective_matrix",
    "objective_vector",
    "parse_constraint",
    "parse_objectives",
]

#: Columns every evaluation record has, whatever the backends.
BASE_COLUMNS: tuple[str, ...] = ("accuracy", "loss", "macs", "params")

_COSTS = ("macs", "params")


class _AnalyticColumns(Mapping[str, tuple[int, float]]):
    """Columns computable from an arch alone: column -> (index in ``(macs, params)``, scale).

    ``macs`` and ``params`` are the raw counts. A hardware backend whose class declares
    ``analytic_cost`` (``"macs"`` or ``"params"``) and ``scale`` (its values are the cost times the
    scale, e.g. ``mmacs``: MACs x 1e-6) makes its column ``latency:<name>`` analytic too; the scale
    is read from the backend, never repeated here. A membership test imports only the backend it
    names; iterating imports every installed backend once.
    """

    def __init__(self) -> None:
        self._known: dict[str, tuple[int, float] | None] = {c: (i, 1.0) for i, c in enumerate(_COSTS)}
        self._complete = False

    def _lookup(self, column: str) -> tuple[int, float] | None:
        if column not in self._known:
            self._known[column] = _backend_cost(column[len("latency:") :]) if column.startswith("latency:") else None
        return self._known[column]

    def __getitem__(self, column: str) -> tuple[int, float]:
        found = self._lookup(column) if isinstance(column, str) else None
        if found is None:
            raise KeyError(column)
        return found

    def __contains__(self, column: object) -> bool:
        return isinstance(column, str) and self._lookup(column) is not None

    def __iter__(self) -> Iterator[str]:
        if not self._complete:
            from ofa_bench.plugins import registry

            for name in registry.names("hardware"):
                self._lookup(f"latency:{name}")
            self._complete = True
        return iter([c for c, v in self._known.items() if v is not None])

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _backend_cost(name: str) -> tuple[int, float] | None:
    """``(cost index, scale)`` of an analytic hardware backend, ``None`` for any other (or none)."""
    from ofa_bench.plugins import registry

    try:
        cls = registry.get("hardware", name)
    except PluginError:  # unknown, or fails to load: not analytic (``ofa-bench plugins`` reports why)
        return None
    cost, scale = getattr(cls, "analytic_cost", None), getattr(cls, "scale", None)
    if cost not in _COSTS or isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        return None
    return _COSTS.index(cost), float(scale)


#: Columns computable from an arch alone, with their scale relative to the raw count: ``macs``,
#: ``params`` and the column of every hardware backend that declares itself analytic
#: (``latency:mmacs``, ``latency:mparams``, in millions).
ANALYTIC_COLUMNS: Mapping[str, tuple[int, float]] = _AnalyticColumns()

_MAXIMISED = frozenset({"accuracy"})
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][\w:.\-]*)\s*<=\s*(\S+)\s*$")


def parse_objectives(text: str | Sequence[str]) -> tuple[Objective, ...]:
    """Parse ``"accuracy,latency:lut"`` into objectives.

    ``accuracy`` is maximised and every other column minimised, unless the name carries an
    explicit ``max:`` or ``min:`` prefix (``max:params`` maximises params).

    Args:
        text: Comma-separated column names, or a sequence of them.

    Returns:
        One :class:`Objective` per name, in order.

    Raises:
        OfaBenchError: No name, an empty name or a repeated column.
    """
    names = [part.strip() for part in text.split(",")] if isinstance(text, str) else [str(p).strip() for p in text]
    if not names or names == [""]:
        raise OfaBenchError("objectives: give at least one column, e.g. accuracy,latency:mmacs")
    objectives: list[Objective] = []
    for i, name in enumerate(names):
        direction = "max" if name in _MAXIMISED else "min"
        head, _, rest = name.partition(":")
        if head in ("max", "min") and rest:
            direction, name = head, rest
        if not name:
            raise OfaBenchError(f"objectives: name {i + 1} is empty in {text!r}")
        if any(o.column == name for o in objectives):
            raise OfaBenchError(f"objectives: column {name!r} is given twice")
        objectives.append(Objective(name, direction))
    return tuple(objectives)


def parse_constraint(text: str) -> Constraint:
    """Parse ``"macs<=300e6"`` or ``"latency:torch-cpu<=12"`` into an upper-bound constraint.

    Raises:
        OfaBenchError: Not of the form ``<column><=<number>`` with a finite number.
    """
    match = _CONSTRAINT.match(text)
    upper = _float(match.group(2)) if match else None
    if match is None or upper is None:
        raise OfaBenchError(f"constraint {text!r} must read <column><=<number>, e.g. macs<=300e6 (only <= is allowed)")
    return Constraint(match.group(1), upper)


def format_constraint(constraint: Constraint) -> str:
    """The text form :func:`parse_constraint` reads back, e.g. ``"macs<=3e+08"``."""
    return f"{constraint.column}<={constraint.upper:g}"


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def backends_for(columns: Iterable[str], specs: Iterable[str] = ()) -> tuple[str, ...]:
    """The hardware backends that ``latency:<name>`` columns need, in first-seen order, then ``specs``.

    A column whose backend is among ``specs`` (``lut:table=t.yaml`` for ``latency:lut``) is measured
    by that spec, with its parameters, once; only the other columns' backends are added by name.
    """
    specs = tuple(specs)
    configured = {s.partition(":")[0].strip() for s in specs}
    names = [c.partition(":")[2] for c in columns if c.startswith("latency:")]
    return tuple(dict.fromkeys([*(n for n in names if n and n not in configured), *specs]))


# ----- batches ------------------------------------------------------------------------------------


def analytic_columns(
    space: SearchSpace, array: np.ndarray, columns: Iterable[str], validate: bool = True
) -> dict[str, np.ndarray]:
    """Compute the analytic columns among ``columns`` for a batch array; others are skipped.

    Args:
        space: The space of the array.
        array: ``(n, space.n_columns)`` choice values.
        columns: Wanted columns; those not in :data:`ANALYTIC_COLUMNS` are ignored.
        validate: Check the array first; ``False`` for arrays made by the space's own operators,
            where the check would be a third of the cost in a search loop.

    Returns:
        Column name to float64 array.
    """
    wanted = [c for c in dict.fromkeys(columns) if c in ANALYTIC_COLUMNS]
    if not wanted:
        return {}
    array = np.asarray(array, dtype=np.int64)
    if validate:
        costs = macs_params(array, space)
    else:
        need = {ANALYTIC_COLUMNS[c][0] for c in wanted}
        costs = array_costs(space, array, macs=0 in need, params=1 in need)
    out = {}
    for c in wanted:
        index, scale = ANALYTIC_COLUMNS[c]
        values = costs[index].astype(np.float64)
        out[c] = values * scale if scale != 1.0 else values
    return out


def _trusted_costs(space: SearchSpace, array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~ofa_bench.costs.macs_params` without input validation (same tables, same sums)."""
    return array_costs(space, np.asarray(array, dtype=np.int64))


def _column(records: Mapping[str, np.ndarray], column: str, n: int) -> np.ndarray:
    values = records.get(column)
    if values is None:
        return np.full(n, np.nan)
    return np.asarray(values, dtype=np.float64).reshape(n)


def objective_matrix(records: Mapping[str, np.ndarray], objectives: Sequence[Objective], n: int) -> np.ndarray:
    """The ``(n, len(objectives))`` matrix to minimise; failed or missing values are ``+inf``."""
    out = np.empty((n, len(objectives)))
    for j, objective in enumerate(objectives):
        values = _column(records, objective.column, n)
        out[:, j] = -values if objective.direction == "max" else values
    out[np.isnan(out)] = np.inf
    return out


def objective_vector(record: Mapping[str, Any], objectives: Sequence[Objective]) -> np.ndarray:
    """One record's objectives as a vector to minimise: maximised ones negated, a failed or missing one ``+inf``.

    What a strategy compares archs by, without parsing columns or directions itself::

        vector = objective_vector(records[i], self.objectives)   # e.g. [-accuracy, latency]

    Args:
        record: Column name to value, as :meth:`Strategy.tell` receives it.
        objectives: The run's objectives (``self.objectives`` after ``setup``).

    Returns:
        Float64 ``(len(objectives),)``; smaller is better in every entry.
    """
    values = {o.column: np.array([record.get(o.column)], dtype=np.float64) for o in objectives}
    return objective_matrix(values, objectives, 1)[0]


def constraint_matrix(records: Mapping[str, np.ndarray], constraints: Sequence[Constraint], n: int) -> np.ndarray:
    """The ``(n, len(constraints))`` matrix of ``value - upper``; a missing value is ``+inf``."""
    out = np.empty((n, len(constraints)))
    for j, constraint in enumerate(constraints):
        out[:, j] = _column(records, constraint.column, n) - constraint.upper
    out[np.isnan(out)] = np.inf
    return out


def non_dominated(F: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``F`` (minimised) that no other row dominates.

    Rows with a non-finite value are never in the front; equal rows are all kept.
    """
    F = np.asarray(F, dtype=np.float64)
    finite = np.isfinite(F).all(axis=1)
    mask = np.zeros(len(F), dtype=bool)
    idx = np.flatnonzero(finite)
    if idx.size == 0:
        return mask
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    front = NonDominatedSorting().do(F[idx], only_non_dominated_front=True)
    mask[idx[np.asarray(front, dtype=np.int64)]] = True
    return mask


# ----- feasibility up front -----------------------------------------------------------------------


def minimum_of(space: SearchSpace, column: str) -> float | None:
    """The smallest value an analytic column takes in ``space``; ``None`` for other columns.

    Costs grow with every choice, so the smallest arch at the smallest resolution has the least.
    """
    if column not in ANALYTIC_COLUMNS:
        return None
    array = space.to_array([space.smallest(r=min(space.resolutions))])
    return float(analytic_columns(space, array, [column])[column][0])


def check_satisfiable(space: SearchSpace, constraints: Sequence[Constraint]) -> None:
    """Raise when an analytic constraint excludes every arch of the space.

    Raises:
        OfaBenchError: Naming the constraint and the least value the space can reach.
    """
    for constraint in constraints:
        low = minimum_of(space, constraint.column)
        if low is not None and low > constraint.upper:
            raise OfaBenchError(
                f"constraint {format_constraint(constraint)} cannot be met: the smallest arch of {space.name} has "
                f"{constraint.column}={low:g}; allowed: an upper bound >= {low:g}"
            )
