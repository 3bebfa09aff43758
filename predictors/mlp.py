"""A multi-layer perceptron accuracy predictor, as Once-for-All uses (3 hidden layers of 400 units).

Trained with PyTorch (on the GPU when present) on standardised targets, with early stopping on a
held-out slice of the training archs. Inference runs in numpy float32 from the fitted weights:
strategies call ``predict`` in their inner loop on small and large batches alike, and a plain BLAS
forward pass avoids PyTorch's per-call overhead.
"""

from __future__ import annotations

import copy
import math
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ofa_bench.errors import OfaBenchError
from ofa_bench.nn import resolve_device
from ofa_bench.space import SearchSpace
from predictors._base import ArchRegressor
from predictors._encoding import Encoder, onehot_codes, onehot_table

__all__ = ["MLPPredictor"]

_CHUNK = 2048  # rows per forward chunk: activations stay in the L3 cache, memory flat for huge batches


class MLPPredictor(ArchRegressor):
    """OFA-style MLP on (by default) one-hot encodings.

    Args:
        encoder: ``"onehot"`` (default, as OFA), ``"ordinal"`` or a callable ``(array, space) -> features``.
        hidden_size: Units per hidden layer.
        n_layers: Hidden layers (ReLU after each).
        learning_rate: Adam step size.
        weight_decay: Adam L2 penalty.
        batch_size: Training mini-batch size (capped at the training set size).
        max_epochs: Upper limit on training epochs.
        patience: Stop after this many epochs without a better held-out loss.
        validation_fraction: Share of the training archs held out for early stopping; with fewer
            than 8 archs none are held out and training runs ``max_epochs``.
        device: Where training runs (default: CUDA when present); prediction runs on the CPU.
        seed: Seed of the initial weights, the held-out slice and the batch order.
        space: Search space when ``fit`` gets a batch array instead of archs.
    """

    name: ClassVar[str] = "mlp"

    def __init__(
        self,
        *,
        encoder: Encoder = "onehot",
        hidden_size: int = 400,
        n_layers: int = 3,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 32,
        max_epochs: int = 500,
        patience: int = 50,
        validation_fraction: float = 0.1,
        device: str | None = None,
        seed: int | None = 0,
        space: str | SearchSpace | None = None,
    ) -> None:
        self.encoder = encoder
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.device = device
        self.seed = seed
        self.space = space

    def _check_params(self) -> None:
        for key in ("hidden_size", "n_layers", "batch_size", "max_epochs", "patience"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise OfaBenchError(f"MLPPredictor {key} must be an integer >= 1; got {value!r}")
        if not 0 <= self.validation_fraction < 1:
            raise OfaBenchError(f"MLPPredictor validation_fraction must be in [0, 1); got {self.validation_fraction!r}")

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self._check_params()
        device = resolve_device(self.device)
        rng = np.random.default_rng(self.seed)
        self.y_mean_ = float(y.mean())
        self.y_std_ = float(y.std()) or 1.0
        target = (y - self.y_mean_) / self.y_std_
        order = rng.permutation(len(y))
        n_val = math.ceil(self.validation_fraction * len(y)) if len(y) >= 8 else 0
        val, train = order[:n_val], order[n_val:]
        as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
        x_tr, y_tr = as_tensor(X[train]), as_tensor(target[train])
        x_va, y_va = as_tensor(X[val]), as_tensor(target[val])
        # Seeded from our own stream, and the global RNG restored after, so fitting is repeatable
        # and does not disturb anyone else's random numbers.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(rng.integers(2**31)))
            model = _mlp(X.shape[1], self.hidden_size, self.n_layers).to(device)
        order_gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
        # fused: one kernel for all parameters, several times faster than the per-tensor loop on CPU.
        optimiser = torch.optim.Adam(
            model.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay, fused=True
        )
        batch = min(self.batch_size, len(train))
        best, best_loss, stale, epoch = copy.deepcopy(model.state_dict()), math.inf, 0, 0
        for epoch in range(1, self.max_epochs + 1):
            model.train()
            perm = torch.randperm(len(train), generator=order_gen).to(device)
            for start in range(0, len(train), batch):
                idx = perm[start : start + batch]
                loss = nn.functional.mse_loss(model(x_tr[idx]).squeeze(1), y_tr[idx])
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
            if n_val == 0:
                continue
            model.eval()
            with torch.no_grad():
                val_loss = nn.functional.mse_loss(model(x_va).squeeze(1), y_va).item()
            if val_loss < best_loss - 1e-7:
                best, best_loss, stale = copy.deepcopy(model.state_dict()), val_loss, 0
            else:
                stale += 1
                if stale >= self.patience:
                    break
        if n_val == 0:
            best = model.state_dict()
        self.n_epochs_ = epoch
        self.validation_loss_ = best_loss if n_val else math.nan
        self._set_weights({k: v.detach().cpu() for k, v in best.items()})

    def _set_weights(self, weights: dict[str, torch.Tensor]) -> None:
        """Numpy float32 copies of the layers, laid out ``(in, out)`` for ``x @ W``.

        ``weights`` is the state dict of :func:`_mlp`'s ``nn.Sequential`` (linear layers at even indices).
        """
        n = len(weights) // 2
        self.coefs_ = [np.ascontiguousarray(weights[f"{2 * i}.weight"].numpy().T, dtype=np.float32) for i in range(n)]
        self.intercepts_ = [weights[f"{2 * i}.bias"].numpy().astype(np.float32) for i in range(n)]

    def _fit_array(self, array: np.ndarray, y: np.ndarray, space: SearchSpace) -> None:
        super()._fit_array(array, y, space)
        self._set_onehot_table(space)

    def load_state_dict(self, state: dict[str, Any], space: SearchSpace) -> None:
        """Restore what :meth:`state_dict` returned, for archs of ``space``."""
        super().load_state_dict(state, space)
        self._set_onehot_table(space)

    def _set_onehot_table(self, space: SearchSpace) -> None:
        # On one-hot features the first layer is a sum of weight rows: a lookup table of them
        # (see onehot_table) skips the encoding and the first layer's product: one row per block is summed.
        self.onehot_table_ = onehot_table(self.coefs_[0], space) if self.encoder == "onehot" else None

    def _predict_array(self, array: np.ndarray) -> np.ndarray:
        if self.onehot_table_ is None:
            return super()._predict_array(array)
        codes = torch.from_numpy(onehot_codes(array, self.space_))
        table = torch.from_numpy(self.onehot_table_)
        out = np.empty(array.shape[0], dtype=np.float64)
        for start in range(0, array.shape[0], _CHUNK):
            first = nn.functional.embedding_bag(codes[start : start + _CHUNK], table, mode="sum")
            out[start : start + _CHUNK] = self._rest(first.numpy())
        return out * self.y_std_ + self.y_mean_

    def _predict(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        out = np.empty(X.shape[0], dtype=np.float64)
        for start in range(0, X.shape[0], _CHUNK):
            out[start : start + _CHUNK] = self._rest(X[start : start + _CHUNK] @ self.coefs_[0])
        return out * self.y_std_ + self.y_mean_

    def _rest(self, h: np.ndarray) -> np.ndarray:
        """The network after the first matrix product ``h`` (overwritten), in standardised units."""
        for i in range(1, len(self.coefs_)):
            h += self.intercepts_[i - 1]
            np.maximum(h, 0.0, out=h)
            h = h @ self.coefs_[i]
        return h[:, 0] + self.intercepts_[-1][0]

    def _state(self) -> dict[str, Any]:
        weights = {}
        for i, (w, b) in enumerate(zip(self.coefs_, self.intercepts_)):
            weights[f"{2 * i}.weight"] = torch.from_numpy(np.ascontiguousarray(w.T))
            weights[f"{2 * i}.bias"] = torch.from_numpy(b.copy())
        return {
            "weights": weights,
            "y_mean": self.y_mean_,
            "y_std": self.y_std_,
            "n_epochs": self.n_epochs_,
            "validation_loss": None if math.isnan(self.validation_loss_) else self.validation_loss_,
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        weights = state["weights"]
        expected = 2 * (self.n_layers + 1)
        if not isinstance(weights, dict) or len(weights) != expected:
            raise OfaBenchError(f"MLP weights must hold {expected} tensors for n_layers={self.n_layers}")
        self._set_weights(weights)
        shapes = [w.shape for w in self.coefs_]
        if shapes[0][0] != self.n_features_in_ or shapes[-1][1] != 1:
            raise OfaBenchError(f"MLP weight shapes {shapes} do not fit {self.n_features_in_} features")
        self.y_mean_ = float(state["y_mean"])
        self.y_std_ = float(state["y_std"])
        self.n_epochs_ = int(state["n_epochs"])
        loss = state.get("validation_loss")
        self.validation_loss_ = math.nan if loss is None else float(loss)


def _mlp(n_in: int, hidden: int, n_layers: int) -> nn.Sequential:
    """``Linear, ReLU`` ``n_layers`` times, then a linear output; linear layer ``i`` is ``{2i}`` in the state dict."""
    layers: list[nn.Module] = []
    width = n_in
    for _ in range(n_layers):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)
