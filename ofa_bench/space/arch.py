"""One sub-network of a search space (:class:`Arch`) and the checks that validate its fields.

An :class:`Arch` serialises to the dict form OFA itself uses,
``{"ks": [...], "e": [...], "d": [...], "r": 224}``, so archs from OFA users load unchanged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ofa_bench.errors import SpaceError
from ofa_bench.io.untrusted.limits import excerpt
from ofa_bench.space.shape import describe_choices

if TYPE_CHECKING:
    from ofa_bench.space.shape import SpaceShape

__all__ = ["Arch"]


class Arch:
    """One sub-network: kernel size and expand ratio per block, depth per stage, resolution.

    Immutable and hashable; validated against its space on construction. Blocks beyond a stage's
    depth are normalised to the smallest choices, so two equal networks are equal archs.

    Args:
        space: The search space the arch belongs to (a :class:`~ofa_bench.space.SearchSpace`;
            typed by its base here, which this module can import without a cycle).
        ks: Kernel size per block (``space.n_blocks`` values).
        e: Expand ratio per block (``space.n_blocks`` values).
        d: Depth per stage (``space.n_stages`` values).
        r: Input resolution.
    """

    __slots__ = ("space", "ks", "e", "d", "r", "_hash")

    space: SpaceShape
    ks: tuple[int, ...]
    e: tuple[int, ...]
    d: tuple[int, ...]
    r: int

    def __init__(self, space: SpaceShape, ks: Sequence[int], e: Sequence[int], d: Sequence[int], r: int) -> None:
        ks_t = _checked(space, "ks", ks, space.n_blocks)
        e_t = _checked(space, "e", e, space.n_blocks)
        d_t = _checked(space, "d", d, space.n_stages)
        (r_i,) = _checked(space, "r", [r], 1, scalar=True)
        depth = space.max_depth
        ks_n = tuple(k if i % depth < d_t[i // depth] else space.ks_choices[0] for i, k in enumerate(ks_t))
        e_n = tuple(x if i % depth < d_t[i // depth] else space.e_choices[0] for i, x in enumerate(e_t))
        self._set(space, ks_n, e_n, d_t, r_i)

    @classmethod
    def _trusted(cls, space: SpaceShape, ks: tuple, e: tuple, d: tuple, r: int) -> Arch:
        """Build without validation from values known valid and normalised (batch paths)."""
        arch = cls.__new__(cls)
        arch._set(space, ks, e, d, r)
        return arch

    def _set(self, space: SpaceShape, ks: tuple, e: tuple, d: tuple, r: int) -> None:
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
            raise SpaceError(f"unknown arch field {excerpt(unknown[0])}; fields: ks, e, d, r")
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


def _checked(space: SpaceShape, name: str, values: Any, length: int, scalar: bool = False) -> tuple[int, ...]:
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
            raise SpaceError(f"{where}={excerpt(value)} is not an integer; allowed: {describe_choices(allowed)}")
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

