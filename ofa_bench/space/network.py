"""The fixed network skeleton of an elastic MobileNetV3 and MobileNet's channel rounding."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NetworkSpec", "make_divisible"]


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of ``divisor`` the way MobileNet (and OFA) do.

    Never rounds down by more than 10%, so a width multiplier cannot shrink a layer too much.
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


@dataclass(frozen=True)
class NetworkSpec:
    """The fixed skeleton of an elastic MobileNetV3: what does not vary between sub-networks.

    Widths are base widths before the width multiplier; ``channels`` applies it.
    """

    in_channels: int = 3
    stem_width: int = 16
    first_block_width: int = 16
    stage_widths: tuple[int, ...] = (24, 40, 80, 112, 160)
    final_expand_width: int = 960
    feature_mix_width: int = 1280
    stem_stride: int = 2
    first_block_stride: int = 1
    stage_strides: tuple[int, ...] = (2, 2, 2, 1, 2)
    stem_act: str = "h_swish"
    first_block_act: str = "relu"
    stage_acts: tuple[str, ...] = ("relu", "relu", "h_swish", "h_swish", "h_swish")
    stage_se: tuple[bool, ...] = (False, True, False, True, True)
    width_mult: float = 1.0
    n_classes: int = 1000
    dropout: float = 0.1

    def channels(self, base: int) -> int:
        """Width of a layer whose base width is ``base`` under this spec's multiplier."""
        return make_divisible(base * self.width_mult, 8)
