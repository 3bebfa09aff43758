"""Tests of the elastic supernet: extraction, the eval fast path, kernel transforms, channel sorting.

Fresh supernets are misleading to compare on: identity kernel transforms make elastic kernels
plain crops, unit BN statistics make batch norm the identity, and default initialisation shrinks
activations until the classifier bias is all that is left. So every comparison here runs on a
supernet with calibrated-then-perturbed BN statistics, random BN affine parameters and random
kernel-transform matrices, scaled so that its logits are of order one.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ofa_bench.costs import block_plan
from ofa_bench.errors import SpaceError
from ofa_bench.nn import ElasticMBConv, ElasticMobileNetV3, MBConv, MobileNetV3
from ofa_bench.space import Arch, SearchSpace, get_space

RTOL = 1e-5


pytestmark = pytest.mark.usefixtures("one_thread")


def _bns(module: nn.Module) -> list[nn.BatchNorm2d]:
    return [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]


@torch.no_grad()
def randomise(net: ElasticMobileNetV3, seed: int = 0, batch: int = 8) -> ElasticMobileNetV3:
    """Give ``net`` random, well-scaled weights in every part an elastic forward touches."""
    g = torch.Generator().manual_seed(seed)
    space = net.space
    # PyTorch's default initialisation (not the supernet's training init, whose zero residual
    # scales and fan-out depthwise weights would make small subnets nearly constant here).
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear, nn.BatchNorm2d)):
            module.reset_parameters()
    for block in net.blocks:
        for matrix in block.kernel_transforms.values():
            n = matrix.shape[0]
            matrix.copy_(torch.eye(n) + 0.3 * torch.randn(n, n, generator=g) / n**0.5)
    # Calibrate BN statistics on the largest subnet so activations stay of order one through
    # all blocks, then perturb statistics and affine parameters away from what calibration gives.
    was_training = net.training
    net.set_active(space.largest())
    for bn in _bns(net):
        bn.reset_running_stats()
        bn.momentum = None
    net.train()
    r = max(space.resolutions)
    net(torch.randn(batch, space.net.in_channels, r, r, generator=g))
    for bn in _bns(net):
        bn.momentum = 0.1
        c = bn.num_features
        bn.running_mean.add_(0.2 * torch.randn(c, generator=g) * bn.running_var.sqrt())
        bn.running_var.mul_(torch.empty(c).uniform_(0.7, 1.4, generator=g))
        bn.weight.copy_(torch.empty(c).uniform_(0.5, 1.5, generator=g))
        bn.bias.copy_(0.2 * torch.randn(c, generator=g))
    for block in net.blocks:  # damp residual branches, or the largest subnet's activations explode
        if block.plan.idskip:
            block.project_bn.weight.mul_(0.25)
    net.eval()
    classifier = net.classifier[1]
    classifier.bias.zero_()
    logits = net(torch.randn(batch, space.net.in_channels, r, r, generator=g))
    classifier.weight.div_(logits.std())
    net.train(was_training)
    return net


def _images(space: SearchSpace, r: int, n: int = 2, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, space.net.in_channels, r, r, generator=g)


def assert_close(actual: torch.Tensor, expected: torch.Tensor, rtol: float = RTOL) -> None:
    """Max abs difference at most ``rtol`` times the largest magnitude of ``expected``."""
    assert actual.shape == expected.shape
    scale = expected.abs().max().item()
    assert scale > 0
    diff = (actual - expected).abs().max().item()
    assert diff <= rtol * scale, f"max abs diff {diff:.3g} vs scale {scale:.3g}"


def _relative_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.fixture(scope="module")
def mini_base() -> ElasticMobileNetV3:
    torch.manual_seed(0)
    return randomise(ElasticMobileNetV3("ofa-mini"), seed=0).eval()


@pytest.fixture
def mini(mini_base) -> ElasticMobileNetV3:
    """A private copy of the randomised ofa-mini supernet (tests may change it)."""
    return copy.deepcopy(mini_base)


@pytest.fixture(scope="module")
def w10() -> ElasticMobileNetV3:
    torch.manual_seed(1)
    return randomise(ElasticMobileNetV3("ofa-mbv3-w1.0"), seed=1, batch=2).eval()


def _mixed_archs(space: SearchSpace, n: int, seed: int) -> list[Arch]:
    return [space.largest(), space.smallest()] + space.sample(n - 2, rng=seed)


# ----- the randomisation itself ------------------------------------------------------------------


def test_randomised_supernet_is_well_scaled_and_arch_sensitive(mini):
    space = mini.space
    x = _images(space, 24, n=4)
    outputs = []
    with torch.no_grad():
        for arch in _mixed_archs(space, 4, seed=0):
            mini.set_active(arch.replace(r=24))
            outputs.append(mini(x))
    for out in outputs:
        assert 0.05 < out.std().item() < 20
    # Different subnets compute clearly different functions, so equality checks are not vacuous.
    for a in range(len(outputs)):
        for b in range(a):
            assert _relative_diff(outputs[a], outputs[b]) > 1e-2
    assert all((m - torch.eye(m.shape[0])).abs().max() > 0.05 for m in mini.blocks[0].kernel_transforms.values())


# ----- extraction --------------------------------------------------------------------------------


def test_extract_equals_supernet_in_eval_mode_mini(mini):
    space = mini.space
    for arch in _mixed_archs(space, 10, seed=3):
        x = _images(space, arch.r)
        mini.set_active(arch)
        with torch.no_grad():
            expected = mini(x)
            actual = mini.extract(arch)(x)
        assert_close(actual, expected)


def test_extract_equals_supernet_in_eval_mode_w10(w10):
    space = w10.space
    for arch in space.sample(3, rng=4):
        x = _images(space, arch.r, n=1)
        w10.set_active(arch)
        with torch.no_grad():
            expected = w10(x)
            actual = w10.extract(arch)(x)
        assert expected.abs().max() > 1e-2
        assert_close(actual, expected)


def test_extract_equals_supernet_in_train_mode(mini):
    """One training-mode forward: batch statistics, the same dropout mask, the same BN updates."""
    space = mini.space
    arch = space.arch([3, 5, 7, 5] * 5, [3, 4, 6, 4] * 5, [4, 3, 2, 4, 3], 20)
    mini.train().set_active(arch)
    model = mini.extract(arch)
    assert model.training
    x = _images(space, arch.r, n=4)
    torch.manual_seed(123)
    expected = mini(x)
    torch.manual_seed(123)
    actual = model(x)
    assert_close(actual, expected)
    # Both updated their running statistics the same way (the supernet only for active channels).
    for i, (_, _, flat) in enumerate(arch.active_blocks):
        elastic, static = mini.blocks[flat], model.blocks[1 + i]
        mid = elastic.mid[arch.e[flat]]
        for ebn, sbn in ((elastic.expand_bn, static.inverted_bottleneck.bn), (elastic.depth_bn, static.depth_conv.bn)):
            torch.testing.assert_close(ebn.running_mean[:mid], sbn.running_mean, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(ebn.running_var[:mid], sbn.running_var, rtol=1e-5, atol=1e-6)
            assert int(ebn.num_batches_tracked) == int(sbn.num_batches_tracked)
    # Gradients flow in both and agree on a shared weight (the stem is copied unchanged).
    expected.square().sum().backward()
    actual.square().sum().backward()
    torch.testing.assert_close(model.stem.conv.weight.grad, mini.stem.conv.weight.grad, rtol=1e-4, atol=1e-6)


def test_extract_preserves_batch_norm_settings(mini):
    """A supernet whose BN uses another eps or momentum (TF-ported MobileNetV3 weights use 1e-3) extracts faithfully."""
    space = mini.space
    for bn in _bns(mini):
        bn.eps = 0.1  # large against the unit-scale running variances, so it matters
        bn.momentum = 0.01
    arch = space.sample(1, rng=8)[0]
    model = mini.extract(arch)
    assert {(bn.eps, bn.momentum) for bn in _bns(model)} == {(0.1, 0.01)}
    x = _images(space, arch.r)
    mini.set_active(arch)
    with torch.no_grad():
        assert_close(model(x), mini(x))


def test_bn_recalibration_is_the_same_on_supernet_and_extracted_subnet(mini):
    """OFA re-calibrates BN statistics per subnet with a cumulative average (momentum None)."""
    space = mini.space
    arch = space.sample(1, rng=9)[0]
    for bn in _bns(mini):
        bn.momentum = None
        bn.reset_running_stats()
    mini.train().set_active(arch)
    model = mini.extract(arch)
    with torch.no_grad():
        for seed in range(3):
            x = _images(space, arch.r, n=8, seed=seed)
            mini(x)
            model(x)
    mini.eval()
    model.eval()
    x = _images(space, arch.r, n=2, seed=10)
    with torch.no_grad():
        assert_close(model(x), mini(x))


def test_extract_keeps_device_mode_and_active_arch(mini):
    space = mini.space
    active, other = space.sample(2, rng=5)
    mini.set_active(active)
    for training in (True, False):
        mini.train(training)
        model = mini.extract(other)
        assert isinstance(model, MobileNetV3)
        assert all(m.training == training for m in model.modules())
        assert next(model.parameters()).device == next(mini.parameters()).device
        assert mini.active_arch == active and mini.depths == active.d
        assert [(b.kernel, b.expand) for b in mini.blocks] == list(zip(active.ks, active.e))
        assert mini.training == training
    # Without an argument, the active subnet is extracted.
    assert len(mini.extract().blocks) == 1 + sum(active.d)
    assert len(mini.extract(other).blocks) == 1 + sum(other.d)


def test_extracted_weights_are_copies(mini):
    arch = mini.space.largest()
    model = mini.extract(arch)
    supernet_params = {p.data_ptr() for p in mini.parameters()}
    assert not any(p.data_ptr() in supernet_params for p in model.parameters())
    before = mini.stem.conv.weight.clone()
    with torch.no_grad():
        model.stem.conv.weight.add_(1.0)
        model.blocks[1].inverted_bottleneck.conv.weight.add_(1.0)
    assert torch.equal(mini.stem.conv.weight, before)
    assert not torch.equal(mini.blocks[0].expand_conv.weight, model.blocks[1].inverted_bottleneck.conv.weight)


@pytest.mark.parametrize("name", ["ofa-mini", "ofa-mbv3-w1.0"])
def test_extracted_structure_follows_the_arch(name):
    space = get_space(name)
    net = ElasticMobileNetV3(space)
    arch = space.arch([3, 5, 7, 3] * 5, [3, 4, 6, 3] * 5, [2, 3, 4, 2, 3], space.resolutions[0])
    model = net.extract(arch)
    first = model.blocks[0]
    assert isinstance(first, MBConv)
    assert first.inverted_bottleneck is None and first.se is None
    assert first.skip  # stem and first block have the same width and stride 1: identity shortcut
    assert first.depth_conv.conv.kernel_size == (3, 3)
    plans = block_plan(space)
    assert len(model.blocks) == 1 + sum(arch.d)
    for block, (s, j, flat) in zip(model.blocks[1:], arch.active_blocks):
        plan = plans[flat]
        assert block.skip == (j > 0) == plan.idskip
        assert (block.se is not None) == space.net.stage_se[s]
        assert block.depth_conv.conv.kernel_size == (arch.ks[flat],) * 2
        assert block.depth_conv.conv.stride == ((plan.stride,) * 2)
        mid = plan.mid_channels(arch.e[flat])
        assert block.inverted_bottleneck.conv.out_channels == mid == block.depth_conv.conv.groups
        assert block.point_linear.conv.out_channels == plan.out_channels
        act = block.depth_conv.act
        assert isinstance(act, nn.Hardswish if space.net.stage_acts[s] == "h_swish" else nn.ReLU)


# ----- the eval fast path ------------------------------------------------------------------------


def test_frozen_path_equals_autograd_path(mini):
    space = mini.space
    for arch in _mixed_archs(space, 5, seed=6):
        mini.set_active(arch)
        for block in mini.blocks:
            block._frozen = None
        x = _images(space, arch.r)
        with torch.no_grad():
            fast = mini(x)
        used = {flat for _, _, flat in arch.active_blocks}
        assert all((block._frozen is not None) == (i in used) for i, block in enumerate(mini.blocks))
        with torch.enable_grad():
            slow = mini(x)
        assert slow.requires_grad and not fast.requires_grad
        assert_close(fast, slow.detach())


def test_frozen_cache_refreshes_when_weights_change(mini):
    block = mini.blocks[4]  # SE block, stride 2, no shortcut
    block.set_active(3, 3)  # partial width: the cache holds copies, not views, of the weights
    y = torch.randn(2, block.plan.in_channels, 16, 16, generator=torch.Generator().manual_seed(0))

    def fast() -> torch.Tensor:
        with torch.no_grad():
            return block(y)

    def slow() -> torch.Tensor:
        return block(y).detach()

    before = fast()
    assert block._frozen is not None
    changes = [
        lambda: block.expand_conv.weight.mul_(-1.5),
        lambda: block.depth_conv.weight[:, :, 3, 3].add_(0.5),
        lambda: block.kernel_transforms["5to3"].mul_(0.5),
        lambda: block.kernel_transforms["7to5"].add_(0.1),
        lambda: block.expand_bn.running_var.mul_(4.0),
        lambda: block.depth_bn.bias.add_(1.0),
        lambda: block.se_reduce.bias.add_(1.0),
        lambda: block.se_expand.bias.add_(-2.0),
        lambda: block.project_conv.weight.mul_(3.0),
        lambda: block.project_bn.running_mean.add_(1.0),
    ]
    for i, change in enumerate(changes):
        with torch.no_grad():
            change()
        after = fast()
        assert _relative_diff(after, before) > 1e-2, i
        assert_close(after, slow())
        before = after
    # A new active setting refreshes too.
    block.set_active(5, 6)
    assert_close(fast(), slow())
    assert_close(fast(), block.extract().eval()(y))


def test_frozen_path_folds_batch_norm_and_runs_channels_last(mini):
    """The eval path carries no batch-norm tensors (they are folded in) and gives the same output channels-last."""
    space = mini.space
    arch = space.sample(1, rng=11)[0]
    mini.set_active(arch)
    x = _images(space, arch.r, n=3)
    with torch.enable_grad():
        slow = mini(x).detach()
    with torch.inference_mode():
        fast = mini(x)
        cl = mini.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    assert_close(fast, slow)
    assert_close(cl, slow)
    used = [block for i, block in enumerate(mini.blocks) if i in {flat for _, _, flat in arch.active_blocks}]
    for block in used:
        weights = block._frozen[1]
        assert not any(key.endswith("_bn") for key in weights)
        mid = block.mid[block.expand]
        assert weights["expand_bias"].shape == weights["depth_bias"].shape == (mid,)
        assert weights["project_bias"].shape == (block.plan.out_channels,)


def test_fold_batch_norms_gives_the_same_static_subnet_without_batch_norm(mini):
    from ofa_bench.nn.layers import fold_batch_norms

    space = mini.space
    arch = space.sample(1, rng=12)[0]
    static = mini.extract(arch).train()  # a training-mode model: the copy comes back in eval mode
    before = copy.deepcopy(static.state_dict())
    folded = fold_batch_norms(static)
    assert not folded.training and static.training
    assert not _bns(folded) and len(_bns(static)) > 0
    assert all(torch.equal(before[k], v) for k, v in static.state_dict().items())  # the original is untouched
    x = _images(space, arch.r, n=3)
    with torch.no_grad():
        assert_close(folded(x), static.eval()(x))


def test_depthwise_bias_on_both_paths():
    """A bias is added per channel by the oneDNN path and by the small-map gradient path, whose gradient it gets."""
    from ofa_bench.nn.depthwise import depthwise_conv

    x = torch.randn(2, 4, 6, 6)
    weight = torch.randn(4, 1, 3, 3, requires_grad=True)
    bias = torch.randn(4, requires_grad=True)
    with torch.no_grad():
        expected = F.conv2d(x, weight, bias, 1, 1, 1, 4)
        torch.testing.assert_close(depthwise_conv(x, weight, 1, bias), expected)
    out = depthwise_conv(x, weight, 1, bias)  # 36 pixels: the small-map path
    torch.testing.assert_close(out.detach(), expected)
    out.square().sum().backward()
    reference_w, reference_b = weight.detach().clone().requires_grad_(), bias.detach().clone().requires_grad_()
    F.conv2d(x, reference_w, reference_b, 1, 1, 1, 4).square().sum().backward()
    torch.testing.assert_close(bias.grad, reference_b.grad)
    torch.testing.assert_close(weight.grad, reference_w.grad)


def test_clear_cache_after_edits_through_data(mini):
    """``.data`` edits bypass version counters; ``clear_cache`` is the documented remedy."""
    arch = mini.space.smallest(24)
    mini.set_active(arch)
    x = torch.randn(2, 1, 24, 24, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        before = mini(x)
        for block in mini.blocks:
            block.project_conv.weight.data.mul_(3.0)
        mini.clear_cache()
        after = mini(x)
    assert _relative_diff(after, before) > 1e-2
    assert_close(after, mini.extract().eval()(x))


def test_frozen_path_follows_state_dict_loads_and_dtype_changes(mini):
    space = mini.space
    arch = space.smallest(24)
    mini.set_active(arch)
    x = _images(space, arch.r)
    with torch.no_grad():
        before = mini(x)
    donor = randomise(ElasticMobileNetV3(space), seed=5).eval()
    donor.set_active(arch)
    mini.load_state_dict(donor.state_dict())
    with torch.no_grad():
        after = mini(x)
        assert _relative_diff(after, before) > 1e-2
        assert_close(after, donor(x))
    mini.double()
    with torch.no_grad():
        out64 = mini(x.double())
    assert out64.dtype == torch.float64
    assert_close(out64, mini(x.double()).detach(), rtol=1e-12)
    assert_close(out64.float(), after)


# ----- kernel transforms -------------------------------------------------------------------------


def test_identity_transforms_give_centre_crops():
    net = ElasticMobileNetV3("ofa-mini")
    block = net.blocks[5]
    full = block.depth_conv.weight
    for mid in block.mid.values():
        assert torch.equal(block.depth_weight(mid, 7), full[:mid])
        assert torch.equal(block.depth_weight(mid, 5), full[:mid, :, 1:6, 1:6])
        assert torch.equal(block.depth_weight(mid, 3), full[:mid, :, 2:5, 2:5])
    model = net.extract(net.space.smallest())
    mid = net.blocks[0].mid[3]
    assert torch.equal(model.blocks[1].depth_conv.conv.weight, net.blocks[0].depth_conv.weight[:mid, :, 2:5, 2:5])


def test_kernel_transforms_compose_from_the_largest_kernel(mini):
    block = mini.blocks[6]
    mid = block.mid[4]
    w = block.depth_conv.weight[:mid].detach()
    t75, t53 = (block.kernel_transforms[k].detach() for k in ("7to5", "5to3"))
    w5 = (w[:, 0, 1:6, 1:6].reshape(mid, 25) @ t75.T).reshape(mid, 1, 5, 5)
    w3 = (w5[:, 0, 1:4, 1:4].reshape(mid, 9) @ t53.T).reshape(mid, 1, 3, 3)
    torch.testing.assert_close(block.depth_weight(mid, 5).detach(), w5)
    torch.testing.assert_close(block.depth_weight(mid, 3).detach(), w3)
    assert not torch.allclose(w3, w[:, :, 2:5, 2:5], atol=1e-3)


def test_kernel_transforms_match_ofa_dynamic_separable_conv(mini):
    pytest.importorskip("ofa")
    from ofa.imagenet_classification.elastic_nn.modules.dynamic_op import DynamicSeparableConv2d

    block = mini.blocks[9]
    max_mid = block.depth_conv.weight.shape[0]
    ofa_conv = DynamicSeparableConv2d(max_mid, [3, 5, 7])
    with torch.no_grad():
        ofa_conv.conv.weight.copy_(block.depth_conv.weight)
        ofa_conv.__getattr__("7to5_matrix").copy_(block.kernel_transforms["7to5"])
        ofa_conv.__getattr__("5to3_matrix").copy_(block.kernel_transforms["5to3"])
        for mid in block.mid.values():
            for k in (3, 5, 7):
                torch.testing.assert_close(block.depth_weight(mid, k), ofa_conv.get_active_filter(mid, k))


@pytest.mark.parametrize(
    ("kernel", "with_grad"), [(3, {"7to5", "5to3"}), (5, {"7to5"}), (7, set())]
)
def test_gradients_reach_active_kernel_transforms(mini, kernel, with_grad):
    space = mini.space
    arch = space.arch([kernel] * 20, [4] * 20, [2] * 5, 24)
    mini.train().set_active(arch)
    mini(_images(space, arch.r, n=4)).square().sum().backward()
    active = {flat for _, _, flat in arch.active_blocks}
    for i, block in enumerate(mini.blocks):
        for name, matrix in block.kernel_transforms.items():
            if i in active and name in with_grad:
                assert matrix.grad is not None and matrix.grad.abs().sum() > 0, (i, name)
            else:
                assert matrix.grad is None or not matrix.grad.any(), (i, name)
        grad = block.depth_conv.weight.grad
        if i not in active:
            assert grad is None or not grad.any()
            continue
        mid = block.mid[4]
        assert not grad[mid:].any()  # channels beyond the active width get nothing
        lo = (7 - (5 if kernel < 7 else 7)) // 2  # 7->5 reads the 5x5 centre, then 5->3 reads from that
        border = torch.ones(7, 7, dtype=torch.bool)
        border[lo : 7 - lo, lo : 7 - lo] = False
        assert not grad[:mid, 0][:, border].any()
        assert grad[:mid].abs().sum() > 0


# ----- channel sorting ---------------------------------------------------------------------------


def _importance(block: ElasticMBConv) -> torch.Tensor:
    return block.project_conv.weight.detach().abs().sum(dim=(0, 2, 3))


def test_sort_channels_default_keeps_largest_and_orders_importance(mini):
    space = mini.space
    largest, small = space.largest(20), space.smallest(20)
    x = _images(space, 20)
    with torch.no_grad():
        mini.set_active(largest)
        before_large = mini(x)
        mini.set_active(small)
        before_small = mini(x)
    weights = [b.project_conv.weight.clone() for b in mini.blocks]
    mini.sort_channels()
    with torch.no_grad():
        mini.set_active(largest)
        assert_close(mini(x), before_large)
        mini.set_active(small)
        after_small = mini(x)
    # Order changed, and most important first within each block...
    assert all(not torch.equal(b.project_conv.weight, w) for b, w in zip(mini.blocks, weights))
    for block in mini.blocks:
        imp = _importance(block)
        assert (imp[:-1] >= imp[1:]).all()
    # ...so smaller expand ratios now see other (the most important) channels.
    assert _relative_diff(after_small, before_small) > 1e-3
    assert_close(mini.extract(small)(x), after_small)


def test_sort_channels_within_all_expand_bands_keeps_every_subnet(mini):
    space = mini.space
    archs = space.sample(8, rng=12)
    inputs = {arch: _images(space, arch.r) for arch in archs}
    before = {}
    with torch.no_grad():
        for arch in archs:
            mini.set_active(arch)
            before[arch] = mini(inputs[arch])
    mini.sort_channels(space.e_choices)
    with torch.no_grad():
        for arch in archs:
            mini.set_active(arch)
            assert_close(mini(inputs[arch]), before[arch])
    for block in mini.blocks:
        imp = _importance(block)
        bounds = [0, *sorted(block.mid.values())]
        for lo, hi in zip(bounds, bounds[1:]):
            band = imp[lo:hi]
            assert (band[:-1] >= band[1:]).all()


def test_sort_channels_rejects_unknown_ratio(mini):
    with pytest.raises(ValueError, match=r"expand ratio 5 not served; allowed: \[3, 4, 6\]"):
        mini.sort_channels((4, 5))


# ----- activation and resolutions ----------------------------------------------------------------


def test_set_active_rejects_arch_of_another_space(mini):
    active = mini.active_arch
    with pytest.raises(SpaceError, match="arch of space 'ofa-mbv3-w1.0' given to a supernet of 'ofa-mini'"):
        mini.set_active(get_space("ofa-mbv3-w1.0").largest())
    assert mini.active_arch == active


def test_set_max_keeps_resolution(mini):
    mini.set_active(mini.space.smallest(20))
    mini.set_max()
    assert mini.active_arch == mini.space.largest(20)
    assert all((b.kernel, b.expand) == (7, 6) for b in mini.blocks)


def test_forward_at_every_resolution(mini):
    space = mini.space
    for r in space.resolutions:
        for arch in (space.largest(r), space.smallest(r)):
            mini.set_active(arch)
            with torch.no_grad():
                out = mini(_images(space, r, n=3))
            assert out.shape == (3, space.net.n_classes)
            assert torch.isfinite(out).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_extract_equals_supernet_on_gpu(mini, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    net = mini.cuda()
    space = net.space
    for arch in _mixed_archs(space, 4, seed=13):
        x = _images(space, arch.r).cuda()
        net.set_active(arch)
        model = net.extract(arch)
        assert next(model.parameters()).is_cuda
        with torch.no_grad():
            expected = net(x)
            actual = model(x)
        assert expected.is_cuda and actual.is_cuda
        assert_close(actual, expected, rtol=1e-4)  # cuDNN may pick different algorithms
        assert_close(expected.cpu(), copy.deepcopy(net).cpu()(x.cpu()).detach(), rtol=1e-3)
