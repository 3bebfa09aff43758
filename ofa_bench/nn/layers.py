"""Static building blocks of an extracted sub-network: plain PyTorch, no elastic logic.

These are what :meth:`ElasticMobileNetV3.extract` returns, so they export to ONNX, script and
quantise like any MobileNetV3.
"""

from __future__ import annotations

import copy
from collections import OrderedDict

import torch
from torch import nn

from ofa_bench.nn.depthwise import depthwise_conv

__all__ = [
    "ConvBNAct", "DepthwiseConv2d", "SqueezeExcite", "MBConv", "MobileNetV3", "activation", "fold_batch_norm",
    "fold_batch_norms",
]  # fmt: skip


def activation(name: str) -> nn.Module:
    """The activation module called ``name`` (``relu``, ``h_swish`` or ``none``)."""
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "h_swish":
        return nn.Hardswish(inplace=True)
    if name == "none":
        return nn.Identity()
    raise ValueError(f"unknown activation {name!r}; allowed: relu, h_swish, none")


class DepthwiseConv2d(nn.Conv2d):
    """A depthwise ``nn.Conv2d`` that runs the supernet's depthwise operator (:mod:`~ofa_bench.nn.depthwise`).

    Same parameters and state dict as ``nn.Conv2d``; the forward pass crops taps that only meet
    padding and the weight gradient on small maps is a matrix product, exactly as in the elastic
    supernet, so an extracted subnet trains as fast as the supernet's active path and comparisons
    between the two measure the elastic logic, not two different kernels. ONNX export, tracing and
    scripting see a plain convolution.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if torch.onnx.is_in_onnx_export() or torch.jit.is_tracing() or torch.jit.is_scripting():
            return super().forward(x)
        return depthwise_conv(x, self.weight, self.stride[0], self.bias)


class ConvBNAct(nn.Sequential):
    """Convolution, optional batch norm, activation; ``same`` padding for odd kernels."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int = 1,
        stride: int = 1,
        groups: int = 1,
        act: str = "none",
        bn: bool = True,
    ) -> None:
        depthwise = groups == in_channels == out_channels and kernel > 1 and kernel % 2 == 1
        conv_type = DepthwiseConv2d if depthwise else nn.Conv2d
        layers: dict[str, nn.Module] = {
            "conv": conv_type(in_channels, out_channels, kernel, stride, kernel // 2, groups=groups, bias=False)
        }
        if bn:
            layers["bn"] = nn.BatchNorm2d(out_channels)
        if act != "none":
            layers["act"] = activation(act)
        super().__init__(OrderedDict(layers))


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation: channel gates from the pooled input (ReLU, then hard sigmoid)."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, hidden, 1, bias=True)
        self.expand = nn.Conv2d(hidden, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale each channel of ``x`` by its learned gate."""
        s = x.mean((2, 3), keepdim=True)
        s = torch.relu(self.reduce(s))
        return x * nn.functional.hardsigmoid(self.expand(s))


class MBConv(nn.Module):
    """Inverted-residual block: 1x1 expand, depthwise kxk (+SE), 1x1 project, optional skip."""

    def __init__(
        self,
        in_channels: int,
        mid_channels: int,
        out_channels: int,
        kernel: int,
        stride: int,
        act: str,
        se_hidden: int | None,
        expand: bool,
        skip: bool,
    ) -> None:
        super().__init__()
        self.inverted_bottleneck = ConvBNAct(in_channels, mid_channels, act=act) if expand else None
        self.depth_conv = ConvBNAct(mid_channels, mid_channels, kernel, stride, groups=mid_channels, act=act)
        self.se = SqueezeExcite(mid_channels, se_hidden) if se_hidden else None
        self.point_linear = ConvBNAct(mid_channels, out_channels)
        self.skip = skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        y = x if self.inverted_bottleneck is None else self.inverted_bottleneck(x)
        y = self.depth_conv(y)
        if self.se is not None:
            y = self.se(y)
        y = self.point_linear(y)
        return y + x if self.skip else y


class MobileNetV3(nn.Module):
    """A static MobileNetV3 sub-network: stem, blocks, final expand, pooling, feature mix, classifier."""

    def __init__(
        self,
        stem: nn.Module,
        blocks: list[nn.Module],
        final_expand: nn.Module,
        feature_mix: nn.Module,
        classifier: nn.Module,
    ) -> None:
        super().__init__()
        self.stem = stem
        self.blocks = nn.Sequential(*blocks)
        self.final_expand = final_expand
        self.feature_mix = feature_mix
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of images ``(n, c, r, r)``."""
        x = self.final_expand(self.blocks(self.stem(x)))
        x = self.feature_mix(x.mean((2, 3), keepdim=True))
        return self.classifier(torch.flatten(x, 1))


def fold_batch_norm(
    weight: torch.Tensor, bn: nn.BatchNorm2d, c: int | None = None, bias: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A convolution weight and bias equal to ``(weight, bias)`` followed by eval-mode ``bn``.

    ``bn(conv(x, w, b)) == conv(x, w * s, (b - mean) * s + beta)`` with ``s = gamma / sqrt(var + eps)``
    per output channel, up to rounding; ``c`` takes the first ``c`` channels of ``bn`` (an elastic
    width; default all). Returns new contiguous tensors.
    """
    c = bn.num_features if c is None else c
    scale = bn.weight[:c] * torch.rsqrt(bn.running_var[:c] + bn.eps)
    shift = bn.bias[:c] - bn.running_mean[:c] * scale
    if bias is not None:
        shift = shift + bias * scale
    return (weight * scale.reshape(-1, *([1] * (weight.dim() - 1)))).contiguous(), shift.contiguous()


@torch.no_grad()
def fold_batch_norms(model: nn.Module) -> nn.Module:
    """An inference copy of ``model`` with every :class:`ConvBNAct`'s batch norm folded into its convolution.

    The convolution gets the bias ``beta - mean * s`` and the weight ``weight * s`` per output
    channel, ``s = gamma / sqrt(var + eps)``; the eval-mode output is the same up to rounding.
    Training the copy would no longer update batch statistics, so it is returned in eval mode.
    """
    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        if isinstance(module, ConvBNAct) and "bn" in module._modules:
            conv = module.conv
            weight, bias = fold_batch_norm(conv.weight, module.bn, bias=conv.bias)
            conv.weight.copy_(weight)
            conv.bias = nn.Parameter(bias)
            del module._modules["bn"]
    return folded
