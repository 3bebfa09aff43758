"""Query throughput of the table and proxy latency backends (issue 4: >= 50,000 archs/s, one core).

Run: ``.venv/bin/python -m pytest benchmarks/test_hardware_perf.py`` (``--quick`` for the CI form).
The table is synthetic (latency made up per layer): a query's cost does not depend on the values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ofa_bench_hardware.layer_grid import layer_grid
from ofa_bench_hardware.lut_format import save_table

from benchmarks.conftest import THROUGHPUT
from benchmarks.targets import record
from ofa_bench.plugins import registry
from ofa_bench.space import get_space

N = 10_000


@pytest.fixture(scope="module", params=["ofa-mini", "ofa-mbv3-w1.0"])
def space(request):
    return get_space(request.param)


@pytest.fixture(scope="module")
def lut(space, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("lut") / f"{space.name}.yaml"
    entries = {x.key(): {"count": 1, "mean": 0.01 + x.macs / 1e8, "std": 0.0} for x in layer_grid(space).distinct()}
    save_table(Path(path), {"space": space.name, "overhead_ms": 0.1}, entries)
    backend = registry.create("hardware", "lut", table=path)
    backend.latency(space.sample(1, rng=0))  # resolve the table onto the space once, outside the timing
    return backend


def _run(benchmark, quick: bool, fn, *args, **kwargs) -> np.ndarray:
    if quick:
        return benchmark.pedantic(fn, args=args, kwargs=kwargs, rounds=7, warmup_rounds=1)
    return benchmark(fn, *args, **kwargs)


@pytest.mark.calibration("python")
def test_lut_query_archs(benchmark, lut, space, quick):
    """A lookup-table query of 10,000 Arch objects (conversion to an array included)."""
    archs = space.sample(N, rng=0)
    latency = _run(benchmark, quick, lut.latency, archs)
    assert latency.shape == (N,) and np.all(latency > 0)
    THROUGHPUT[f"lut query, Arch list, {space.name}"] = N / benchmark.stats.stats.median
    record("backend_rate", N / benchmark.stats.stats.median)


@pytest.mark.calibration("numpy")
def test_lut_query_array(benchmark, lut, space, quick):
    """The same from a batch array, as strategies hold populations."""
    array = space.sample_array(N, rng=0)
    _run(benchmark, quick, lut.latency, array, space=space)
    THROUGHPUT[f"lut query, array, {space.name}"] = N / benchmark.stats.stats.median


@pytest.mark.calibration("python")
@pytest.mark.parametrize("name", ["macs-linear", "mmacs", "mparams"])
def test_proxy_query_archs(benchmark, name, space, quick):
    """Proxies on 10,000 Arch objects."""
    backend = registry.create("hardware", name)
    archs = space.sample(N, rng=1)
    _run(benchmark, quick, backend.latency, archs)
    THROUGHPUT[f"{name} query, Arch list, {space.name}"] = N / benchmark.stats.stats.median
    record("backend_rate", N / benchmark.stats.stats.median)


@pytest.mark.calibration("numpy")
def test_linear_query_array(benchmark, space, quick):
    """The linear proxy from a batch array."""
    backend = registry.create("hardware", "macs-linear")
    array = space.sample_array(N, rng=1)
    _run(benchmark, quick, backend.latency, array, space=space)
    THROUGHPUT[f"macs-linear query, array, {space.name}"] = N / benchmark.stats.stats.median
