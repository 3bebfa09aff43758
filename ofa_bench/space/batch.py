"""Batch operators of a search space: archs as ``int64`` arrays of choice values.

Batches have columns ``ks[0..B) | e[0..B) | d[0..S) | r`` (``B`` blocks, ``S`` stages).
:class:`BatchOps` holds sampling, mutation, crossover and encodings over whole batches;
:class:`~ofa_bench.space.SearchSpace` inherits them, so they are called as methods of a space.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ofa_bench.errors import SpaceError
from ofa_bench.io.untrusted.limits import excerpt
from ofa_bench.space.arch import Arch

__all__ = ["BatchOps", "as_batch"]


def as_batch(archs: Sequence[Arch] | np.ndarray, space: BatchOps | None = None) -> np.ndarray:
    """``archs`` (a list of :class:`Arch` or an array of choice values) as a checked int64 batch.

    Every part of ofa-bench that takes "archs or a batch array" converts through here, so the same
    input gives the same answer and the same error everywhere.

    Args:
        archs: The archs, or an ``(n, n_columns)`` array.
        space: Their search space; taken from the first arch when not given (an array needs it).

    Returns:
        ``(n, space.n_columns)`` int64; ``(0, 0)`` for an empty list without a space.

    Raises:
        SpaceError: An array without a space, or what :meth:`BatchOps.as_batch` refuses.
    """
    if space is None:
        if isinstance(archs, np.ndarray):
            raise SpaceError("a batch array of archs needs space= (the search space its columns belong to)")
        archs = list(archs)
        if not archs:
            return np.empty((0, 0), dtype=np.int64)
        if not isinstance(archs[0], Arch):
            raise SpaceError(f"arch 0 is a {type(archs[0]).__name__}: {excerpt(archs[0])}; expected an Arch or a batch array")
        space = archs[0].space
    return space.as_batch(archs)


class BatchOps:
    """Array operators of :class:`~ofa_bench.space.SearchSpace` (a mixin; it holds no state).

    They rely on the space's shape properties and its cached ``_tables``
    (:class:`~ofa_bench.space.tables._ChoiceTables`).
    """

    # ----- batches -----------------------------------------------------------------------------

    def to_array(self, archs: Iterable[Arch]) -> np.ndarray:
        """Stack archs of this space into an ``(n, n_columns)`` int64 array of choice values.

        Raises:
            SpaceError: Not a list of archs, or an arch of another space (naming its position).
        """
        if not isinstance(archs, Iterable) or isinstance(archs, (str, bytes, dict)):
            raise SpaceError(f"expected a list of Arch or a batch array; got a {type(archs).__name__}: {excerpt(archs)}")
        rows = []
        for i, arch in enumerate(archs):
            if not isinstance(arch, Arch):
                raise SpaceError(f"arch {i} is a {type(arch).__name__}: {excerpt(arch)}; expected an Arch or a batch array")
            if arch.space is not self and arch.space != self:
                raise SpaceError(f"arch {i} is of space {arch.space.name!r}; expected an arch of {self.name!r}")
            rows.append(arch._row)
        if not rows:
            return np.empty((0, self.n_columns), dtype=np.int64)
        return np.asarray(rows, dtype=np.int64)

    def from_array(self, array: np.ndarray) -> list[Arch]:
        """Turn an ``(n, n_columns)`` array of choice values into archs (validated, normalised)."""
        array = self.normalise(self.validate_array(array))
        b, s = self.n_blocks, self.n_stages
        return [
            Arch._trusted(self, tuple(row[:b]), tuple(row[b : 2 * b]), tuple(row[2 * b : 2 * b + s]), row[-1])
            for row in array.tolist()
        ]

    def validate_array(self, array: np.ndarray) -> np.ndarray:
        """Check an array of choice values; raise :class:`SpaceError` naming the first bad entry."""
        array = np.asarray(array)
        t = self._tables
        if array.ndim != 2 or array.shape[1] != t.n_columns:
            raise SpaceError(f"arch array must have shape (n, {self.n_columns}) for {self.name}; got {array.shape}")
        if array.dtype == np.int64 and (
            array.size == 0 or (array.min() >= 0 and array.max() < t.top and t.flat_valid.take(array + t.col_offset).all())
        ):
            return array  # the common case, one gather; the slow path below finds the first bad entry
        ok = (array >= 0) & (array < t.valid.shape[1])
        ok[ok] = t.valid[t.column_kind[np.nonzero(ok)[1]], array[ok]]
        if not ok.all():
            row, col = np.argwhere(~ok)[0]
            name, pos = self.column_name(col)
            self._raise_choice(name, pos, int(array[row, col]))
        return array.astype(np.int64, copy=False)

    def normalise(self, array: np.ndarray) -> np.ndarray:
        """Set blocks beyond their stage's depth to the smallest choices (a copy).

        Inactive blocks do not change the network, so normalising makes equal networks equal rows.
        """
        array = np.array(array, dtype=np.int64, copy=True)
        if array.ndim == 2 and array.shape[1] == self._tables.n_columns:
            return self._fill_inactive(array, self.active_mask(array))
        inactive = ~self.active_mask(array)
        b = self.n_blocks
        array[:, :b][inactive] = self.ks_choices[0]
        array[:, b : 2 * b][inactive] = self.e_choices[0]
        return array

    def active_mask(self, array: np.ndarray) -> np.ndarray:
        """Boolean ``(n, n_blocks)``: which blocks run, given each stage's depth."""
        t = self._tables
        return array.take(t.depth_cols, axis=1) > t.block_pos

    def _blocks(self, array: np.ndarray) -> np.ndarray:
        """The ``ks`` and ``e`` columns as an ``(n, 2, n_blocks)`` view (a copy if ``array`` is not C-ordered)."""
        nb = self._tables.n_blocks
        return array[:, : 2 * nb].reshape(len(array), 2, nb)

    def _fill_inactive(self, array: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Normalise a C-ordered int64 ``array`` in place, given its :meth:`active_mask`; returns it."""
        if array.flags.c_contiguous:  # then _blocks is a view
            np.copyto(self._blocks(array), self._tables.smallest, where=~active[:, None, :])
            return array
        b = self.n_blocks
        array[:, :b][~active] = self.ks_choices[0]
        array[:, b : 2 * b][~active] = self.e_choices[0]
        return array

    def sample_array(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """Draw ``n`` archs uniformly per choice (each block, stage and the resolution)."""
        rng = np.random.default_rng(rng)
        t = self._tables
        array = t.draw(rng, (n, t.n_columns))
        return self._fill_inactive(array, self.active_mask(array))

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> list[Arch]:
        """Draw ``n`` archs uniformly per choice; ``rng`` is a Generator or a seed."""
        if n < 0:
            raise SpaceError(f"n must be >= 0; got {n}")
        return self._trusted_archs(self.sample_array(n, rng))

    def mutate_array(
        self, array: np.ndarray, prob: float = 0.1, rng: np.random.Generator | int | None = None
    ) -> np.ndarray:
        """Resample each choice with probability ``prob`` (OFA's EvolutionFinder mutation).

        Blocks that a depth mutation switches on get fresh uniform choices rather than the
        normalised minimum, so mutation does not drift towards small kernels and expands.
        """
        rng = np.random.default_rng(rng)
        t = self._tables
        array = np.asarray(array, dtype=np.int64)
        fresh = t.draw(rng, array.shape)
        child = np.where(rng.random(array.shape) < prob, fresh, array)
        active = self.active_mask(child)
        switched_on = active & ~self.active_mask(array)
        np.copyto(self._blocks(child), self._blocks(fresh), where=switched_on[:, None, :])
        return self._fill_inactive(child, active)

    def mutate(self, arch: Arch, prob: float = 0.1, rng: np.random.Generator | int | None = None) -> Arch:
        """One mutated copy of ``arch`` (see :meth:`mutate_array`)."""
        return self._trusted_archs(self.mutate_array(self.to_array([arch]), prob, rng))[0]

    def crossover_array(
        self, a: np.ndarray, b: np.ndarray, rng: np.random.Generator | int | None = None
    ) -> np.ndarray:
        """Uniform crossover: each choice from either parent with equal probability.

        A block active in the child takes its choices from a parent in which it is active, and
        from a fresh uniform draw when neither parent has it.
        """
        rng = np.random.default_rng(rng)
        t = self._tables
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        take_a = rng.random(a.shape) < 0.5
        act_a, act_b = self.active_mask(a), self.active_mask(b)
        # A block active in one parent only comes from that parent, whatever the coin said.
        differ = act_a != act_b
        np.copyto(self._blocks(take_a), act_a[:, None, :], where=differ[:, None, :])
        child = np.where(take_a, a, b)
        act_c = self.active_mask(child)
        u = rng.random(a.shape)  # drawn always, so the stream does not depend on the parents
        fresh = act_c & ~(act_a | act_b)  # active in the child but in neither parent: fresh genes
        if fresh.any():
            np.copyto(self._blocks(child), self._blocks(t.values_from(u)), where=fresh[:, None, :])
        return self._fill_inactive(child, act_c)

    def crossover(self, a: Arch, b: Arch, rng: np.random.Generator | int | None = None) -> Arch:
        """One child of ``a`` and ``b`` (see :meth:`crossover_array`)."""
        return self._trusted_archs(self.crossover_array(self.to_array([a]), self.to_array([b]), rng))[0]

    # ----- encodings ---------------------------------------------------------------------------

    def encode_onehot(self, archs: Sequence[Arch] | np.ndarray) -> np.ndarray:
        """One-hot features exactly as OFA's accuracy predictor encodes archs (float32).

        Columns, in OFA's ``MobileNetArchEncoder`` order: one-hot resolution, then one-hot kernel of
        every block, then one-hot expand of every block; an inactive block's columns are all zero,
        so depth is implied. Width: ``|r| + n_blocks * (|ks| + |e|)``.
        """
        array = self.as_batch(archs)
        t = self._tables
        idx = t.index_of(array)
        active = self.active_mask(array)
        n, nb = array.shape[0], self.n_blocks
        width = len(self.resolutions) + nb * (len(self.ks_choices) + len(self.e_choices))
        out = np.zeros((n, width), dtype=np.float32)
        # Flat positions of the ones: the resolution's, then each active block's kernel and expand.
        hot = idx[:, t.onehot_columns] + t.onehot_offset + (np.arange(n) * width)[:, None]
        on = np.concatenate([active, active, np.ones((n, 1), dtype=bool)], axis=1)
        out.ravel()[hot[on]] = 1.0
        return out

    def encode_ordinal(self, archs: Sequence[Arch] | np.ndarray) -> np.ndarray:
        """Ordinal features (float32): choice index per column, ``-1`` for inactive blocks."""
        array = self.as_batch(archs)
        idx = self._tables.index_of(array).astype(np.float32)
        inactive = ~self.active_mask(array)
        nb = self.n_blocks
        idx[:, :nb][inactive] = -1.0
        idx[:, nb : 2 * nb][inactive] = -1.0
        return idx

    def as_batch(self, archs: Sequence[Arch] | np.ndarray) -> np.ndarray:
        """Archs of this space, or an array of its choice values, as a checked ``(n, n_columns)`` int64 batch.

        Raises:
            SpaceError: An arch of another space, not an arch, or an array entry that is not a
                choice (naming the column, position and allowed values).
        """
        if isinstance(archs, np.ndarray):
            return self.validate_array(archs)
        return self.to_array(archs)

    def _trusted_archs(self, array: np.ndarray) -> list[Arch]:
        b, s = self.n_blocks, self.n_stages
        return [
            Arch._trusted(self, tuple(row[:b]), tuple(row[b : 2 * b]), tuple(row[2 * b : 2 * b + s]), row[-1])
            for row in array.tolist()
        ]
