"""A multi-layer perceptron accuracy predictor, as Once-for-All uses (3 hidden layers of 400 units).

Trained with PyTorch (on the GPU when present) on standardised targets, with early stopping on a
held-out slice of the training archs. Strategies call ``predict`` in their inner loop on small
and large batches alike, so inference does not go through PyTorch modules: the first layer is a
table lookup on one-hot features, and the hidden layers run in int8 through ONNX Runtime (see
:mod:`ofa_bench_predictors._int8`; about 1.6x the float32 rate on an AVX2 core) or, with
``precision="float32"``, as numpy float32 products.

Int8 predictions differ from float32 ones by about 0.1% of the target's standard deviation on
average. When fitting, the two are compared on the calibration archs; should their rankings
disagree (Kendall tau below 0.99), the predictor keeps float32 (``precision_`` says which runs).
"""

from __future__ import annotations

import copy
import functools
import math
import warnings
from typing import Any, ClassVar

import numpy as np
import torch
from ofa_bench_predictors import _int8
from torch import nn

from ofa_bench.errors import OfaBenchError
from ofa_bench.nn import resolve_device
from ofa_bench.plugins.encoding import Encoder, onehot_table
from ofa_bench.plugins.predictor_base import ArchRegressor
from ofa_bench.space import SearchSpace

__all__ = ["MLPPredictor"]

