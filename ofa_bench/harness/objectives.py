"""Deprecated location of :mod:`ofa_bench.objectives` (objectives and constraints are a core concept).

Kept for one release so third-party plug-ins written against it keep working; import
``ofa_bench.objectives`` instead.
"""

from __future__ import annotations

from ofa_bench.objectives import *  # noqa: F403
from ofa_bench.objectives import __all__  # noqa: F401
