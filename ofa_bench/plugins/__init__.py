"""Plug-ins: the interfaces strategies, predictors and hardware backends implement, the registry that
finds them through entry points, spec strings (``name:key=value``) and the conformance kits.

A plug-in author needs only this package, :mod:`ofa_bench.space` and :mod:`ofa_bench.objectives`:

- :class:`Strategy`, :class:`Predictor`, :class:`HardwareBackend` (and :class:`BuildableBackend`) to
  subclass, :class:`ArchRegressor` as the recommended predictor base;
- :mod:`~ofa_bench.plugins.registry` to list, get and create plug-ins by name;
- :mod:`ofa_bench.plugins.testing` to check a plug-in against its kind's contract.
"""

from __future__ import annotations

from ofa_bench.plugins import registry
from ofa_bench.plugins.interfaces import (
    BuildableBackend,
    Constraint,
    HardwareBackend,
    Objective,
    Predictor,
    Strategy,
)
from ofa_bench.plugins.predictor_base import ArchRegressor

__all__ = [
    "ArchRegressor",
    "BuildableBackend",
    "Constraint",
    "HardwareBackend",
    "Objective",
    "Predictor",
    "Strategy",
    "registry",
]
