"""Elastic layers: one set of weights serving every kernel size and expand ratio.

Elastic width takes the leading channels of each weight, elastic kernel takes the centre of the
largest kernel through a learned linear transform per size (OFA's kernel-transformation matrices),
and batch norm and squeeze-and-excitation slice their parameters to the active width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ofa_bench.costs import BlockPlan, se_channels
from ofa_bench.nn.depthwise import depthwise_conv
from ofa_bench.nn.layers import ConvBNAct, MBConv, SqueezeExcite, fold_batch_norm

__all__ = ["ElasticMBConv", "elastic_batch_norm"]


def elastic_batch_norm(bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """Batch norm over the first ``x.size(1)`` channels of ``bn``, updating only their statistics.

    Follows ``nn.BatchNorm2d`` exactly (momentum, or a cumulative average when it is ``None``),
    so BN re-calibration works the same on the supernet and on an extracted sub-network.
    """
    c = x.size(1)
    if c == bn.num_features:
        return bn(x)
    factor = 0.0
    if bn.training and bn.track_running_stats:
        bn.num_batches_tracked.add_(1)
        factor = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
    return F.batch_norm(
        x,
        bn.running_mean[:c],
        bn.running_var[:c],
        bn.weight[:c],
        bn.bias[:c],
        bn.training or not bn.track_running_stats,
        factor,
        bn.eps,
    )


def _hardswish_(x: torch.Tensor) -> torch.Tensor:
    return F.hardswish(x, inplace=True)


def _copy_bn(src: nn.BatchNorm2d, dst: nn.BatchNorm2d, index: torch.Tensor | slice) -> None:
    dst.eps, dst.momentum = src.eps, src.momentum
    dst.weight.copy_(src.weight[index])
    dst.bias.copy_(src.bias[index])
    dst.running_mean.copy_(src.running_mean[index])
    dst.running_var.copy_(src.running_var[index])
    dst.num_batches_tracked.copy_(src.num_batches_tracked)


def _permute_bn(bn: nn.BatchNorm2d, order: torch.Tensor) -> None:
    for tensor in (bn.weight, bn.bias, bn.running_mean, bn.running_var):
        tensor.copy_(tensor[order])


class ElasticMBConv(nn.Module):
    """An inverted-residual block with elastic kernel size and expand ratio.

    In eval mode without autograd, the active weight slices are copied once, with the batch norms
    folded into the convolutions (:func:`~ofa_bench.nn.layers.fold_batch_norm`), and reused until
    the active setting or a tensor's version changes (in-place updates, optimiser steps and
    ``load_state_dict`` all bump it). Edits through ``.data`` bypass version tracking: call
    :meth:`ElasticMobileNetV3.clear_cache` after them.

    Args:
        plan: Fixed facts of the block position (channels, stride, activation, SE).
        ks_choices: Kernel sizes it serves (odd, ascending).
        e_choices: Expand ratios it serves.
    """

    def __init__(self, plan: BlockPlan, ks_choices: tuple[int, ...], e_choices: tuple[int, ...]) -> None:
        super().__init__()
        self.plan = plan
        self.ks_choices = tuple(sorted(ks_choices))
        self.mid = {e: plan.mid_channels(e) for e in e_choices}
        max_mid, max_k = max(self.mid.values()), self.ks_choices[-1]
        self.expand_conv = nn.Conv2d(plan.in_channels, max_mid, 1, bias=False)
        self.expand_bn = nn.BatchNorm2d(max_mid)
        self.depth_conv = nn.Conv2d(max_mid, max_mid, max_k, plan.stride, max_k // 2, groups=max_mid, bias=False)
        self.depth_bn = nn.BatchNorm2d(max_mid)
        # One matrix per step down (7->5, 5->3), shared by all channels, starting as the identity
        # so a fresh supernet's small kernels are plain centre crops.
        self.kernel_transforms = nn.ParameterDict(
            {f"{a}to{b}": nn.Parameter(torch.eye(b * b)) for a, b in zip(self.ks_choices[::-1], self.ks_choices[-2::-1])}
        )
        if plan.se:
            hidden = se_channels(max_mid)
            self.se_reduce = nn.Conv2d(max_mid, hidden, 1, bias=True)
            self.se_expand = nn.Conv2d(hidden, max_mid, 1, bias=True)
        self.project_conv = nn.Conv2d(max_mid, plan.out_channels, 1, bias=False)
        self.project_bn = nn.BatchNorm2d(plan.out_channels)
        # In place, like the static blocks' activations: a fresh tensor per call costs ~8% here.
        self.act = F.relu_ if plan.act == "relu" else _hardswish_
        self.kernel = max_k
        self.expand = max(e_choices)
        self._frozen: tuple[tuple, dict] | None = None

    def extra_repr(self) -> str:
        return f"in={self.plan.in_channels}, out={self.plan.out_channels}, stride={self.plan.stride}, active=k{self.kernel}e{self.expand}"

    def set_active(self, kernel: int, expand: int) -> None:
        """Choose the kernel size and expand ratio the next forward uses."""
        self.kernel, self.expand = kernel, expand

    def depth_weight(self, mid: int, kernel: int) -> torch.Tensor:
        """The depthwise kernel of the first ``mid`` channels at size ``kernel``."""
        weight = self.depth_conv.weight[:mid]
        size = self.ks_choices[-1]
        for smaller in self.ks_choices[-2::-1]:
            if size == kernel:
                break
            lo = (size - smaller) // 2
            centre = weight[:, :, lo : lo + smaller, lo : lo + smaller].reshape(mid, smaller * smaller)
            weight = F.linear(centre, self.kernel_transforms[f"{size}to{smaller}"]).reshape(mid, 1, smaller, smaller)
            size = smaller
        return weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block at its active kernel size and expand ratio."""
        if not self.training and not torch.is_grad_enabled():
            return self._forward_frozen(x)
        mid, kernel, act = self.mid[self.expand], self.kernel, self.act
        y = act(elastic_batch_norm(self.expand_bn, F.conv2d(x, self.expand_conv.weight[:mid])))
        y = depthwise_conv(y, self.depth_weight(mid, kernel), self.plan.stride)
        y = act(elastic_batch_norm(self.depth_bn, y))
        if self.plan.se:
            hidden = se_channels(mid)
            s = y.mean((2, 3), keepdim=True)
            s = F.relu(F.conv2d(s, self.se_reduce.weight[:hidden, :mid], self.se_reduce.bias[:hidden]))
            y = y * F.hardsigmoid(F.conv2d(s, self.se_expand.weight[:mid, :hidden], self.se_expand.bias[:mid]))
        y = self.project_bn(F.conv2d(y, self.project_conv.weight[:, :mid]))
        return y + x if self.plan.idskip else y

    def _forward_frozen(self, x: torch.Tensor) -> torch.Tensor:
        # Inference on fixed weights: run on contiguous copies of the active slices with each batch
        # norm folded into the convolution before it, made once per active setting and weight
        # version. The slices cost nothing per call (strided ones would be copied by every
        # convolution), and the three batch norms of the block, about a sixth of an eval forward
        # on one CPU thread, become the convolutions' biases.
        w = self._frozen_weights()
        act = self.act
        y = act(F.conv2d(x, w["expand"], w["expand_bias"]))
        y = act(depthwise_conv(y, w["depth"], self.plan.stride, w["depth_bias"]))
        if self.plan.se:
            s = F.relu(F.conv2d(y.mean((2, 3), keepdim=True), w["se_reduce"], w["se_reduce_bias"]))
            y = y * F.hardsigmoid(F.conv2d(s, w["se_expand"], w["se_expand_bias"]))
        y = F.conv2d(y, w["project"], w["project_bias"])
        return y + x if self.plan.idskip else y

    def _frozen_weights(self) -> dict[str, torch.Tensor]:
        tensors = self._state_tensors
        key = (self.expand, self.kernel, tuple((t._version, t.data_ptr()) for t in tensors))
        if self._frozen is not None and self._frozen[0] == key:
            return self._frozen[1]
        mid, hidden = self.mid[self.expand], se_channels(self.mid[self.expand])
        expand, expand_bias = fold_batch_norm(self.expand_conv.weight[:mid], self.expand_bn, mid)
        depth, depth_bias = fold_batch_norm(self.depth_weight(mid, self.kernel), self.depth_bn, mid)
        project, project_bias = fold_batch_norm(
            self.project_conv.weight[:, :mid], self.project_bn, self.plan.out_channels
        )
        w = {
            "expand": expand, "expand_bias": expand_bias, "depth": depth, "depth_bias": depth_bias,
            "project": project, "project_bias": project_bias,
        }  # fmt: skip
        if self.plan.se:
            w["se_reduce"] = self.se_reduce.weight[:hidden, :mid].contiguous()
            w["se_reduce_bias"] = self.se_reduce.bias[:hidden].contiguous()
            w["se_expand"] = self.se_expand.weight[:mid, :hidden].contiguous()
            w["se_expand_bias"] = self.se_expand.bias[:mid].contiguous()
        self._frozen = (key, w)
        return w

    @property
    def _state_tensors(self) -> list[torch.Tensor]:
        # Named directly: walking the module tree with parameters() costs 20 us per call, which
        # adds up over the blocks of every inference forward.
        tensors = [self.expand_conv.weight, self.depth_conv.weight, self.project_conv.weight]
        tensors += self.kernel_transforms.values()
        for bn in (self.expand_bn, self.depth_bn, self.project_bn):
            tensors += (bn.weight, bn.bias, bn.running_mean, bn.running_var)
        if self.plan.se:
            tensors += (self.se_reduce.weight, self.se_reduce.bias, self.se_expand.weight, self.se_expand.bias)
        return tensors

    @torch.no_grad()
    def extract(self) -> MBConv:
        """A static :class:`MBConv` with copies of the active weights."""
        plan, mid, kernel = self.plan, self.mid[self.expand], self.kernel
        hidden = se_channels(mid) if plan.se else None
        block = MBConv(plan.in_channels, mid, plan.out_channels, kernel, plan.stride, plan.act, hidden, True, plan.idskip)
        ib, dw, pl = block.inverted_bottleneck, block.depth_conv, block.point_linear
        assert isinstance(ib, ConvBNAct)
        ib.conv.weight.copy_(self.expand_conv.weight[:mid])
        _copy_bn(self.expand_bn, ib.bn, slice(0, mid))
        dw.conv.weight.copy_(self.depth_weight(mid, kernel))
        _copy_bn(self.depth_bn, dw.bn, slice(0, mid))
        if isinstance(block.se, SqueezeExcite):
            block.se.reduce.weight.copy_(self.se_reduce.weight[:hidden, :mid])
            block.se.reduce.bias.copy_(self.se_reduce.bias[:hidden])
            block.se.expand.weight.copy_(self.se_expand.weight[:mid, :hidden])
            block.se.expand.bias.copy_(self.se_expand.bias[:mid])
        pl.conv.weight.copy_(self.project_conv.weight[:, :mid])
        _copy_bn(self.project_bn, pl.bn, slice(None))
        return block

    @torch.no_grad()
    def sort_channels(self, expand_choices: tuple[int, ...] | None = None) -> None:
        """Reorder middle channels by importance (L1 norm of their projection weights).

        Channels are sorted only within the bands between the widths of ``expand_choices``
        (default: the largest ratio alone), so every sub-network using those ratios keeps its
        channel set and therefore its function, while the most important channels move to the
        front where smaller ratios will find them.
        """
        choices = (max(self.mid),) if expand_choices is None else tuple(expand_choices)
        unknown = [e for e in choices if e not in self.mid]
        if unknown:
            raise ValueError(f"expand ratio {unknown[0]} not served; allowed: {sorted(self.mid)}")
        bounds = sorted({0, max(self.mid.values()), *(self.mid[e] for e in choices)})
        importance = self.project_conv.weight.abs().sum(dim=(0, 2, 3))
        order = torch.cat(
            [lo + torch.argsort(importance[lo:hi], descending=True, stable=True) for lo, hi in zip(bounds, bounds[1:])]
        )
        self.expand_conv.weight.copy_(self.expand_conv.weight[order])
        _permute_bn(self.expand_bn, order)
        self.depth_conv.weight.copy_(self.depth_conv.weight[order])
        _permute_bn(self.depth_bn, order)
        if self.plan.se:
            self.se_reduce.weight.copy_(self.se_reduce.weight[:, order])
            self.se_expand.weight.copy_(self.se_expand.weight[order])
            self.se_expand.bias.copy_(self.se_expand.bias[order])
        self.project_conv.weight.copy_(self.project_conv.weight[:, order])
