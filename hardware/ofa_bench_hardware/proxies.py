"""Analytic proxies for latency: MACs and parameter counts, computed for whole batches at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ofa_bench_hardware.batch import arch_array
from ofa_bench.costs import macs_params
from ofa_bench.interfaces import HardwareBackend

if TYPE_CHECKING:
    from ofa_bench.space import Arch, SearchSpace

__all__ = ["MacsProxy", "ParamsProxy"]


class _CostProxy(HardwareBackend):
    """A proxy returning one of the analytic costs, in millions, in place of latency."""

    units: ClassVar[str] = ""
    _cost_index: ClassVar[int] = 0  # position in the (macs, params) pair

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
        cost = macs_params(array, space)[self._cost_index]
        return np.asarray(cost, dtype=np.float64) / 1e6

    def describe(self) -> dict[str, Any]:
        """Describe this proxy; it is exact and deterministic, and versioned with ofa-bench."""
        # Imported here so that importing a plug-in never depends on the package's import order.
        from ofa_bench import __version__

        return {
            "name": self.name,
            "device": "analytic",
            "version": __version__,
            "units": self.units,
            "deterministic": True,
        }


class MacsProxy(_CostProxy):
    """Multiply-accumulate operations per image, in millions, as a stand-in for latency."""

    name = "macs"
    units = "MMACs"
    _cost_index = 0


class ParamsProxy(_CostProxy):
    """Parameter count, in millions, as a stand-in for latency."""

    name = "params"
    units = "M params"
    _cost_index = 1
