"""A random forest (scikit-learn) as an accuracy predictor, with the spread of its trees as uncertainty."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.ensemble import RandomForestRegressor

from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins.encoding import Encoder
from ofa_bench.plugins.predictor_base import ArchRegressor
from ofa_bench.space import SearchSpace

__all__ = ["RandomForestPredictor"]


class RandomForestPredictor(ArchRegressor):
    """Random forest regression on (by default) ordinal encodings.

    Args:
        encoder: ``"ordinal"`` (default), ``"onehot"`` or a callable ``(array, space) -> features``.
        n_estimators: Trees.
        max_features: Share of features each split considers.
        min_samples_leaf: Fewest archs per leaf.
        seed: Random state of bootstrapping and feature sampling.
        space: Search space when ``fit`` gets a batch array instead of archs.
    """

    name: ClassVar[str] = "rf"
    #: Model family, for the suite check that an oracle is not a competitor's own model class.
    family: ClassVar[str] = "trees"
    trusted_types: ClassVar[tuple[str, ...]] = ("sklearn.tree._tree.Tree",)

    def __init__(
        self,
        *,
        encoder: Encoder = "ordinal",
        n_estimators: int = 300,
        max_features: float = 0.33,
        min_samples_leaf: int = 3,
        seed: int | None = 0,
        space: str | SearchSpace | None = None,
    ) -> None:
        self.encoder = encoder
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.seed = seed
        self.space = space

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self.model_ = RandomForestRegressor(
            n_estimators=self.n_estimators,
            max_features=self.max_features,
            min_samples_leaf=self.min_samples_leaf,
            random_state=self.seed,
        ).fit(X, y)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X)

    def _predict_std(self, X: np.ndarray) -> np.ndarray:
        """Standard deviation of the trees' predictions for each arch."""
        return np.stack([tree.predict(X) for tree in self.model_.estimators_]).std(axis=0)

    def _state(self) -> dict[str, Any]:
        return {"model": self.model_}

    def _load_state(self, state: dict[str, Any]) -> None:
        if not isinstance(state["model"], RandomForestRegressor):
            raise OfaBenchError(f"expected a RandomForestRegressor, got {type(state['model']).__name__}")
        self.model_ = state["model"]
