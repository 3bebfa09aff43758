"""Resizing, OFA-style augmentation and PIL-to-tensor conversion of image batches."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


def _shift_and_flip(x: torch.Tensor, pad: int, flip: bool, gen: torch.Generator) -> torch.Tensor:
    """Per-image random crop of the zero-padded batch (a shift of up to ``pad``) and optional mirror."""
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = torch.randint(0, 2 * pad + 1, (n, 1), generator=gen) + torch.arange(h)
    cols = torch.randint(0, 2 * pad + 1, (n, 1), generator=gen) + torch.arange(w)
    if flip:  # reading the crop's columns backwards mirrors it
        mirror = torch.rand(n, 1, generator=gen) < 0.5
        cols = torch.where(mirror, cols.flip(-1), cols)
    batch, channel = torch.arange(n).view(n, 1, 1, 1), torch.arange(c).view(1, c, 1, 1)
    return padded[batch, channel, rows.view(n, 1, h, 1), cols.view(n, 1, 1, w)]


def _resize(x: torch.Tensor, r: int) -> torch.Tensor:
    if x.shape[-2:] == (r, r):
        return x
    return F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False, antialias=False)


def _random_resized_box(
    w: int,
    h: int,
    gen: torch.Generator,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> tuple[int, int, int, int]:
    """A crop box ``(left, top, right, bottom)`` as torchvision's RandomResizedCrop draws it, from ``gen``."""
    area = w * h
    lo, hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        u = torch.rand(4, generator=gen).tolist()
        target = area * (scale[0] + u[0] * (scale[1] - scale[0]))
        aspect = math.exp(lo + u[1] * (hi - lo))
        cw, ch = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            left, top = min(int(u[2] * (w - cw + 1)), w - cw), min(int(u[3] * (h - ch + 1)), h - ch)
            return left, top, left + cw, top + ch
    # Fallback after 10 misses, as torchvision: the central crop with the aspect ratio clamped.
    cw, ch = w, h
    if w / h < ratio[0]:
        ch = int(round(w / ratio[0]))
    elif w / h > ratio[1]:
        cw = int(round(h * ratio[1]))
    left, top = (w - cw) // 2, (h - ch) // 2
    return left, top, left + cw, top + ch


def _to_tensor(img: Any) -> torch.Tensor:
    return torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1).float().div_(255)
