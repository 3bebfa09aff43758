"""Per-column lookup arrays of a search space, so batch operators are a few numpy gathers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ofa_bench.space.shape import SpaceShape

__all__ = ["_ChoiceTables"]


@dataclass(frozen=True)
class _ChoiceTables:
    """Lookup arrays that turn choice values into indices and back, per batch column."""

    n_blocks: int
    n_columns: int
    column_kind: np.ndarray  # (n_columns,) 0=ks 1=e 2=d 3=r
    n_choices: np.ndarray  # (n_columns,)
    values: np.ndarray  # (4, max_choices) value of choice i for each kind
    index: np.ndarray  # (4, max_value + 1) index of a value, -1 when not allowed
    valid: np.ndarray  # (4, max_value + 1) bool
    # Flat forms, so a batch lookup is one ``take`` of ``array + offset`` (no 2-D fancy indexing).
    top: int  # max_value + 1
    col_offset: np.ndarray  # (n_columns,) column * top, into flat_index / flat_valid
    flat_index: np.ndarray  # (n_columns * top,) index of value v in column c at c * top + v
    flat_valid: np.ndarray  # (n_columns * top,) bool
    value_offset: np.ndarray  # (n_columns,) kind * max_choices, into flat_values
    flat_values: np.ndarray  # values.ravel()
    n_choices_f: np.ndarray  # n_choices as float64, to scale uniform draws without a cast
    depth_cols: np.ndarray  # (n_blocks,) the depth column of each block's stage
    block_pos: np.ndarray  # (n_blocks,) each block's position in its stage
    smallest: np.ndarray  # (2, 1) the smallest kernel and expand, what inactive blocks hold
    onehot_columns: np.ndarray  # (2 * n_blocks + 1,) ks, e and r columns, in encode_onehot's row order
    onehot_offset: np.ndarray  # (2 * n_blocks + 1,) first one-hot feature of each of those columns

    @staticmethod
    def build(space: SpaceShape) -> _ChoiceTables:
        kinds = [space.ks_choices, space.e_choices, space.d_choices, space.resolutions]
        nb, ns, depth = space.n_blocks, space.n_stages, space.max_depth
        column_kind = np.array([0] * nb + [1] * nb + [2] * ns + [3], dtype=np.int64)
        width = max(len(k) for k in kinds)
        values = np.zeros((4, width), dtype=np.int64)
        top = max(max(k) for k in kinds) + 1
        index = np.full((4, top), -1, dtype=np.int64)
        for i, choice in enumerate(kinds):
            values[i, : len(choice)] = choice
            index[i, list(choice)] = np.arange(len(choice))
        n_choices = np.array([len(kinds[k]) for k in column_kind], dtype=np.int64)
        flat_index = index[column_kind].ravel()
        nk, ne, nr = len(space.ks_choices), len(space.e_choices), len(space.resolutions)
        onehot_offset = np.concatenate([nr + np.arange(nb) * nk, nr + nb * nk + np.arange(nb) * ne, [0]])
        return _ChoiceTables(
            nb, len(column_kind), column_kind, n_choices, values, index, index >= 0,
            top=top,
            col_offset=np.arange(len(column_kind), dtype=np.int64) * top,
            flat_index=flat_index,
            flat_valid=flat_index >= 0,
            value_offset=column_kind * width,
            flat_values=values.ravel(),
            n_choices_f=n_choices.astype(np.float64),
            depth_cols=2 * nb + np.repeat(np.arange(ns), depth),
            block_pos=np.tile(np.arange(depth), ns),
            smallest=np.array([[space.ks_choices[0]], [space.e_choices[0]]], dtype=np.int64),
            onehot_columns=np.concatenate([np.arange(2 * nb), [2 * nb + ns]]),
            onehot_offset=onehot_offset.astype(np.int64),
        )  # fmt: skip

    def values_of(self, idx: np.ndarray) -> np.ndarray:
        return self.flat_values.take(idx + self.value_offset)

    def draw(self, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        """Uniform choice values per column: ``values_of((rng.random(shape) * n_choices).astype(int64))``."""
        return self.values_from(rng.random(shape))

    def values_from(self, u: np.ndarray) -> np.ndarray:
        """Choice values of uniform ``[0, 1)`` draws ``u`` (overwritten), one per batch column."""
        u *= self.n_choices_f
        idx = u.astype(np.int64)
        idx += self.value_offset
        return self.flat_values.take(idx)

    def index_of(self, array: np.ndarray) -> np.ndarray:
        return self.flat_index.take(array + self.col_offset)
