"""Load weights saved by the original OFA code (``OFAMobileNetV3`` state dicts) into our supernet.

OFA's published supernets (e.g. ``ofa_mbv3_d234_e346_k357_w1.0``) use the same tensors under other
names; translating the names lets people who already have those files use them unchanged. Loading
never executes code from the file (``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch

from ofa_bench.errors import OfaBenchError
from ofa_bench.nn.supernet import ElasticMobileNetV3

__all__ = ["from_ofa_state_dict", "load_ofa_weights"]

# (OFA name pattern, our name) for the inside of an elastic block; applied after the prefix.
_BLOCK_RENAMES = (
    (r"inverted_bottleneck\.conv\.conv\.", "expand_conv."),
    (r"inverted_bottleneck\.bn\.bn\.", "expand_bn."),
    (r"depth_conv\.conv\.conv\.", "depth_conv."),
    (r"depth_conv\.conv\.(\d+to\d+)_matrix$", r"kernel_transforms.\1"),
    (r"depth_conv\.bn\.bn\.", "depth_bn."),
    (r"depth_conv\.se\.fc\.reduce\.", "se_reduce."),
    (r"depth_conv\.se\.fc\.expand\.", "se_expand."),
    (r"point_linear\.conv\.conv\.", "project_conv."),
    (r"point_linear\.bn\.bn\.", "project_bn."),
)
_TOP_RENAMES = (
    ("first_conv.", "stem."),
    ("blocks.0.conv.", "first_block."),
    ("final_expand_layer.", "final_expand."),
    ("feature_mix_layer.", "feature_mix."),
    ("classifier.linear.", "classifier.1."),
)


def _rename(key: str) -> str:
    for old, new in _TOP_RENAMES:
        if key.startswith(old):
            return new + key[len(old) :]
    match = re.match(r"blocks\.(\d+)\.conv\.(.*)$", key)
    if match is None:
        raise OfaBenchError(f"OFA state dict: unexpected key {key!r}; is this an OFAMobileNetV3 checkpoint?")
    index, rest = int(match.group(1)) - 1, match.group(2)
    for pattern, replacement in _BLOCK_RENAMES:
        renamed, count = re.subn(pattern, replacement, rest)
        if count:
            return f"blocks.{index}.{renamed}"
    raise OfaBenchError(f"OFA state dict: unexpected key {key!r} in an elastic block")


def from_ofa_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Translate an ``OFAMobileNetV3`` state dict to :class:`ElasticMobileNetV3` names."""
    return {_rename(key): value for key, value in state.items()}


def load_ofa_weights(net: ElasticMobileNetV3, source: str | Path | Mapping[str, torch.Tensor]) -> None:
    """Load OFA weights (a file path or a state dict) into ``net``, checking every tensor.

    Raises:
        OfaBenchError: The file is missing or unreadable, or its tensors do not fit ``net``'s
            search space (the message names the first mismatching tensor and both shapes).
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise OfaBenchError(f"OFA weights file {str(path)!r} not found")
        from ofa_bench.io.untrusted import load_torch

        source = load_torch(path, f"OFA weights file {str(path)!r}", " cannot be read")
    if isinstance(source, Mapping) and "state_dict" in source:
        source = source["state_dict"]
    state = from_ofa_state_dict(source)
    own = net.state_dict()
    for key in sorted(set(own) - set(state)):
        raise OfaBenchError(f"OFA weights lack {key!r} needed by {net.space.name}")
    for key in sorted(set(state) - set(own)):
        raise OfaBenchError(f"OFA weights have {key!r}, which {net.space.name} does not use")
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(own[key].shape):
            raise OfaBenchError(
                f"OFA weights {key!r} have shape {tuple(tensor.shape)}; {net.space.name} needs {tuple(own[key].shape)}"
            )
    net.load_state_dict(state)
