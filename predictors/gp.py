"""A Gaussian process (scikit-learn) as an accuracy predictor, with its posterior standard deviation."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, DotProduct, Kernel, Matern, WhiteKernel

from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins.encoding import Encoder
from ofa_bench.plugins.predictor_base import ArchRegressor
from ofa_bench.space import SearchSpace

__all__ = ["KERNELS", "GPPredictor"]

#: Kernel names; each is scaled by a constant and gets a white-noise term, all fitted by marginal likelihood.
KERNELS: tuple[str, ...] = ("rbf", "matern", "rbf+linear")


class GPPredictor(ArchRegressor):
    """Gaussian-process regression on (by default) one-hot encodings; ``predict_std`` is the posterior std.

    On one-hot features an isotropic kernel is a function of how many choices two archs share,
    which suits a space of categorical choices without tuning one length scale per column.

    Args:
        encoder: ``"onehot"`` (default), ``"ordinal"`` or a callable ``(array, space) -> features``.
        kernel: ``"rbf"``, ``"matern"`` (nu=2.5) or ``"rbf+linear"`` (an RBF plus a linear trend).
        n_restarts: Extra optimiser restarts of the kernel hyper-parameters from random points.
        seed: Random state of those restarts.
        space: Search space when ``fit`` gets a batch array instead of archs.
    """

    name: ClassVar[str] = "gp"
    trusted_types: ClassVar[tuple[str, ...]] = tuple(
        f"sklearn.gaussian_process.kernels.{k}"
        for k in ("ConstantKernel", "DotProduct", "Matern", "Product", "RBF", "Sum", "WhiteKernel")
    )

    def __init__(
        self,
        *,
        encoder: Encoder = "onehot",
        kernel: str = "rbf+linear",
        n_restarts: int = 0,
        seed: int | None = 0,
        space: str | SearchSpace | None = None,
    ) -> None:
        self.encoder = encoder
        self.kernel = kernel
        self.n_restarts = n_restarts
        self.seed = seed
        self.space = space

    def _kernel(self, n_features: int) -> Kernel:
        # Length scales start at the typical distance between one-hot archs, sqrt(n_features).
        scale = float(np.sqrt(max(n_features, 1)))
        bounds = (1e-2, 1e4)
        if self.kernel == "rbf":
            core = RBF(scale, length_scale_bounds=bounds)
        elif self.kernel == "matern":
            core = Matern(scale, length_scale_bounds=bounds, nu=2.5)
        elif self.kernel == "rbf+linear":
            core = RBF(scale, length_scale_bounds=bounds) + ConstantKernel(0.1, (1e-5, 1e2)) * DotProduct(
                1.0, sigma_0_bounds="fixed"
            )
        else:
            raise OfaBenchError(f"unknown GP kernel {self.kernel!r}; allowed: {', '.join(KERNELS)}")
        return ConstantKernel(1.0, (1e-3, 1e3)) * core + WhiteKernel(0.1, (1e-6, 1e1))

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        model = GaussianProcessRegressor(
            self._kernel(X.shape[1]), normalize_y=True, n_restarts_optimizer=self.n_restarts, random_state=self.seed
        )
        with warnings.catch_warnings():
            # Hyper-parameters at a bound (e.g. no measurable noise) are a fine answer, not a problem.
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model_ = model.fit(X.astype(np.float64), y)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X.astype(np.float64))

    def _predict_std(self, X: np.ndarray) -> np.ndarray:
        """Posterior standard deviation of each prediction (noise included), in target units."""
        _, std = self.model_.predict(X.astype(np.float64), return_std=True)
        return std

    def _state(self) -> dict[str, Any]:
        return {"model": self.model_}

    def _load_state(self, state: dict[str, Any]) -> None:
        if not isinstance(state["model"], GaussianProcessRegressor):
            raise OfaBenchError(f"expected a GaussianProcessRegressor, got {type(state['model']).__name__}")
        self.model_ = state["model"]
