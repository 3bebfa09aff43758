"""Regularized (aging) evolution (Real et al., AAAI 2019) with Pareto-rank tournaments, for several objectives.

The population is a queue of the ``population_size`` most recently evaluated archs, first filled
with random feasible archs. Each child is a mutation of a tournament winner: ``sample_size``
members drawn at random, the best by non-dominated rank (then crowding distance, then
constraint violation; one objective: simply the best value) wins. Every evaluated child joins the
queue and the oldest member leaves it, whatever its quality: the "aging" that regularizes the
search. Several children per batch are drawn from the same population (the asynchronous
variant of the paper). Children proposed or evaluated before are made again, since every
evaluation costs budget.
"""

from __future__ import annotations

import numpy as np
from ofa_bench_strategies._base import ArrayStrategy, pareto_order, pareto_tools, rank_key

from ofa_bench.errors import OfaBenchError

__all__ = ["RegularizedEvolution"]


class RegularizedEvolution(ArrayStrategy):
    """Aging evolution with Pareto-rank tournament selection.

    Args:
        population_size: Archs in the aging population (P); the first P evaluations are random.
        sample_size: Members per tournament (S).
        mutate_prob: Probability of resampling each choice of the parent (the resolution included).
    """

    name = "regularized-evolution"

    def __init__(self, *, population_size: int = 50, sample_size: int = 10, mutate_prob: float = 0.1) -> None:
        if int(population_size) < 2:
            raise OfaBenchError(f"{self.name}: population_size must be >= 2; got {population_size}")
        if not 1 <= int(sample_size) <= int(population_size):
            raise OfaBenchError(f"{self.name}: sample_size must be from 1 to population_size; got {sample_size}")
        if not 0.0 < float(mutate_prob) <= 1.0:
            raise OfaBenchError(f"{self.name}: mutate_prob must be in (0, 1]; got {mutate_prob}")
        self.population_size = int(population_size)
        self.sample_size = int(sample_size)
        self.mutate_prob = float(mutate_prob)

    def random_start(self, budget: int) -> int:
        """The first population is uniform random archs."""
        return min(self.population_size, budget)

    def _init(self) -> None:
        pareto_tools()  # fail early when pymoo is missing
        empty = np.empty((0, self.space.n_columns), np.int64)
        self._population = (empty, np.empty((0, len(self.objectives))), np.empty((0, len(self.constraints))))
        self._started = False

    def _told(self, X: np.ndarray, F: np.ndarray, G: np.ndarray) -> None:
        # Youngest last; the oldest leave once the queue is longer than the population size.
        joined = tuple(np.concatenate([old, new]) for old, new in zip(self._population, (X, F, G)))
        self._population = tuple(part[-self.population_size :] for part in joined)

    def _ranks(self, F: np.ndarray, G: np.ndarray) -> np.ndarray:
        """Position of each member in the selection order (0 best)."""
        order = pareto_order(F, G) if F.shape[1] > 1 else rank_key(F, G)
        ranks = np.empty(len(order), dtype=np.int64)
        ranks[order] = np.arange(len(order))
        return ranks

    def _propose(self, n: int) -> np.ndarray:
        X, F, G = self._population
        if not self._started or len(X) == 0:
            self._started = True
            return self.sample_feasible(self.population_size, new=True)
        ranks = self._ranks(F, G)
        rng = self.rng
        size = min(self.sample_size, len(X))

        def make(slots: np.ndarray, attempt: int) -> np.ndarray:
            drawn = np.stack([rng.choice(len(X), size=size, replace=False) for _ in range(len(slots))])
            winners = drawn[np.arange(len(slots)), ranks[drawn].argmin(axis=1)]
            return self.space.mutate_array(X[winners], self.mutate_prob, rng)

        return self.until_ok(make, max(1, n), new=True)
