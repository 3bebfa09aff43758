"""Surrogate-assisted search in the manner of MSuNAS (Lu et al., ECCV 2020).

After a random start, every iteration fits a predictor plug-in to each expensive column among
the objectives and constraints (accuracy, a measured latency) on the archs evaluated so far,
runs pymoo's NSGA-II on the predicted values together with the exact analytic columns (MACs,
params and their proxies), and proposes the most promising and diverse new archs of its final
population: by predicted non-dominated rank, then by crowding distance, which spreads them along
the predicted front. Only those are evaluated for real.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from ofa_bench_strategies._base import ArrayStrategy, pareto_order, rank_key
from ofa_bench_strategies.pymoo_operators import ArchCrossover, ArchMutation, CheapRepair
from pymoo.algorithms.moo.nsga2 import NSGA2 as _PymooNSGA2
from pymoo.core.problem import Problem
from pymoo.optimize import minimize

from ofa_bench.errors import OfaBenchError
from ofa_bench.objectives import ANALYTIC_COLUMNS, analytic_columns, constraint_matrix, objective_matrix
from ofa_bench.plugins import registry
from ofa_bench.plugins.interfaces import Predictor

__all__ = ["SurrogateAssisted"]

#: The default predictor's parameters: a tenth of its default trees, at twice the step size.
_QUICK_GBDT = {"n_estimators": 100, "learning_rate": 0.1}


class SurrogateAssisted(ArrayStrategy):
    """MSuNAS-style search: predictor fits, NSGA-II on predictions, real evaluations for the best few.

    Args:
        predictor: Predictor plug-in name or instance (cloned per expensive column).
        predictor_params: Parameters when ``predictor`` is a name; default for ``gbdt``:
            ``{"n_estimators": 100, "learning_rate": 0.1}`` so a refit per batch stays quick.
        n_initial: Random archs evaluated before the first fit.
        batch: New archs proposed per iteration (one refit per batch).
        generations: NSGA-II generations on the predictor per iteration.
        pop_size: NSGA-II population on the predictor; every arch it visits is a candidate.
        mutate_prob: Probability of resampling each choice in NSGA-II's mutation.
    """

    name = "surrogate"

    def __init__(
        self,
        *,
        predictor: str | Predictor = "gbdt",
        predictor_params: Mapping[str, Any] | None = None,
        n_initial: int = 50,
        batch: int = 50,
        generations: int = 10,
        pop_size: int = 50,
        mutate_prob: float = 0.1,
    ) -> None:
        limits = {"n_initial": (n_initial, 2), "batch": (batch, 1), "generations": (generations, 1)}
        for key, (value, low) in {**limits, "pop_size": (pop_size, 4)}.items():
            if int(value) < low:
                raise OfaBenchError(f"surrogate: {key} must be >= {low}; got {value}")
        self.predictor = predictor
        if predictor_params is None and predictor == "gbdt":
            predictor_params = _QUICK_GBDT
        self.predictor_params = dict(predictor_params or {})
        self.n_initial = int(n_initial)
        self.batch = int(batch)
        self.generations = int(generations)
        self.pop_size = int(pop_size)
        self.mutate_prob = float(mutate_prob)

    #: What the NSGA-II operators borrowed from :mod:`ofa_bench_strategies.nsga2` read.
    dedupe = False

    def random_start(self, budget: int) -> int:
        """The first ``n_initial`` archs are uniform random, before the first model is fitted."""
        return min(self.n_initial, budget)

    def preferred_batch_size(self) -> int:
        """One iteration."""
        return self.batch

    def _init(self) -> None:
        columns = [o.column for o in self.objectives] + [c.column for c in self.constraints]
        self.expensive = [c for c in dict.fromkeys(columns) if c not in ANALYTIC_COLUMNS]
        self.cheap_columns = [c for c in dict.fromkeys(columns) if c in ANALYTIC_COLUMNS]
        self._columns: dict[str, np.ndarray] = {c: np.empty(0) for c in self.expensive}
        self.models_: dict[str, Predictor] = {}

    def _new_predictor(self) -> Predictor:
        if isinstance(self.predictor, Predictor):
            if self.predictor_params:
                raise OfaBenchError("surrogate: predictor_params apply only when predictor is a name")
            return type(self.predictor)(**self.predictor.get_params(deep=False))
        return registry.create("predictor", self.predictor, **self.predictor_params)

    def _told(self, X: np.ndarray, F: np.ndarray, G: np.ndarray) -> None:
        # Keep the raw measured values of the expensive columns, to fit the predictors on.
        n = len(X)
        for column in self.expensive:
            values = self._raw(column, F, G, n)
            self._columns[column] = np.concatenate([self._columns[column], values])

    def _raw(self, column: str, F: np.ndarray, G: np.ndarray, n: int) -> np.ndarray:
        for j, o in enumerate(self.objectives):
            if o.column == column:
                return -F[:, j] if o.direction == "max" else F[:, j]
        for j, c in enumerate(self.constraints):
            if c.column == column:
                return G[:, j] + c.upper
        return np.full(n, np.nan)

    def _propose(self, n: int) -> np.ndarray:
        if self.history.n < self.n_initial:
            return self.sample_feasible(self.n_initial - self.history.n, new=True)
        if not self._fit():
            return self.sample_feasible(self.batch, new=True)  # too few measured values to fit on yet
        X, F, G = self._search()
        fresh = self.seen.new(X)
        X, F, G = X[fresh], F[fresh], G[fresh]
        chosen = X[self._order(F, G)[: self.batch]]
        if len(chosen) < self.batch:
            chosen = np.concatenate([chosen, self.sample_feasible(self.batch - len(chosen), new=True)])
        return chosen

    def _order(self, F: np.ndarray, G: np.ndarray) -> np.ndarray:
        """Rows best first: by the objective alone, or by Pareto rank and crowding."""
        return rank_key(F, G) if len(self.objectives) == 1 else pareto_order(F, G)

    def _fit(self) -> bool:
        X = self.history.X
        for column in self.expensive:
            y = self._columns[column]
            ok = np.isfinite(y)
            if ok.sum() < 2:
                return False
            model = self._new_predictor()
            params = model.get_params(deep=False)
            if "space" in params and params["space"] is None:
                model.set_params(space=self.space)  # the built-ins then take batch arrays, no Arch objects
            model.fit(self._inputs(model, X[ok]), y[ok])
            self.models_[column] = model
        return True

    def _inputs(self, model: Predictor, X: np.ndarray) -> Any:
        """Batch arrays for predictors that declare they take them, archs for the rest."""
        return X if getattr(model, "accepts_arrays", False) else self.space.from_array(X)

    def predict_records(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Predicted expensive columns and exact analytic ones for a batch array."""
        records = analytic_columns(self.space, X, self.cheap_columns, validate=False)
        for column, model in self.models_.items():
            values = model.predict(self._inputs(model, X))
            records[column] = np.asarray(values, dtype=np.float64).reshape(len(X))
        return records

    def _search(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """NSGA-II on the predictors, seeded with the best evaluated archs; every arch it visited."""
        start = self.history.X[self._order(self.history.F, self.history.G)[: self.pop_size]]
        if len(start) < self.pop_size:
            start = np.concatenate([start, self.sample_feasible(self.pop_size - len(start))])
        problem = _Predicted(self)
        algorithm = _PymooNSGA2(
            pop_size=self.pop_size,
            sampling=start,
            crossover=ArchCrossover(self, 0.9),
            mutation=ArchMutation(self),
            repair=CheapRepair(self),
            eliminate_duplicates=True,
        )
        minimize(problem, algorithm, ("n_gen", self.generations), seed=self.seed_for(), verbose=False)
        return np.concatenate(problem.X), np.concatenate(problem.F), np.concatenate(problem.G)


class _Predicted(Problem):
    """The search problem with predicted expensive columns and exact analytic ones."""

    def __init__(self, strategy: SurrogateAssisted) -> None:
        n = strategy.space.n_columns
        super().__init__(
            n_var=n,
            n_obj=len(strategy.objectives),
            n_ieq_constr=len(strategy.constraints),
            xl=np.zeros(n),
            xu=np.ones(n),
            vtype=int,
        )
        self.strategy = strategy
        self.X: list[np.ndarray] = []  # every batch evaluated, with its predicted F and G
        self.F: list[np.ndarray] = []
        self.G: list[np.ndarray] = []

    def _evaluate(self, X: np.ndarray, out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        s = self.strategy
        X = np.asarray(X, dtype=np.int64)
        records = s.predict_records(X)
        F = objective_matrix(records, s.objectives, len(X))
        G = constraint_matrix(records, s.constraints, len(X))
        self.X.append(X)
        self.F.append(F)
        self.G.append(G)
        out["F"] = np.minimum(F, 1e30)
        if s.constraints:
            out["G"] = np.minimum(G, 1e30)
