"""Layer costs worked out by hand from the layer definitions (mutation testing, docs/testing.md).

MACs count multiply-accumulates of convolutions and linear layers for one image; parameters count
weights, BN's two affine vectors per conv and the biases of linear layers and SE convs.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from ofa_bench.costs import BlockPlan, LayerShape, array_costs, block_plan, layers, macs_params, se_channels
from ofa_bench.nn import ElasticMobileNetV3
from ofa_bench.space import SearchSpace, get_space


def test_stem_conv_by_hand() -> None:
    # 3x3 stride-2 conv 3 -> 16 on 224 pixels: output 112 x 112; weights 3 * 16 * 9, BN 2 * 16.
    stem = LayerShape("stem", 224, 3, 16, 3, 2)
    assert stem.out_size == 112
    assert (stem.macs, stem.params) == (112 * 112 * 3 * 16 * 9, 3 * 16 * 9 + 2 * 16)
    final = LayerShape("final_expand", 7, 160, 960)
    assert (final.macs, final.params) == (7 * 7 * 160 * 960, 160 * 960 + 2 * 960)


def test_head_layers_by_hand() -> None:
    assert (LayerShape("pool", 7, 960, 960, kernel=7, stride=7).macs, LayerShape("pool", 7, 960, 960).params) == (0, 0)
    mix = LayerShape("feature_mix", 1, 960, 1280)
    assert (mix.macs, mix.params) == (960 * 1280, 960 * 1280)  # no BN, no bias
    classifier = LayerShape("classifier", 1, 1280, 1000)
    assert (classifier.macs, classifier.params) == (1280 * 1000, 1280 * 1000 + 1000)  # with bias


def test_an_mbconv_block_with_expansion_and_se_by_hand() -> None:
    # 56 px, 24 -> 40 channels, 5x5 depthwise stride 2, expand 3: 72 middle channels, output 28 px.
    block = LayerShape("mbconv", 56, 24, 40, 5, 2, 3, 72, True, "relu", False)
    hidden = 24  # 72 // 4 = 18, rounded to a multiple of 8: 16 is more than 10% below 18, so 24
    assert se_channels(72) == hidden
    macs = (
        56 * 56 * 24 * 72  # 1x1 expansion at the input resolution
        + 28 * 28 * 72 * 25  # 5x5 depthwise, stride 2
        + 2 * 72 * hidden  # SE's two 1x1 convs on the pooled vector
        + 28 * 28 * 72 * 40  # 1x1 projection
    )
    params = (24 * 72 + 2 * 72) + (72 * 25 + 2 * 72) + (2 * 72 * hidden + 72 + hidden) + (72 * 40 + 2 * 40)
    assert (block.macs, block.params) == (macs, params)


def test_an_mbconv_block_without_expansion_by_hand() -> None:
    # OFA's first block: 16 -> 16, 3x3, expand 1 (no 1x1 expansion conv), no SE.
    block = LayerShape("mbconv", 112, 16, 16, 3, 1, 1, 16, False, "relu", True)
    macs = 112 * 112 * 16 * 9 + 112 * 112 * 16 * 16
    params = (16 * 9 + 2 * 16) + (16 * 16 + 2 * 16)
    assert (block.macs, block.params) == (macs, params)


def test_block_plan_facts() -> None:
    plan = BlockPlan(1, 0, 24, 40, 2, "relu", True)
    assert not plan.idskip and plan.mid_channels(3) == 72 and plan.mid_channels(6) == 144
    assert BlockPlan(1, 1, 40, 40, 1, "relu", True).idskip
    assert not BlockPlan(1, 1, 40, 48, 1, "relu", True).idskip
    assert not BlockPlan(1, 1, 40, 40, 2, "relu", True).idskip


def test_costs_of_an_arch_are_the_sum_of_its_layers() -> None:
    space = get_space("ofa-mbv3-w1.0")
    rng = np.random.default_rng(0)
    archs = space.sample(5, rng)
    macs, params = macs_params(archs)
    assert macs.dtype == np.int64 and params.dtype == np.int64
    for arch, m, p in zip(archs, macs, params):
        shapes = layers(arch)
        assert m == sum(layer.macs for layer in shapes) and p == sum(layer.params for layer in shapes)
    # Asked for one figure only, the other is None; an empty batch gives empty arrays.
    array = space.to_array(archs)
    only_macs = array_costs(space, array, params=False)
    assert only_macs[1] is None and only_macs[0].tolist() == macs.tolist()
    only_params = array_costs(space, array, macs=False)
    assert only_params[0] is None and only_params[1].tolist() == params.tolist()
    empty = array_costs(space, np.zeros((0, 3), dtype=np.int64), macs=False)
    assert empty[0] is None and empty[1].shape == (0,)
    empty = array_costs(space, np.zeros((0, 3), dtype=np.int64), params=False)
    assert empty[1] is None and empty[0].shape == (0,)
    assert [a.shape for a in macs_params([])] == [(0,), (0,)]


def test_block_plan_of_a_space() -> None:
    space = get_space("ofa-mbv3-w1.0")
    plans = block_plan(space)
    assert len(plans) == space.n_blocks
    # Each stage's first block strides; the rest keep the resolution and the width.
    for plan in plans:
        if plan.index > 0:
            assert plan.stride == 1 and plan.in_channels == plan.out_channels and plan.idskip
    assert [plan.stride for plan in plans if plan.index == 0] == list(space.net.stage_strides)


@pytest.mark.parametrize("stride, size, out", [(1, 7, 7), (2, 7, 4), (2, 8, 4), (4, 9, 3)])
def test_out_size_rounds_up(stride: int, size: int, out: int) -> None:
    assert LayerShape("stem", size, 3, 8, 3, stride).out_size == out


def test_fixed_layers_describe_mobilenetv3_by_hand() -> None:
    # MobileNetV3-Large (Howard et al., Table 1) as OFA builds it, at 224 px: conv2d 3x3 s2 16 with
    # h-swish; bneck 3x3 16 -> 16 with ReLU, no SE, stride 1 (an identity shortcut); ...; conv2d 1x1
    # 960 with h-swish at 7 px; 7x7 average pooling; conv2d 1x1 NBN 1280 with h-swish; the classifier.
    space = get_space("ofa-mbv3-w1.0")
    shapes = layers(space.largest(224))
    stem, first = shapes[0], shapes[1]
    final, pool, mix, classifier = shapes[-4:]
    stem_facts = ("stem", 3, 16, 3, 2, "h_swish")
    assert (stem.kind, stem.in_channels, stem.out_channels, stem.kernel, stem.stride, stem.act) == stem_facts
    first_facts = ("mbconv", 112, 3, 1, 1, 16, "relu", False, True)
    assert (first.kind, first.in_size, first.kernel, first.stride, first.expand, first.mid_channels) == first_facts[:6]
    assert (first.act, first.se, first.idskip) == first_facts[6:]
    key = "expanded_conv-input:112x112x16-output:112x112x16-expand:16-kernel:3-stride:1-idskip:1-se:0-hs:0"
    assert first.key() == key
    final_facts = ("final_expand", 7, 160, 960, "h_swish")
    assert (final.kind, final.in_size, final.in_channels, final.out_channels, final.act) == final_facts
    # Global pooling over the whole 7x7 map: its kernel and stride are the map's size.
    assert (pool.kind, pool.in_size, pool.kernel, pool.stride, pool.out_size) == ("pool", 7, 7, 7, 1)
    assert (mix.kind, mix.in_channels, mix.out_channels, mix.act) == ("feature_mix", 960, 1280, "h_swish")
    classifier_facts = ("classifier", 1280, 1000, "none")
    assert (classifier.kind, classifier.in_channels, classifier.out_channels, classifier.act) == classifier_facts
    # At 160 px the last map is ceil(160 / 32) = 5 px, and so is the pooling kernel.
    pool_160 = layers(space.smallest(160))[-3]
    assert (pool_160.in_size, pool_160.kernel, pool_160.stride) == (5, 5, 5)


@pytest.mark.parametrize(
    "changes, skip",
    [
        ({}, True),  # 8 -> 8 channels at stride 1: same shape in and out
        ({"first_block_stride": 2}, False),  # 8 -> 8 channels, but the map halves
        ({"first_block_width": 16}, False),  # stride 1, but 8 -> 16 channels
        ({"first_block_width": 16, "first_block_stride": 2}, False),
    ],
)
def test_first_block_shortcut_needs_both_stride_1_and_equal_widths(changes: dict, skip: bool) -> None:
    # An identity shortcut adds the block's input to its output, so it needs the two to have the
    # same shape: stride 1 *and* as many channels out as in. Checked by hand and on the model.
    mini = get_space("ofa-mini")
    space = SearchSpace(f"mini-first-{len(changes)}", dataclasses.replace(mini.net, **changes), resolutions=(16,))
    arch = space.smallest(16)
    first = layers(arch)[1]
    assert first.idskip is skip
    assert f"-idskip:{int(skip)}-" in first.key()
    torch.manual_seed(0)
    model = ElasticMobileNetV3(space).eval().extract(arch)
    seen = []
    handle = model.blocks[0].register_forward_hook(lambda m, i, o: seen.append((i[0].shape, o.shape)))
    with torch.no_grad():
        model(torch.zeros(1, space.net.in_channels, 16, 16))
    handle.remove()
    ((x_shape, y_shape),) = seen
    assert (x_shape == y_shape) is skip
