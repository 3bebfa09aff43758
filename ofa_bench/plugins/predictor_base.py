"""The plumbing every built-in predictor shares: input checks, encoding, fitted-state checks.

A built-in predictor subclasses :class:`ArchRegressor`, lists its parameters in ``__init__``
(stored unchanged, no work done), and implements ``_fit(X, y)`` and ``_predict(X)`` on encoded
features (or ``_fit_array`` / ``_predict_array`` on batch arrays) plus ``_state()`` /
``_load_state()``, which ``state_dict()`` / ``load_state_dict()`` wrap for
:mod:`ofa_bench.io.predictor_files`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins.encoding import as_array, check_encoder, encode, fit_space
from ofa_bench.plugins.interfaces import Predictor
from ofa_bench.space import Arch, SearchSpace

if TYPE_CHECKING:
    from typing import Self

    from numpy.typing import ArrayLike

__all__ = ["ArchRegressor", "check_targets"]


def check_targets(y: ArrayLike, n: int) -> np.ndarray:
    """``y`` as a finite float64 vector of length ``n``.

    Raises:
        OfaBenchError: Wrong length or shape, not numeric, or not finite (naming the position).
    """
    try:
        values = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise OfaBenchError("y must hold numbers, one per arch") from None
    if values.ndim != 1 or values.shape[0] != n:
        raise OfaBenchError(f"y must have one value per arch: expected shape ({n},), got {values.shape}")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise OfaBenchError(f"y[{bad[0]}] is {values[bad[0]]}; targets must be finite numbers")
    return values


class ArchRegressor(Predictor, abc.ABC):
    """Base of the built-in predictors: archs or batch arrays in, float64 predictions out.

    Subclasses store ``encoder`` and ``space`` parameters; :meth:`fit` sets ``space_`` (and
    ``n_features_in_`` when it encodes).
    """

    accepts_arrays = True

    #: Fully qualified types skops may rebuild when loading this predictor's sklearn models.
    trusted_types: ClassVar[tuple[str, ...]] = ()

    encoder: Any
    space: str | SearchSpace | None

    def fit(self, archs: Sequence[Arch] | np.ndarray, y: ArrayLike, space: str | SearchSpace | None = None) -> Self:
        """Learn from measured archs.

        Args:
            archs: Training archs, or an ``(n, space.n_columns)`` batch array of choice values.
            y: One target value per arch.
            space: The search space of a batch array (a preset name or a space); by default the
                predictor's own ``space`` parameter, else the space of the archs.

        Returns:
            ``self``.
        """
        space = fit_space(archs, space if space is not None else self.space)
        array = as_array(archs, space)
        targets = check_targets(y, array.shape[0])
        if array.shape[0] < 2:
            raise OfaBenchError(f"{type(self).__name__} needs at least 2 training archs; got {array.shape[0]}")
        self._fit_array(array, targets, space)
        self.space_ = space
        return self

    def predict(self, archs: Sequence[Arch] | np.ndarray) -> np.ndarray:
        """Predict the target of each arch.

        Args:
            archs: Archs of the fitted space, or a batch array ``(n, space.n_columns)`` of them.

        Returns:
            Float64 array of shape ``(n,)``.
        """
        return self._per_arch(archs, self._predict_array)

    def predict_std(self, archs: Sequence[Arch] | np.ndarray) -> np.ndarray:
        """The standard deviation of each prediction, from :meth:`_predict_std` on encoded features.

        Raises:
            NotImplementedError: The subclass gives no uncertainty (it does not override ``_predict_std``).
        """
        if type(self)._predict_std is ArchRegressor._predict_std:
            raise NotImplementedError(f"{type(self).__name__} does not estimate uncertainty")
        return self._per_arch(archs, lambda array: self._predict_std(self._encoded(array)))

    def _predict_std(self, X: np.ndarray) -> np.ndarray:
        """Optional: the ``(n,)`` standard deviation of each prediction, for encoded features ``X``."""
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        """Save the fitted predictor to a file (see :func:`ofa_bench.io.predictor_files.save_predictor`)."""
        from ofa_bench.io.predictor_files import save_predictor

        return save_predictor(self, path)

    def _fit_array(self, array: np.ndarray, y: np.ndarray, space: SearchSpace) -> None:
        """Learn from a validated batch array; by default encodes it and calls :meth:`_fit`."""
        check_encoder(self.encoder)
        features = encode(self.encoder, array, space)
        self.n_features_in_ = int(features.shape[1])
        self._fit(features, y)

    def _per_arch(self, archs: Sequence[Arch] | np.ndarray, compute: Callable[[np.ndarray], Any]) -> np.ndarray:
        """One float64 value per arch from ``compute(array)``, for :meth:`predict` and ``predict_std``.

        Checks the predictor is fitted and the batch valid, and answers an empty batch itself
        (scikit-learn estimators reject zero rows), so ``compute`` sees only non-empty arrays.
        """
        self._check_fitted()
        array = as_array(archs, self.space_)
        if array.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        return np.asarray(compute(array), dtype=np.float64).reshape(-1)

    def _predict_array(self, array: np.ndarray) -> np.ndarray:
        """Predict a validated, non-empty batch array; by default encodes it and calls :meth:`_predict`."""
        return self._predict(self._encoded(array))

    def _encoded(self, array: np.ndarray) -> np.ndarray:
        features = encode(self.encoder, array, self.space_)
        if features.shape[1] != self.n_features_in_:
            raise OfaBenchError(
                f"encoder gave {features.shape[1]} features; {type(self).__name__} was fitted on {self.n_features_in_}"
            )
        return features

    def _check_fitted(self) -> None:
        if not hasattr(self, "space_"):
            raise OfaBenchError(f"{type(self).__name__} is not fitted yet; call fit(archs, y) before predicting")

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        """Learn from encoded features ``X`` ``(n, f)`` and float64 targets ``y`` ``(n,)``."""
        raise NotImplementedError

    def _predict(self, X: np.ndarray) -> np.ndarray:
        """Predict from encoded features ``X`` ``(n, f)``; ``n >= 1``."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """The learned state for saving: JSON values, arrays, tensors, sklearn models, predictors.

        Raises:
            OfaBenchError: Not fitted.
        """
        self._check_fitted()
        state = self._state()
        if hasattr(self, "n_features_in_"):
            state["n_features_in"] = self.n_features_in_
        return state

    def load_state_dict(self, state: dict[str, Any], space: SearchSpace) -> None:
        """Restore what :meth:`state_dict` returned, for archs of ``space``."""
        if "n_features_in" in state:
            self.n_features_in_ = int(state["n_features_in"])
        self._load_state(state)
        self.space_ = space

    @abc.abstractmethod
    def _state(self) -> dict[str, Any]:
        """The subclass's learned state (see :meth:`state_dict`)."""

    @abc.abstractmethod
    def _load_state(self, state: dict[str, Any]) -> None:
        """Restore the subclass's learned state."""
