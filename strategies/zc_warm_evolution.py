"""Regularized evolution whose first population is the best of many proxy-scored random archs.

Zero-cost proxies rank archs for a fraction of an evaluation's cost, so the first population of
aging evolution (Real et al., AAAI 2019), uniform random archs in the plain strategy, is instead
the ``population_size`` best of ``n_candidates`` random feasible archs by a zero-cost proxy (the
``zc`` predictor plug-in, docs/zero_cost.md), as in Abdelfattah et al. (ICLR 2021, section 5,
"warmup"). Everything after the first population is plain ``regularized-evolution``.

The proxy's cost is not an evaluation, so the loop's budget does not see it: the strategy keeps
``proxy_seconds_`` (CPU seconds spent scoring; archs already scored in this process are memoised
and cost nothing again) and ``proxy_archs_`` for whoever counts search cost
(scripts/zero_cost_search.py charges it as evaluations at the benchmark's measured seconds per arch).
"""

from __future__ import annotations

import time

import numpy as np
from ofa_bench_strategies.regularized_evolution import RegularizedEvolution

from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins import registry

__all__ = ["ZCWarmEvolution"]


class ZCWarmEvolution(RegularizedEvolution):
    """Aging evolution warm-started from the proxy's best ``population_size`` of ``n_candidates`` archs.

    Args:
        population_size, sample_size, mutate_prob: As for ``regularized-evolution``.
        proxy: The ``zc`` proxy (``nwot``, ``synflow``, ... or ``flops``/``params``).
        n_candidates: Random feasible archs scored by the proxy (>= ``population_size``).
        weights, benchmark, batch_size, proxy_seed: The ``zc`` predictor's parameters
            (``benchmark=None``: random stand-in weights and data, for tests only).
    """

    name = "zc-evolution"

    def __init__(
        self,
        *,
        population_size: int = 50,
        sample_size: int = 10,
        mutate_prob: float = 0.1,
        proxy: str = "nwot",
        n_candidates: int = 500,
        weights: str = "supernet",
        benchmark: str | None = None,
        batch_size: int = 64,
        proxy_seed: int = 0,
    ) -> None:
        super().__init__(population_size=population_size, sample_size=sample_size, mutate_prob=mutate_prob)
        if isinstance(n_candidates, bool) or not isinstance(n_candidates, int) or n_candidates < self.population_size:
            raise OfaBenchError(
                f"{self.name}: n_candidates must be an integer >= population_size ({self.population_size}); "
                f"got {n_candidates!r}"
            )
        self.proxy = proxy
        self.n_candidates = n_candidates
        self.weights = weights
        self.benchmark = benchmark
        self.batch_size = batch_size
        self.proxy_seed = proxy_seed

    def _predictor(self):
        return registry.create(
            "predictor", "zc", proxy=self.proxy, weights=self.weights, benchmark=self.benchmark,
            batch_size=self.batch_size, seed=self.proxy_seed,
        )  # fmt: skip

    def random_start(self, budget: int) -> int:
        """No evaluation goes to uniform random archs: the first population is proxy-selected."""
        return 0

    def _init(self) -> None:
        super()._init()
        self.proxy_seconds_ = 0.0
        self.proxy_archs_ = 0

    def _propose(self, n: int) -> np.ndarray:
        if self._started and len(self._population[0]) > 0:
            return super()._propose(n)
        self._started = True
        candidates = self.sample_feasible(self.n_candidates, new=True)
        start = time.process_time()
        predictor = self._predictor().fit(candidates[:2], [0.0, 0.0], space=self.space)
        scores = predictor.predict(candidates)
        self.proxy_seconds_ += time.process_time() - start
        self.proxy_archs_ += len(candidates)
        best = np.argsort(-scores, kind="stable")[: self.population_size]
        return candidates[best]