_CHUNK = 2048  # rows per forward chunk: activations stay in the L3 cache, memory flat for huge batches
PRECISIONS = ("int8", "float32")
_CALIBRATION_ARCHS = 4096  # random archs, besides the training ones, that set the int8 activation scales
_MIN_INT8_TAU = 0.99  # Kendall tau between int8 and float32 predictions below which float32 is kept
_OUTPUTS = ["out"]  # the int8 session's output


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
        precision: Arithmetic of the hidden layers at prediction: ``"int8"`` (default, faster) or
            ``"float32"``.
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
        precision: str = "int8",
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
        self.precision = precision
        self.seed = seed
        self.space = space

    def _check_params(self) -> None:
        for key in ("hidden_size", "n_layers", "batch_size", "max_epochs", "patience"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise OfaBenchError(f"MLPPredictor {key} must be an integer >= 1; got {value!r}")
        if not 0 <= self.validation_fraction < 1:
            raise OfaBenchError(f"MLPPredictor validation_fraction must be in [0, 1); got {self.validation_fraction!r}")
        if self.precision not in PRECISIONS:
            raise OfaBenchError(f"MLPPredictor precision must be one of {', '.join(PRECISIONS)}; got {self.precision!r}")

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
        self._check_params()
        super()._fit_array(array, y, space)
        self.space_ = space
        self._set_onehot_table(space)
        self._set_precision(array)

    def load_state_dict(self, state: dict[str, Any], space: SearchSpace) -> None:
        """Restore what :meth:`state_dict` returned, for archs of ``space``."""
        super().load_state_dict(state, space)
        self._set_onehot_table(space)

    def _set_onehot_table(self, space: SearchSpace) -> None:
        # On one-hot features the first layer is a sum of weight rows: a lookup table of them
        # (see onehot_table) skips the encoding and the first layer's product: one row per block is summed.
        self.onehot_table_ = onehot_table(self.coefs_[0], space) if self.encoder == "onehot" else None

    def _set_precision(self, train: np.ndarray) -> None:
        """Calibrate the int8 layers on ``train`` and random archs, or settle on float32."""
        self.precision_, self.act_scales_ = "float32", None
        self._session = None
        if self.precision != "int8" or len(self.coefs_) < 3:
            return
        sample = self.space_.sample_array(_CALIBRATION_ARCHS, rng=np.random.default_rng(self.seed))
        calibration = np.concatenate([train, sample])
        first = self._first_product(calibration)
        self.act_scales_ = _int8.calibrate(first, self.coefs_, self.intercepts_)
        self.precision_ = "int8"
        as_float = self._rest(first.copy())
        as_int8 = self._run_int8(first)
        if np.ptp(as_float) == 0:  # a constant network: nothing to rank, only values to match
            tau = 1.0 if np.allclose(as_int8, as_float, atol=1e-3) else 0.0
        else:
            tau = _kendall_tau(as_float, as_int8)
        if not tau >= _MIN_INT8_TAU:
            warnings.warn(
                f"MLPPredictor: int8 predictions rank the calibration archs differently from float32 "
                f"(Kendall tau {tau:.4f} < {_MIN_INT8_TAU}); predicting in float32",
                RuntimeWarning,
                stacklevel=3,
            )
            self.precision_, self.act_scales_, self._session = "float32", None, None

    def _first_product(self, array: np.ndarray) -> np.ndarray:
        """The first layer's product (bias not added) for a batch array, ``(n, hidden)`` float32."""
        if self.onehot_table_ is None:
            return self._encoded(array).astype(np.float32, copy=False) @ self.coefs_[0]
        codes = torch.from_numpy(_onehot_codes(array, self.space_))
        return nn.functional.embedding_bag(codes, torch.from_numpy(self.onehot_table_), mode="sum").numpy()

    def _predict_array(self, array: np.ndarray) -> np.ndarray:
        return self._forward(array, self._first_product)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        features = np.asarray(X, dtype=np.float32)
        return self._forward(features, lambda chunk: chunk @ self.coefs_[0])

    def _forward(self, rows: np.ndarray, first_product: Any) -> np.ndarray:
        """Predictions for ``rows`` (archs or features), chunk by chunk, in target units."""
        rest = self._run_int8 if self.precision_ == "int8" else self._rest
        if rows.shape[0] <= _CHUNK:  # one chunk (a generation of a search): the same values, fewer steps
            return rest(first_product(rows)).astype(np.float64) * self.y_std_ + self.y_mean_
        out = np.empty(rows.shape[0], dtype=np.float64)
        for start in range(0, rows.shape[0], _CHUNK):
            out[start : start + _CHUNK] = rest(first_product(rows[start : start + _CHUNK]))
        return out * self.y_std_ + self.y_mean_

    def _run_int8(self, h: np.ndarray) -> np.ndarray:
        """The network after the first product ``h`` through the int8 session, in standardised units."""
        if getattr(self, "_session", None) is None:
            self._session = _int8.build_session(
                self.coefs_, self.intercepts_, self.act_scales_, threads=torch.get_num_threads()
            )
        return self._session.run(_OUTPUTS, {"h1": h})[0][:, 0]

    def _rest(self, h: np.ndarray) -> np.ndarray:
        """The network after the first matrix product ``h`` (overwritten), in float32, standardised units."""
        for i in range(1, len(self.coefs_)):
            h += self.intercepts_[i - 1]
            np.maximum(h, 0.0, out=h)
            h = h @ self.coefs_[i]
        return h[:, 0] + self.intercepts_[-1][0]

    def __getstate__(self) -> dict[str, Any]:
        # The ONNX Runtime session cannot be pickled (joblib workers, deep copies); it is rebuilt on use.
        state = self.__dict__.copy()
        state.pop("_session", None)
        return state

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
            "precision": self.precision_,
            "act_scales": self.act_scales_,
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
        # Files saved before int8 inference existed hold neither field: they predicted in float32.
        self.precision_ = state.get("precision", "float32")
        if self.precision_ not in PRECISIONS:
            raise OfaBenchError(f"MLP precision {self.precision_!r} is not one of {', '.join(PRECISIONS)}")
        scales = state.get("act_scales")
        self.act_scales_ = None if scales is None else [float(v) for v in scales]
        if self.precision_ == "int8" and (scales is None or len(scales) != len(self.coefs_) - 2):
            got = "none" if scales is None else len(scales)
            raise OfaBenchError(f"MLP act_scales must hold {len(self.coefs_) - 2} values for int8; got {got}")
        self._session = None


def _mlp(n_in: int, hidden: int, n_layers: int) -> nn.Sequential:
    """``Linear, ReLU`` ``n_layers`` times, then a linear output; linear layer ``i`` is ``{2i}`` in the state dict."""
    layers: list[nn.Module] = []
    width = n_in
    for _ in range(n_layers):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


@functools.lru_cache(maxsize=8)
def _codes_table(space: SearchSpace) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Lookup arrays of :func:`_onehot_codes`: one gather per block gives its row of the one-hot table.

    Returns ``(block_lut, block_base, depth_cols, r_lut, e_stride, k_stride)``: block ``b`` with kernel
    ``k``, expand ``e`` and stage depth ``d`` reads ``block_lut[block_base[b] + k * k_stride + e * e_stride + d]``.
    """
    nb, nr = space.n_blocks, len(space.resolutions)
    nk, ne = len(space.ks_choices), len(space.e_choices)
    per_block = nk * ne + 1
    d_top, e_top, k_top = max(space.d_choices) + 1, max(space.e_choices) + 1, max(space.ks_choices) + 1
    e_stride, k_stride = d_top, e_top * d_top
    block_size = k_top * k_stride
    lut = np.zeros(nb * block_size, dtype=np.int64)
    tables = space._tables
    for b in range(nb):
        pos = int(tables.block_pos[b])
        for ki, k in enumerate(space.ks_choices):
            for ei, e in enumerate(space.e_choices):
                for d in range(d_top):
                    code = ki * ne + ei if d > pos else per_block - 1
                    lut[b * block_size + k * k_stride + e * e_stride + d] = nr + b * per_block + code
    r_lut = np.zeros(max(space.resolutions) + 1, dtype=np.int64)
    r_lut[list(space.resolutions)] = np.arange(nr)
    base = np.arange(nb, dtype=np.int64) * block_size
    return lut, base, tables.depth_cols, r_lut, e_stride, k_stride


def _onehot_codes(array: np.ndarray, space: SearchSpace) -> np.ndarray:
    """:func:`~ofa_bench.plugins.encoding.onehot_codes` of a valid batch array, in fewer array passes."""
    lut, base, depth_cols, r_lut, e_stride, k_stride = _codes_table(space)
    nb = len(base)
    codes = np.empty((array.shape[0], nb + 1), dtype=np.int64)
    key = array[:, :nb] * k_stride
    key += array[:, nb : 2 * nb] * e_stride
    key += array.take(depth_cols, axis=1)
    key += base
    lut.take(key, out=codes[:, 1:])
    r_lut.take(array[:, -1], out=codes[:, 0])
    return codes


def _kendall_tau(a: np.ndarray, b: np.ndarray) -> float:
    from ofa_bench.metrics.ranking import kendall_tau

    return kendall_tau(a, b)
