"""Every layer a search space can contain, laid out so a batch of archs maps to layers by indexing.

A block's layer shape depends only on its position, kernel, expand ratio and the resolution, and
the layers before and after the elastic blocks only on the resolution. So a space's layers form a
grid ``(n_blocks, |ks|, |e|, |r|)`` plus a short list per resolution, read off
:func:`ofa_bench.costs.layers` of a few covering archs (the cost model stays the one source of
layer shapes). Lookup tables index this grid; the table builder times its distinct entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ofa_bench.costs import LayerShape, layers
from ofa_bench.errors import OfaBenchError
from ofa_bench.space import Arch, SearchSpace

__all__ = ["LayerGrid", "layer_grid"]


@dataclass(frozen=True)
class LayerGrid:
    """The layers of one search space.

    Attributes:
        space: The space.
        blocks: Object array ``(n_blocks, |ks|, |e|, |r|)`` of :class:`LayerShape`: the layer of
            the block at each position with each kernel, expand ratio and resolution.
        fixed: Per resolution (in ``space.resolutions`` order), the layers every arch has.
    """

    space: SearchSpace
    blocks: np.ndarray
    fixed: tuple[tuple[LayerShape, ...], ...]

    def distinct(self) -> list[LayerShape]:
        """Every distinct layer (by lookup-table key), resolution by resolution, in network order."""
        seen: dict[str, LayerShape] = {}
        for ri in range(len(self.space.resolutions)):
            for layer in self.fixed[ri][: self._n_head]:
                seen.setdefault(layer.key(), layer)
            for layer in self.blocks[:, :, :, ri].reshape(-1):
                seen.setdefault(layer.key(), layer)
            for layer in self.fixed[ri][self._n_head :]:
                seen.setdefault(layer.key(), layer)
        return list(seen.values())

    @property
    def _n_head(self) -> int:
        return _head_length(self.space)


def _uniform(space: SearchSpace, k: int, e: int, r: int) -> Arch:
    """The full-depth arch with kernel ``k`` and expand ``e`` in every block: all blocks active."""
    return space.arch([k] * space.n_blocks, [e] * space.n_blocks, [space.max_depth] * space.n_stages, r)


@lru_cache(maxsize=None)
def _head_length(space: SearchSpace) -> int:
    """How many fixed layers precede the elastic blocks in :func:`layers`' list.

    Found as the first position where two archs that differ only in block 0 differ, so it
    follows the cost model rather than restating the network's structure here.
    """
    a = _uniform(space, space.ks_choices[0], space.e_choices[0], space.resolutions[0])
    if len(space.ks_choices) > 1:
        b = a.replace(ks=(space.ks_choices[1],) + a.ks[1:])
    elif len(space.e_choices) > 1:
        b = a.replace(e=(space.e_choices[1],) + a.e[1:])
    else:
        raise OfaBenchError(
            f"space {space.name!r} has one kernel and one expand choice; lookup tables need at least two of either"
        )
    for i, (x, y) in enumerate(zip(layers(a), layers(b))):
        if x != y:
            return i
    raise AssertionError("archs differing in block 0 have equal layers")  # the cost model would be broken


@lru_cache(maxsize=None)
def layer_grid(space: SearchSpace) -> LayerGrid:
    """The :class:`LayerGrid` of ``space`` (cached per space)."""
    nb = space.n_blocks
    head = _head_length(space)
    nk, ne, nr = len(space.ks_choices), len(space.e_choices), len(space.resolutions)
    blocks = np.empty((nb, nk, ne, nr), dtype=object)
    fixed = []
    for ri, r in enumerate(space.resolutions):
        for ki, k in enumerate(space.ks_choices):
            for ei, e in enumerate(space.e_choices):
                shapes = layers(_uniform(space, k, e, r))
                for b in range(nb):
                    blocks[b, ki, ei, ri] = shapes[head + b]
        fixed.append(tuple(shapes[:head] + shapes[head + nb :]))
    return LayerGrid(space, blocks, tuple(fixed))
