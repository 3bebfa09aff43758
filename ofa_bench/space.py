"""Search spaces and architectures: the value that flows through every part of ofa-bench.

An :class:`Arch` is one sub-network of an OFA-style elastic MobileNetV3: a kernel size and expand
ratio per block, a depth per stage and an input resolution. It serialises to the dict form OFA
itself uses, ``{"ks": [...], "e": [...], "d": [...], "r": 224}``, so archs from OFA users load
unchanged. A :class:`SearchSpace` holds the choices and the fixed network skeleton, and offers
sampling, mutation, crossover and encodings over whole batches as numpy arrays.

Batches are ``int64`` arrays of choice *values* with columns ``ks[0..B) | e[0..B) | d[0..S) | r``
(``B`` blocks, ``S`` stages); :meth:`SearchSpace.to_array` and :meth:`SearchSpace.from_array`
convert.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ofa_bench.errors import SpaceError

__all__ = [
    "Arch",
    "NetworkSpec",
    "SearchSpace",
    "get_space",
    "make_divisible",
    "preset_names",
]


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of ``divisor`` the way MobileNet (and OFA) do.

    Never rounds down by more than 10%, so a width multiplier cannot shrink a layer too much.
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


@dataclass(frozen=True)
class NetworkSpec:
    """The fixed skeleton of an elastic MobileNetV3: what does not vary between sub-networks.

    Widths are base widths before the width multiplier; ``channels`` applies it.
    """

    in_channels: int = 3
    stem_width: int = 16
    first_block_width: int = 16
    stage_widths: tuple[int, ...] = (24, 40, 80, 112, 160)
    final_expand_width: int = 960
    feature_mix_width: int = 1280
    stem_stride: int = 2
    first_block_stride: int = 1
    stage_strides: tuple[int, ...] = (2, 2, 2, 1, 2)
    stem_act: str = "h_swish"
    first_block_act: str = "relu"
    stage_acts: tuple[str, ...] = ("relu", "relu", "h_swish", "h_swish", "h_swish")
    stage_se: tuple[bool, ...] = (False, True, False, True, True)
    width_mult: float = 1.0
    n_classes: int = 1000
    dropout: float = 0.1

    def channels(self, base: int) -> int:
        """Width of a layer whose base width is ``base`` under this spec's multiplier."""
        return make_divisible(base * self.width_mult, 8)


