"""The elastic MobileNetV3 supernet: every arch of a search space in one set of weights."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ofa_bench.costs import block_plan
from ofa_bench.errors import OfaBenchError, SpaceError
from ofa_bench.nn.elastic import ElasticMBConv
from ofa_bench.nn.layers import ConvBNAct, MBConv, MobileNetV3
from ofa_bench.space import Arch, SearchSpace, get_space

__all__ = ["ElasticMobileNetV3", "default_device", "resolve_device"]


def default_device() -> torch.device:
    """CUDA when a GPU is present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The device asked for (``None``: :func:`default_device`), checked to exist here."""
    if device is None:
        return default_device()
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise OfaBenchError(f"device {device!r} is not a torch device; use cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise OfaBenchError("device 'cuda' asked for, but this machine has no usable CUDA GPU; use cpu")
    return device


class ElasticMobileNetV3(nn.Module):
    """An OFA-style elastic MobileNetV3 over ``space``.

    ``set_active(arch)`` chooses the sub-network that ``forward`` runs (at whatever resolution the
    input has); ``extract(arch)`` returns it as a standalone static model with copied weights.

    Args:
        space: A :class:`SearchSpace` or the name of a preset.
    """

    def __init__(self, space: SearchSpace | str) -> None:
        super().__init__()
        self.space = space = get_space(space)
        net = space.net
        stem_c, first_c = net.channels(net.stem_width), net.channels(net.first_block_width)
        self.stem = ConvBNAct(net.in_channels, stem_c, 3, net.stem_stride, act=net.stem_act)
        self.first_block = MBConv(
            stem_c, stem_c, first_c, 3, net.first_block_stride, net.first_block_act, None, False,
            net.first_block_stride == 1 and stem_c == first_c,
        )
        plans = block_plan(space)
        self.blocks = nn.ModuleList(ElasticMBConv(p, space.ks_choices, space.e_choices) for p in plans)
        last_c = net.channels(net.stage_widths[-1])
        final_c, mix_c = net.channels(net.final_expand_width), net.channels(net.feature_mix_width)
        self.final_expand = ConvBNAct(last_c, final_c, act="h_swish")
        self.feature_mix = ConvBNAct(final_c, mix_c, act="h_swish", bn=False)
        self.classifier = nn.Sequential(nn.Dropout(net.dropout), nn.Linear(mix_c, net.n_classes))
        self._stage_blocks = [
            list(self.blocks[s * space.max_depth : (s + 1) * space.max_depth]) for s in range(space.n_stages)
        ]
        self.active_arch = space.largest()
        self.set_active(self.active_arch)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Initialise for training from scratch.

        He (fan-out) normal convolutions, a small-normal classifier, and zero BN scale on the last
        layer of every residual block so each starts as the identity: on small data sets such as
        digits this trains several times faster than PyTorch's defaults (measured: 90% vs 60% train
        accuracy after 8 epochs of the largest ofa-mini subnet).
        """
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)
        for block in self.blocks:
            if block.plan.idskip:
                nn.init.zeros_(block.project_bn.weight)

    def set_active(self, arch: Arch) -> None:
        """Make ``arch`` the sub-network that :meth:`forward` runs."""
        if arch.space != self.space:
            raise SpaceError(f"arch of space {arch.space.name!r} given to a supernet of {self.space.name!r}")
        for block, k, e in zip(self.blocks, arch.ks, arch.e):
            block.set_active(k, e)
        self.depths = arch.d
        self.active_arch = arch

    def set_max(self) -> None:
        """Activate the largest sub-network."""
        self.set_active(self.space.largest(self.active_arch.r))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the active sub-network for images ``(n, c, r, r)`` at any resolution."""
        x = self.first_block(self.stem(x))
        for blocks, depth in zip(self._stage_blocks, self.depths):
            for block in blocks[:depth]:
                x = block(x)
        x = self.feature_mix(self.final_expand(x).mean((2, 3), keepdim=True))
        return self.classifier(torch.flatten(x, 1))

    @torch.no_grad()
    def extract(self, arch: Arch | None = None) -> MobileNetV3:
        """A standalone static sub-network (default: the active one) with copied weights.

        Its eval-mode output equals the supernet's for the same arch; it keeps the supernet's
        training/eval mode and device.
        """
        if arch is not None:
            previous = self.active_arch
            self.set_active(arch)
        active = self.active_arch
        blocks: list[nn.Module] = [copy.deepcopy(self.first_block)]
        for s, depth in enumerate(active.d):
            blocks.extend(block.extract() for block in self._stage_blocks[s][:depth])
        model = MobileNetV3(
            copy.deepcopy(self.stem),
            blocks,
            copy.deepcopy(self.final_expand),
            copy.deepcopy(self.feature_mix),
            copy.deepcopy(self.classifier),
        )
        if arch is not None:
            self.set_active(previous)
        device = next(self.parameters()).device
        return model.to(device).train(self.training)

    def clear_cache(self) -> None:
        """Drop the inference copies of active weights (needed only after edits through ``.data``)."""
        for block in self.blocks:
            block._frozen = None

    def sort_channels(self, expand_choices: tuple[int, ...] | None = None) -> None:
        """Channel-importance sort in every elastic block (see :meth:`ElasticMBConv.sort_channels`)."""
        for block in self.blocks:
            block.sort_channels(expand_choices)
