"""Live evaluation on the shipped Fashion-MNIST benchmark (issue 13).

Target: BN re-calibration (500 images) + the whole 10,000-image validation split in at most 3 s per
arch on 2 cores; here on one thread, as every benchmark runs. Reported in archs/s. Skips when
Fashion-MNIST or the shipped benchmark is absent.
"""

from __future__ import annotations

import pytest
import torch

from benchmarks.conftest import THROUGHPUT
from benchmarks.targets import record
from ofa_bench.errors import OfaBenchError


@pytest.fixture(scope="module")
def fmnist():
    from ofa_bench.benchmark import Benchmark
    from ofa_bench.data.idx_files import FASHION_MNIST, find_root
    from ofa_bench.zoo import shipped_benchmarks

    if "fmnist" not in shipped_benchmarks():
        pytest.skip("the fmnist benchmark is not shipped in this checkout")
    try:
        find_root(FASHION_MNIST, None)
    except OfaBenchError:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    return Benchmark.load("fmnist")


@pytest.mark.calibration("torch")
def test_fmnist_live_evaluation(benchmark, fmnist, quick):
    """BN calibration + 10,000 validation images per arch, random ofa-fmnist subnets, no cache."""
    from ofa_bench.evaluate import Evaluator

    torch.manual_seed(0)
    archs = fmnist.space.sample(2 if quick else 6, rng=3)
    with Evaluator(fmnist, device="cpu", cache=False) as evaluator:
        evaluator.evaluate(archs[:1])  # load data and weights outside the timing
        df = benchmark.pedantic(evaluator.evaluate, args=(archs,), rounds=3, iterations=1)
    assert df["accuracy"].between(0, 1).all()
    per_arch = benchmark.stats.stats.min / len(archs)
    benchmark.extra_info["seconds_per_arch"] = per_arch
    THROUGHPUT["BN calibration + validation (fashion-mnist, 10,000 images)"] = 1 / per_arch
    record("live_eval_s", per_arch)
