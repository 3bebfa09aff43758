"""Performance of the core: elastic vs static forward, analytic costs, sampling and encoding.

Run: ``.venv/bin/python -m pytest benchmarks`` (add ``--quick`` for the CI form). Targets (issues 2
and 27, ``benchmarks/targets.py``): elastic / static forward <= 1.0 and elastic / ``ofa``'s elastic
forward <= 0.8 (ofa-mbv3-w1.0, r=160, batch 8, one thread); analytic costs >= 50,000 archs/s on one
core. Figures print in the closing summary.

Forwards run as the product runs inference on a CPU (live evaluation, the trainer, the torch
latency runner): modules and images in channels-last memory format, on every side of a comparison.
The static side is the extracted subnet as a plain PyTorch model; the elastic eval path folds batch
norm into its convolutions, so the ratio against the extracted subnet with its batch norms folded
too (:func:`~ofa_bench.nn.layers.fold_batch_norms`) is printed beside it: that one measures what the
elastic logic itself costs.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from benchmarks.conftest import RATIOS, THROUGHPUT
from benchmarks.targets import record
from ofa_bench.costs import macs_params
from ofa_bench.nn import ElasticMobileNetV3
from ofa_bench.nn.layers import fold_batch_norms
from ofa_bench.space import get_space

W10 = get_space("ofa-mbv3-w1.0")
CL = torch.channels_last


def _images(n: int, r: int, seed: int) -> torch.Tensor:
    return torch.randn(n, 3, r, r, generator=torch.Generator().manual_seed(seed)).contiguous(memory_format=CL)


@pytest.fixture(scope="module")
def supernet() -> ElasticMobileNetV3:
    torch.manual_seed(0)
    return ElasticMobileNetV3(W10).eval().to(memory_format=CL)


def _interleaved_ratio(a, b, x: torch.Tensor, pairs: int) -> float:
    """Median over ``pairs`` of time(a)/time(b), each pair measured back to back."""
    ratios = []
    with torch.inference_mode():
        for _ in range(2):
            a(x), b(x)
        for i in range(pairs):
            first, second = (a, b) if i % 2 == 0 else (b, a)  # alternate order against drift
            t0 = time.perf_counter()
            first(x)
            t1 = time.perf_counter()
            second(x)
            t2 = time.perf_counter()
            ta, tb = (t1 - t0, t2 - t1) if first is a else (t2 - t1, t1 - t0)
            ratios.append(ta / tb)
    return float(np.median(ratios))


@pytest.mark.calibration("torch")
@pytest.mark.parametrize("index", range(4))
def test_elastic_vs_static_forward(benchmark, supernet, index, quick):
    """(a) Elastic forward of an active subnet vs the same subnet extracted as a static model."""
    arch = W10.sample(4, rng=2026)[index].replace(r=160)
    supernet.set_active(arch)
    static = supernet.extract().eval().to(memory_format=CL)
    folded = fold_batch_norms(static)
    x = _images(8, 160, index)
    with torch.inference_mode():
        assert torch.allclose(supernet(x), static(x), atol=1e-5)
        assert torch.allclose(folded(x), static(x), atol=1e-5)
        benchmark.pedantic(supernet, args=(x,), rounds=3 if quick else 10, warmup_rounds=1)
    pairs = 8 if quick else 30
    ratio = _interleaved_ratio(supernet, static, x, pairs=pairs)
    ratio_folded = _interleaved_ratio(supernet, folded, x, pairs=pairs)
    benchmark.extra_info.update(elastic_over_static=ratio, elastic_over_static_bn_folded=ratio_folded)
    d = "".join(map(str, arch.d))
    RATIOS[f"forward, subnet {index} (d={d})"] = ratio
    RATIOS[f"forward vs static with BN folded too, subnet {index} (d={d}; not a target)"] = ratio_folded
    record("forward_ratio", ratio)


@pytest.mark.calibration("torch")
def test_elastic_vs_ofa_elastic_forward(benchmark, quick):
    """(a') Our elastic forward against the reference ``ofa`` package's, same weights, 5 subnets (issue 27)."""
    networks = pytest.importorskip("ofa.imagenet_classification.elastic_nn.networks")
    from ofa_bench.nn.ofa_format import load_ofa_weights

    torch.manual_seed(0)
    theirs = networks.OFAMobileNetV3(
        n_classes=1000, width_mult=1.0, ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4]
    ).eval()
    ours = ElasticMobileNetV3(W10).eval()
    load_ofa_weights(ours, theirs.state_dict())
    ours, theirs = ours.to(memory_format=CL), theirs.to(memory_format=CL)
    ratios = []
    for index, arch in enumerate(W10.sample(5, rng=2026)):
        arch = arch.replace(r=160)
        ours.set_active(arch)
        theirs.set_active_subnet(ks=list(arch.ks), e=list(arch.e), d=list(arch.d))
        x = _images(8, 160, index)
        with torch.inference_mode():
            torch.testing.assert_close(ours(x), theirs(x), atol=1e-3, rtol=1e-3)
        ratio = _interleaved_ratio(ours, theirs, x, pairs=6 if quick else 20)
        RATIOS[f"forward vs ofa elastic, subnet {index} (d={''.join(map(str, arch.d))})"] = ratio
        ratios.append(ratio)
        record("forward_vs_ofa", ratio)
    with torch.inference_mode():
        benchmark.pedantic(ours, args=(x,), rounds=3, warmup_rounds=1)
    benchmark.extra_info["elastic_over_ofa_median"] = float(np.median(ratios))


@pytest.mark.calibration("python")
def test_costs_throughput(benchmark):
    """(b) Analytic MACs and params for a batch of 10,000 archs."""
    archs = W10.sample(10_000, rng=0)
    macs, params = benchmark(macs_params, archs)
    assert macs.shape == params.shape == (10_000,)
    THROUGHPUT["costs (MACs + params), Arch list"] = 10_000 / benchmark.stats.stats.median
    record("costs_rate", 10_000 / benchmark.stats.stats.median)


@pytest.mark.calibration("numpy")
def test_costs_throughput_array(benchmark):
    """(b') The same from a batch array, as strategies hold populations."""
    array = W10.sample_array(10_000, rng=0)
    benchmark(macs_params, array, W10)
    THROUGHPUT["costs (MACs + params), array"] = 10_000 / benchmark.stats.stats.median


@pytest.mark.calibration("python")
def test_sample_and_onehot_throughput(benchmark):
    """(c) Sample 10,000 archs and one-hot encode them."""

    def run() -> np.ndarray:
        return W10.encode_onehot(W10.sample(10_000, rng=1))

    features = benchmark(run)
    assert features.shape[0] == 10_000
    THROUGHPUT["sample + one-hot, Arch list"] = 10_000 / benchmark.stats.stats.median


@pytest.mark.calibration("numpy")
def test_sample_and_onehot_array_throughput(benchmark):
    """(c') Sampling and encoding on arrays only, the vectorised path."""
    benchmark(lambda: W10.encode_onehot(W10.sample_array(10_000, rng=1)))
    THROUGHPUT["sample + one-hot, array"] = 10_000 / benchmark.stats.stats.median


@pytest.mark.calibration("torch")
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("index", range(4))
def test_elastic_vs_static_forward_cuda(benchmark, supernet, index, quick):
    """(a, GPU) The same comparison on CUDA at batch 64, r=224, with device synchronisation."""
    arch = W10.sample(4, rng=2026)[index].replace(r=224)
    net = supernet.cuda()
    net.set_active(arch)
    static = net.extract().eval().to(memory_format=CL)
    x = torch.randn(64, 3, 224, 224, device="cuda").contiguous(memory_format=CL)

    def synced(model):
        def run(inputs):
            out = model(inputs)
            torch.cuda.synchronize()
            return out

        return run

    with torch.inference_mode():
        torch.testing.assert_close(net(x), static(x), atol=1e-3, rtol=1e-3)
        benchmark.pedantic(synced(net), args=(x,), rounds=5 if quick else 20, warmup_rounds=2)
    ratio = _interleaved_ratio(synced(net), synced(static), x, pairs=10 if quick else 40)
    benchmark.extra_info["elastic_over_static"] = ratio
    RATIOS[f"CUDA forward, subnet {index} (d={''.join(map(str, arch.d))})"] = ratio
    supernet.cpu()
