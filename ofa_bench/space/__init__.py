"""Search spaces and architectures: the value that flows through every part of ofa-bench.

An :class:`Arch` is one sub-network (a kernel size and expand ratio per block, a depth per stage, a
resolution) and serialises to OFA's own dict form; a :class:`SearchSpace` is a named preset with
its choices, the fixed network skeleton, sampling, mutation, crossover and encodings over whole
batches. A batch of archs is an ``int64`` array of choice values (:func:`as_batch` makes one, checked,
from archs or an array), columns ``ks[0..B) | e[0..B) | d[0..S) | r``.
"""

from __future__ import annotations

from ofa_bench.space.arch import Arch
from ofa_bench.space.batch import as_batch
from ofa_bench.space.network import NetworkSpec, make_divisible
from ofa_bench.space.search_space import SearchSpace, get_space, preset_names

__all__ = ["Arch", "NetworkSpec", "SearchSpace", "as_batch", "get_space", "make_divisible", "preset_names"]
