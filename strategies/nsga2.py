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
from ofa_bench_strategies._base import ArrayStrategy, row_hash
from ofa_bench_strategies.pymoo_operators import ArchCrossover, ArchMutation, ArchSampling, CheapRepair, NoRepeats
from pymoo.algorithms.moo.nsga2 import NSGA2 as _PymooNSGA2
from pymoo.core.evaluator import Evaluator
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.core.termination import NoTermination
from pymoo.problems.static import StaticProblem

from ofa_bench.errors import OfaBenchError

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

    def random_start(self, budget: int) -> int:
        """The first population is uniform random archs."""
        return min(self.pop_size, budget)

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
            sampling=ArchSampling(self),
            crossover=ArchCrossover(self, self.crossover_prob),
            mutation=ArchMutation(self),
            repair=CheapRepair(self),
            eliminate_duplicates=NoRepeats(self) if self.dedupe else False,
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
