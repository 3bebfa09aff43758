"""A trained benchmark and everything measured on it.

- :mod:`~ofa_bench.benchmark.trained`: a benchmark directory (supernet weights, data splits,
  fingerprint, provenance), :class:`Benchmark`;
- :mod:`~ofa_bench.benchmark.zoo`: the benchmarks shipped inside the package (``fmnist``);
- :mod:`~ofa_bench.benchmark.measure`: the one measure loop (re-calibrate BN, then evaluate);
- :mod:`~ofa_bench.benchmark.archive`: the measured archive a surrogate is fitted on;
- :mod:`~ofa_bench.benchmark.noise`: re-measurements and the noise ceiling;
- :mod:`~ofa_bench.benchmark.surrogate_fit` and :mod:`~ofa_bench.benchmark.surrogate`: choosing,
  fitting, storing and loading the surrogate a benchmark ships.
"""

from __future__ import annotations

from ofa_bench.benchmark.trained import Benchmark

__all__ = ["Benchmark"]
