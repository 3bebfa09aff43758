"""Evolution as in OFA's ``EvolutionFinder`` (truncation selection), single-objective and Pareto.

``ofa-evolution`` optimises the first objective only (under constraints), as OFA does, so a
suite accepts it only with one objective (:attr:`OFAEvolution.max_objectives`); for several
objectives use ``regularized-evolution`` (:mod:`ofa_bench_strategies.regularized_evolution`) or
``pareto-evolution``.

Each generation keeps the best ``parent_ratio`` of the population as parents, then fills a new
population with mutated parents (``mutation_ratio`` of it) and uniform crossovers of two parents;
the next parents are the best of parents and children together. Defaults are OFA's: population
100, parent ratio 0.25, mutation ratio 0.5, mutate probability 0.1 per choice and 0.5 for the
resolution. Children that break a constraint on an analytic column are made again, as OFA does;
so is the initial random population. Unlike OFA, children already evaluated are made again too
(``dedupe``), because here every evaluation costs budget.
"""

from __future__ import annotations

import numpy as np
from ofa_bench_strategies._base import ArrayStrategy, pareto_order, pareto_tools, rank_key

from ofa_bench.errors import OfaBenchError

__all__ = ["OFAEvolution", "ParetoEvolution"]

#: Attempts with the same parents before a child slot draws new ones.
_SAME_PARENTS = 3


class OFAEvolution(ArrayStrategy):
    """OFA's evolutionary search (truncation selection) on the first objective, under constraints.

    Args:
        population_size: Archs per generation (OFA: 100).
        parent_ratio: Share of the population kept as parents (OFA: 0.25).
        mutation_ratio: Share of children made by mutation; the rest by crossover (OFA: 0.5).
        mutate_prob: Probability of resampling each kernel, expand and depth choice (OFA: 0.1).
        resolution_mutate_prob: Probability of resampling the resolution (OFA: 0.5).
        dedupe: Make again children that were proposed or told before.
    """

    name = "ofa-evolution"
    #: Objectives it optimises: the first one only.
    max_objectives: int | None = 1

    def __init__(
        self,
        *,
        population_size: int = 100,
        parent_ratio: float = 0.25,
        mutation_ratio: float = 0.5,
        mutate_prob: float = 0.1,
        resolution_mutate_prob: float = 0.5,
        dedupe: bool = True,
    ) -> None:
        if int(population_size) < 2:
            raise OfaBenchError(f"{self.name}: population_size must be >= 2; got {population_size}")
        for key, value in (
            ("parent_ratio", parent_ratio),
            ("mutation_ratio", mutation_ratio),
            ("mutate_prob", mutate_prob),
            ("resolution_mutate_prob", resolution_mutate_prob),
        ):
            if not 0.0 <= float(value) <= 1.0:
                raise OfaBenchError(f"{self.name}: {key} must be in [0, 1]; got {value}")
        self.population_size = int(population_size)
        self.parent_ratio = float(parent_ratio)
        self.mutation_ratio = float(mutation_ratio)
        self.mutate_prob = float(mutate_prob)
        self.resolution_mutate_prob = float(resolution_mutate_prob)
        self.dedupe = bool(dedupe)

    def random_start(self, budget: int) -> int:
        """The first population is uniform random archs."""
        return min(self.population_size, budget)

    def preferred_batch_size(self) -> int:
        """One generation."""
        return self.population_size

    @property
    def n_parents(self) -> int:
        """Parents kept per generation (OFA rounds, and keeps at least one)."""
        return max(1, int(round(self.parent_ratio * self.population_size)))

    def _init(self) -> None:
        n_cols = self.space.n_columns
        empty = np.empty((0, n_cols), np.int64)
        self._pool = (empty, np.empty((0, len(self.objectives))), np.empty((0, len(self.constraints))))
        self._resolutions = np.asarray(self.space.resolutions, dtype=np.int64)

    def _told(self, X: np.ndarray, F: np.ndarray, G: np.ndarray) -> None:
        # Parents plus every child told since the last generation compete for the next parents.
        self._pool = tuple(np.concatenate([old, new]) for old, new in zip(self._pool, (X, F, G)))

    def _order(self, F: np.ndarray, G: np.ndarray) -> np.ndarray:
        """Indices of the pool, best first."""
        return rank_key(F, G)

    def _propose(self, n: int) -> np.ndarray:
        X, F, G = self._pool
        if len(X) == 0:
            return self.sample_feasible(self.population_size, new=self.dedupe)
        keep = self._order(F, G)[: self.n_parents]
        self._pool = (X[keep], F[keep], G[keep])
        parents = X[keep]
        rng = self.rng
        n_mutate = int(round(self.mutation_ratio * self.population_size))
        size = self.population_size
        first = rng.integers(len(parents), size=size)
        second = rng.integers(len(parents), size=size)

        def make(idx: np.ndarray, attempt: int) -> np.ndarray:
            if attempt >= _SAME_PARENTS:
                # Parents whose children keep failing (too large, or repeats) are swapped for others.
                first[idx] = rng.integers(len(parents), size=len(idx))
                second[idx] = rng.integers(len(parents), size=len(idx))
            out = parents[first[idx]]
            # Slots come sorted, so the mutated ones are a prefix and the crossed ones the rest.
            k = int(np.searchsorted(idx, n_mutate))
            also: np.ndarray | bool | None = None  # crossed children to mutate as well
            if k < len(idx):
                a, b = out[k:], parents[second[idx[k:]]]
                children = self.space.crossover_array(a, b, rng)
                if self.dedupe:
                    # Converged parents cross into copies of themselves (evaluated already); those,
                    # and every retry, are mutated too, to get out.
                    also = (children == a).all(axis=1) | (children == b).all(axis=1) if attempt == 0 else True
                out[k:] = children
            if also is True:  # one mutation call for the whole round
                out = self.mutate(out)
            elif also is not None and also.any():
                rows = np.concatenate([np.ones(k, dtype=bool), also])
                out[rows] = self.mutate(out[rows])
            elif k:
                out[:k] = self.mutate(out[:k])
            return out

        return self.until_ok(make, size, new=self.dedupe)

    def mutate(self, parents: np.ndarray) -> np.ndarray:
        """OFA's mutation: each choice resampled with ``mutate_prob``, the resolution with its own."""
        rng = self.rng
        child = self.space.mutate_array(parents, self.mutate_prob, rng)
        fresh_r = self._resolutions[rng.integers(len(self._resolutions), size=len(parents))]
        child[:, -1] = np.where(rng.random(len(parents)) < self.resolution_mutate_prob, fresh_r, parents[:, -1])
        return child


class ParetoEvolution(OFAEvolution):
    """OFA-style evolution selecting parents by non-dominated rank and crowding, for several objectives.

    Takes the same parameters as :class:`OFAEvolution`.
    """

    name = "pareto-evolution"
    max_objectives = None

    def _init(self) -> None:
        super()._init()
        pareto_tools()

    def _order(self, F: np.ndarray, G: np.ndarray) -> np.ndarray:
        return pareto_order(F, G)
