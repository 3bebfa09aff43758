"""What the built-in strategies share: told history as arrays, cheap constraints, duplicate checks.

Built-ins work on batch arrays (see :mod:`ofa_bench.space`) and implement :meth:`ask` and
:meth:`tell` through :meth:`ask_array` and :meth:`tell_array`, so a loop over cheap evaluations
stays vectorised. Constraints on analytic columns (MACs, params and their proxy backends) are
checked before an arch is proposed; every other constraint is learnt from what is told.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ofa_bench.costs import array_costs
from ofa_bench.errors import OfaBenchError
from ofa_bench.objectives import (
    ANALYTIC_COLUMNS,
    analytic_columns,
    constraint_matrix,
    format_constraint,
    objective_matrix,
)
from ofa_bench.plugins.interfaces import Strategy
from ofa_bench.space import Arch

__all__ = [
    "ArrayStrategy",
    "History",
    "Seen",
    "first_occurrence",
    "member",
    "pareto_order",
    "rank_key",
    "row_hash",
    "violation",
]

#: Rejection rounds before a strategy falls back to fresh feasible samples.
_RETRIES = 20
#: Attempts made at once per slot in successive rounds of :meth:`ArrayStrategy.until_ok`.
_COPIES = (1, 4, 16)
#: Archs drawn at most while looking for ones that meet the cheap constraints.
_MAX_DRAWS = 2_000_000


class History:
    """Every told arch with its objective matrix ``F`` (minimised) and violations ``G``, as arrays.

    Told batches are joined into capacity-doubling arrays only when ``X``, ``F`` or ``G`` is read,
    so a strategy that never reads them (the evolutions) pays a list append per batch.
    """

    def __init__(self, n_columns: int, n_objectives: int, n_constraints: int) -> None:
        self._X = np.empty((64, n_columns), dtype=np.int64)
        self._F = np.empty((64, n_objectives))
        self._G = np.empty((64, n_constraints))
        self._joined, self.n = 0, 0  # rows in the arrays, rows told
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, X: np.ndarray, F: np.ndarray, G: np.ndarray) -> None:
        """Append told rows (copied; joined into the arrays on the next read)."""
        if len(X):
            self._pending.append((np.array(X, dtype=np.int64), np.array(F, dtype=float), np.array(G, dtype=float)))
            self.n += len(X)

    def _join(self) -> None:
        end = self.n
        if end > len(self._X):
            size = max(end, 2 * len(self._X))
            for name in ("_X", "_F", "_G"):
                old = getattr(self, name)
                new = np.empty((size, old.shape[1]), dtype=old.dtype)
                new[: self._joined] = old[: self._joined]
                setattr(self, name, new)
        start = self._joined
        for X, F, G in self._pending:
            stop = start + len(X)
            self._X[start:stop], self._F[start:stop], self._G[start:stop] = X, F, G
            start = stop
        self._pending.clear()
        self._joined = end

    @property
    def X(self) -> np.ndarray:
        """``(n, n_columns)`` told archs."""
        return self._read("_X")

    @property
    def F(self) -> np.ndarray:
        """``(n, n_objectives)`` objectives to minimise; ``+inf`` where a measurement failed."""
        return self._read("_F")

    @property
    def G(self) -> np.ndarray:
        """``(n, n_constraints)`` ``value - upper``; ``+inf`` where unknown."""
        return self._read("_G")

    def _read(self, name: str) -> np.ndarray:
        if self._pending:
            self._join()
        return getattr(self, name)[: self.n]


def violation(G: np.ndarray) -> np.ndarray:
    """Total constraint violation per row: the sum of positive parts (0 when feasible)."""
    if G.shape[1] == 0:
        return np.zeros(len(G))
    return np.maximum(G, 0.0).sum(axis=1)


def rank_key(F: np.ndarray, G: np.ndarray) -> np.ndarray:
    """Row order for single-objective selection: feasible first, then least violation, then ``F[:, 0]``."""
    return np.lexsort((F[:, 0], violation(G)))


@functools.lru_cache(maxsize=1)
def pareto_tools() -> tuple[Any, Any]:
    """pymoo's crowding distance and non-dominated sorting, imported on first use.

    The import pulls in SciPy (seconds); strategies that rank by Pareto call this in their
    set-up, so the first generation's time does not include it.
    """
    from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    return calc_crowding_distance, NonDominatedSorting


def pareto_order(F: np.ndarray, G: np.ndarray) -> np.ndarray:
    """Row order for multi-objective selection, best first.

    Feasible rows with finite objectives come first, by non-dominated rank and then by crowding
    distance (most isolated first, as NSGA-II keeps them); then every other row by violation.
    """
    calc_crowding_distance, NonDominatedSorting = pareto_tools()
    cv = violation(G)
    good = np.flatnonzero((cv <= 0) & np.isfinite(F).all(axis=1))
    rest = np.setdiff1d(np.arange(len(F)), good)
    rest = rest[np.argsort(cv[rest], kind="stable")]
    if good.size == 0:
        return rest
    fronts = NonDominatedSorting().do(F[good])
    order = []
    for front in fronts:
        front = np.asarray(front, dtype=np.int64)
        crowding = calc_crowding_distance(F[good[front]]) if len(front) > 2 else np.full(len(front), np.inf)
        order.append(good[front[np.argsort(-crowding, kind="stable")]])
    return np.concatenate([*order, rest])


def row_hash(array: np.ndarray) -> np.ndarray:
    """A 64-bit hash per row: a random linear form modulo 2**64 (collisions have odds ~2**-64 per pair)."""
    array = np.asarray(array)
    weights = _hash_weights(array.shape[1])
    return array.astype(np.uint64) @ weights


@functools.lru_cache(maxsize=8)
def _hash_weights(n_columns: int) -> np.ndarray:
    # Fixed weights, so hashes (and thus every decision based on them) repeat across processes.
    weights = np.random.default_rng(0x0FA).integers(1, 2**63, size=n_columns, dtype=np.uint64)
    return weights | np.uint64(1)


class Seen:
    """Archs (rows) already proposed or told, as sorted arrays of row hashes; checks are vectorised.

    New hashes go to a small sorted array that is merged into the large one now and then, so
    remembering a batch costs in proportion to the batch, not to everything seen.
    """

    #: Hashes kept in the small array before it is merged.
    _MERGE_AT = 8192

    def __init__(self) -> None:
        self._sorted = np.empty(0, dtype=np.uint64)
        self._recent = np.empty(0, dtype=np.uint64)

    def add(self, array: np.ndarray) -> None:
        """Remember rows."""
        self.add_hashes(row_hash(array))

    def add_hashes(self, hashes: np.ndarray, fresh: bool = False) -> None:
        """Remember rows by their :func:`row_hash`; ``fresh``: the caller knows them distinct and unseen."""
        if not fresh:
            hashes = np.unique(hashes[~self.contains(hashes)])
        if hashes.size:  # told rows were mostly asked for, so usually none are new
            # Timsort ("stable") merges the two sorted runs in linear time.
            self._recent = np.sort(np.concatenate([self._recent, hashes]), kind="stable")
            if len(self._recent) > self._MERGE_AT:
                self._sorted = np.sort(np.concatenate([self._sorted, self._recent]), kind="stable")
                self._recent = self._recent[:0]

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        """Boolean mask: which hashes were seen."""
        if not len(self._sorted):
            return member(self._recent, hashes)
        return member(self._sorted, hashes) | member(self._recent, hashes)

    def new(self, array: np.ndarray) -> np.ndarray:
        """Boolean mask: rows neither seen before nor repeating an earlier row of ``array``."""
        hashes = row_hash(array)
        return ~self.contains(hashes) & first_occurrence(hashes)

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)


def member(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Boolean mask: which ``values`` are in the sorted array ``sorted_values`` (``np.isin``, cheaper)."""
    if len(sorted_values) == 0:
        return np.zeros(len(values), dtype=bool)
    pos = sorted_values.searchsorted(values)
    np.minimum(pos, len(sorted_values) - 1, out=pos)
    return sorted_values[pos] == values


