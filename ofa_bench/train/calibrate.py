"""BN re-calibration: re-estimate batch-norm statistics of one sub-network before evaluating it.

A supernet's running statistics mix every sub-network trained through it, so OFA resets them and
re-estimates them per sub-network from a fixed calibration subset, as a cumulative average over
all its batches. Same subset, same order, same statistics: the accuracy of an arch is a function
of the checkpoint and the arch alone.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from ofa_bench.nn import ElasticMobileNetV3
from ofa_bench.space import Arch

__all__ = ["calibrate_bn"]


@torch.no_grad()
def calibrate_bn(net: ElasticMobileNetV3, arch: Arch, batches: Iterable[torch.Tensor]) -> int:
    """Reset and re-estimate every BN layer's running statistics for ``arch``.

    Statistics are a cumulative (equal-weight) average over ``batches``, as OFA computes them;
    only the channels ``arch`` uses are touched. The net is left in eval mode with ``arch`` active.

    Args:
        net: The supernet (on any device; batches are moved to it).
        arch: The sub-network to calibrate.
        batches: Image batches ``(n, c, arch.r, arch.r)``: the fixed calibration subset.

    Returns:
        Number of images used.
    """
    device = next(net.parameters()).device
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    saved = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average over the calibration batches
    net.set_active(arch)
    net.train()
    seen = 0
    try:
        for x in batches:
            net(x.to(device, non_blocking=True))
            seen += x.size(0)
    finally:
        for bn, momentum in zip(bns, saved):
            bn.momentum = momentum
        net.eval()
    if seen == 0:
        raise ValueError("BN calibration got no images")
    return seen
