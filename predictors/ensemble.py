"""An ensemble that picks or weights its member predictors by cross-validated Kendall tau.

NSGANetV2's adaptive switching fits several surrogates, scores each by the Kendall tau of its
cross-validated predictions and uses the best; ``mode="select"`` does that, ``mode="weighted"``
averages every member weighted by its (positive) tau instead. Either way every member is refitted
on all the data, so the spread of the members is there as ``predict_std``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import KFold

from ofa_bench.errors import OfaBenchError
from ofa_bench.metrics.ranking import kendall_tau
from ofa_bench.plugins import registry
from ofa_bench.plugins.interfaces import Predictor
from ofa_bench.plugins.predictor_base import ArchRegressor
from ofa_bench.space import Arch, SearchSpace

__all__ = ["MODES", "EnsemblePredictor"]

#: How members combine: the best one, or all weighted by tau.
MODES: tuple[str, ...] = ("select", "weighted")


class EnsemblePredictor(ArchRegressor):
    """Adaptive switching (or tau-weighted averaging) over member predictors.

    Args:
        members: Member predictors: registry names (a comma-separated string or a sequence) or
            unfitted :class:`Predictor` instances (cloned before fitting).
        mode: ``"select"`` (the member with the best cross-validated tau) or ``"weighted"``.
        cv: Cross-validation folds (fewer when there are fewer than ``2 * cv`` archs).
        seed: Seed of the folds, and of every member that takes a ``seed`` parameter.
        space: Search space when ``fit`` gets a batch array instead of archs.
    """

    name: ClassVar[str] = "ensemble"

    def __init__(
        self,
        *,
        members: str | Sequence[str | Predictor] = ("gbdt", "rf", "gp"),
        mode: str = "select",
        cv: int = 3,
        seed: int | None = 0,
        space: str | SearchSpace | None = None,
    ) -> None:
        self.members = members
        self.mode = mode
        self.cv = cv
        self.seed = seed
        self.space = space

    def _new_members(self) -> list[Predictor]:
        specs = self.members.split(",") if isinstance(self.members, str) else list(self.members)
        if not specs:
            raise OfaBenchError("EnsemblePredictor needs at least one member")
        out = []
        for spec in specs:
            member = registry.create("predictor", spec.strip()) if isinstance(spec, str) else clone(spec)
            if not isinstance(member, Predictor):
                raise OfaBenchError(f"ensemble member {spec!r} is not a predictor name or Predictor instance")
            if "seed" in member.get_params(deep=False):
                member.set_params(seed=self.seed)
            out.append(member)
        return out

    def _fit_array(self, array: np.ndarray, y: np.ndarray, space: SearchSpace) -> None:
        if self.mode not in MODES:
            raise OfaBenchError(f"unknown ensemble mode {self.mode!r}; allowed: {', '.join(MODES)}")
        if isinstance(self.cv, bool) or not isinstance(self.cv, (int, np.integer)) or self.cv < 2:
            raise OfaBenchError(f"EnsemblePredictor cv must be an integer >= 2; got {self.cv!r}")
        members = self._new_members()
        archs = space.from_array(array)
        folds = KFold(min(self.cv, len(y) // 2) if len(y) >= 4 else 2, shuffle=True, random_state=self.seed)
        oof = np.zeros((len(members), len(y)))
        for train, test in folds.split(array):
            for i, member in enumerate(members):
                fold_model = clone(member).fit([archs[j] for j in train], y[train])
                oof[i, test] = _predict(fold_model, array[test], space)
        self.cv_tau_ = np.array([_tau(y, pred) for pred in oof])
        self.members_ = [member.fit(archs, y) for member in members]
        self.weights_ = _weights(self.cv_tau_, self.mode)

    def _predict_array(self, array: np.ndarray) -> np.ndarray:
        # Members with zero weight (all but one when selecting) are not asked at all.
        used = np.flatnonzero(self.weights_)
        return sum(self.weights_[i] * _predict(self.members_[i], array, self.space_) for i in used)

    def _member_predictions(self, array: np.ndarray) -> np.ndarray:
        return np.stack([_predict(m, array, self.space_) for m in self.members_])

    def predict_std(self, archs: Sequence[Arch] | np.ndarray) -> np.ndarray:
        """Standard deviation of the members' predictions for each arch.

        Args:
            archs: Archs of the fitted space, or a batch array of them.

        Returns:
            Float64 array of shape ``(n,)``, >= 0.
        """
        return self._per_arch(archs, lambda array: self._member_predictions(array).std(axis=0))

    def _state(self) -> dict[str, Any]:
        return {"members": list(self.members_), "cv_tau": self.cv_tau_, "weights": self.weights_}

    def _load_state(self, state: dict[str, Any]) -> None:
        members, weights = state["members"], np.asarray(state["weights"], dtype=np.float64)
        if not isinstance(members, list) or len(members) != weights.shape[0]:
            raise OfaBenchError("ensemble state: one weight per member expected")
        self.members_ = members
        self.weights_ = weights
        self.cv_tau_ = np.asarray(state["cv_tau"], dtype=np.float64)


def _predict(member: Predictor, array: np.ndarray, space: SearchSpace) -> np.ndarray:
    """A member's predictions; built-ins take the batch array, others get archs."""
    if isinstance(member, ArchRegressor):
        return member.predict(array)
    return np.asarray(member.predict(space.from_array(array)), dtype=np.float64)


def _tau(y: np.ndarray, pred: np.ndarray) -> float:
    return kendall_tau(y, pred, undefined=0.0)  # constant predictions rank nothing


def _weights(tau: np.ndarray, mode: str) -> np.ndarray:
    """Member weights summing to 1: one-hot on the best tau, or proportional to the positive taus."""
    if mode == "select":
        weights = np.zeros(len(tau))
        weights[int(np.argmax(tau))] = 1.0
        return weights
    positive = np.clip(tau, 0.0, None)
    return positive / positive.sum() if positive.sum() > 0 else np.full(len(tau), 1.0 / len(tau))
