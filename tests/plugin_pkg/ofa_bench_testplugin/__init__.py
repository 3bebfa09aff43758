"""A hardware backend that reports the same latency for every arch; for ofa-bench's tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ofa_bench.plugins.interfaces import HardwareBackend

if TYPE_CHECKING:
    from ofa_bench.space import Arch

__all__ = ["ConstantBackend"]


class ConstantBackend(HardwareBackend):
    """Report a fixed latency for every arch.

    Args:
        ms: Latency reported per arch, in milliseconds.
    """

    name = "test-constant"

    def __init__(self, *, ms: float = 1.0) -> None:
        self.ms = ms

    def latency(self, archs: Sequence[Arch]) -> np.ndarray:
        """Return ``ms`` for each arch."""
        return np.full(len(archs), self.ms, dtype=np.float64)

    def describe(self) -> dict[str, Any]:
        """Describe this backend."""
        return {
            "name": self.name,
            "device": "none",
            "version": "0.1.0",
            "units": "ms",
            "deterministic": True,
        }
