"""A latency proxy linear in MACs: ``latency_ms = slope * MMACs + intercept``, fitted to a runner.

The cheapest latency model that speaks milliseconds: one multiply-add per arch on top of the
analytic MAC count. The default coefficients are data (:data:`DEFAULT_FIT`), fitted once on
measurements; :meth:`LinearMacsLatency.fit` refits them to any runner's measurements.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from ofa_bench_hardware.batch import arch_array
from scipy import stats

from ofa_bench.costs import macs_params
from ofa_bench.errors import OfaBenchError
from ofa_bench.plugins.interfaces import HardwareBackend

if TYPE_CHECKING:
    from ofa_bench.space import Arch, SearchSpace

__all__ = ["DEFAULT_FIT", "LinearFit", "LinearMacsLatency"]


@dataclass(frozen=True)
class LinearFit:
    """Coefficients of a MACs-to-milliseconds line and where they came from.

    Attributes:
        slope_ms_per_mmac: Milliseconds per million multiply-accumulates.
        intercept_ms: Milliseconds at zero MACs (per-network and per-layer overheads).
        source: What the line was fitted to (space, runner, settings, machine).
        n_archs: How many measured archs the fit used (0 for coefficients given by hand).
        r2: Coefficient of determination of the fit on those archs (NaN when unknown).
    """

    slope_ms_per_mmac: float
    intercept_ms: float
    source: str = "given"
    n_archs: int = 0
    r2: float = math.nan


#: Fitted with ``ofa-bench hardware fit-linear --space ofa-mini --runner torch-cpu -n 60`` (seed 0:
#: median wall-clock latency of 50 interleaved calls after 10 warm-up calls, 1 thread, batch 1) on
#: the 2-core AMD EPYC development machine; see docs/hardware.md. On ofa-mini, PyTorch's per-operator
#: overhead dominates, so the intercept is large and MACs explain under half the spread (r2):
#: prefer a lookup table there, or refit on the device that matters.
DEFAULT_FIT = LinearFit(
    slope_ms_per_mmac=0.5445,
    intercept_ms=7.030,
    source="torch-cpu, 1 thread, batch 1, ofa-mini, 60 archs, 2-core AMD EPYC",
    n_archs=60,
    r2=0.44,
)


class LinearMacsLatency(HardwareBackend):
    """Latency estimated as ``slope_ms_per_mmac * MMACs + intercept_ms``, vectorised over archs.

    Args:
        slope_ms_per_mmac: Milliseconds per million MACs (default: :data:`DEFAULT_FIT`'s).
        intercept_ms: Milliseconds at zero MACs (default: :data:`DEFAULT_FIT`'s).
    """

    accepts_arrays = True

    name = "macs-linear"

    def __init__(self, slope_ms_per_mmac: float | None = None, intercept_ms: float | None = None) -> None:
        given = slope_ms_per_mmac is not None or intercept_ms is not None
        slope = DEFAULT_FIT.slope_ms_per_mmac if slope_ms_per_mmac is None else float(slope_ms_per_mmac)
        intercept = DEFAULT_FIT.intercept_ms if intercept_ms is None else float(intercept_ms)
        if not (math.isfinite(slope) and slope >= 0):
            raise OfaBenchError(
                f"macs-linear: slope_ms_per_mmac must be a finite number >= 0; got {slope_ms_per_mmac!r}"
            )
        if not math.isfinite(intercept):
            raise OfaBenchError(f"macs-linear: intercept_ms must be a finite number; got {intercept_ms!r}")
        self.slope_ms_per_mmac = slope
        self.intercept_ms = intercept
        self.fit_: LinearFit = LinearFit(slope, intercept) if given else DEFAULT_FIT

    @classmethod
    def fit(
        cls,
        archs: Sequence[Arch] | np.ndarray,
        measured_ms: Sequence[float] | np.ndarray,
        *,
        space: SearchSpace | None = None,
        source: str = "fitted",
    ) -> LinearMacsLatency:
        """Fit the line to measured latencies by least squares.

        Args:
            archs: The measured archs, or their choice array (with ``space``).
            measured_ms: One measured latency per arch, in milliseconds.
            space: The archs' space; needed for an array.
            source: What the measurements came from, kept in :meth:`describe`.

        Returns:
            A new backend with the fitted coefficients.
        """
        array, space = arch_array(archs, space)
        y = np.asarray(measured_ms, dtype=np.float64).reshape(-1)
        if y.shape != (array.shape[0],):
            raise OfaBenchError(f"macs-linear fit: {y.size} latencies given for {array.shape[0]} archs")
        if array.shape[0] < 2 or not np.all(np.isfinite(y)):
            raise OfaBenchError("macs-linear fit needs at least 2 archs with finite measured latencies")
        mmacs = macs_params(array, space)[0] / 1e6
        if np.ptp(mmacs) == 0:
            raise OfaBenchError("macs-linear fit needs archs with different MAC counts")
        line = stats.linregress(mmacs, y)
        backend = cls(max(float(line.slope), 0.0), float(line.intercept))
        backend.fit_ = LinearFit(backend.slope_ms_per_mmac, backend.intercept_ms, source, y.size, float(line.rvalue**2))
        return backend

    def latency(self, archs: Sequence[Arch] | np.ndarray, *, space: SearchSpace | None = None) -> np.ndarray:
        """Estimated latency of each arch in milliseconds.

        Args:
            archs: Archs of one space, or an ``(n, n_columns)`` choice array with ``space``.
            space: The space of an array batch.

        Returns:
            Float64 array of shape ``(n,)``.
        """
        array, space = arch_array(archs, space)
        if array.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        mmacs = macs_params(array, space)[0] / 1e6
        return mmacs * self.slope_ms_per_mmac + self.intercept_ms

    def describe(self) -> dict[str, Any]:
        """Name, units and the fit's provenance; the estimate is exact arithmetic, so deterministic."""
        from ofa_bench.version import __version__

        return {
            "name": self.name,
            "device": f"linear MACs model of {self.fit_.source}",
            "version": __version__,
            "units": "ms",
            "deterministic": True,
            "fit": asdict(self.fit_),
        }
