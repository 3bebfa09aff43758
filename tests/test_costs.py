"""Tests of the analytic costs: exact against forward hooks, OFA's published figures and OFA itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hooks import count_macs, count_macs_grouped, count_params, leaf_macs

from ofa_bench.costs import LayerShape, block_plan, layers, macs_params
from ofa_bench.errors import SpaceError
from ofa_bench.nn import ElasticMobileNetV3
from ofa_bench.space import SearchSpace, get_space, preset_names

N_ARCHS = 50


@pytest.fixture(scope="module", params=preset_names())
def supernet(request) -> ElasticMobileNetV3:
    """One supernet per preset, built once for the module (eval mode, CPU)."""
    torch.manual_seed(0)
    return ElasticMobileNetV3(request.param).eval()


pytestmark = pytest.mark.usefixtures("one_thread")


def _image(space: SearchSpace, r: int) -> torch.Tensor:
    return torch.zeros(1, space.net.in_channels, r, r)


def _block_key(name: str) -> str:
    """Group a layer name of an extracted sub-network by block: ``blocks.3.depth_conv.conv`` -> ``blocks.3``."""
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] == "blocks" else parts[0]


def _test_archs(space: SearchSpace, n: int, seed: int) -> list:
    low, high = min(space.resolutions), max(space.resolutions)
    extremes = [space.largest(high), space.smallest(low), space.smallest(high), space.largest(low)]
    return extremes + space.sample(n, rng=seed)


# ----- (a) analytic counts equal hook counts -------------------------------------------------


def test_macs_params_equal_hook_counts_on_extracted_subnets(supernet):
    space = supernet.space
    archs = _test_archs(space, N_ARCHS, seed=2024)
    macs, params = macs_params(archs)
    assert macs.dtype == np.int64 and params.dtype == np.int64 and macs.shape == (N_ARCHS + 4,)
    for arch, m, p in zip(archs, macs, params):
        model = supernet.extract(arch)
        assert count_macs(model, _image(space, arch.r)) == m, arch
        assert count_params(model) == p, arch


def test_per_layer_costs_equal_hook_counts_per_block(supernet):
    space = supernet.space
    for arch in _test_archs(space, 8, seed=7):
        shapes = layers(arch)
        model = supernet.extract(arch)
        measured = count_macs_grouped(model, _image(space, arch.r), _block_key)
        n_blocks = len(model.blocks)
        names = ["stem", *(f"blocks.{i}" for i in range(n_blocks)), "final_expand", "pool", "feature_mix", "classifier"]
        assert len(shapes) == len(names) == 2 + len(arch.active_blocks) + 4
        assert [s.kind for s in shapes] == [
            "stem", *["mbconv"] * n_blocks, "final_expand", "pool", "feature_mix", "classifier"
        ]
        # Global pooling is a functional call in the model: no module, no MACs, no parameters.
        assert [s.macs for s in shapes] == [measured.get(n, 0) for n in names]
        modules = dict(model.named_children())
        modules.update({f"blocks.{i}": b for i, b in enumerate(model.blocks)})
        assert [s.params for s in shapes] == [count_params(modules[n]) if n in modules else 0 for n in names]
        macs, params = macs_params([arch])
        assert sum(s.macs for s in shapes) == macs[0]
        assert sum(s.params for s in shapes) == params[0]


def test_layer_shapes_describe_the_extracted_layers(supernet):
    space = supernet.space
    arch = space.sample(1, rng=5)[0]
    model = supernet.extract(arch)
    shapes = layers(arch)[1:-4]  # the MBConv blocks, first block included
    x = _image(space, arch.r)
    sizes = []
    handles = [b.register_forward_hook(lambda m, i, o: sizes.append((i[0].shape, o.shape))) for b in model.blocks]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    for shape, block, (x_shape, y_shape) in zip(shapes, model.blocks, sizes):
        assert (shape.in_channels, shape.in_size) == (x_shape[1], x_shape[2])
        assert (shape.out_channels, shape.out_size) == (y_shape[1], y_shape[2])
        assert shape.mid_channels == block.depth_conv.conv.in_channels
        assert shape.kernel == block.depth_conv.conv.kernel_size[0]
        assert shape.stride == block.depth_conv.conv.stride[0]
        assert shape.idskip == block.skip
        assert shape.se == (block.se is not None)
        assert (shape.expand == 1) == (block.inverted_bottleneck is None)


def test_layer_shapes_follow_the_arch():
    space = get_space("ofa-mbv3-w1.0")
    arch = space.arch([3, 5, 7, 3] * 5, [3, 4, 6, 3] * 5, [3, 2, 4, 2, 3], 160)
    body = layers(arch)[2:-4]
    assert len(body) == 14
    assert [(s.kernel, s.expand) for s in body[:3]] == [(3, 3), (5, 4), (7, 6)]
    assert [s.in_size for s in body] == [80, 40, 40, 40, 20, 20, 10, 10, 10, 10, 10, 10, 5, 5]
    assert [s.stride for s in body] == [2, 1, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1]
    assert body[3].se and not body[5].se and body[5].act == "h_swish" and body[0].act == "relu"
    assert [s.mid_channels for s in body[:3]] == [48, 96, 144]


# ----- (b) OFA's published figures -------------------------------------------------------------


def _ofa_float32_total(model: torch.nn.Module, x: torch.Tensor) -> float:
    """The MAC total as OFA's ``flops_counter.profile`` reports it.

    OFA stores each module's count in a float32 tensor and sums those tensors in module order, so
    every conversion and every partial sum is rounded to float32 (24-bit mantissa).
    """
    total = np.float32(0)
    for count in leaf_macs(model, x).values():
        total = np.float32(total + np.float32(count))
    return float(total)


def test_published_ofa_figures_w10():
    """OFA reports 566,170,688 MACs and 7,664,760 params for the largest w1.0 subnet at 224.

    Our exact integer count is 566,170,656. OFA's counter keeps per-module counts in float32
    tensors and accumulates them in float32: above 2**24 the spacing of float32 values is 32-64,
    so its totals are rounded (here by +32). Reproducing that accumulation on our per-layer counts
    gives exactly OFA's figure. Note that rounding our exact total once, ``np.float32(566170656)``,
    gives 566,170,624, not 566,170,688 (the value is a tie and rounds to even); only the stepwise
    accumulation reproduces OFA's number. The parameter count is below 2**24 and exact.
    """
    space = get_space("ofa-mbv3-w1.0")
    net = ElasticMobileNetV3(space).eval()
    largest, smallest = space.largest(224), space.smallest(224)
    (big_macs, small_macs), (big_params, small_params) = macs_params([largest, smallest])
    assert big_params == 7_664_760
    assert big_macs == 566_170_656
    assert abs(int(big_macs) - 566_170_688) <= 64  # within one float32 ulp at this magnitude
    assert _ofa_float32_total(net.extract(largest), _image(space, 224)) == 566_170_688
    assert (small_macs, small_params) == (121_278_672, 3_410_792)  # below 2**27: exact in OFA too
    assert _ofa_float32_total(net.extract(smallest), _image(space, 224)) == 121_278_672


def test_published_ofa_figures_w12():
    """w1.2 at 224: OFA reports 843,101,056 MACs (exact: 843,101,040) and 10,701,632 params for the
    largest subnet, 193,078,208 MACs (exact: 193,078,200) and 4,602,456 params for the smallest."""
    space = get_space("ofa-mbv3-w1.2")
    net = ElasticMobileNetV3(space).eval()
    largest, smallest = space.largest(224), space.smallest(224)
    (big_macs, small_macs), (big_params, small_params) = macs_params([largest, smallest])
    assert big_params == 10_701_632 and small_params == 4_602_456
    assert big_macs == 843_101_040 and small_macs == 193_078_200
    assert np.float32(big_macs) == np.float32(843_101_056)
    assert _ofa_float32_total(net.extract(largest), _image(space, 224)) == 843_101_056
    assert _ofa_float32_total(net.extract(smallest), _image(space, 224)) == 193_078_208


# ----- (c) OFA's own network as the oracle -------------------------------------------------------


@pytest.mark.parametrize(("width", "name", "n"), [(1.0, "ofa-mbv3-w1.0", 20), (1.2, "ofa-mbv3-w1.2", 10)])
def test_costs_match_ofa_reference_subnets(width, name, n):
    pytest.importorskip("ofa")
    from ofa.imagenet_classification.elastic_nn.networks import OFAMobileNetV3

    space = get_space(name)
    ofa_net = OFAMobileNetV3(
        width_mult=width, ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4]
    )
    archs = [space.largest(), space.smallest(128)] + space.sample(n - 2, rng=99)
    macs, params = macs_params(archs)
    for arch, m, p in zip(archs, macs, params):
        ofa_net.set_active_subnet(ks=list(arch.ks), e=list(arch.e), d=list(arch.d))
        subnet = ofa_net.get_active_subnet().eval()
        assert count_macs(subnet, _image(space, arch.r)) == m, arch
        assert count_params(subnet) == p, arch


# ----- (d) latency lookup-table keys -------------------------------------------------------------


def test_lut_keys_of_first_and_se_hswish_blocks():
    """Keys follow OFA's ``MBv3LatencyTable.query``, whose ``expand:`` field holds the block's
    *middle channel count* (``mb_conv.depth_conv.conv.in_channels``), not the expand ratio."""
    space = get_space("ofa-mbv3-w1.0")
    shapes = layers(space.largest(224))
    assert shapes[0].key() == "Conv-input:224x224x3-output:112x112x16"
    assert shapes[1].key() == (
        "expanded_conv-input:112x112x16-output:112x112x16-expand:16-kernel:3-stride:1-idskip:1-se:0-hs:0"
    )
    # Stage 4 (112 wide, SE, h-swish), first block: from 80 channels, stride 1, no shortcut.
    assert shapes[2 + 12].key() == (
        "expanded_conv-input:14x14x80-output:14x14x112-expand:480-kernel:7-stride:1-idskip:0-se:1-hs:1"
    )
    assert shapes[2 + 13].key() == (
        "expanded_conv-input:14x14x112-output:14x14x112-expand:672-kernel:7-stride:1-idskip:1-se:1-hs:1"
    )
    assert shapes[-4].key() == "Conv_1-input:7x7x160-output:7x7x960"
    assert shapes[-3].key() == "AvgPool2D-input:7x7x960-output:1x1x960"
    assert shapes[-2].key() == "Conv_2-input:1x1x960-output:1x1x1280"
    assert shapes[-1].key() == "Logits-input:1x1x1280-output:1000"


def test_lut_keys_match_ofa_latency_table_queries():
    """Every key OFA's latency table would look up for a subnet is ours, in order."""
    pytest.importorskip("ofa")
    from ofa.imagenet_classification.elastic_nn.networks import OFAMobileNetV3
    from ofa.nas.efficiency_predictor.latency_lookup_table import MBv3LatencyTable

    class RecordingTable(dict):
        def __getitem__(self, key: str) -> dict[str, float]:
            self.setdefault("queried", []).append(key)
            return {"mean": 0.0}

    space = get_space("ofa-mbv3-w1.0")
    ofa_net = OFAMobileNetV3(width_mult=1.0, ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4])
    for arch in [space.largest(), space.smallest(160)] + space.sample(4, rng=1):
        ofa_net.set_active_subnet(ks=list(arch.ks), e=list(arch.e), d=list(arch.d))
        table = MBv3LatencyTable.__new__(MBv3LatencyTable)  # skip the download in __init__
        table.lut = RecordingTable()
        table.predict_network_latency(ofa_net.get_active_subnet(), arch.r)
        queried = dict.__getitem__(table.lut, "queried")
        assert [s.key() for s in layers(arch)] == queried


