"""Random search: the baseline every strategy has to beat."""

from __future__ import annotations

import numpy as np
from ofa_bench_strategies._base import ArrayStrategy

__all__ = ["RandomSearch"]


class RandomSearch(ArrayStrategy):
    """Propose archs drawn uniformly from the search space, ignoring all feedback.

    Archs breaking a constraint on an analytic column (MACs, params, their proxy backends) are
    rejected before they are proposed, so every evaluation is of a candidate that can qualify.

    Args:
        dedupe: Draw without replacement (never propose an arch twice).
    """

    name = "random"

    def __init__(self, *, dedupe: bool = True) -> None:
        self.dedupe = bool(dedupe)

    def random_start(self, budget: int) -> int:
        """Every evaluation is a uniform random arch."""
        return budget

    def preferred_batch_size(self) -> int:
        """Feedback is ignored, so any batch is as good; a large one keeps the loop vectorised."""
        return 100

    def _propose(self, n: int) -> np.ndarray:
        return self.sample_feasible(n, new=self.dedupe)
