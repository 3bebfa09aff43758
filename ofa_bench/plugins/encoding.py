"""Turning archs (a list or a batch array) into feature matrices for the built-in predictors.

An encoder is ``"onehot"`` (OFA's accuracy-predictor encoding), ``"ordinal"`` (choice index per
column, ``-1`` for inactive blocks) or a callable ``encoder(array, space) -> features`` that gets
the ``(n, space.n_columns)`` batch array of choice values, so custom encodings stay vectorised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Union

import numpy as np

from ofa_bench.errors import OfaBenchError
from ofa_bench.space import Arch, SearchSpace, get_space

__all__ = ["ENCODERS", "Encoder", "as_array", "check_encoder", "encode", "fit_space", "onehot_codes", "onehot_table"]

#: A named encoding or ``encoder(array, space) -> (n, features)``.
Encoder = Union[str, Callable[[np.ndarray, SearchSpace], np.ndarray]]

#: The named encodings.
ENCODERS: tuple[str, ...] = ("onehot", "ordinal")


def check_encoder(encoder: Any) -> None:
    """Raise :class:`OfaBenchError` unless ``encoder`` is a known name or a callable."""
    if callable(encoder) or encoder in ENCODERS:
        return
    raise OfaBenchError(
        f"unknown encoder {encoder!r}; allowed: {', '.join(ENCODERS)} or a callable (array, space) -> features"
    )


def encode(encoder: Encoder, array: np.ndarray, space: SearchSpace) -> np.ndarray:
    """Features of a validated batch array, as a 2-D float array.

    Args:
        encoder: ``"onehot"``, ``"ordinal"`` or a callable ``(array, space) -> features``.
        array: ``(n, space.n_columns)`` choice values.
        space: The space of the archs.

    Returns:
        ``(n, n_features)`` float32 features (a callable's dtype is kept when it is floating).
    """
    check_encoder(encoder)
    if encoder == "onehot":
        return space.encode_onehot(array)
    if encoder == "ordinal":
        return space.encode_ordinal(array)
    features = np.asarray(encoder(array, space))
    if features.ndim != 2 or features.shape[0] != array.shape[0]:
        raise OfaBenchError(
            f"encoder {getattr(encoder, '__name__', encoder)!r} returned shape {features.shape}; "
            f"expected ({array.shape[0]}, n_features)"
        )
    if not np.issubdtype(features.dtype, np.floating):
        features = features.astype(np.float32)
    return features


def fit_space(archs: Sequence[Arch] | np.ndarray, space: str | SearchSpace | None) -> SearchSpace:
    """The space to fit in: the ``space`` parameter, else the space of the first arch.

    Raises:
        OfaBenchError: A batch array without a ``space`` parameter, or no archs at all.
    """
    if space is not None:
        return get_space(space)
    if isinstance(archs, np.ndarray):
        raise OfaBenchError(
            "fit got a batch array but no search space; pass space=, e.g. fit(array, y, space='ofa-mini'), "
            "or a list of Arch"
        )
    if len(archs) == 0:
        raise OfaBenchError("fit needs at least one arch; got none")
    first = archs[0]
    if not isinstance(first, Arch):
        raise OfaBenchError(f"arch 0 is a {type(first).__name__}; expected an Arch or a batch array")
    return first.space


def as_array(archs: Sequence[Arch] | np.ndarray, space: SearchSpace) -> np.ndarray:
    """A validated ``(n, space.n_columns)`` int64 batch array of archs of ``space``.

    Raises:
        SpaceError: An arch of another space, or an array of the wrong shape or with choices the
            space does not allow.
    """
    return space.as_batch(archs)


def onehot_codes(array: np.ndarray, space: SearchSpace) -> np.ndarray:
    """Row indices into :func:`onehot_table` for each arch: its resolution, then one per block.

    A linear layer on one-hot features sums the weight rows of the ones; the ones of a block (its
    kernel and its expand) always come together, so each block needs one row of a table built
    from their sums, and an inactive block points at a zero row.

    Returns:
        ``(n, 1 + n_blocks)`` int64.
    """
    nb, ns, depth = space.n_blocks, space.n_stages, space.max_depth
    ne, per_block = len(space.e_choices), len(space.ks_choices) * len(space.e_choices) + 1
    lut = _index_luts(space)
    active = np.tile(np.arange(depth), ns) < np.repeat(array[:, 2 * nb : 2 * nb + ns], depth, axis=1)
    block = np.where(active, lut["ks"][array[:, :nb]] * ne + lut["e"][array[:, nb : 2 * nb]], per_block - 1)
    block += len(space.resolutions) + np.arange(nb) * per_block
    return np.concatenate([lut["r"][array[:, -1:]], block], axis=1)


def onehot_table(weight: np.ndarray, space: SearchSpace) -> np.ndarray:
    """The rows :func:`onehot_codes` index: a ``(n_onehot, out)`` weight on one-hot features, regrouped.

    ``onehot_table(W, space)[onehot_codes(a, space)].sum(1)`` equals ``space.encode_onehot(a) @ W``.
    """
    nb, nr = space.n_blocks, len(space.resolutions)
    nk, ne = len(space.ks_choices), len(space.e_choices)
    ks_rows = weight[nr : nr + nb * nk].reshape(nb, nk, 1, -1)
    e_rows = weight[nr + nb * nk :].reshape(nb, 1, ne, -1)
    pairs = (ks_rows + e_rows).reshape(nb, nk * ne, -1)
    zero = np.zeros((nb, 1, weight.shape[1]), dtype=weight.dtype)
    blocks = np.concatenate([pairs, zero], axis=1).reshape(nb * (nk * ne + 1), -1)
    return np.ascontiguousarray(np.concatenate([weight[:nr], blocks]), dtype=np.float32)


def _index_luts(space: SearchSpace) -> dict[str, np.ndarray]:
    """Choice value -> choice index, one lookup array per field."""
    luts = {}
    for name in ("ks", "e", "r"):
        choices = space.choices(name)
        lut = np.zeros(max(choices) + 1, dtype=np.int64)
        lut[list(choices)] = np.arange(len(choices))
        luts[name] = lut
    return luts
