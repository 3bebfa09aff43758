"""GBDT on the arch encoding plus zero-cost proxy scores as extra features (``zc-gbdt``).

NAS-Bench-Suite-Zero (Krishnakumar et al., NeurIPS 2022 Datasets and Benchmarks) found that
appending zero-cost proxy scores to a model-based predictor's encoding helps it most when few
archs are measured. This is the plain ``gbdt`` predictor with that option: ``proxies`` lists the
proxies (``zc`` names; ``flops``/``params`` are analytic), scored with the ``zc`` parameters
``weights``, ``benchmark``, ``batch_size`` and ``proxy_seed`` (kept apart from ``seed`` so every
run of a learning curve sees the same proxy scores). Proxy scores are recomputed at prediction
time (memoised per process), so a saved ``zc-gbdt`` needs its benchmark where it is loaded.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from ofa_bench_predictors.gbdt import GBDTPredictor
from ofa_bench_predictors.zero_cost import ALL_PROXIES, ZeroCostPredictor

from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins.encoding import Encoder, check_encoder, encode
from ofa_bench.space import SearchSpace

__all__ = ["ZCGBDTPredictor"]


class ZCGBDTPredictor(GBDTPredictor):
    """``gbdt`` with zero-cost proxy scores appended to the encoding.

    Args:
        proxies: Comma- (or ``+``-) separated proxy names (default ``nwot``, the best single proxy on
            the shipped archive, docs/zero_cost.md), each one feature.
        weights, benchmark, batch_size: As for ``zc``.
        proxy_seed: The ``zc`` seed (minibatch, re-initialisation) of every proxy.
        Others: As for ``gbdt``.
    """

    name: ClassVar[str] = "zc-gbdt"

    def __init__(
        self,
        *,
        proxies: str = "nwot",
        weights: str = "supernet",
        benchmark: str | None = None,
        batch_size: int = 64,
        proxy_seed: int = 0,
        encoder: Encoder = "ordinal",
        n_estimators: int = 500,
        learning_rate: float = 0.03,
        max_leaf_nodes: int = 7,
        min_samples_leaf: int = 5,
        l2_regularization: float = 0.0,
        seed: int | None = 0,
        space: str | SearchSpace | None = None,
    ) -> None:
        super().__init__(
            encoder=encoder, n_estimators=n_estimators, learning_rate=learning_rate, max_leaf_nodes=max_leaf_nodes,
            min_samples_leaf=min_samples_leaf, l2_regularization=l2_regularization, seed=seed, space=space,
        )  # fmt: skip
        self.proxies = proxies
        self.weights = weights
        self.benchmark = benchmark
        self.batch_size = batch_size
        self.proxy_seed = proxy_seed

    def _proxy_names(self) -> list[str]:
        names = [p.strip() for p in str(self.proxies).replace("+", ",").split(",") if p.strip()]
        if not names:
            raise OfaBenchError("zc-gbdt: proxies is empty; name at least one of " + ", ".join(ALL_PROXIES))
        unknown = [p for p in names if p not in ALL_PROXIES]
        if unknown:
            raise OfaBenchError(f"zc-gbdt: unknown proxy {unknown[0]!r}; allowed: {', '.join(ALL_PROXIES)}")
        return names

    def _features(self, array: np.ndarray, space: SearchSpace) -> np.ndarray:
        scores = []
        for proxy in self._proxy_names():
            zc = ZeroCostPredictor(
                proxy=proxy, weights=self.weights, benchmark=self.benchmark, batch_size=self.batch_size,
                seed=self.proxy_seed, space=space,
            )  # fmt: skip
            zc._check_params()
            zc.space_ = space  # nothing to fit: the proxy needs only its space
            scores.append(_signed_log(zc._predict_array(array)))
        return np.hstack([encode(self.encoder, array, space), np.stack(scores, axis=1)])

    def _fit_array(self, array: np.ndarray, y: np.ndarray, space: SearchSpace) -> None:
        check_encoder(self.encoder)
        features = self._features(array, space)
        self.n_features_in_ = int(features.shape[1])
        self._fit(features, y)

    def _predict_array(self, array: np.ndarray) -> np.ndarray:
        features = self._features(array, self.space_)
        if features.shape[1] != self.n_features_in_:
            raise OfaBenchError(f"zc-gbdt: {features.shape[1]} features; fitted on {self.n_features_in_}")
        return self._predict(features)


def _signed_log(values: np.ndarray) -> np.ndarray:
    """``sign(v) log(1 + |v|)``: synflow spans hundreds of orders of magnitude; trees only need the order."""
    return np.sign(values) * np.log1p(np.abs(values))
