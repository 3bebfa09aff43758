"""Analytic proxies for latency: MACs and parameter counts, computed for whole batches at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from ofa_bench_hardware.batch import arch_array

from ofa_bench.costs import macs_params
from ofa_bench.plugins.interfaces import HardwareBackend

if TYPE_CHECKING:
    from ofa_bench.space import Arch, SearchSpace

__all__ = ["MMacsProxy", "MParamsProxy"]


class _CostProxy(HardwareBackend):
    """A proxy returning one of the analytic costs, in millions, in place of latency.

    ``analytic_cost`` (``macs`` or ``params``) and ``scale`` (values = cost x scale) declare the
    proxy analytic: the core then computes its column from the arch alone, with this scale, read
    from here (:data:`ofa_bench.objectives.ANALYTIC_COLUMNS`), so searches need no evaluation for it.
    """

    accepts_arrays = True

    units: ClassVar[str] = ""
    analytic_cost: ClassVar[str] = "macs"
    scale: ClassVar[float] = 1e-6

    def latency(self, archs: Sequence[Arch] | np.ndarray, *, space: SearchSpace | None = None) -> np.ndarray:
        """Return the cost of each arch in millions.

        Args:
            archs: Archs, all from one search space, or an ``(n, n_columns)`` choice array.
            space: The space of an array batch.

        Returns:
            Float64 array of shape ``(n,)`` in :attr:`units`.
        """
        array, space = arch_array(archs, space)
        # An empty batch may name no space, so the cost model cannot be asked.
        if array.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        cost = macs_params(array, space)[("macs", "params").index(self.analytic_cost)]
        return np.asarray(cost, dtype=np.float64) * self.scale

    def describe(self) -> dict[str, Any]:
        """Describe this proxy; it is exact and deterministic, and versioned with ofa-bench."""
        # Imported here so that importing a plug-in never depends on the package's import order.
        from ofa_bench.version import __version__

        return {
            "name": self.name,
            "device": "analytic",
            "version": __version__,
            "units": self.units,
            "analytic_cost": self.analytic_cost,
            "scale": self.scale,
            "deterministic": True,
        }


class MMacsProxy(_CostProxy):
    """Multiply-accumulate operations per image, in millions (column ``latency:mmacs``)."""

    name = "mmacs"
    units = "MMACs"
    analytic_cost = "macs"


class MParamsProxy(_CostProxy):
    """Parameter count, in millions (column ``latency:mparams``)."""

    name = "mparams"
    units = "M params"
    analytic_cost = "params"