# ----- (e) batch interface ---------------------------------------------------------------------


def test_macs_params_on_arrays_equals_on_archs():
    for name in preset_names():
        space = get_space(name)
        archs = space.sample(200, rng=3)
        on_archs = macs_params(archs)
        on_array = macs_params(space.to_array(archs), space)
        for a, b in zip(on_archs, on_array):
            np.testing.assert_array_equal(a, b)
        one_by_one = [macs_params([arch]) for arch in archs[:20]]
        np.testing.assert_array_equal(on_archs[0][:20], [m[0] for m, _ in one_by_one])


def test_macs_params_on_empty_input():
    space = get_space("ofa-mini")
    for empty in ([], np.empty((0, space.n_columns), dtype=np.int64)):
        macs, params = macs_params(empty, space)
        assert macs.shape == params.shape == (0,)
        assert macs.dtype == params.dtype == np.int64
    macs, _ = macs_params([])
    assert macs.shape == (0,)


def test_macs_params_rejects_bad_input():
    space = get_space("ofa-mini")
    with pytest.raises(SpaceError, match="needs space="):
        macs_params(space.to_array(space.sample(2, rng=0)))
    bad = space.to_array(space.sample(2, rng=0))
    bad[1, 0] = 4
    with pytest.raises(ValueError, match=r"ks\[0\]=.*4"):
        macs_params(bad, space)
    with pytest.raises(SpaceError, match="arch 0 is of space 'ofa-mbv3-w1.0'; expected an arch of 'ofa-mini'"):
        macs_params([get_space("ofa-mbv3-w1.0").largest()], space)