@dataclass(frozen=True)
class SearchSpace:
    """A named search space: the elastic choices plus the fixed network skeleton.

    Equal when every field but the description is equal (so two custom spaces that share a name
    but not a skeleton never share cached tables); presets are looked up with :func:`get_space`.
    """

    name: str
    net: NetworkSpec
    ks_choices: tuple[int, ...] = (3, 5, 7)
    e_choices: tuple[int, ...] = (3, 4, 6)
    d_choices: tuple[int, ...] = (2, 3, 4)
    resolutions: tuple[int, ...] = tuple(range(128, 225, 4))
    description: str = field(default="", compare=False)

    def __repr__(self) -> str:
        return f"SearchSpace({self.name!r})"

    # ----- shape -------------------------------------------------------------------------------

    @property
    def n_stages(self) -> int:
        """Number of elastic stages."""
        return len(self.net.stage_widths)

    @property
    def max_depth(self) -> int:
        """Blocks per stage in the full network."""
        return max(self.d_choices)

    @property
    def n_blocks(self) -> int:
        """Length of the ``ks`` and ``e`` lists: ``n_stages * max_depth``."""
        return self.n_stages * self.max_depth

    @property
    def n_columns(self) -> int:
        """Columns of a batch array: ``ks``, ``e``, ``d`` and ``r``."""
        return 2 * self.n_blocks + self.n_stages + 1

    @property
    def size(self) -> int:
        """Number of distinct sub-networks (architectures x resolutions)."""
        per_block = len(self.ks_choices) * len(self.e_choices)
        per_stage = sum(per_block**d for d in self.d_choices)
        return per_stage**self.n_stages * len(self.resolutions)

    @cached_property
    def _tables(self) -> _ChoiceTables:
        return _ChoiceTables.build(self)

    # ----- single archs ------------------------------------------------------------------------

    def arch(self, ks: Sequence[int], e: Sequence[int], d: Sequence[int], r: int) -> Arch:
        """Build a validated :class:`Arch` of this space."""
        return Arch(self, ks, e, d, r)

    def from_dict(self, data: Mapping[str, Any]) -> Arch:
        """Load an arch from OFA's dict form ``{"ks": [...], "e": [...], "d": [...], "r": int}``.

        ``r`` may be omitted when the space has a single resolution; scalar ``ks``/``e``/``d``
        (as OFA's ``set_active_subnet`` accepts) are broadcast to every block or stage.
        """
        if not isinstance(data, Mapping):
            raise SpaceError(f"an arch must be a JSON object with keys ks, e, d, r; got {type(data).__name__}")
        unknown = sorted(set(data) - {"ks", "e", "d", "r", "wid"})
        if unknown:
            raise SpaceError(f"unknown arch key {unknown[0]!r}; allowed keys: ks, e, d, r")
        missing = [key for key in ("ks", "e", "d") if key not in data]
        if "r" not in data and len(self.resolutions) > 1:
            missing.append("r")
        if missing:
            raise SpaceError(f"arch is missing key {missing[0]!r}; an arch needs ks, e, d, r")
        r = data.get("r", self.resolutions[0])
        if isinstance(r, list) and len(r) == 1:  # OFA's net configs store r as a one-item list
            r = r[0]
        return Arch(
            self,
            _broadcast(data["ks"], self.n_blocks),
            _broadcast(data["e"], self.n_blocks),
            _broadcast(data["d"], self.n_stages),
            r,
        )

    def from_json(self, text: str) -> Arch:
        """Load an arch from one JSON object in OFA's dict form."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpaceError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        return self.from_dict(data)

    def largest(self, r: int | None = None) -> Arch:
        """The largest sub-network (max kernel, expand and depth) at ``r`` (default: max)."""
        return Arch(
            self,
            [max(self.ks_choices)] * self.n_blocks,
            [max(self.e_choices)] * self.n_blocks,
            [self.max_depth] * self.n_stages,
            max(self.resolutions) if r is None else r,
        )

    def smallest(self, r: int | None = None) -> Arch:
        """The smallest sub-network (min kernel, expand and depth) at ``r`` (default: max)."""
        return Arch(
            self,
            [min(self.ks_choices)] * self.n_blocks,
            [min(self.e_choices)] * self.n_blocks,
            [min(self.d_choices)] * self.n_stages,
            max(self.resolutions) if r is None else r,
        )

    # ----- batches -----------------------------------------------------------------------------

    def to_array(self, archs: Iterable[Arch]) -> np.ndarray:
        """Stack archs of this space into an ``(n, n_columns)`` int64 array of choice values."""
        rows = []
        for arch in archs:
            if arch.space is not self and arch.space != self:
                raise SpaceError(f"arch of space {arch.space.name!r} given where {self.name!r} is expected")
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
        array = self._as_array(archs)
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
        array = self._as_array(archs)
        idx = self._tables.index_of(array).astype(np.float32)
        inactive = ~self.active_mask(array)
        nb = self.n_blocks
        idx[:, :nb][inactive] = -1.0
        idx[:, nb : 2 * nb][inactive] = -1.0
        return idx

    # ----- helpers -----------------------------------------------------------------------------

    def column_name(self, col: int) -> tuple[str, int | None]:
        """Which field and position a batch column holds, e.g. ``("ks", 4)`` or ``("r", None)``."""
        nb, ns = self.n_blocks, self.n_stages
        if col < nb:
            return "ks", col
        if col < 2 * nb:
            return "e", col - nb
        if col < 2 * nb + ns:
            return "d", col - 2 * nb
        return "r", None

    def choices(self, name: str) -> tuple[int, ...]:
        """The allowed values of field ``name`` (``ks``, ``e``, ``d`` or ``r``)."""
        return {"ks": self.ks_choices, "e": self.e_choices, "d": self.d_choices, "r": self.resolutions}[name]

    def _raise_choice(self, name: str, pos: int | None, value: Any) -> None:
        where = name if pos is None else f"{name}[{pos}]"
        raise SpaceError(f"{where}={value!r} is not allowed in {self.name}; allowed: {_describe(self.choices(name))}")

    def _as_array(self, archs: Sequence[Arch] | np.ndarray) -> np.ndarray:
        if isinstance(archs, np.ndarray):
            return self.validate_array(archs)
        return self.to_array(archs)

    def _trusted_archs(self, array: np.ndarray) -> list[Arch]:
        b, s = self.n_blocks, self.n_stages
        return [
            Arch._trusted(self, tuple(row[:b]), tuple(row[b : 2 * b]), tuple(row[2 * b : 2 * b + s]), row[-1])
            for row in array.tolist()
        ]


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
    def build(space: SearchSpace) -> _ChoiceTables:
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


class Arch:
    """One sub-network: kernel size and expand ratio per block, depth per stage, resolution.

    Immutable and hashable; validated against its space on construction. Blocks beyond a stage's
    depth are normalised to the smallest choices, so two equal networks are equal archs.

    Args:
        space: The search space the arch belongs to.
        ks: Kernel size per block (``space.n_blocks`` values).
        e: Expand ratio per block (``space.n_blocks`` values).
        d: Depth per stage (``space.n_stages`` values).
        r: Input resolution.
    """

    __slots__ = ("space", "ks", "e", "d", "r", "_hash")

    space: SearchSpace
    ks: tuple[int, ...]
    e: tuple[int, ...]
    d: tuple[int, ...]
    r: int

    def __init__(self, space: SearchSpace, ks: Sequence[int], e: Sequence[int], d: Sequence[int], r: int) -> None:
        ks_t = _checked(space, "ks", ks, space.n_blocks)
        e_t = _checked(space, "e", e, space.n_blocks)
        d_t = _checked(space, "d", d, space.n_stages)
        (r_i,) = _checked(space, "r", [r], 1, scalar=True)
        depth = space.max_depth
        ks_n = tuple(k if i % depth < d_t[i // depth] else space.ks_choices[0] for i, k in enumerate(ks_t))
        e_n = tuple(x if i % depth < d_t[i // depth] else space.e_choices[0] for i, x in enumerate(e_t))
        self._set(space, ks_n, e_n, d_t, r_i)

    @classmethod
    def _trusted(cls, space: SearchSpace, ks: tuple, e: tuple, d: tuple, r: int) -> Arch:
        """Build without validation from values known valid and normalised (batch paths)."""
        arch = cls.__new__(cls)
        arch._set(space, ks, e, d, r)
        return arch

    def _set(self, space: SearchSpace, ks: tuple, e: tuple, d: tuple, r: int) -> None:
        setter = object.__setattr__
        setter(self, "space", space)
        setter(self, "ks", ks)
        setter(self, "e", e)
        setter(self, "d", d)
        setter(self, "r", r)
        setter(self, "_hash", hash((space.name, ks, e, d, r)))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Arch is immutable; build a new one with SearchSpace.arch or replace()")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Arch):
            return NotImplemented
        return (
            self._hash == other._hash
            and self.space.name == other.space.name
            and (self.ks, self.e, self.d, self.r) == (other.ks, other.e, other.d, other.r)
        )

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple:
        # The space travels with the arch, so archs of custom (non-preset) spaces pickle too.
        return (Arch, (self.space, self.ks, self.e, self.d, self.r))

    def __repr__(self) -> str:
        return f"Arch({self.space.name}, {self.to_json()})"

    @property
    def _row(self) -> tuple[int, ...]:
        return (*self.ks, *self.e, *self.d, self.r)

    def replace(self, **changes: Any) -> Arch:
        """A validated copy with some of ``ks``, ``e``, ``d``, ``r`` replaced."""
        fields = {"ks": self.ks, "e": self.e, "d": self.d, "r": self.r}
        unknown = sorted(set(changes) - set(fields))
        if unknown:
            raise SpaceError(f"unknown arch field {unknown[0]!r}; fields: ks, e, d, r")
        fields.update(changes)
        return Arch(self.space, **fields)

    def to_dict(self) -> dict[str, Any]:
        """OFA's dict form: ``{"ks": [...], "e": [...], "d": [...], "r": int}``."""
        return {"ks": list(self.ks), "e": list(self.e), "d": list(self.d), "r": self.r}

    def to_json(self) -> str:
        """One-line JSON of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @property
    def active_blocks(self) -> list[tuple[int, int, int]]:
        """``(stage, block_in_stage, flat_index)`` of every block that runs, in order."""
        depth = self.space.max_depth
        return [(s, j, s * depth + j) for s, d in enumerate(self.d) for j in range(d)]


def _broadcast(value: Any, length: int) -> Any:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return [value] * length
    return value


def _checked(space: SearchSpace, name: str, values: Any, length: int, scalar: bool = False) -> tuple[int, ...]:
    if not scalar:
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
            raise SpaceError(f"{name} must be a list of {length} integers; got {type(values).__name__}")
        values = list(values)
        if len(values) != length:
            what = "blocks" if name in ("ks", "e") else "stages"
            detail = f"{space.n_stages} stages x {space.max_depth} blocks" if what == "blocks" else "one per stage"
            raise SpaceError(f"{name} has {len(values)} values; {space.name} needs {length} ({detail})")
    allowed = space.choices(name)
    out = []
    for i, value in enumerate(values):
        where = name if scalar else f"{name}[{i}]"
        number = _as_int(value)
        if number is None:
            raise SpaceError(f"{where}={value!r} is not an integer; allowed: {_describe(allowed)}")
        if number not in allowed:
            space._raise_choice(name, None if scalar else i, number)
        out.append(number)
    return tuple(out)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    return None


def _describe(choices: Sequence[int]) -> str:
    """Readable list of choices; long arithmetic runs as ``128..224 step 4``."""
    if len(choices) > 6:
        steps = {b - a for a, b in zip(choices, choices[1:])}
        if len(steps) == 1:
            return f"{choices[0]}..{choices[-1]} step {steps.pop()}"
    return ", ".join(str(c) for c in choices)


_MBV3 = "the original OFA MobileNetV3 (Cai et al., ICLR 2020)"

_PRESETS: dict[str, SearchSpace] = {
    space.name: space
    for space in (
        SearchSpace("ofa-mbv3-w1.0", NetworkSpec(width_mult=1.0), description=f"{_MBV3}, width 1.0"),
        SearchSpace("ofa-mbv3-w1.2", NetworkSpec(width_mult=1.2), description=f"{_MBV3}, width 1.2"),
        SearchSpace(
            "ofa-mini",
            # Sized so default progressive shrinking on digits fits in minutes on a 2-core CPU:
            # 8x8 digits need no more than 24 px, and depthwise 7x7 kernels dominate CPU time.
            NetworkSpec(
                in_channels=1,
                stem_width=8,
                first_block_width=8,
                stage_widths=(16, 24, 32, 40, 48),
                final_expand_width=96,
                feature_mix_width=192,
                stem_stride=2,
                stage_strides=(1, 2, 2, 1, 2),
                n_classes=10,
            ),
            resolutions=(12, 16, 20, 24),
            description="small MobileNetV3 for the bundled 8x8 digits, upsampled to 12..24 px",
        ),
    )
}


def preset_names() -> list[str]:
    """Names of the built-in search-space presets."""
    return sorted(_PRESETS)


def get_space(name: str | SearchSpace) -> SearchSpace:
    """The preset called ``name`` (a :class:`SearchSpace` passes through)."""
    if isinstance(name, SearchSpace):
        return name
    try:
        return _PRESETS[name]
    except (KeyError, TypeError):
        raise SpaceError(f"unknown search space {name!r}; known: {', '.join(preset_names())}") from None
