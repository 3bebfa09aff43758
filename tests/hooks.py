"""Independent cost measurement for tests: forward hooks that count MACs on any ``nn.Module``.

The analytic counts in :mod:`ofa_bench.costs` are checked against these. The convention is OFA's
(``ofa.utils.flops_counter``): a convolution costs ``in_channels / groups * k_h * k_w`` per output
element, a linear layer ``in_features * out_features`` per sample; bias, batch norm, activations and
pooling are free. Unlike OFA's counter, everything here is Python integers, so totals above 2**24
are exact rather than rounded through float32.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import torch
from torch import nn

__all__ = ["count_macs", "count_macs_grouped", "count_params", "leaf_macs"]


def _conv_macs(module: nn.Conv2d, output: torch.Tensor) -> int:
    k_h, k_w = module.kernel_size
    per_image = output.numel() // output.shape[0]
    return module.in_channels // module.groups * k_h * k_w * per_image


def _linear_macs(module: nn.Linear, output: torch.Tensor) -> int:
    samples_per_image = output.numel() // (output.shape[0] * module.out_features)
    return module.in_features * module.out_features * samples_per_image


def leaf_macs(model: nn.Module, x: torch.Tensor) -> dict[str, int]:
    """MACs per image of every convolution and linear layer of ``model``, by qualified name.

    Runs one forward pass on ``x`` under ``torch.no_grad``; a module called twice counts twice.
    The counts are per image, whatever the batch size of ``x``.
    """
    counts: dict[str, int] = defaultdict(int)
    handles = []

    def hook_for(name: str):
        def hook(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
            if isinstance(module, nn.Conv2d):
                counts[name] += _conv_macs(module, output)
            else:
                counts[name] += _linear_macs(module, output)

        return hook

    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            handles.append(module.register_forward_hook(hook_for(name)))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return dict(counts)


def count_macs(model: nn.Module, x: torch.Tensor) -> int:
    """Total MACs per image of one forward pass of ``model`` on ``x``."""
    return sum(leaf_macs(model, x).values())


def count_macs_grouped(model: nn.Module, x: torch.Tensor, key: Callable[[str], str]) -> dict[str, int]:
    """MACs per image summed over groups of layers; ``key`` maps a layer's qualified name to its group.

    For example ``key=lambda n: ".".join(n.split(".")[:2])`` gives one entry per block of a model
    whose blocks live in ``blocks = nn.Sequential(...)``.
    """
    grouped: dict[str, int] = defaultdict(int)
    for name, macs in leaf_macs(model, x).items():
        grouped[key(name)] += macs
    return dict(grouped)


def count_params(model: nn.Module) -> int:
    """Number of learnable parameters: the sum of ``numel`` over ``model.parameters()``."""
    return sum(p.numel() for p in model.parameters())
