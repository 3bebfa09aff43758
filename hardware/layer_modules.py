"""One standalone PyTorch module per layer shape, built from the same static blocks a subnet uses.

A lookup table is only as good as the match between a layer timed alone and that layer inside a
network, so each module here is the exact block :meth:`ElasticMobileNetV3.extract` produces for
that position (:mod:`ofa_bench.nn.layers`), and every module takes an ``(n, c, h, w)`` input so
runners time and export them all the same way.
"""

from __future__ import annotations

import torch
from torch import nn

from ofa_bench.costs import LayerShape, se_channels
from ofa_bench.errors import OfaBenchError
from ofa_bench.nn.layers import ConvBNAct, MBConv

__all__ = ["input_shape", "layer_module"]


class _GlobalPool(nn.Module):
    """Global average pooling as the network does it (``mean`` over height and width)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pool ``(n, c, h, w)`` to ``(n, c, 1, 1)``."""
        return x.mean((2, 3), keepdim=True)


class _Logits(nn.Module):
    """The classifier on a pooled ``(n, c, 1, 1)`` input: flatten, then the linear layer."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(n, out_features)``."""
        return self.linear(torch.flatten(x, 1))


def layer_module(layer: LayerShape, seed: int = 0) -> nn.Module:
    """A randomly initialised eval-mode module computing ``layer`` alone.

    Args:
        layer: The layer shape (from :func:`ofa_bench.costs.layers`).
        seed: Seed of the weights; latency does not depend on them, but runs stay reproducible.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = _build(layer)
    return module.eval()


def _build(layer: LayerShape) -> nn.Module:
    kind = layer.kind
    if kind == "stem":
        return ConvBNAct(layer.in_channels, layer.out_channels, layer.kernel, layer.stride, act=layer.act)
    if kind == "mbconv":
        hidden = se_channels(layer.mid_channels) if layer.se else None
        return MBConv(
            layer.in_channels, layer.mid_channels, layer.out_channels, layer.kernel, layer.stride,
            layer.act, hidden, layer.expand != 1, layer.idskip,
        )  # fmt: skip
    if kind == "final_expand":
        return ConvBNAct(layer.in_channels, layer.out_channels, act=layer.act)
    if kind == "pool":
        return _GlobalPool()
    if kind == "feature_mix":
        return ConvBNAct(layer.in_channels, layer.out_channels, act=layer.act, bn=False)
    if kind == "classifier":
        return _Logits(layer.in_channels, layer.out_channels)
    raise OfaBenchError(
        f"layer kind {kind!r} cannot be built for timing; "
        f"known: stem, mbconv, final_expand, pool, feature_mix, classifier"
    )


def input_shape(layer: LayerShape, batch_size: int) -> tuple[int, int, int, int]:
    """The ``(n, c, h, w)`` input ``layer_module(layer)`` takes at batch size ``batch_size``."""
    return (batch_size, layer.in_channels, layer.in_size, layer.in_size)