def test_costs_are_monotone_in_each_choice():
    """A bigger kernel, expand ratio, depth or resolution never costs less."""
    space = get_space("ofa-mbv3-w1.0")
    base = space.to_array(space.sample(300, rng=0))
    macs, params = macs_params(base, space)
    nb = space.n_blocks
    grow = base.copy()
    grow[:, :nb] = np.where(space.active_mask(base), 7, grow[:, :nb])
    grow_macs, grow_params = macs_params(space.normalise(grow), space)
    assert (grow_macs >= macs).all() and (grow_params >= params).all()
    assert (grow_macs > macs).mean() > 0.9
    hi_res = base.copy()
    hi_res[:, -1] = 224
    hr_macs, hr_params = macs_params(hi_res, space)
    assert (hr_macs >= macs).all()
    np.testing.assert_array_equal(hr_params, params)  # resolution changes no weight


def test_block_plan_matches_ofa_skeleton():
    plans = block_plan(get_space("ofa-mbv3-w1.0"))
    assert len(plans) == 20
    assert [p.out_channels for p in plans[::4]] == [24, 40, 80, 112, 160]
    assert [p.in_channels for p in plans[::4]] == [16, 24, 40, 80, 112]
    assert [p.stride for p in plans[::4]] == [2, 2, 2, 1, 2]
    assert all(p.stride == 1 and p.idskip for i, p in enumerate(plans) if i % 4)
    assert not any(p.idskip for p in plans[::4])
    assert [p.se for p in plans[::4]] == [False, True, False, True, True]
    assert plans[0].mid_channels(3) == 48 and plans[4].mid_channels(4) == 96
    w12 = block_plan(get_space("ofa-mbv3-w1.2"))
    assert [p.out_channels for p in w12[::4]] == [32, 48, 96, 136, 192]


def test_layer_shape_out_size_is_same_padding():
    assert LayerShape("mbconv", 7, 8, 8, 3, 2).out_size == 4
    assert LayerShape("mbconv", 8, 8, 8, 3, 2).out_size == 4
    assert LayerShape("mbconv", 9, 8, 8, 3, 1).out_size == 9
