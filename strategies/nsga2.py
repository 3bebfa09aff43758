"""NSGA-II from pymoo, driven through its ask/tell interface with operators that act on archs.

pymoo holds the population, the binary tournament, the non-dominated sorting and the crowding
survival; this module gives it a sampling, a crossover and a mutation over batch arrays of choice
values (never a float relaxation), a repair that keeps proposals within constraints on analytic
columns, and a duplicate check against every arch proposed before. Constraints are pymoo
inequality constraints ``value - upper <= 0``; measured ones (accuracy, latency) are learnt
from what is told.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2 as _PymooNSGA2
from pymoo.core.crossover import Crossover
from pymoo.core.duplicate import DuplicateElimination
from pymoo.core.evaluator import Evaluator
from pymoo.core.mutation import Mutation
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.core.repair import Repair
from pymoo.core.sampling import Sampling
from pymoo.core.termination import NoTermination
from pymoo.problems.static import StaticProblem

from ofa_bench.errors import OfaBenchError
from strategies._base import ArrayStrategy, row_hash

__all__ = ["NSGA2"]

#: Stand-in for a failed or unknown value: pymoo's crowding distance needs finite numbers.
_WORST = 1e30


class NSGA2(ArrayStrategy):
    """pymoo's NSGA-II over archs: rank-and-crowding survival, binary tournaments, arch operators.

    Args:
        pop_size: Population size; the first batch is this many random archs.
        n_offsprings: Children per generation (default: ``pop_size``).
        mutate_prob: Probability of resampling each choice of a child.
        crossover_prob: Probability that a pair of parents is crossed (else copied, then mutated).
        dedupe: Never propose an arch proposed or told before.
    """

    name = "nsga2"

    def __init__(
        self,
        *,
        pop_size: int = 40,
        n_offsprings: int | None = None,
        mutate_prob: float = 0.1,
        crossover_prob: float = 0.9,
        dedupe: bool = True,
    ) -> None:
        if int(pop_size) < 2:
            raise OfaBenchError(f"nsga2: pop_size must be >= 2; got {pop_size}")
        for key, value in (("mutate_prob", mutate_prob), ("crossover_prob", crossover_prob)):
            if not 0.0 <= float(value) <= 1.0:
                raise OfaBenchError(f"nsga2: {key} must be in [0, 1]; got {value}")
        self.pop_size = int(pop_size)
        self.n_offsprings = None if n_offsprings is None else int(n_offsprings)
        self.mutate_prob = float(mutate_prob)
        self.crossover_prob = float(crossover_prob)
        self.dedupe = bool(dedupe)

    def preferred_batch_size(self) -> int:
        """One generation."""
        return self.n_offsprings or self.pop_size

    def _init(self) -> None:
        n = self.space.n_columns
        low = np.zeros(n)
        self.problem = Problem(
            n_var=n, n_obj=len(self.objectives), n_ieq_constr=len(self.constraints), xl=low, xu=low + 1, vtype=int
        )
        self.algorithm = _PymooNSGA2(
            pop_size=self.pop_size,
            n_offsprings=self.n_offsprings,
            sampling=_ArchSampling(self),
            crossover=_ArchCrossover(self, self.crossover_prob),
            mutation=_ArchMutation(self),
            repair=_CheapRepair(self),
            eliminate_duplicates=_NoRepeats(self) if self.dedupe else False,
        )
        self.algorithm.setup(self.problem, termination=NoTermination(), seed=self.seed_for(), verbose=False)
        self._batches: list[dict[str, Any]] = []  # asked, not yet fully told, in ask order
        self._where: dict[int, deque[tuple[dict[str, Any], int]]] = {}

    def _propose(self, n: int) -> np.ndarray:
        pop = self.algorithm.ask()
        self.algorithm.termination.force_termination = False  # an empty mating round is not the end
        if pop is None or len(pop) == 0:
            return np.empty((0, self.space.n_columns), dtype=np.int64)
        X = np.asarray(pop.get("X"), dtype=np.int64)
        n = len(X)
        F, G = np.full((n, len(self.objectives)), np.nan), np.zeros((n, len(self.constraints)))
        batch = {"pop": pop, "F": F, "G": G, "left": n}
        self._batches.append(batch)
        for i, h in enumerate(row_hash(X).tolist()):
            self._where.setdefault(h, deque()).append((batch, i))
        return X

    def _told(self, X: np.ndarray, F: np.ndarray, G: np.ndarray) -> None:
        foreign = []
        for i, h in enumerate(row_hash(X).tolist()):
            slots = self._where.get(h)
            if not slots:
                foreign.append(i)
                continue
            batch, pos = slots.popleft()
            if not slots:
                del self._where[h]
            batch["F"][pos], batch["G"][pos] = F[i], G[i]
            batch["left"] -= 1
        if foreign:  # archs pymoo did not ask for (a warm start): told as a population of their own
            idx = np.array(foreign)
            self._advance(Population.new("X", X[idx]), F[idx], G[idx])
        # pymoo learns generation by generation, in the order it asked.
        while self._batches and self._batches[0]["left"] == 0:
            batch = self._batches.pop(0)
            self._advance(batch["pop"], batch["F"], batch["G"])

    def _advance(self, pop: Population, F: np.ndarray, G: np.ndarray) -> None:
        values = {"F": np.minimum(F, _WORST)}
        if self.constraints:
            values["G"] = np.minimum(G, _WORST)
        Evaluator().eval(StaticProblem(self.problem, **values), pop)
        self.algorithm.tell(infills=pop)


class _ArchSampling(Sampling):
    """Uniform archs meeting the cheap constraints."""

    def __init__(self, strategy: NSGA2) -> None:
        super().__init__()
        self.strategy = strategy

    def _do(self, problem: Problem, n_samples: int, *args: Any, random_state: Any = None, **kwargs: Any) -> np.ndarray:
        return self.strategy.sample_feasible(n_samples, rng=random_state, new=self.strategy.dedupe)


class _ArchCrossover(Crossover):
    """Two children per pair of parents, each a uniform crossover (see ``SearchSpace.crossover_array``)."""

    def __init__(self, strategy: NSGA2, prob: float) -> None:
        super().__init__(n_parents=2, n_offsprings=2, prob=prob)
        self.strategy = strategy

    def _do(self, problem: Problem, X: np.ndarray, *args: Any, random_state: Any = None, **kwargs: Any) -> np.ndarray:
        a, b = np.asarray(X[0], dtype=np.int64), np.asarray(X[1], dtype=np.int64)
        space = self.strategy.space
        return np.stack([space.crossover_array(a, b, random_state), space.crossover_array(b, a, random_state)])


class _ArchMutation(Mutation):
    """Each choice resampled with the strategy's ``mutate_prob``."""

    def __init__(self, strategy: NSGA2) -> None:
        super().__init__(prob=1.0)
        self.strategy = strategy

    def _do(self, problem: Problem, X: np.ndarray, *args: Any, random_state: Any = None, **kwargs: Any) -> np.ndarray:
        s = self.strategy
        return s.space.mutate_array(np.asarray(X, dtype=np.int64), s.mutate_prob, random_state)


class _CheapRepair(Repair):
    """Children breaking a constraint on an analytic column are mutated until they meet it."""

    def __init__(self, strategy: NSGA2) -> None:
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


class _NoRepeats(DuplicateElimination):
    """Duplicates within a batch, of another population, or of any arch proposed or told before."""

    def __init__(self, strategy: NSGA2) -> None:
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
