"""Tests of ONNX export: ONNX Runtime must compute what PyTorch computes, at any batch size."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from ofa_bench import get_space
from ofa_bench.io.export import export_onnx, onnx_max_abs_diff
from ofa_bench.nn import ElasticMobileNetV3
from ofa_bench.space import Arch


def _supernet_with_random_bn(space: str, seed: int) -> ElasticMobileNetV3:
    """An eval-mode supernet whose BN statistics and affines are random, so no layer is a no-op."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = ElasticMobileNetV3(space).eval()
    with torch.no_grad():
        for bn in net.modules():
            if isinstance(bn, nn.BatchNorm2d):
                c = bn.num_features
                bn.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
                bn.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)
                bn.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                bn.bias.copy_(torch.randn(c, generator=gen) * 0.1)
    return net


@pytest.fixture(scope="module")
def mini_net() -> ElasticMobileNetV3:
    return _supernet_with_random_bn("ofa-mini", seed=1)


@pytest.fixture(scope="module")
def mbv3_net() -> ElasticMobileNetV3:
    return _supernet_with_random_bn("ofa-mbv3-w1.0", seed=2)


def _check_export(net: ElasticMobileNetV3, arch: Arch, tmp_path) -> None:
    static = net.extract(arch)
    channels = net.space.net.in_channels
    path = export_onnx(static, tmp_path / "subnet.onnx", arch.r, channels)
    assert path.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["subnet.onnx"], "the temporary file was left behind"

    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["input"] and [o.name for o in graph.output] == ["logits"]
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(arch.r)
    for batch in (1, 3):
        x = torch.randn(batch, channels, arch.r, arch.r, generator=gen)
        (got,) = session.run(["logits"], {"input": x.numpy()})
        with torch.no_grad():
            want = static(x).numpy()
        assert got.shape == (batch, net.space.net.n_classes)
        scale = float(np.abs(want).max())
        assert scale > 1e-3, "outputs too small to show a difference"
        assert float(np.abs(got - want).max()) <= 1e-4 * scale
        assert onnx_max_abs_diff(static, path, x) <= 1e-4 * scale


@pytest.mark.parametrize("index", range(3))
def test_mini_subnets_match_onnx_runtime(mini_net: ElasticMobileNetV3, index: int, tmp_path) -> None:
    arch = get_space("ofa-mini").sample(3, rng=7)[index]
    _check_export(mini_net, arch, tmp_path)


def test_mbv3_subnet_matches_onnx_runtime(mbv3_net: ElasticMobileNetV3, tmp_path) -> None:
    (arch,) = get_space("ofa-mbv3-w1.0").sample(1, rng=11)
    _check_export(mbv3_net, arch, tmp_path)


def test_export_leaves_the_model_alone(mini_net: ElasticMobileNetV3, tmp_path) -> None:
    static = mini_net.extract(get_space("ofa-mini").smallest()).train()
    before = {k: v.clone() for k, v in static.state_dict().items()}
    export_onnx(static, tmp_path / "m.onnx", 32, 1)
    assert static.training
    assert all(torch.equal(before[k], v) for k, v in static.state_dict().items())


def test_failed_export_leaves_no_file(tmp_path) -> None:
    class Broken(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("cannot trace")

    with pytest.raises(RuntimeError, match="cannot trace"):
        export_onnx(Broken(), tmp_path / "m.onnx", 16, 1)
    assert list(tmp_path.iterdir()) == []


def test_export_replaces_an_existing_file(mini_net: ElasticMobileNetV3, tmp_path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    export_onnx(mini_net.extract(get_space("ofa-mini").smallest(16)), path, 16, 1)
    onnx.checker.check_model(str(path))
