"""Local search: hill climbing over one-choice changes, Pareto-aware, with random restarts.

The neighbours of an arch are all archs that differ in one choice (a kernel, an expand ratio, a
stage depth or the resolution), visited in a random order. The search moves to the first told
neighbour that improves on the current arch (lower first objective; with several objectives, one
that dominates it or joins the Pareto front of everything told, as Pareto local search does;
feasibility first), and when a neighbourhood is exhausted it continues from the best arch not yet
explored, restarting from fresh random archs once every good arch has been explored. Neighbours breaking a constraint on an analytic column, or evaluated before, are skipped.
"""

from __future__ import annotations

import numpy as np
from ofa_bench_strategies._base import ArrayStrategy, pareto_order, pareto_tools, rank_key, row_hash, violation

from ofa_bench.errors import OfaBenchError
from ofa_bench.objectives import non_dominated

__all__ = ["LocalSearch"]


class LocalSearch(ArrayStrategy):
    """First-improvement hill climbing (Pareto local search with several objectives).

    Args:
        n_initial: Random archs evaluated before the first climb, and at every restart.
    """

    name = "local-search"

    def __init__(self, *, n_initial: int = 10) -> None:
        if int(n_initial) < 1:
            raise OfaBenchError(f"local-search: n_initial must be >= 1; got {n_initial}")
        self.n_initial = int(n_initial)

    def random_start(self, budget: int) -> int:
        """The first ``n_initial`` archs are uniform random, before the first climb."""
        return min(self.n_initial, budget)

    def _init(self) -> None:
        self._centre: int | None = None  # history index of the arch whose neighbours are queued
        self._explored: set[int] = set()  # row hashes of archs whose neighbourhood is done
        if len(self.objectives) > 1:
            pareto_tools()

    def _order(self, F: np.ndarray, G: np.ndarray) -> np.ndarray:
        return rank_key(F, G) if len(self.objectives) == 1 else pareto_order(F, G)

    def _propose(self, n: int) -> np.ndarray:
        if self._centre is not None:  # the previous neighbourhood ran out without an improvement
            self._explored.add(int(row_hash(self.history.X[self._centre][None])[0]))
            self._centre = None
        if self.history.n >= self.n_initial:
            hashes = row_hash(self.history.X)
            for i in self._order(self.history.F, self.history.G):
                if int(hashes[i]) not in self._explored:
                    neighbours = self._neighbours(self.history.X[i])
                    if len(neighbours):
                        self._centre = int(i)
                        return neighbours
                    self._explored.add(int(hashes[i]))
        return self.sample_feasible(self.n_initial, new=True)  # start, or restart

    def _neighbours(self, row: np.ndarray) -> np.ndarray:
        """Every arch one choice away from ``row``, new and within cheap constraints, shuffled."""
        space = self.space
        active = space.active_mask(row[None])[0]
        nb = space.n_blocks
        changes = []
        for col in range(space.n_columns):
            if col < 2 * nb and not active[col % nb]:
                continue  # an inactive block's choices do not change the network
            kind, _ = space.column_name(col)
            for value in space.choices(kind):
                if value != row[col]:
                    changes.append((col, value))
        out = np.repeat(row[None], len(changes), axis=0)
        cols = np.array([c for c, _ in changes], dtype=np.int64)
        out[np.arange(len(changes)), cols] = [v for _, v in changes]
        out = space.normalise(out)
        out = out[self.cheap_ok(out) & self.seen.new(out)]
        return out[self.rng.permutation(len(out))]

    def _told(self, X: np.ndarray, F: np.ndarray, G: np.ndarray) -> None:
        if self._centre is None:
            return
        c = self._centre
        Fc, cvc = self.history.F[c], violation(self.history.G[c][None])[0]
        cv = violation(G)
        first = self.history.n - len(X)
        if cvc > 0:
            better = cv < cvc
        else:
            le = (F <= Fc).all(axis=1)
            better = (cv <= 0) & le & (F < Fc).any(axis=1)
            if len(self.objectives) > 1:
                # Pareto local search: a neighbour that joins the front of everything told so far
                # also moves the search (the centre stays unexplored, to be resumed later).
                feasible = np.flatnonzero(violation(self.history.G) <= 0)
                front = np.zeros(self.history.n, dtype=bool)
                front[feasible[non_dominated(self.history.F[feasible])]] = True
                better |= front[first:]
        if better.any():
            # Move to the best improving arch; its neighbourhood replaces the current one.
            idx = np.flatnonzero(better)
            best = idx[self._order(F[idx], G[idx])[0]]
            self._centre = None
            self.drop_queue()
            neighbours = self._neighbours(self.history.X[first + best])
            if len(neighbours):
                self._centre = first + int(best)
                self._queue = neighbours