def first_occurrence(values: np.ndarray) -> np.ndarray:
    """Boolean mask: the first occurrence of each value (all ``True`` when they are distinct)."""
    order = values.argsort(kind="stable")
    ordered = values[order]
    repeat = ordered[1:] == ordered[:-1]
    first = np.ones(len(values), dtype=bool)
    if repeat.any():
        first[order[1:][repeat]] = False
    return first


class ArrayStrategy(Strategy):
    """Base of the built-ins: array-level ask/tell, told history, cheap constraint checks.

    Subclasses implement :meth:`_propose` (and usually :meth:`_told`); :meth:`ask_array` keeps a
    queue so a strategy that thinks in generations can be asked for any number of archs.
    """

    #: Whether every proposal meets the constraints on analytic columns (the conformance kit checks).
    handles_constraints: bool = True

    def _setup(self) -> None:
        self.history = History(self.space.n_columns, len(self.objectives), len(self.constraints))
        self.seen = Seen()
        self._cheap = tuple(c for c in self.constraints if c.column in ANALYTIC_COLUMNS)
        # (cost index, scale, upper) per cheap constraint, and which costs they need.
        self._cheap_limits = tuple((*ANALYTIC_COLUMNS[c.column], c.upper) for c in self._cheap)
        self._cheap_need = (any(i == 0 for i, _, _ in self._cheap_limits), any(i == 1 for i, _, _ in self._cheap_limits))
        self._queue = np.empty((0, self.space.n_columns), dtype=np.int64)
        self._asked: np.ndarray | None = None  # the last answer of ask_array
        # (rows, row hashes) of the last until_ok answer whose rows are all new and distinct.
        self._fresh: tuple[np.ndarray, np.ndarray] | None = None
        self._init()

    def _init(self) -> None:
        """Hook: set up strategy state after :meth:`setup` (``self.rng`` is ready)."""

    # ----- ask ------------------------------------------------------------------------------------

    def ask(self, n: int) -> list[Arch]:
        """Propose ``n`` archs (see :meth:`ask_array`)."""
        return self.space.from_array(self.ask_array(n))

    def ask_array(self, n: int) -> np.ndarray:
        """Propose ``n`` archs as a batch array, refilling the queue from :meth:`_propose`."""
        if n < 0:
            raise OfaBenchError(f"ask: n must be >= 0; got {n}")
        parts, have = [], 0
        hashes = None  # the row hashes of the answer, when its proposal came with them
        while have < n:
            if len(self._queue) == 0:
                self._fresh = None
                proposed = self._propose(n - have)
                self._queue = np.asarray(proposed, dtype=np.int64).reshape(-1, self.space.n_columns)
                if len(self._queue) == 0:
                    proposed = self._queue = self.sample_feasible(n - have, new=True)
                fresh, self._fresh = self._fresh, None
                if fresh is not None and fresh[0] is proposed and not parts and len(self._queue) == n:
                    hashes = fresh[1]  # the whole answer is this proposal, its rows new and distinct
            take = self._queue[: n - have]
            self._queue = self._queue[n - have :]
            parts.append(take)
            have += len(take)
        if len(parts) == 1:
            out = parts[0]
        else:
            out = np.concatenate(parts) if parts else np.empty((0, self.space.n_columns), dtype=np.int64)
        if hashes is not None:
            self.seen.add_hashes(hashes, fresh=True)
        else:
            self.seen.add(out)
        self._asked = out.copy()  # a copy: what a caller does to its answer does not change it
        return out

    def _propose(self, n: int) -> np.ndarray:
        """Return at least one new proposal (``n`` are still wanted); the rest are queued."""
        raise NotImplementedError

    def drop_queue(self) -> None:
        """Forget queued proposals, e.g. when what was told changes the plan."""
        self._queue = self._queue[:0]

    # ----- tell -----------------------------------------------------------------------------------

    def tell(self, archs: Sequence[Arch], records: Sequence[Mapping[str, Any]]) -> None:
        """Receive measurements (see :meth:`tell_array`); ``None`` and missing values are failures."""
        if len(archs) != len(records):
            raise OfaBenchError(f"tell: {len(archs)} archs but {len(records)} records")
        columns: dict[str, np.ndarray] = {}
        names = dict.fromkeys(c for r in records for c in r)
        for name in names:
            columns[name] = np.array([_number(r.get(name)) for r in records], dtype=np.float64)
        self.tell_array(self.space.to_array(archs), columns)

    def tell_array(self, array: np.ndarray, records: Mapping[str, np.ndarray]) -> None:
        """Receive measurements column-wise; analytic columns missing from ``records`` are computed."""
        array = np.asarray(array, dtype=np.int64).reshape(-1, self.space.n_columns)
        n = len(array)
        if n == 0:
            return
        records = dict(records)
        wanted = [o.column for o in self.objectives] + [c.column for c in self.constraints]
        missing = [c for c in wanted if c not in records]
        records.update(analytic_columns(self.space, array, missing))
        F = objective_matrix(records, self.objectives, n)
        G = constraint_matrix(records, self.constraints, n)
        self.history.add(array, F, G)
        asked = self._asked
        if asked is None or asked.shape != array.shape or not np.array_equal(asked, array):
            self.seen.add(array)  # else every row was remembered when it was asked for
        self._told(array, F, G)

    def _told(self, X: np.ndarray, F: np.ndarray, G: np.ndarray) -> None:
        """Hook: react to told rows (already in :attr:`history`)."""

    # ----- cheap constraints ----------------------------------------------------------------------

    def cheap_ok(self, array: np.ndarray) -> np.ndarray:
        """Boolean mask: rows that meet every constraint on an analytic column."""
        if not self._cheap or not len(array):
            return np.ones(len(array), dtype=bool)
        costs = array_costs(self.space, np.asarray(array, dtype=np.int64), *self._cheap_need)
        ok = None
        for index, scale, upper in self._cheap_limits:
            # The float64 values analytic_columns gives (an int64 compared with a float is cast first).
            values = costs[index]
            below = (values.astype(np.float64) * scale if scale != 1.0 else values) <= upper
            ok = below if ok is None else ok & below
        return ok

    def sample_feasible(self, n: int, rng: np.random.Generator | None = None, new: bool = False) -> np.ndarray:
        """``n`` uniform archs meeting the cheap constraints, by rejection (``new``: also unseen)."""
        rng = self.rng if rng is None else rng
        parts, have, drawn = [], 0, 0
        rate = 1.0
        while have < n:
            size = int(min(max(64, 2 * (n - have) / max(rate, 1e-4)), 200_000))
            batch = self.space.sample_array(size, rng)
            ok = self.cheap_ok(batch)
            if new:
                ok &= self.seen.new(batch)
                if parts:
                    ok &= ~np.isin(row_hash(batch), row_hash(np.concatenate(parts)))
            drawn += size
            rate = max(ok.mean(), 0.5 / size)
            parts.append(batch[ok][: n - have])
            have += len(parts[-1])
            if have < n and drawn > _MAX_DRAWS:
                if new and not self._cheap:
                    break  # a small space can run out of new archs; repeats are allowed then
                cheap = ", ".join(format_constraint(c) for c in self._cheap)
                raise OfaBenchError(
                    f"{self.name}: found {have} of {n} archs meeting {cheap or 'the constraints'} in {drawn} draws; "
                    "loosen the constraints"
                )
        out = np.concatenate(parts) if parts else np.empty((0, self.space.n_columns), dtype=np.int64)
        if len(out) < n:
            out = np.concatenate([out, self.space.sample_array(n - len(out), rng)])
        return out

    def until_ok(
        self,
        make: Callable[[np.ndarray, int], np.ndarray],
        n: int,
        new: bool = True,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """Build ``n`` rows with ``make(slots, attempt)``, remaking those that break cheap constraints.

        As OFA's EvolutionFinder retries a mutation until it meets the constraint, each slot keeps
        the first acceptable row of its own attempts; to stay vectorised, later rounds make
        several attempts per slot at once, which draws from the same distribution. With ``new``,
        rows proposed or told before are not acceptable
        either. Slots still empty after a few rounds get fresh feasible samples, so a tight
        constraint never stalls the search.
        """
        out = np.empty((n, self.space.n_columns), dtype=np.int64)
        out_hashes = np.empty(n, dtype=np.uint64)
        filled = np.zeros(n, dtype=bool)
        pending = np.arange(n)
        taken = np.empty(0, dtype=np.uint64)  # sorted hashes of the rows chosen so far
        for attempt in range(_RETRIES):
            if pending.size == 0:
                break
            copies = _COPIES[min(attempt, len(_COPIES) - 1)]
            slots = np.repeat(pending, copies) if copies > 1 else pending.copy()
            candidates = np.asarray(make(slots, attempt), dtype=np.int64)
            ok = self.cheap_ok(candidates)
            if new:
                hashes = row_hash(candidates)
                ok &= ~self.seen.contains(hashes)
                if taken.size:
                    ok &= ~member(taken, hashes)
            chosen = ok.nonzero()[0]
            if copies > 1:
                # np.repeat keeps slots in order, so the first accepted row of a slot is its first success.
                s_chosen = slots[chosen]
                first = np.ones(len(chosen), dtype=bool)
                first[1:] = s_chosen[1:] != s_chosen[:-1]
                chosen = chosen[first]
            filled_slots = slots[chosen]
            if new:  # two slots must not take the same arch
                chosen_hashes = hashes[chosen]
                first = first_occurrence(chosen_hashes)
                if not first.all():
                    chosen, filled_slots, chosen_hashes = chosen[first], filled_slots[first], chosen_hashes[first]
                taken = np.sort(np.concatenate([taken, chosen_hashes]) if taken.size else chosen_hashes)
                out_hashes[filled_slots] = chosen_hashes
            out[filled_slots] = candidates[chosen]
            filled[filled_slots] = True
            pending = pending[~filled[pending]]
        if pending.size:
            out[pending] = self.sample_feasible(int(pending.size), rng, new=new)
        elif new:  # every row new and distinct: ask_array need not check them again
            self._fresh = (out, out_hashes)
        return out

    def seed_for(self) -> int:
        """A seed for a library's own generator (pymoo, Optuna), drawn from ``self.rng``."""
        return int(self.rng.integers(2**31 - 1))


def _number(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
