"""An example ofa-bench hardware backend: a device that does a fixed number of MACs per second.

``latency_ms = overhead_ms + MACs / (gmacs_per_s * 1e9) * 1e3``. Crude, but it shows everything a
backend needs: subclass :class:`ofa_bench.plugins.interfaces.HardwareBackend`, set ``name``, implement
``latency`` (a batch in, one float64 millisecond value per arch out) and ``describe``, and declare
the class under the ``ofa_bench.hardware`` entry-point group in ``pyproject.toml``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ofa_bench.costs import macs_params
from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins.interfaces import HardwareBackend
from ofa_bench.space import Arch

__all__ = ["ThroughputLatency"]
__version__ = "0.1.0"


class ThroughputLatency(HardwareBackend):
    """Latency of a device with a fixed MAC throughput plus a fixed per-inference overhead.

    Args:
        gmacs_per_s: Sustained throughput in billions of multiply-accumulates per second.
        overhead_ms: Time every inference pays regardless of size (launch, copies).
    """

    name = "example-macs-ms"

    def __init__(self, gmacs_per_s: float = 10.0, overhead_ms: float = 0.5) -> None:
        if not gmacs_per_s > 0 or not overhead_ms >= 0:
            raise OfaBenchError(
                f"example-macs-ms: need gmacs_per_s > 0 and overhead_ms >= 0; got {gmacs_per_s}, {overhead_ms}"
            )
        self.gmacs_per_s = float(gmacs_per_s)
        self.overhead_ms = float(overhead_ms)

    def latency(self, archs: Sequence[Arch]) -> np.ndarray:
        """Estimated latency of each arch in milliseconds."""
        if len(archs) == 0:
            return np.zeros(0, dtype=np.float64)
        macs, _ = macs_params(archs)  # vectorised over the batch: no loop over archs
        return self.overhead_ms + macs.astype(np.float64) / (self.gmacs_per_s * 1e9) * 1e3

    def describe(self) -> dict[str, Any]:
        """Provenance recorded with every result: which device model, which version, which units."""
        return {
            "name": self.name,
            "device": f"model: {self.gmacs_per_s:g} GMAC/s + {self.overhead_ms:g} ms",
            "version": __version__,
            "units": "ms",
            "deterministic": True,
        }
