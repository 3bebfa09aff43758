"""Search spaces and architectures: the value that flows through every part of ofa-bench.

An :class:`Arch` is one sub-network of an OFA-style elastic MobileNetV3: a kernel size and expand
ratio per block, a depth per stage and an input resolution. It serialises to the dict form OFA
itself uses, ``{"ks": [...], "e": [...], "d": [...], "r": 224}``, so archs from OFA users load
unchanged. A :class:`SearchSpace` holds the choices and the fixed network skeleton, and offers
sampling, mutation, crossover and encodings over whole batches as numpy arrays.

Batches are ``int64`` arrays of choice *values* with columns ``ks[0..B) | e[0..B) | d[0..S) | r``
(``B`` blocks, ``S`` stages); :meth:`SearchSpace.to_array` and :meth:`SearchSpace.from_array`
convert.

This module defines :class:`SearchSpace` and the presets; :class:`Arch`, :class:`NetworkSpec`, the
space's shape and the batch operators live in the modules beside it (which never import this one),
and :mod:`ofa_bench.space` re-exports the public names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np

from ofa_bench.errors import OfaBenchError, SpaceError
from ofa_bench.io.untrusted.limits import excerpt
from ofa_bench.space.arch import Arch
from ofa_bench.space.batch import BatchOps
from ofa_bench.space.network import NetworkSpec, make_divisible
from ofa_bench.space.shape import SpaceShape
from ofa_bench.space.tables import _ChoiceTables

__all__ = [
    "Arch",
    "NetworkSpec",
    "SearchSpace",
    "get_space",
    "make_divisible",
    "preset_names",
]


class SearchSpace(BatchOps, SpaceShape):
    """A named search space: the elastic choices plus the fixed network skeleton.

    Its fields and shape (``n_blocks``, ``n_columns``, ``choices``...) come from
    :class:`~ofa_bench.space.shape.SpaceShape`, its batch operators from
    :class:`~ofa_bench.space.batch.BatchOps`. Equal when every field but the description is
    equal (so two custom spaces that share a name but not a skeleton never share cached tables);
    presets are looked up with :func:`get_space`.
    """

    def __repr__(self) -> str:
        return f"SearchSpace({self.name!r})"

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
            raise SpaceError(f"unknown arch key {excerpt(unknown[0])}; allowed keys: ks, e, d, r")
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
        from ofa_bench.io.untrusted import parse_json

        try:
            data = parse_json(text, "arch")
        except OfaBenchError as exc:
            raise SpaceError(str(exc).removeprefix("arch: ")) from None
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
        """The smallest sub-network (min kernel, expand and depth) at ``r`` (default: min).

        At the default resolution it is the cheapest arch of the space: every cost grows with every
        choice, the resolution included.
        """
        return Arch(
            self,
            [min(self.ks_choices)] * self.n_blocks,
            [min(self.e_choices)] * self.n_blocks,
            [min(self.d_choices)] * self.n_stages,
            min(self.resolutions) if r is None else r,
        )


def _broadcast(value: Any, length: int) -> Any:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return [value] * length
    return value


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
        SearchSpace(
            "ofa-fmnist",
            # OFA's 5 stages x 4 blocks and choices, sized for 28x28 grayscale on a 2-core CPU: the
            # early, high-resolution stages stay as narrow as ofa-mini's (depthwise convolutions there
            # dominate CPU time); the late stages, at 4x4 and 2x2 pixels, are wider for capacity.
            NetworkSpec(
                in_channels=1,
                stem_width=8,
                first_block_width=8,
                stage_widths=(16, 24, 40, 56, 72),
                final_expand_width=144,
                feature_mix_width=288,
                stem_stride=2,
                stage_strides=(1, 2, 2, 1, 2),
                n_classes=10,
            ),
            resolutions=(16, 20, 24, 28),
            description="small MobileNetV3 for 28x28 grayscale (Fashion-MNIST), 16..28 px",
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
        raise SpaceError(f"unknown search space {excerpt(name)}; known: {', '.join(preset_names())}") from None
