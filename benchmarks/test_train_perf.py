"""Performance of training and evaluation (issue 3).

Targets: a training step (forward + backward + SGD step) of the elastic supernet with an active
subnet costs at most 1.15x the same step on that subnet extracted as a static model, same batch;
BN re-calibration + validation per arch on digits is reported in archs/s.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benchmarks.conftest import RATIOS, THROUGHPUT
from benchmarks.targets import record
from ofa_bench.benchmark.trained import Benchmark
from ofa_bench.data import DataSpec
from ofa_bench.evaluate import Evaluator
from ofa_bench.nn import ElasticMobileNetV3
from ofa_bench.space import get_space

MINI = get_space("ofa-mini")


def _train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    optimizer.step()


@pytest.mark.calibration("torch")
@pytest.mark.parametrize("index", range(3))
def test_elastic_vs_static_training_step(benchmark, index, quick):
    """Training step, elastic vs extracted, ofa-mini at r=24, batch 64, channels_last as the trainer runs."""
    torch.manual_seed(index)
    net = ElasticMobileNetV3(MINI).to(memory_format=torch.channels_last).train()
    arch = MINI.sample(3, rng=7)[index].replace(r=24)
    net.set_active(arch)
    static = net.extract().to(memory_format=torch.channels_last).train()
    x = torch.randn(64, 1, 24, 24).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (64,))
    opt_e = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    opt_s = torch.optim.SGD(static.parameters(), lr=1e-3, momentum=0.9)
    benchmark.pedantic(_train_step, args=(net, opt_e, x, y), rounds=3 if quick else 10, warmup_rounds=1)
    ratios = []
    for i in range(6 if quick else 20):
        t0 = time.perf_counter()
        _train_step(net, opt_e, x, y) if i % 2 == 0 else _train_step(static, opt_s, x, y)
        t1 = time.perf_counter()
        _train_step(static, opt_s, x, y) if i % 2 == 0 else _train_step(net, opt_e, x, y)
        t2 = time.perf_counter()
        elastic, fixed = (t1 - t0, t2 - t1) if i % 2 == 0 else (t2 - t1, t1 - t0)
        ratios.append(elastic / fixed)
    ratio = float(np.median(ratios))
    benchmark.extra_info["elastic_over_static"] = ratio
    RATIOS[f"train step, ofa-mini subnet {index} (d={''.join(map(str, arch.d))})"] = ratio
    record("train_step_ratio", ratio)


@pytest.mark.calibration("torch")
def test_calibrate_and_validate_throughput(benchmark, tmp_path, quick):
    """BN re-calibration (500 digits) + validation (360 digits) per arch, no cache."""
    torch.manual_seed(0)
    bench = Benchmark.create(tmp_path / "bench", ElasticMobileNetV3(MINI), DataSpec(), training={})
    archs = MINI.sample(4 if quick else 12, rng=1)
    with Evaluator(bench, device="cpu", cache=False) as evaluator:
        evaluator.evaluate(archs[:1])  # load data and weights outside the timing
        df = benchmark.pedantic(evaluator.evaluate, args=(archs,), rounds=3, iterations=1)
    assert df["accuracy"].between(0, 1).all()
    THROUGHPUT["BN calibration + validation (digits)"] = len(archs) / benchmark.stats.stats.median
