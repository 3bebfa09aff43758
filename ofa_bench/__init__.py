"""ofa-bench: compare NAS search strategies, accuracy predictors and latency models on one
Once-for-All supernet.

The core values are :class:`Arch` (one sub-network) and :class:`SearchSpace` (its choices and
skeleton); everything else measures archs or reads measurements.
"""

from __future__ import annotations

from ofa_bench.errors import OfaBenchError, PluginError, SpaceError
from ofa_bench.space import Arch, NetworkSpec, SearchSpace, get_space, preset_names

__version__ = "0.1.0"

__all__ = [
    "Arch",
    "NetworkSpec",
    "OfaBenchError",
    "PluginError",
    "SearchSpace",
    "SpaceError",
    "__version__",
    "get_space",
    "preset_names",
]
