"""pymoo operators over batch arrays of archs, shared by the strategies built on pymoo.

Each operator holds the :class:`~ofa_bench_strategies._base.ArrayStrategy` it serves and uses its space's
batch operators (sampling, crossover, mutation) and its cheap-constraint checks, so a pymoo
algorithm searches the space exactly as the strategy's own code would.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ofa_bench_strategies._base import ArrayStrategy, row_hash
from pymoo.core.crossover import Crossover
from pymoo.core.duplicate import DuplicateElimination
from pymoo.core.mutation import Mutation
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.core.repair import Repair
from pymoo.core.sampling import Sampling

__all__ = ["ArchCrossover", "ArchMutation", "ArchSampling", "CheapRepair", "NoRepeats"]


class ArchSampling(Sampling):
    """Uniform archs meeting the cheap constraints."""

    def __init__(self, strategy: ArrayStrategy) -> None:
        super().__init__()
        self.strategy = strategy

    def _do(self, problem: Problem, n_samples: int, *args: Any, random_state: Any = None, **kwargs: Any) -> np.ndarray:
        return self.strategy.sample_feasible(n_samples, rng=random_state, new=self.strategy.dedupe)


class ArchCrossover(Crossover):
    """Two children per pair of parents, each a uniform crossover (see ``SearchSpace.crossover_array``)."""

    def __init__(self, strategy: ArrayStrategy, prob: float) -> None:
        super().__init__(n_parents=2, n_offsprings=2, prob=prob)
        self.strategy = strategy

    def _do(self, problem: Problem, X: np.ndarray, *args: Any, random_state: Any = None, **kwargs: Any) -> np.ndarray:
        a, b = np.asarray(X[0], dtype=np.int64), np.asarray(X[1], dtype=np.int64)
        space = self.strategy.space
        return np.stack([space.crossover_array(a, b, random_state), space.crossover_array(b, a, random_state)])


class ArchMutation(Mutation):
    """Each choice resampled with the strategy's ``mutate_prob``."""

    def __init__(self, strategy: ArrayStrategy) -> None:
        super().__init__(prob=1.0)
        self.strategy = strategy

    def _do(self, problem: Problem, X: np.ndarray, *args: Any, random_state: Any = None, **kwargs: Any) -> np.ndarray:
        s = self.strategy
        return s.space.mutate_array(np.asarray(X, dtype=np.int64), s.mutate_prob, random_state)


class CheapRepair(Repair):
    """Children breaking a constraint on an analytic column are mutated until they meet it."""

    def __init__(self, strategy: ArrayStrategy) -> None:
        super().__init__()
        self.strategy = strategy

    def _do(self, problem: Problem, X: np.ndarray, *args: Any, random_state: Any = None, **kwargs: Any) -> np.ndarray:
        s = self.strategy
        X = np.asarray(X, dtype=np.int64)
        bad = np.flatnonzero(~s.cheap_ok(X))
        if bad.size:
            rng = random_state if random_state is not None else s.rng
            X = X.copy()
            # Stronger mutations than the search's own, from the child that broke the limit.
            remake = lambda slots, attempt: s.space.mutate_array(X[bad[slots]], 0.3, rng)  # noqa: E731
            X[bad] = s.until_ok(remake, len(bad), False, rng)
        return X


class NoRepeats(DuplicateElimination):
    """Duplicates within a batch, of another population, or of any arch proposed or told before."""

    def __init__(self, strategy: ArrayStrategy) -> None:
        super().__init__()
        self.strategy = strategy

    def _do(self, pop: Population, other: Population | None, is_duplicate: np.ndarray) -> np.ndarray:
        hashes = row_hash(np.asarray(pop.get("X"), dtype=np.int64))
        if other is None:
            first = np.zeros(len(hashes), dtype=bool)
            first[np.unique(hashes, return_index=True)[1]] = True
            is_duplicate |= ~first | self.strategy.seen.contains(hashes)
        else:
            is_duplicate |= np.isin(hashes, row_hash(np.asarray(other.get("X"), dtype=np.int64)))
        return is_duplicate
