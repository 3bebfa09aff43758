"""The choices and fixed skeleton of a search space, and the shape of its batch arrays.

:class:`SpaceShape` is the base of :class:`~ofa_bench.space.SearchSpace`. It lives here, below
:mod:`ofa_bench.space.arch` and :mod:`ofa_bench.space.tables`, so that those modules can name
the space they work on without importing :mod:`ofa_bench.space`, which imports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ofa_bench.errors import SpaceError
from ofa_bench.io.untrusted.limits import excerpt
from ofa_bench.space.network import NetworkSpec

__all__ = ["SpaceShape"]


@dataclass(frozen=True)
class SpaceShape:
    """The elastic choices plus the fixed network skeleton of a named search space.

    Equal when every field but the description is equal (so two custom spaces that share a name
    but not a skeleton never share cached tables).
    """

    name: str
    net: NetworkSpec
    ks_choices: tuple[int, ...] = (3, 5, 7)
    e_choices: tuple[int, ...] = (3, 4, 6)
    d_choices: tuple[int, ...] = (2, 3, 4)
    resolutions: tuple[int, ...] = tuple(range(128, 225, 4))
    description: str = field(default="", compare=False)

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
        allowed = describe_choices(self.choices(name))
        raise SpaceError(f"{where}={excerpt(value)} is not allowed in {self.name}; allowed: {allowed}")


def describe_choices(choices: Sequence[int]) -> str:
    """Readable list of choices; long arithmetic runs as ``128..224 step 4``."""
    if len(choices) > 6:
        steps = {b - a for a, b in zip(choices, choices[1:])}
        if len(steps) == 1:
            return f"{choices[0]}..{choices[-1]} step {steps.pop()}"
    return ", ".join(str(c) for c in choices)
