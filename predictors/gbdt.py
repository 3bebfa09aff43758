"""Gradient-boosted trees (scikit-learn's HistGradientBoostingRegressor) as an accuracy predictor."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins.encoding import Encoder
from ofa_bench.plugins.predictor_base import ArchRegressor
from ofa_bench.space import SearchSpace

__all__ = ["GBDTPredictor"]


class GBDTPredictor(ArchRegressor):
    """Histogram gradient boosting on (by default) ordinal encodings, which trees split well.

    The defaults (small trees, small steps, no early stopping) suit archives of tens to
    hundreds of noisy measurements.

    Args:
        encoder: ``"ordinal"`` (default), ``"onehot"`` or a callable ``(array, space) -> features``.
        n_estimators: Boosting iterations.
        learning_rate: Shrinkage of each tree.
        max_leaf_nodes: Leaves per tree.
        min_samples_leaf: Fewest archs per leaf; small, as archives for predictors are small.
        l2_regularization: L2 penalty on leaf values.
        seed: Random state (used by the estimator's subsampling of bins).
        space: Search space when ``fit`` gets a batch array instead of archs.
    """

    name: ClassVar[str] = "gbdt"
    #: Model family, for the suite check that an oracle is not a competitor's own model class.
    family: ClassVar[str] = "trees"
    trusted_types: ClassVar[tuple[str, ...]] = ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",)

    def __init__(
        self,
        *,
        encoder: Encoder = "ordinal",
        n_estimators: int = 500,
        learning_rate: float = 0.03,
        max_leaf_nodes: int = 7,
        min_samples_leaf: int = 5,
        l2_regularization: float = 0.0,
        seed: int | None = 0,
        space: str | SearchSpace | None = None,
    ) -> None:
        self.encoder = encoder
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.seed = seed
        self.space = space

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self.model_ = HistGradientBoostingRegressor(
            max_iter=self.n_estimators,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,  # small archives: a held-out slice would cost more than it saves
            random_state=self.seed,
        ).fit(X, y)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X)

    def _state(self) -> dict[str, Any]:
        return {"model": self.model_}

    def _load_state(self, state: dict[str, Any]) -> None:
        if not isinstance(state["model"], HistGradientBoostingRegressor):
            raise OfaBenchError(f"expected a HistGradientBoostingRegressor, got {type(state['model']).__name__}")
        self.model_ = state["model"]

