"""Where pixels come from: a tensor held in memory, or image files decoded on demand."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from ofa_bench.data.transforms import _random_resized_box, _resize, _shift_and_flip, _to_tensor
from ofa_bench.errors import OfaBenchError

EVAL_CROP = 0.875  # OFA's evaluation: shorter side to ceil(r / 0.875), then a centre crop of r


class _Images(Protocol):
    """Where pixels come from: a tensor in memory, or files decoded on demand."""

    labels: np.ndarray
    in_memory: bool

    def train_view(self, index: np.ndarray, r: int, gen: torch.Generator | None) -> torch.Tensor: ...

    def eval_view(self, index: np.ndarray, r: int) -> torch.Tensor: ...

    def ids(self, index: np.ndarray) -> bytes: ...


@dataclass(eq=False)
class _TensorImages:
    """Images held in memory at native size: uint8 (0..255) or float32 (0..1), shape (n, c, h, w)."""

    images: torch.Tensor
    labels: np.ndarray
    pad: int  # random translation of up to `pad` pixels, by zero padding and cropping
    flip: bool
    in_memory: bool = True

    def _pixels(self, index: np.ndarray) -> torch.Tensor:
        x = self.images[torch.from_numpy(index)]  # advanced indexing copies, so callers may write
        return x.float().div_(255) if x.dtype == torch.uint8 else x

    def train_view(self, index: np.ndarray, r: int, gen: torch.Generator | None) -> torch.Tensor:
        x = self._pixels(index)
        if gen is not None:
            x = _shift_and_flip(x, self.pad, self.flip, gen)
        return _resize(x, r)

    def eval_view(self, index: np.ndarray, r: int) -> torch.Tensor:
        return _resize(self._pixels(index), r)

    def ids(self, index: np.ndarray) -> bytes:
        return index.astype("<i8").tobytes() + self.labels[index].astype("<i8").tobytes()


@dataclass(eq=False)
class _FolderImages:
    """Image files listed once and decoded with PIL per batch (RGB)."""

    root: Path
    paths: list[str]  # relative to root, so the fingerprint does not depend on where data lives
    labels: np.ndarray
    in_memory: bool = False

    def _open(self, i: int) -> Any:
        from PIL import Image

        path = self.root / self.paths[i]
        try:
            with Image.open(path) as img:
                return img.convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise OfaBenchError(f"cannot read image {str(path)!r}: {_one_line(exc)}") from None

    def train_view(self, index: np.ndarray, r: int, gen: torch.Generator | None) -> torch.Tensor:
        from PIL import Image

        if gen is None:
            return self.eval_view(index, r)
        out = torch.empty(len(index), 3, r, r)
        for k, i in enumerate(index):
            img = self._open(int(i))
            # PIL's bilinear resize antialiases when shrinking, as torchvision's RandomResizedCrop does.
            img = img.resize((r, r), Image.Resampling.BILINEAR, box=_random_resized_box(img.width, img.height, gen))
            if torch.rand(1, generator=gen).item() < 0.5:
                img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            out[k] = _to_tensor(img)
        return out

    def eval_view(self, index: np.ndarray, r: int) -> torch.Tensor:
        from PIL import Image

        out = torch.empty(len(index), 3, r, r)
        for k, i in enumerate(index):
            img = self._open(int(i))
            s = math.ceil(r / EVAL_CROP)
            w, h = img.size
            w, h = (s, max(s, int(s * h / w))) if w <= h else (max(s, int(s * w / h)), s)
            img = img.resize((w, h), Image.Resampling.BILINEAR)
            left, top = int(round((w - r) / 2)), int(round((h - r) / 2))
            out[k] = _to_tensor(img.crop((left, top, left + r, top + r)))
        return out

    def ids(self, index: np.ndarray) -> bytes:
        names = "\n".join(self.paths[i] for i in index).encode()
        return names + self.labels[index].astype("<i8").tobytes()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no detail"
    return f"{type(exc).__name__}: {text}"
