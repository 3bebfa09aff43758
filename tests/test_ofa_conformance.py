"""Our supernet computes the same function as the reference OFA implementation.

The reference package ``ofa`` is a test-only oracle: OFA's own ``OFAMobileNetV3`` gets random
weights (BN statistics and kernel-transformation matrices included), they are loaded into our
supernet through :func:`load_ofa_weights`, and every sampled sub-network must give the same logits.
"""

from __future__ import annotations

import pytest
import torch

from ofa_bench.errors import OfaBenchError
from ofa_bench.nn import ElasticMobileNetV3
from ofa_bench.nn.ofa_format import load_ofa_weights
from ofa_bench.space import get_space

networks = pytest.importorskip("ofa.imagenet_classification.elastic_nn.networks")


def _randomised_ofa_net(width: float) -> torch.nn.Module:
    torch.manual_seed(7)
    net = networks.OFAMobileNetV3(
        n_classes=1000, width_mult=width, ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4]
    )
    with torch.no_grad():
        for name, tensor in net.state_dict().items():
            if name.endswith("running_var"):
                tensor.uniform_(0.5, 2.0)
            elif name.endswith("running_mean"):
                tensor.normal_(0.0, 0.2)
            elif name.endswith("_matrix"):
                tensor.add_(0.1 * torch.randn_like(tensor))
            elif tensor.is_floating_point() and name.endswith("bn.weight"):
                tensor.normal_(1.0, 0.2)
    return net.eval()


@pytest.fixture(scope="module", params=["ofa-mbv3-w1.0", "ofa-mbv3-w1.2"])
def pair(request):
    space = get_space(request.param)
    theirs = _randomised_ofa_net(space.net.width_mult)
    ours = ElasticMobileNetV3(space).eval()
    load_ofa_weights(ours, theirs.state_dict())
    return space, ours, theirs


def test_subnet_logits_equal_reference(pair) -> None:
    space, ours, theirs = pair
    for arch in space.sample(4, rng=11) + [space.smallest(128)]:
        theirs.set_active_subnet(ks=list(arch.ks), e=list(arch.e), d=list(arch.d))
        ours.set_active(arch)
        x = torch.randn(2, 3, arch.r, arch.r, generator=torch.Generator().manual_seed(arch.r))
        with torch.no_grad():
            expected, got = theirs(x), ours(x)
            static = ours.extract()(x)
        scale = expected.abs().max().item()
        assert scale > 1e-3
        assert (got - expected).abs().max().item() <= 1e-4 * max(1.0, scale), arch
        assert (static - expected).abs().max().item() <= 1e-4 * max(1.0, scale), arch


def test_reference_subnet_extraction_matches_ours(pair) -> None:
    """OFA's own extracted static subnet and ours hold the same tensors in the same order."""
    space, ours, theirs = pair
    arch = space.sample(1, rng=5)[0]
    theirs.set_active_subnet(ks=list(arch.ks), e=list(arch.e), d=list(arch.d))
    reference = [p for p in theirs.get_active_subnet(preserve_weight=True).state_dict().values()]
    extracted = [p for p in ours.extract(arch).state_dict().values()]
    assert [tuple(p.shape) for p in extracted] == [tuple(p.shape) for p in reference]
    for mine, ref in zip(extracted, reference):
        torch.testing.assert_close(mine.float(), ref.float(), atol=1e-6, rtol=1e-5)


def test_mismatched_weights_are_named() -> None:
    state = _randomised_ofa_net(1.2).state_dict()
    with pytest.raises(OfaBenchError, match=r"stem\.conv\.weight.*needs \(16, 3, 3, 3\)"):
        load_ofa_weights(ElasticMobileNetV3("ofa-mbv3-w1.0"), state)
    with pytest.raises(OfaBenchError, match="not found"):
        load_ofa_weights(ElasticMobileNetV3("ofa-mini"), "/nonexistent/ofa.pth")
